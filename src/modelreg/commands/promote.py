"""`modelreg promote`: open the pull request that puts a version in a stage."""

from __future__ import annotations

import click

from modelreg.commands._options import dry_run_option, forge_option, json_option


@click.command()
@click.argument("model")
@click.argument("version")
@click.option("--to", "stage", required=True, help="Stage to promote into, e.g. production.")
@dry_run_option()
@click.option("--strict", is_flag=True, help="Refuse (exit 1) when a policy gate fails.")
@forge_option()
@json_option("the proposal")
def promote(
    model: str,
    version: str,
    stage: str,
    dry_run: bool,
    strict: bool,
    forge: str | None,
    as_json: bool,
) -> None:
    """Open a pull request that puts VERSION in a stage (the only way in)."""
    from modelreg.forge import select_forge
    from modelreg.output import to_json
    from modelreg.promotion.propose import describe, plan_promotion, propose
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        change = plan_promotion(ws, model=model, version=version, stage=stage, strict=strict)
        if change is None:
            click.echo(f"{model} {version} already serves in {stage}; nothing to do")
            return
        where = None if dry_run else select_forge(ws.git, forge)
        proposal = propose(ws, where, change, dry_run=dry_run)
    click.echo(to_json(proposal.to_dict()) if as_json else describe(proposal))
