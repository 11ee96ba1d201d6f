"""`modelreg init`: scaffold a registry in this Git repository."""

from __future__ import annotations

import click

from modelreg.errors import plural


@click.command()
@click.option("--dvc-remote", metavar="PATH_OR_URL", help="Default DVC remote (a folder or URL).")
def init(dvc_remote: str | None) -> None:
    """Scaffold a registry in this Git repository (idempotent)."""
    from modelreg.registry.scaffold import init as run
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        result = run(ws, dvc_remote=dvc_remote)
    if result.commit is None:
        click.echo("registry already initialised; nothing changed")
    else:
        click.echo(
            f"initialised registry ({plural(len(result.created), 'file')}) "
            f"in commit {result.commit[:8]}"
        )
