"""`rollout status` and `rollout advance`: a canary moved step by step through Git.

Every move (next weight, completion, a recorded failure, the abort) is a change to the
stage's file (`models/<model>/stages/<stage>.yaml`), proposed as a PR (or pushed, when
the policy lets the bot advance on its own), so the canary's whole life is in the audit
trail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from modelreg.adapters.git import commit, fetch_default_branch, push, temp_worktree
from modelreg.errors import UsageError
from modelreg.forge.base import Forge
from modelreg.promotion.metrics_source import load_online
from modelreg.promotion.online import DEFAULT_INTERVAL, Online
from modelreg.promotion.propose import (
    Change,
    Proposal,
    plan_rollback,
    propose,
    write_stage_file,
)
from modelreg.promotion.rollout import RolloutDecision, decide
from modelreg.registry.history import stage_events
from modelreg.registry.names import check_name, check_readable_name
from modelreg.registry.policy import RolloutPolicy
from modelreg.registry.records import Rollout, StageAssignment
from modelreg.registry.snapshot import Snapshot
from modelreg.registry.stages import render_stage, require_stage_files
from modelreg.registry.workspace import Workspace


@dataclass(frozen=True)
class CanaryState:
    model: str
    stage: str
    stable: str
    rollout: Rollout
    steps: tuple[int, ...]
    entered_step_at: str | None


@dataclass(frozen=True)
class Advance:
    state: CanaryState
    decision: RolloutDecision
    proposal: Proposal | None
    pushed: bool = False


@dataclass(frozen=True)
class Judged:
    """`rollout status --metrics`: the canary, its online metrics and what advance would do."""

    state: CanaryState
    online: Online
    decision: RolloutDecision


def status(ws: Workspace, *, model: str, stage: str | None = None) -> CanaryState:
    """The canary in progress for a model (in `stage`, or the one stage that has one)."""
    check_readable_name(model)
    if stage is not None:
        check_readable_name(stage, "--stage")
    snap = ws.snapshot("HEAD")
    return _state(snap, model, stage)


def judge(ws: Workspace, *, model: str, stage: str | None = None, metrics: str) -> Judged:
    """The canary in progress and the decision its online metrics give now; changes nothing."""
    state = status(ws, model=model, stage=stage)
    snap = ws.snapshot("HEAD")
    online, decision = _decide(snap, state, metrics)
    return Judged(state, online, decision)


def _decide(snap: Snapshot, state: CanaryState, metrics: str) -> tuple[Online, RolloutDecision]:
    policy = _policy(snap, state.model, state.stage)
    now = datetime.now(timezone.utc)
    entered = datetime.fromisoformat(state.entered_step_at) if state.entered_step_at else None
    interval = math.ceil((now - entered).total_seconds()) if entered else DEFAULT_INTERVAL
    online = load_online(
        metrics,
        model=state.model,
        stage=state.stage,
        candidate=state.rollout.candidate,
        stable=state.stable,
        policy=policy,
        interval=interval,
    )
    decision = decide(
        policy, state.rollout, online.candidate, online.stable, now, entered, online.evidence
    )
    return online, decision


def _state(snap: Snapshot, model: str, stage: str | None) -> CanaryState:
    snap.require_model(model)
    stages = snap.stages(model)
    running = [s for s, a in stages.assignments.items() if a.rollout and (stage in (None, s))]
    if not running:
        where = f" in {stage}" if stage else ""
        raise UsageError(
            f"{model} has no canary in progress{where}",
            hint=f"start one with `modelreg promote {model} VERSION --to STAGE`",
        )
    name = running[0]
    a = stages.assignments[name]
    assert a.rollout is not None
    policy = _policy(snap, model, name)
    entered = _entered(snap, model, name, a.rollout)
    steps = tuple(s.weight for s in policy.steps)
    return CanaryState(model, name, a.version, a.rollout, steps, entered)


def _policy(snap: Snapshot, model: str, stage: str) -> RolloutPolicy:
    return snap.policy(snap.model(model).policy).stage(stage).rollout


def _entered(snap: Snapshot, model: str, stage: str, ro: Rollout) -> str | None:
    """When the canary reached its current weight: the commit that moved it there.

    A later commit at the same weight (a recorded failed analysis) does not restart the
    step's pause clock.
    """
    when, before = ro.started_at, None
    for ev in stage_events(snap, model):
        if ev.stage != stage:
            continue
        now = (ev.candidate, ev.weight)
        if now == (ro.candidate, ro.weight) and before != now:
            when = ev.date
        before = now
    return when


def advance(
    ws: Workspace,
    forge: Forge | None,
    *,
    model: str,
    stage: str | None,
    metrics: str,
    dry_run: bool = False,
) -> Advance:
    """Evaluate the current step's analysis and propose the next move."""
    check_name(model)
    if stage is not None:
        check_name(stage, "--stage")
    base, sha = fetch_default_branch(ws.git)
    snap = Snapshot(ws.git, sha, ws.cache)
    state = _state(snap, model, stage)
    require_stage_files(snap, model)
    policy = _policy(snap, model, state.stage)
    _online, decision = _decide(snap, state, metrics)
    if decision.action == "hold" or (
        decision.action == "wait" and decision.failures == state.rollout.failures
    ):
        return Advance(state, decision, None)
    if decision.action == "rollback":
        change = plan_rollback(ws, model=model, stage=state.stage)
        return Advance(state, decision, propose(ws, forge, change, dry_run=dry_run))
    change = _change(snap, state, decision, base)
    if policy.auto_advance and not dry_run:
        _push_directly(ws, change)
        return Advance(state, decision, None, pushed=True)
    return Advance(state, decision, propose(ws, forge, change, dry_run=dry_run))


def _change(snap: Snapshot, state: CanaryState, d: RolloutDecision, base: str) -> Change:
    ro, model, stage = state.rollout, state.model, state.stage
    if d.action == "complete":
        new = StageAssignment(ro.candidate)
        title = f"Complete canary: {model} {ro.candidate} serves all of {stage}"
        tail = "complete"
    else:
        new = StageAssignment(
            state.stable, Rollout(ro.candidate, d.weight, d.step, ro.started_at, d.failures)
        )
        title = f"Canary {model} {ro.candidate} in {stage}: {ro.weight}% → {d.weight}%"
        tail = f"{d.weight}" if d.action == "advance" else f"{d.weight}-failure-{d.failures}"
        if d.action == "wait":
            title = f"Canary {model} {ro.candidate} in {stage}: record failed analysis {d.failures}"
    text = render_stage(model, stage, new)
    from modelreg.promotion.rollout import render

    body = f"{d.reason}.\n\n{render(d, 'markdown')}"
    return Change(
        model,
        stage,
        "rollout",
        f"modelreg/rollout/{model}/{stage}/{ro.candidate}/{tail}",
        base,
        title,
        body,
        text,
    )


def _push_directly(ws: Workspace, change: Change) -> None:
    """The policy lets the bot advance without review: commit to the default branch."""
    with temp_worktree(ws.git, f"refs/remotes/origin/{change.base}") as wt:
        write_stage_file(wt, change)
        commit(wt, f"{change.title}\n\n{change.body}\n")
        push(wt, f"HEAD:refs/heads/{change.base}")
