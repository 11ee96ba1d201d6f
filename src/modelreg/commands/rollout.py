"""`modelreg rollout`: see a canary in progress, or move it one step."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from modelreg.commands._options import dry_run_option, forge_option, json_option, stage_option

if TYPE_CHECKING:
    from modelreg.promotion.canary import Advance, CanaryState

STAGE_HELP = "Stage of the canary (default: the one that has one)."


@click.group()
def rollout() -> None:
    """Canary rollouts recorded in stage files: see one, move it a step."""


@rollout.command("status")
@click.argument("model")
@stage_option(STAGE_HELP)
@json_option("the state")
def status(model: str, stage: str | None, as_json: bool) -> None:
    """Show a canary in progress: stable, candidate, weight, step and since when."""
    from modelreg.output import emit
    from modelreg.promotion.canary import status as run
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        state = run(ws, model=model, stage=stage)
    emit(state, as_json, state_text(state))


def state_text(st: CanaryState) -> str:
    """One line: candidate, weight, stable, the steps with the current one in brackets."""
    from modelreg.output import day

    ro = st.rollout
    steps = " → ".join(f"[{w}%]" if i == ro.step else f"{w}%" for i, w in enumerate(st.steps))
    return (
        f"{st.model} {st.stage}: {ro.candidate} at {ro.weight}% "
        f"(stable {st.stable}), step {ro.step + 1} of {len(st.steps)}: {steps}; "
        f"failures {ro.failures}; at this weight since {day(st.entered_step_at)}"
    )


@rollout.command("advance")
@click.argument("model")
@stage_option(STAGE_HELP)
@click.option(
    "--metrics",
    required=True,
    metavar="FILE|URL",
    help="Online metrics: JSON/YAML {candidate: {...}, stable: {...}} or a Prometheus URL.",
)
@dry_run_option("Decide and show the change; push nothing.")
@forge_option()
@json_option("the decision")
def advance(
    model: str, stage: str | None, metrics: str, dry_run: bool, forge: str | None, as_json: bool
) -> None:
    """Run the step's analysis; open the PR for the next weight, completion or rollback.

    Exits 1 when the analysis failed (the rollback PR is opened, or the canary is held).
    """
    from modelreg.forge import select_forge
    from modelreg.output import to_json
    from modelreg.promotion.canary import advance as run
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        where = None if dry_run else select_forge(ws.git, forge)
        result = run(ws, where, model=model, stage=stage, metrics=metrics, dry_run=dry_run)
    click.echo(to_json(advance_dict(result)) if as_json else advance_text(result))
    sys.exit(1 if result.decision.action in ("rollback", "hold") else 0)


def advance_dict(result: Advance) -> dict[str, Any]:
    """The decision, whether it was pushed, and the PR it opened."""
    return {
        "decision": result.decision.to_dict(),
        "pushed": result.pushed,
        "pr": result.proposal.pr if result.proposal else None,
    }


def advance_text(result: Advance) -> str:
    """The decision and its reason, then what was pushed or proposed."""
    from modelreg.promotion.propose import describe

    d = result.decision
    lines = [f"{d.action}: {d.reason}"]
    if result.pushed:
        lines.append("pushed to the default branch (the policy allows auto_advance)")
    elif result.proposal is not None:
        lines.append(describe(result.proposal))
    return "\n".join(lines)
