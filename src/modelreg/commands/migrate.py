"""`modelreg migrate`: move a registry written in an older layout to the current one."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--stage-events",
    is_flag=True,
    help="Instead, commit a stage-event checkpoint at HEAD now (models/.stage-events/), "
    "so fresh clones read history without walking it; register adds one every 100 commits.",
)
def migrate(stage_events: bool) -> None:
    """Move a registry written in an older layout to the current one (one commit)."""
    from modelreg.registry.workspace import Workspace

    if stage_events:
        from modelreg.adapters.lock import writing
        from modelreg.registry import checkpoints

        with Workspace.open() as ws, writing(ws.git.git_dir):
            commit = checkpoints.commit_due(ws, force=True)
        click.echo(
            "HEAD has a stage-event checkpoint already; nothing to do"
            if commit is None
            else f"wrote a stage-event checkpoint in commit {commit[:8]}"
        )
        return
    from modelreg.registry.migrate import migrate as run

    with Workspace.open() as ws:
        result = run(ws)
    if result.commit is None:
        click.echo("already current; nothing to do")
    else:
        click.echo(
            f"moved {len(result.models)} model(s) to one file per stage "
            f"in commit {result.commit[:8]}"
        )
