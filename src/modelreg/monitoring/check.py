"""`drift`: compare recent production data with what the serving version was trained on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.adapters import dvc as dvcio
from modelreg.errors import UsageError, plural
from modelreg.registry.names import check_readable_name
from modelreg.registry.records import ModelSpec, VersionRecord
from modelreg.registry.snapshot import Snapshot
from modelreg.registry.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

    from modelreg.monitoring.profile import Profile
    from modelreg.monitoring.report import DriftReport
    from modelreg.registry.drift_rules import DriftRules

LABELS = ("label", "target", "y_true")
PREDICTION = "prediction"
SERVED_BY = "version"  # the prediction log's column naming the version that served a row


@dataclass(frozen=True)
class DriftCheck:
    """One drift check of one model's serving version, and where its reference came from."""

    model: str
    stage: str
    version: str
    reference: str
    report: DriftReport


def check_drift(
    ws: Workspace,
    *,
    model: str,
    current: Path,
    reference: Path | None = None,
    window: str | None = None,
    stage: str | None = None,
) -> DriftCheck:
    """Judge `current` (a file or folder of logs) against the serving version's reference."""
    from modelreg.monitoring.compare import compare

    check_readable_name(model)
    snap = ws.snapshot("HEAD")
    snap.require_model(model)
    spec = snap.model(model)
    policy = snap.policy(spec.policy)
    stage = stage or _serving_stage(snap, model, [s.name for s in policy.stages])
    version = snap.stages(model).version(stage)
    if version is None:
        raise UsageError(f"nothing serves {model} in {stage}", hint="promote a version first")
    record = snap.record(model, version)
    rules = policy.drift
    features = [f.name for f in record.signature.inputs] if record.signature else None
    frame = _current(current, window)
    _check_input(frame, record, current)
    profile, source = _reference(ws, record, reference, features)
    concept = _concept(frame, spec, snap, record, rules)
    report = compare(
        profile, frame, rules, features=features, model=model, source=str(current), concept=concept
    )
    return DriftCheck(model, stage, version, source, report)


def _serving_stage(snap: Snapshot, model: str, order: list[str]) -> str:
    """The last stage in policy order that has a version (production, usually)."""
    assigned = snap.stages(model).assignments
    for stage in reversed(order):
        if stage in assigned:
            return stage
    raise UsageError(f"{model} serves in no stage yet", hint="promote a version first")


def _current(path: Path, window: str | None) -> pd.DataFrame:
    from modelreg.adapters.tables import filter_window, read_table
    from modelreg.registry.policy import parse_duration

    frame = read_table(path)
    if window is None:
        return frame
    if "timestamp" not in frame.columns:
        raise UsageError(
            f"--current {path}: no 'timestamp' column to apply --window {window} to",
            hint="drop --window or log a timestamp column",
        )
    return filter_window(frame, "timestamp", parse_duration(window), source=str(path))


def _check_input(frame: pd.DataFrame, record: VersionRecord, path: Path) -> None:
    """Refuse data the check cannot judge: no rows, or text where the model takes numbers.

    Missing columns are refused by the engine (naming them); a window with a few rows
    is judged `insufficient` rather than refused.
    """
    import pandas as pd

    if len(frame) == 0:
        raise UsageError(f"--current {path}: no rows", hint="point at logs that hold predictions")
    numeric = [
        f.name
        for f in (record.signature.inputs if record.signature else ())
        if f.type in ("int", "float") and f.name in frame.columns
    ]
    for name in numeric:
        column = frame[name]
        parsed = pd.to_numeric(column, errors="coerce")
        bad = column[parsed.isna() & column.notna()]
        if len(bad):
            raise UsageError(
                f"--current {path}: column {name}: {bad.iloc[0]!r} is not a number "
                f"({len(bad)} of {plural(len(column), 'row')})",
                hint=f"{record.model} {record.version} takes {name} as a number",
            )


def _reference(
    ws: Workspace, record: VersionRecord, path: Path | None, features: list[str] | None
) -> tuple[Profile, str]:
    """The version's stored profile, else its training data through DVC, else --reference."""
    from modelreg.adapters.tables import read_table
    from modelreg.monitoring.profile import Profile, build_profile

    if path is not None:
        return build_profile(read_table(path), features, source=str(path)), str(path)
    if record.profile:
        data = json.loads(_tracked_bytes(ws, record.profile))
        return Profile.from_dict(data, source=record.profile), record.profile
    if record.data:
        local = ws.root / record.data.path
        if not local.exists():
            dvcio.pull(ws.root, [local])
        frame = read_table(local)
        return build_profile(frame, features, source=record.data.path), record.data.path
    raise UsageError(
        f"{record.model} {record.version} records no profile and no training data",
        hint="pass --reference PATH",
    )


def _tracked_bytes(ws: Workspace, path: str) -> bytes:
    local = ws.root / path
    if not local.exists():
        dvcio.pull(ws.root, [local])
    return local.read_bytes()


def _concept(
    frame: pd.DataFrame, spec: ModelSpec, snap: Snapshot, record: VersionRecord, rules: DriftRules
) -> Any:
    """Concept drift when the log carries labels next to the predictions.

    A log that names the version serving each row (a canary's) judges each row against
    that version's registered metric, not all of them against the stable's.
    """
    from modelreg.monitoring.concept import concept_by_version, concept_drift

    names = (spec.target, *LABELS) if spec.target else LABELS
    label = next((c for c in names if c in frame.columns), None)
    if label is None or PREDICTION not in frame.columns or spec.task is None:
        return None
    if SERVED_BY not in frame.columns:
        return concept_drift(frame[label], frame[PREDICTION], spec.task, record.metrics, rules)
    served = {str(v) for v in frame[SERVED_BY].dropna()}
    metrics = {v: snap.record(record.model, v).metrics for v in served if v != record.version}
    metrics[record.version] = record.metrics
    return concept_by_version(
        frame[label], frame[PREDICTION], frame[SERVED_BY], spec.task, metrics, rules
    )
