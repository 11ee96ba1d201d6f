"""`modelreg deprecate`: open the pull request that retires a version."""

from __future__ import annotations

import click

from modelreg.commands._options import dry_run_option, forge_option, json_option


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--reason", required=True, help="Why the version is retired (kept in model.yaml).")
@dry_run_option()
@forge_option()
@json_option("the proposal")
def deprecate(
    model: str, version: str, reason: str, dry_run: bool, forge: str | None, as_json: bool
) -> None:
    """Open a pull request that retires VERSION (deprecated: in model.yaml)."""
    from modelreg.forge import select_forge
    from modelreg.output import to_json
    from modelreg.promotion.describe import plan_deprecation
    from modelreg.promotion.propose import describe, propose
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        change = plan_deprecation(ws, model=model, version=version, reason=reason)
        if change is None:
            click.echo(f"{model} {version} is already deprecated for that reason; nothing to do")
            return
        where = None if dry_run else select_forge(ws.git, forge)
        proposal = propose(ws, where, change, dry_run=dry_run)
    click.echo(to_json(proposal.to_dict()) if as_json else describe(proposal))
