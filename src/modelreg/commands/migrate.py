"""`modelreg migrate`: move a registry written in an older layout to the current one."""

from __future__ import annotations

import click


@click.command()
def migrate() -> None:
    """Move a registry written in an older layout to the current one (one commit)."""
    from modelreg.registry.migrate import migrate as run
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        result = run(ws)
    if result.commit is None:
        click.echo("already current; nothing to do")
    else:
        click.echo(
            f"moved {len(result.models)} model(s) to one file per stage "
            f"in commit {result.commit[:8]}"
        )
