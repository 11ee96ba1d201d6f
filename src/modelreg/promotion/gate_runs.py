"""Running the policy's gates against the registry: who is the candidate, who is current.

The version now in the stage, the `from` stage and the soak clock are read from the
base (the default branch), the candidate's record from the tree under review.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from modelreg.promotion.gates import GateContext, GateReport, evaluate
from modelreg.registry.history import StageEvent, assignment, stage_events
from modelreg.registry.names import check_readable_name, check_readable_version
from modelreg.registry.records import Comparison, Stages, VersionRecord
from modelreg.registry.snapshot import Snapshot
from modelreg.registry.workspace import Workspace

# Scores (candidate, current) on the same rows for a `compare: paired` stage. It lives
# above this layer (it runs the pipeline's evaluate.py), so commands pass it in.
Evaluator = Callable[[VersionRecord, VersionRecord], Comparison]


@dataclass(frozen=True)
class GateRun:
    """One gate evaluation and where its inputs came from."""

    model: str
    stage: str
    version: str
    report: GateReport


def run_gate(
    base: Snapshot,
    candidate: VersionRecord,
    stage: str,
    *,
    now: datetime | None = None,
    evaluator: Evaluator | None = None,
) -> GateReport:
    """Evaluate the model's policy for putting `candidate` in `stage`, against `base`.

    A `compare: paired` stage has `evaluator` score both versions first (without one,
    its relative rules fail as not evaluated).
    """
    model = candidate.model
    spec = base.model(model) if base.has_model(model) else None
    policy = base.policy(spec.policy if spec else "default")
    stage_policy = policy.stage(stage)
    stages = base.stages(model) if base.has_model(model) else Stages({})
    current_version = stages.version(stage)
    current = base.record(model, current_version) if current_version else None
    from_stage = stage_policy.from_stage
    from_version = stages.version(from_stage) if from_stage else None
    since = _since(base, model, from_stage, from_version) if from_version else None
    relative = any(g.max_regression is not None for g in stage_policy.gates)
    paired = None
    if stage_policy.compare == "paired" and relative and current and evaluator:
        paired = evaluator(candidate, current)
    ctx = GateContext(stage, candidate, current, from_version, since, now or _now(), paired)
    return evaluate(policy, ctx)


def _since(base: Snapshot, model: str, stage: str | None, version: str) -> datetime | None:
    """When `version` entered `stage` (a canary step beside it does not restart the clock)."""
    event = assignment(_events(base, model), stage, version) if stage else None
    return datetime.fromisoformat(event.date) if event else None


def _events(base: Snapshot, model: str) -> list[StageEvent]:
    return stage_events(base, model) if base.rev and base.has_model(model) else []


def _now() -> datetime:
    return datetime.now(timezone.utc)


def changed_stage_gates(
    base: Snapshot, head: Snapshot, models: list[str], evaluator: Evaluator | None = None
) -> list[GateRun]:
    """Gate every version a branch newly puts in a stage (rollbacks to a known version excepted).

    A version that served in the stage before is a rollback to known-good; completing a
    canary or changing its weight was gated when the canary started.
    """
    runs: list[GateRun] = []
    for model in models:
        if not head.has_model(model):
            continue
        old = base.stages(model) if base.has_model(model) else Stages({})
        for stage, version in _new_versions(old, head.stages(model)):
            if _served_before(base, model, stage, version):
                continue
            report = run_gate(base, head.record(model, version), stage, evaluator=evaluator)
            runs.append(GateRun(model, stage, version, report))
    return runs


def _served_before(base: Snapshot, model: str, stage: str, version: str) -> bool:
    """Whether `version` served in `stage` on the base's history.

    A version the base does not know was registered on the branch and cannot have served,
    so the history walk (seconds on a long history with a cold cache) is skipped for it:
    that is the usual promotion and retrain PR.
    """
    if not base.has_model(model) or version not in base.versions(model):
        return False
    return any(e.stage == stage and e.version == version for e in _events(base, model))


def _new_versions(old: Stages, new: Stages) -> list[tuple[str, str]]:
    out = []
    for stage, a in new.assignments.items():
        before = old.assignments.get(stage)
        known = {before.version} if before else set()
        if before and before.rollout:
            known.add(before.rollout.candidate)
        for version in (a.version, a.rollout.candidate if a.rollout else None):
            if version and version not in known:
                out.append((stage, version))
    return out


def gate_version(
    ws: Workspace,
    *,
    model: str,
    version: str,
    stage: str,
    base: str | None = None,
    evaluator: Evaluator | None = None,
) -> GateReport:
    """`modelreg gate`: the candidate from the working tree, the rest from the base branch."""
    check_readable_name(model)
    check_readable_version(version)
    check_readable_name(stage, "--stage")
    head = ws.snapshot(None)
    head.require_model(model)
    candidate = head.record(model, version)
    return run_gate(ws.snapshot(ws.base(base)), candidate, stage, evaluator=evaluator)
