"""`status` and `history`: where every version serves, and how it got there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelreg.errors import CheckFailed, ModelregError, NotFound, ValidationError
from modelreg.registry.events_file import EVENTS_DIR
from modelreg.registry.history import LastAssignments, StageEvent, stage_events
from modelreg.registry.names import check_readable_name
from modelreg.registry.records import ModelSpec, Stages, VersionRecord
from modelreg.registry.schemas import Problem
from modelreg.registry.snapshot import Snapshot, model_roots, model_yaml, version_yaml
from modelreg.registry.workspace import Workspace


@dataclass(frozen=True)
class StatusRow:
    """One model × stage (stage None: the latest version, not serving anywhere)."""

    model: str
    stage: str | None
    version: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    since: str | None = None
    commit: str | None = None
    pr: str | None = None
    candidate: str | None = None
    weight: int | None = None
    deprecated: bool = False


@dataclass(frozen=True)
class Status:
    rev: str
    rows: tuple[StatusRow, ...]


def status(
    ws: Workspace, *, model: str | None = None, at: str = "HEAD", all_versions: bool = False
) -> Status:
    """Every model × stage → version at revision or date `at`, read from Git objects.

    With `all_versions`, every registered version that serves nowhere gets a row too
    (stage None), not only the latest."""
    if model is not None:
        check_readable_name(model)
    snap = _snapshot(ws, at, model)
    models = [model] if model else snap.models()
    pending = LastAssignments(snap, model)  # git walks while the files are parsed
    try:
        loaded = _preload(snap, models)
        stages = loaded.stages
        wanted = {(m, s) for m, st in stages.items() if st for s in st.assignments}
        last = pending.result(wanted)
    finally:
        pending.close()
    rows: list[StatusRow] = []
    for name in models:
        rows.extend(_model_rows(snap, name, last, all_versions, loaded))
    assert snap.rev is not None
    return Status(rev=snap.rev, rows=tuple(rows))


def _snapshot(ws: Workspace, at: str, model: str | None) -> Snapshot:
    """The registry at `at`; for one model, a snapshot listing only its files and policies."""
    rev = ws.git.resolve(at) if model is not None else None  # None: a date, or no model
    if model is None or (rev is None and not ws.git.has_commits()):
        snap = ws.snapshot(at, artifacts=False)  # status reads no DVC pointer
        snap.trust_checkpoint = True  # a read: a parsed-files checkpoint may answer
        return snap
    # The checkpoint folder too: one `ls-tree` lists what history starts from.
    roots = (*model_roots(model), EVENTS_DIR)
    snap = Snapshot(ws.git, rev or ws.git.resolve_at(at), ws.cache, roots)
    snap.trust_checkpoint = True
    if not snap.has_model(model):
        ws.snapshot(snap.rev).require_model(model)  # the error names the known models
    return snap


@dataclass(frozen=True)
class _Preloaded:
    """What `_preload` read: each model's stages (None: a stage file has problems), and the
    specs and records by path, as checked (data, problems)."""

    stages: dict[str, Stages | None]
    specs: dict[str, tuple[Any, list[Problem]]]
    records: dict[str, tuple[Any, list[Problem]]]


def _preload(snap: Snapshot, models: list[str]) -> _Preloaded:
    """Read and check the files the rows need in three batches rather than three per model:
    each model's spec, stages, the versions they serve and its latest, not every record."""
    specs = snap.checked_many("model", [p for p in map(model_yaml, models) if p in snap.files])
    stages = snap.preload_stages(models)
    paths = [p for name in models for p in shown_records(snap, name, stages.get(name))]
    return _Preloaded(stages, specs, snap.checked_many("version", paths))


def shown_records(snap: Snapshot, model: str, stages: Stages | None) -> list[str]:
    """The records `status` shows of a model: the versions its stages serve (canaries
    included) and its latest; none when its stages cannot be read (`stages` None)."""
    versions = snap.versions(model)
    if not versions or stages is None:
        return []
    assignments = stages.assignments.values()
    wanted = {versions[-1], *(a.version for a in assignments)}
    wanted |= {a.rollout.candidate for a in assignments if a.rollout}
    return sorted(p for p in (version_yaml(model, v) for v in wanted) if p in snap.files)


