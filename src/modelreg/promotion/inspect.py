"""`show`: one version in full, read from Git — the record, where it serves and served,
its deprecation and the gate verdict for the next stage of its policy."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from modelreg.errors import ModelregError, NotFound
from modelreg.promotion.gate_runs import run_gate
from modelreg.promotion.gates import GateReport
from modelreg.registry.history import StageEvent, stage_events
from modelreg.registry.names import parse_ref
from modelreg.registry.records import VersionRecord
from modelreg.registry.snapshot import Snapshot


@dataclass(frozen=True)
class Shown:
    """One version as `show` presents it."""

    record: VersionRecord
    serving: tuple[str, ...]  # stages it serves in now (a canary candidate included)
    served: tuple[StageEvent, ...]  # every stage change that put it somewhere
    deprecated: str | None  # the reason, "" when none was given; None: not deprecated
    next_stage: str | None
    gate: GateReport | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "record": asdict(self.record),
            "serving": list(self.serving),
            "served": [asdict(e) for e in self.served],
            "deprecated": self.deprecated,
            "next_stage": self.next_stage,
            "gate": self.gate.to_dict() if self.gate else None,
        }


def resolve(snap: Snapshot, ref: str) -> tuple[str, str]:
    """(model, version) that `MODEL`, `MODEL@VERSION` or `MODEL@STAGE` names at `snap`
    (a bare MODEL is its newest version)."""
    model, version, stage = parse_ref(ref)
    snap.require_model(model)
    if version is not None:
        return model, version
    if stage is not None:
        found = snap.stages(model).version(stage)
        if found is None:
            served = ", ".join(snap.stages(model).assignments) or "none"
            raise NotFound(f"nothing serves {model} in '{stage}'", hint=f"stages: {served}")
        return model, found
    versions = snap.versions(model)
    if not versions:
        raise NotFound(f"{model} has no registered version yet")
    return model, versions[-1]


def show(snap: Snapshot, ref: str) -> Shown:
    """The version `ref` names, with where it serves, served and may go next."""
    model, version = resolve(snap, ref)
    rec = snap.record(model, version)
    spec = snap.model(model)
    stages = snap.stages(model)
    serving = tuple(
        s
        for s, a in stages.assignments.items()
        if a.version == version or (a.rollout and a.rollout.candidate == version)
    )
    events = stage_events(snap, model) if snap.rev else []
    served = tuple(e for e in events if version in (e.version, e.candidate))
    next_stage, gate = _next_gate(snap, rec, spec.policy, serving)
    reason = spec.deprecated.get(version)
    return Shown(rec, serving, served, reason, next_stage, gate)


def _next_gate(
    snap: Snapshot, rec: VersionRecord, policy: str, serving: tuple[str, ...]
) -> tuple[str | None, GateReport | None]:
    """The first stage of the policy after every stage the version serves in, and its gates."""
    try:
        order = [s.name for s in snap.policy(policy).stages]
    except ModelregError:
        return None, None
    done = [order.index(s) for s in serving if s in order]
    nxt = max(done) + 1 if done else 0
    if nxt >= len(order):
        return None, None
    return order[nxt], run_gate(snap, rec, order[nxt])
