"""`modelreg rollback`: open the pull request that reverts a stage's last change."""

from __future__ import annotations

import click

from modelreg.commands._options import dry_run_option, forge_option, json_option, stage_option


@click.command()
@click.argument("model")
@stage_option("Stage to roll back.", required=True)
@click.option("--to", "to", help="Version to pin instead of the previous one.")
@dry_run_option()
@forge_option()
@json_option("the proposal")
def rollback(
    model: str, stage: str, to: str | None, dry_run: bool, forge: str | None, as_json: bool
) -> None:
    """Open a pull request that reverts the change that brought the current version."""
    from modelreg.forge import select_forge
    from modelreg.output import to_json
    from modelreg.promotion.propose import describe, plan_rollback, propose
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        change = plan_rollback(ws, model=model, stage=stage, to=to)
        where = None if dry_run else select_forge(ws.git, forge)
        proposal = propose(ws, where, change, dry_run=dry_run)
    click.echo(to_json(proposal.to_dict()) if as_json else describe(proposal))
