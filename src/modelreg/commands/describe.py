"""`modelreg describe`: open the pull request that edits a model's owners and description."""

from __future__ import annotations

import click

from modelreg.commands._options import dry_run_option, forge_option, json_option


@click.command()
@click.argument("model")
@click.option("--owner", "owners", multiple=True, help="An owner (repeat for several).")
@click.option("--description", help="The model's new description.")
@dry_run_option()
@forge_option()
@json_option("the proposal")
def describe(
    model: str,
    owners: tuple[str, ...],
    description: str | None,
    dry_run: bool,
    forge: str | None,
    as_json: bool,
) -> None:
    """Open a pull request that sets a model's owners and description in model.yaml."""
    from modelreg.forge import select_forge
    from modelreg.output import to_json
    from modelreg.promotion.describe import plan_description
    from modelreg.promotion.propose import describe as told
    from modelreg.promotion.propose import propose
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        change = plan_description(ws, model=model, owners=owners, description=description)
        if change is None:
            click.echo(f"model.yaml of {model} already says that; nothing to do")
            return
        where = None if dry_run else select_forge(ws.git, forge)
        proposal = propose(ws, where, change, dry_run=dry_run)
    click.echo(to_json(proposal.to_dict()) if as_json else told(proposal))
