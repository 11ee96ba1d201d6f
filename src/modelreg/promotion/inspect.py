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


# -- compare ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDelta:
    """One metric of two versions: B − A, which way is better, and which version wins."""

    name: str
    a: float | None
    b: float | None
    delta: float | None
    better: str  # "higher" or "lower"
    winner: str | None  # "a", "b", None when equal or missing


@dataclass(frozen=True)
class Compared:
    model: str
    a: VersionRecord
    b: VersionRecord
    metrics: tuple[MetricDelta, ...]
    params: dict[str, tuple[Any, Any]]  # dotted key → (A's, B's), changed keys only
    signature: tuple[str, ...]  # "added x (float)", "dropped y", "retyped z int → float"
    data: tuple[str | None, str | None]  # md5 of each version's training data

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "model": self.model,
            "a": self.a.version,
            "b": self.b.version,
            "metrics": [asdict(m) for m in self.metrics],
            "params": {k: {"a": v[0], "b": v[1]} for k, v in self.params.items()},
            "signature": list(self.signature),
            "data": {"a": self.data[0], "b": self.data[1], "same": self.data[0] == self.data[1]},
        }


_MISSING = "(absent)"


def compare(snap: Snapshot, model: str, a: str, b: str) -> Compared:
    """Versions (or stages) `a` and `b` of `model` side by side."""
    from modelreg.registry.policy import metric_direction

    _, va = resolve(snap, f"{model}@{a}")
    _, vb = resolve(snap, f"{model}@{b}")
    ra, rb = snap.record(model, va), snap.record(model, vb)
    explicit = _gate_directions(snap, model)
    names = list(ra.metrics) + [m for m in rb.metrics if m not in ra.metrics]
    metrics = []
    for name in names:
        x, y = ra.metrics.get(name), rb.metrics.get(name)
        better = metric_direction(name, explicit.get(name))
        delta = y - x if x is not None and y is not None else None
        winner = None
        if delta:
            winner = "b" if (delta > 0) == (better == "higher") else "a"
        metrics.append(MetricDelta(name, x, y, delta, better, winner))
    fa, fb = _flat(ra.params), _flat(rb.params)
    params = {
        k: (fa.get(k, _MISSING), fb.get(k, _MISSING))
        for k in sorted(set(fa) | set(fb))
        if fa.get(k, _MISSING) != fb.get(k, _MISSING)
    }
    data = (ra.data.md5 if ra.data else None, rb.data.md5 if rb.data else None)
    return Compared(model, ra, rb, tuple(metrics), params, _sig_diff(ra, rb), data)


def _gate_directions(snap: Snapshot, model: str) -> dict[str, Any]:
    """Directions the model's policy states explicitly for its gates' metrics."""
    try:
        policy = snap.policy(snap.model(model).policy)
    except ModelregError:
        return {}
    return {g.metric: g.direction for s in policy.stages for g in s.gates if g.direction}


def _flat(params: Any, prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted keys (`model.C`), so a diff names the changed leaf."""
    if not isinstance(params, dict) or not params:
        return {prefix: params} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in params.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _sig_diff(a: VersionRecord, b: VersionRecord) -> tuple[str, ...]:
    if a.signature is None or b.signature is None:
        return () if a.signature == b.signature else ("signature recorded for one version only",)
    old, new = a.signature.types(), b.signature.types()
    notes = [f"dropped {n}" for n in old if n not in new]
    notes += [f"retyped {n} {old[n]} → {new[n]}" for n in old if n in new and new[n] != old[n]]
    notes += [f"added {n} ({new[n]})" for n in new if n not in old]
    return tuple(notes)
