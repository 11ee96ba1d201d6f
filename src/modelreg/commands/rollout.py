"""`modelreg rollout`: see a canary in progress, or move it one step."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from modelreg.commands._options import dry_run_option, forge_option, json_option, stage_option

if TYPE_CHECKING:
    from modelreg.errors import ModelregError
    from modelreg.promotion.canary import Advance, CanaryState, Judged

STAGE_HELP = "Stage of the canary (default: the one that has one)."
METRICS_HELP = (
    "Online metrics: a Prometheus URL, the URL of `modelreg serve` (its /v1/stats), "
    "or a JSON/YAML file (see docs/monitoring.md)."
)


@click.group()
def rollout() -> None:
    """Canary rollouts recorded in stage files: see one, move it a step."""


@rollout.command("status")
@click.argument("model")
@stage_option(STAGE_HELP)
@click.option("--metrics", metavar="URL|FILE", help=METRICS_HELP + " Shows the step's analysis.")
@json_option("the state")
def status(model: str, stage: str | None, metrics: str | None, as_json: bool) -> None:
    """Show a canary in progress: stable, candidate, weight, step and since when."""
    from modelreg.errors import ModelregError
    from modelreg.output import emit, to_json
    from modelreg.promotion.canary import judge
    from modelreg.promotion.canary import status as run
    from modelreg.registry.workspace import Workspace

    if metrics is None:
        with Workspace.open() as ws:
            state = run(ws, model=model, stage=stage)
        emit(state, as_json, state_text(state))
        return
    try:
        with Workspace.open() as ws:
            judged = judge(ws, model=model, stage=stage, metrics=metrics)
    except ModelregError as exc:
        if as_json:
            click.echo(to_json({"decision": error_decision(exc), "error": error_dict(exc)}))
        raise
    emit(judged_dict(judged), as_json, judged_text(judged))


def judged_dict(j: Judged) -> dict[str, Any]:
    """The state, the online figures and the decision `advance` would take now."""
    import dataclasses

    online = j.online
    evidence = online.evidence
    return {
        **dataclasses.asdict(j.state),
        "online": {
            "source": online.source,
            "candidate": online.candidate,
            "stable": online.stable,
            "interval_seconds": evidence.interval_seconds if evidence else None,
            "counts": {
                "candidate": evidence.candidate.to_dict(),
                "stable": evidence.stable.to_dict(),
            }
            if evidence
            else None,
            "queries": list(online.queries),  # the PromQL run, when Prometheus answered
        },
        "decision": j.decision.to_dict(),
        "error": None,
    }


def judged_text(j: Judged) -> str:
    """The state line, then what `advance` would do now and each check."""
    from modelreg.promotion.rollout import render

    return state_text(j.state) + "\nanalysis now: " + render(j.decision, "text")


def error_decision(exc: ModelregError) -> dict[str, Any]:
    """The decision object of a run that could not decide: action `error`."""
    return {
        "action": "error",
        "step": None,
        "weight": None,
        "failures": None,
        "reason": exc.message,
        "checks": [],
    }


def error_dict(exc: ModelregError) -> dict[str, Any]:
    """What went wrong, its fix and the exit code, for `--json` readers."""
    return {"message": exc.message, "hint": exc.hint, "exit_code": exc.exit_code}


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
@click.option("--metrics", required=True, metavar="URL|FILE", help=METRICS_HELP)
@dry_run_option("Decide and show the change; push nothing.")
@forge_option()
@json_option("the decision")
def advance(
    model: str, stage: str | None, metrics: str, dry_run: bool, forge: str | None, as_json: bool
) -> None:
    """Run the step's analysis; open the PR for the next weight, completion or rollback.

    Exits 1 when the analysis failed (the rollback PR is opened, or the canary is held),
    4 when the metrics server could not be reached (nothing changed).
    """
    from modelreg.errors import ModelregError
    from modelreg.forge import select_forge
    from modelreg.output import to_json
    from modelreg.promotion.canary import advance as run
    from modelreg.registry.workspace import Workspace

    try:
        with Workspace.open() as ws:
            where = None if dry_run else select_forge(ws.git, forge)
            result = run(ws, where, model=model, stage=stage, metrics=metrics, dry_run=dry_run)
    except ModelregError as exc:
        if as_json:
            failed = {"decision": error_decision(exc), "pushed": False, "pr": None}
            click.echo(to_json({**failed, "error": error_dict(exc)}))
        raise
    click.echo(to_json(advance_dict(result)) if as_json else advance_text(result))
    sys.exit(1 if result.decision.action in ("rollback", "hold") else 0)


def advance_dict(result: Advance) -> dict[str, Any]:
    """The decision, whether it was pushed, and the PR it opened."""
    return {
        "decision": result.decision.to_dict(),
        "pushed": result.pushed,
        "pr": result.proposal.pr if result.proposal else None,
        "error": None,
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