def _model_rows(
    snap: Snapshot,
    model: str,
    last: Mapping[tuple[str, str], StageEvent],
    all_versions: bool,
    loaded: _Preloaded,
) -> list[StatusRow]:
    spec = _spec(snap, model, loaded)
    stages = loaded.stages.get(model)
    if stages is None:  # a stage file has problems: read it again to raise them
        stages = snap.stages(model)
    versions = snap.versions(model)
    serving = {a.version for a in stages.assignments.values()}
    serving |= {a.rollout.candidate for a in stages.assignments.values() if a.rollout}
    latest = versions[-1] if versions else None
    idle = [v for v in versions if v not in serving] if all_versions else []
    if not all_versions and latest and latest not in serving:
        idle = [latest]
    wanted = serving | set(idle)
    records = _records(snap, model, [v for v in wanted if v in versions], loaded)
    _refuse_unreadable(snap, model, [v for v in wanted if v in versions and v not in records])
    rows = [
        _stage_row(spec, stage, stages, records, last.get((model, stage)))
        for stage in stage_order(snap, spec, stages)
    ]
    for version in reversed(idle):
        rec = records.get(version)
        rows.append(
            StatusRow(
                model=model,
                stage=None,
                version=version,
                metrics=_headline(spec, rec),
                since=rec.created_at if rec else None,
                deprecated=version in spec.deprecated,
            )
        )
    return rows


def _spec(snap: Snapshot, model: str, loaded: _Preloaded) -> ModelSpec:
    """The model's spec, from what `_preload` read when it was valid (else as `snap.model`
    reads it, which raises the same error it always did)."""
    found = loaded.specs.get(model_yaml(model))
    if found is None or found[1]:
        return snap.model(model)
    return ModelSpec.from_dict(found[0])


def _records(
    snap: Snapshot, model: str, versions: list[str], loaded: _Preloaded
) -> dict[str, VersionRecord]:
    """The valid records of these versions, from what `_preload` read where it did."""
    out: dict[str, VersionRecord] = {}
    rest: list[str] = []
    for version in versions:
        found = loaded.records.get(version_yaml(model, version))
        if found is None:
            rest.append(version)
        elif not found[1]:
            out[version] = VersionRecord.from_dict(found[0])
    return {**out, **snap.records(model, rest)} if rest else out


def _refuse_unreadable(snap: Snapshot, model: str, versions: list[str]) -> None:
    """A record status needs but cannot read is an error, never a row with blank metrics:
    exit 2 when it is not YAML, 1 when it breaks its schema (as `validate` exits)."""
    for version in sorted(versions):
        _, problems = snap.checked("version", version_yaml(model, version))
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise (ValidationError if problems[0].syntax else CheckFailed)(str(problems[0]) + more)


def _stage_row(
    spec: ModelSpec,
    stage: str,
    stages: Stages,
    records: Mapping[str, VersionRecord],
    event: StageEvent | None,
) -> StatusRow:
    a = stages.assignments[stage]
    return StatusRow(
        model=spec.name,
        stage=stage,
        version=a.version,
        metrics=_headline(spec, records.get(a.version)),
        since=event.date if event else None,
        commit=event.commit if event else None,
        pr=event.pr if event else None,
        candidate=a.rollout.candidate if a.rollout else None,
        weight=a.rollout.weight if a.rollout else None,
        deprecated=a.version in spec.deprecated,
    )


def stage_order(snap: Snapshot, spec: ModelSpec, stages: Stages) -> list[str]:
    """Assigned stages in the policy's order, then any the policy does not name (all in
    assigned order when the policy cannot be read)."""
    try:
        order = snap.policy_stage_names(spec.policy)
    except ModelregError:
        order = []
    assigned = list(stages.assignments)
    return [s for s in order if s in stages.assignments] + [s for s in assigned if s not in order]


def _headline(spec: ModelSpec, rec: VersionRecord | None) -> dict[str, float]:
    if rec is None:
        return {}
    names = spec.headline_metrics or tuple(rec.metrics)[:3]
    return {n: rec.metrics[n] for n in names if n in rec.metrics}


def history(
    ws: Workspace, *, model: str, stage: str | None = None, at: str = "HEAD"
) -> list[StageEvent]:
    """Every change to the model's stages, oldest first, in commit order."""
    check_readable_name(model)
    if stage is not None:
        check_readable_name(stage, "--stage")
    snap = _snapshot(ws, at, model)
    events = stage_events(snap, model)
    if stage:
        known = {e.stage for e in events}
        if stage not in known and stage not in snap.stages(model).assignments:
            raise NotFound(
                f"{model} has never been in stage '{stage}'",
                hint="known: " + (", ".join(sorted(known)) or "none"),
            )
        events = [e for e in events if e.stage == stage]
    return events
