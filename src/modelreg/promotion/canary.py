"""`rollout status` and `rollout advance`: a canary moved step by step through Git.

Every move (next weight, completion, a recorded failure, the abort) is a change to the
stage's file (`models/<model>/stages/<stage>.yaml`), proposed as a PR (or pushed, when
the policy lets the bot advance on its own), so the canary's whole life is in the audit
trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelreg.adapters.git import commit, fetch_default_branch, push, temp_worktree
from modelreg.errors import UsageError
from modelreg.forge.base import Forge
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
from modelreg.registry.yamlio import read_mapping


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


def status(ws: Workspace, *, model: str, stage: str | None = None) -> CanaryState:
    """The canary in progress for a model (in `stage`, or the one stage that has one)."""
    check_readable_name(model)
    if stage is not None:
        check_readable_name(stage, "--stage")
    snap = ws.snapshot("HEAD")
    return _state(snap, model, stage)


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
    """When the canary reached its current weight: the commit that wrote it."""
    when = ro.started_at
    for ev in stage_events(snap, model):
        if ev.stage == stage and ev.candidate == ro.candidate and ev.weight == ro.weight:
            when = ev.date
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
    online, stable = load_online(metrics, model, state.rollout.candidate, state.stable, policy)
    now = datetime.now(timezone.utc)
    entered = datetime.fromisoformat(state.entered_step_at) if state.entered_step_at else None
    decision = decide(policy, state.rollout, online, stable, now, entered)
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


def load_online(
    source: str, model: str, candidate: str, stable: str, policy: RolloutPolicy
) -> tuple[dict[str, float], dict[str, float] | None]:
    """Online metrics of the candidate and the stable version, from a file or Prometheus."""
    if source.startswith(("http://", "https://")):
        names = [c.metric for c in policy.analysis]
        return (
            _prometheus(source, names, model, candidate),
            _prometheus(source, names, model, stable) or None,
        )
    data = _read(Path(source))
    by_role = {k: v for k, v in data.items() if isinstance(v, dict)}
    if not by_role:
        return _numbers(data, source), None
    cand = by_role.get("candidate", by_role.get(candidate))
    stab = by_role.get("stable", by_role.get(stable))
    if cand is None:
        raise UsageError(f"--metrics {source}: no 'candidate' (or '{candidate}') section")
    return _numbers(cand, source), _numbers(stab, source) if stab is not None else None


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise UsageError(
            f"--metrics {path}: no such file", hint="give a JSON/YAML file or a Prometheus URL"
        )
    return read_mapping(path, "--metrics")


def _numbers(d: Mapping[str, Any], source: str) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UsageError(f"--metrics {source}: {k}: {v!r} is not a number")
        out[str(k)] = float(v)
    return out


def _prometheus(url: str, names: list[str], model: str, version: str) -> dict[str, float]:
    """Instant queries `NAME{model="M",version="V"}`; the first series of each answers."""
    from modelreg.adapters.prometheus import instant_query

    out: dict[str, float] = {}
    for name in names:
        found = instant_query(url, f'{name}{{model="{model}",version="{version}"}}')
        if found:
            out[name] = found[0].value
    return out
