"""`drift`: compare recent production data with what the serving version was trained on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.adapters import dvc as dvcio
from modelreg.errors import UsageError, plural
from modelreg.registry.names import check_readable_name
from modelreg.registry.records import VersionRecord
from modelreg.registry.snapshot import Snapshot
from modelreg.registry.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

    from modelreg.monitoring.labels import Labels
    from modelreg.monitoring.profile import Profile
    from modelreg.monitoring.report import ConceptFinding, DriftReport, LabelJoin
    from modelreg.registry.drift_rules import DriftRules

LABELS = ("label", "target", "y_true")
PREDICTION = "prediction"
SERVED_BY = "version"  # the prediction log's column naming the version that served a row
# Bookkeeping columns of serve's and predict's prediction logs: not compared when no
# signature says which columns are the model's inputs (they always "drift").
LOG_COLUMNS = ("timestamp", "model", "stage", "version", "request_id", "role")


@dataclass(frozen=True)
class DriftCheck:
    """One drift check of one model's serving version, and where its reference came from.

    `stage` is None when the model serves nowhere yet (checked against --reference, with its
    newest version's features and metrics, or none when it has no version).
    """

    model: str
    stage: str | None
    version: str | None
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
    labels: Path | None = None,
    key: str = "request_id",
    task: str | None = None,
) -> DriftCheck:
    """Judge `current` (a file or folder of logs) against the serving version's reference.

    A model that serves nowhere yet is checked against `reference` when one is given.
    `labels` joins outcomes to the current rows on `key` for concept drift.
    """
    from modelreg.monitoring.compare import compare

    check_readable_name(model)
    snap = ws.snapshot("HEAD")
    snap.require_model(model)
    spec = snap.model(model)
    policy = snap.policy(spec.policy)
    version: str | None
    if stage is None and reference is not None and not snap.stages(model).assignments:
        registered = snap.versions(model)  # serves nowhere: its newest version, if any
        version = registered[-1] if registered else None
    else:
        stage = stage or _serving_stage(snap, model, [s.name for s in policy.stages])
        version = snap.stages(model).version(stage)
        if version is None:
            raise UsageError(f"nothing serves {model} in {stage}", hint="promote a version first")
    record = snap.record(model, version) if version is not None else None
    rules = policy.drift
    frame = _current(current, window)
    _check_input(frame, record, current)
    joined = _join(frame, labels, key, current)
    frame, found = joined if joined is not None else (frame, None)
    task = spec.task or task
    if record is None:
        assert reference is not None  # only a model serving nowhere gets here, given one
        report = _against_data(
            frame, reference, found, task, rules, key=key, current=current, model=model
        )
        return DriftCheck(model, stage, version, str(reference), report)
    features = [f.name for f in record.signature.inputs] if record.signature else None
    profile, source = _reference(
        ws, record, reference, features, _skipped(key, joined=labels is not None)
    )
    if found is not None:
        from modelreg.monitoring.concept import infer_task

        _require_predictions(frame)
        task = task or infer_task(frame["label"])
    concept = _concept(frame, task, snap, record, rules, spec.target)
    report = compare(
        profile, frame, rules, features=features, model=model, source=str(current), concept=concept
    )
    if found is not None:
        report = _with_join(report, frame, found, None)
    return DriftCheck(model, stage, version, source, report)


def check_files(
    *,
    current: Path,
    reference: Path,
    window: str | None = None,
    labels: Path | None = None,
    key: str = "request_id",
    task: str | None = None,
    rules: DriftRules | None = None,
) -> DriftReport:
    """Drift of one data file (or folder) against another, with no registry at all.

    Every column of the reference but the key, the prediction log's bookkeeping columns
    and joined labels is profiled and judged under `rules` (the defaults when None).
    With `labels`, outcomes are joined on `key` to the current rows (and to the reference
    rows, when they carry the key and a prediction) for concept drift: the live metric
    against the same metric on the reference.
    """
    from modelreg.registry.drift_rules import DriftRules

    frame = _current(current, window)
    _check_input(frame, None, current)
    joined = _join(frame, labels, key, current)
    frame, found = joined if joined is not None else (frame, None)
    return _against_data(
        frame, reference, found, task, rules or DriftRules(), key=key, current=current
    )


def _against_data(
    frame: pd.DataFrame,
    reference: Path,
    found: _Found | None,
    task: str | None,
    rules: DriftRules,
    *,
    key: str,
    current: Path,
    model: str | None = None,
) -> DriftReport:
    """The current rows judged against reference data, concept drift against its metric."""
    from modelreg.monitoring.compare import compare

    ref_frame = _read_reference(reference)
    skip = _skipped(key, joined=found is not None)
    profile = _profile(ref_frame, None, reference, skip)
    concept, found_ref = None, None
    if found is not None:
        ref_frame, found_ref = _join_reference(ref_frame, found.labels)
        concept = _adhoc_concept(frame, ref_frame, task, rules)
    report = compare(profile, frame, rules, model=model, source=str(current), concept=concept)
    return report if found is None else _with_join(report, frame, found, found_ref)


@dataclass(frozen=True)
class _Found:
    """A labels file and how it met the current rows."""

    labels: Labels
    matched: int
    keys: frozenset[str]


def _join(
    frame: pd.DataFrame, labels: Path | None, key: str, current: Path
) -> tuple[pd.DataFrame, _Found] | None:
    """The current rows with `label` joined from the labels file, or None without one."""
    from modelreg.monitoring.labels import read_labels, with_labels

    if labels is None:
        return None
    found = read_labels(labels, key)
    out, joined = with_labels(frame, found, source=str(current))
    return out, _Found(found, joined.matched, joined.keys)


def _join_reference(ref: pd.DataFrame, labels: Labels) -> tuple[pd.DataFrame, _Found | None]:
    """The reference with labels joined too, when it carries the key and predictions
    (a past prediction log); otherwise as it is."""
    from modelreg.monitoring.labels import with_labels

    if labels.key not in ref.columns or PREDICTION not in ref.columns:
        return ref, None
    out, joined = with_labels(ref, labels, source="reference", option="--reference")
    return out, _Found(labels, joined.matched, joined.keys)


def _with_join(
    report: DriftReport, frame: pd.DataFrame, found: _Found, ref: _Found | None
) -> DriftReport:
    """The report with how the labels met the data, and notes on what did not match."""
    from dataclasses import replace

    from modelreg.monitoring.report import LabelJoin

    labels = found.labels
    used = found.keys | (ref.keys if ref is not None else frozenset())
    join = LabelJoin(
        source=labels.source,
        key=labels.key,
        labels=labels.records,
        duplicates=labels.duplicates,
        matched=found.matched,
        unlabelled=len(frame) - found.matched,
        unmatched=len(labels.by_key) - len(used),
        matched_reference=None if ref is None else ref.matched,
    )
    return replace(report, labels=join, reasons=(*report.reasons, *_join_notes(join)))


def _join_notes(join: LabelJoin) -> tuple[str, ...]:
    keys = join.labels - join.duplicates
    notes = []
    if join.unmatched:
        notes.append(
            f"note: labels: {join.unmatched} of {plural(keys, 'key')} in {join.source} "
            f"match no row on {join.key}"
        )
    if join.duplicates:
        notes.append(
            f"note: labels: {plural(join.duplicates, 'label')} replaced by a later one for "
            "the same key (the last label wins)"
        )
    if join.unlabelled:
        notes.append(f"note: labels: {join.unlabelled} current rows have no label")
    return tuple(notes)


def _adhoc_concept(
    frame: pd.DataFrame, ref: pd.DataFrame, task: str | None, rules: DriftRules
) -> ConceptFinding | None:
    """Concept drift without a version: the live metric against the reference's own."""
    from modelreg.monitoring.concept import concept_against, infer_task, reference_metric

    _require_predictions(frame)
    task = task or infer_task(frame["label"])
    label = next((c for c in LABELS if c in ref.columns), None)
    baseline, why = (
        None,
        (
            "no baseline: the reference has no label and prediction columns to measure it on "
            "(pass a past prediction log with --reference, and its labels in --labels)"
        ),
    )
    if label is not None and PREDICTION in ref.columns:
        baseline, rows = reference_metric(ref[label], ref[PREDICTION], task, rules)
        why = (
            f"no baseline: only {rows} labelled reference rows; need at least "
            f"{rules.min_rows} (policy drift.min_rows)"
        )
    return concept_against(
        frame["label"],
        frame[PREDICTION],
        task,
        baseline,
        rules,
        baseline_from="reference",
        missing=why,
    )


def _require_predictions(frame: pd.DataFrame) -> None:
    if PREDICTION not in frame.columns:
        raise UsageError(
            f"--labels: the current data has no {PREDICTION!r} column to judge the labels "
            "against (pass a prediction log, or a file with a prediction column)"
        )


def _read_reference(path: Path) -> pd.DataFrame:
    from modelreg.adapters.tables import read_table

    return read_table(path)


def _skipped(key: str, *, joined: bool) -> set[str]:
    """Columns not compared without a signature: the key, the log's bookkeeping columns,
    and labels joined from --labels (late labels leave current rows without one, which
    would read as a rise in missing labels; they feed concept drift instead)."""
    return {key, *LOG_COLUMNS, *(LABELS if joined else ())}


def _profile(
    frame: pd.DataFrame, features: list[str] | None, path: Path, skip: set[str]
) -> Profile:
    """The reference's profile: of `features`, else of every column not in `skip` and not
    a datetime."""
    from modelreg.monitoring.profile import build_profile, dtype_family

    if features is None:
        features = [
            str(c)
            for c in frame.columns
            if str(c) not in skip and dtype_family(frame[c].dtype) != "datetime"
        ]
    return build_profile(frame, features, source=str(path))


def _serving_stage(snap: Snapshot, model: str, order: list[str]) -> str:
    """The last stage in policy order that has a version (production, usually)."""
    assigned = snap.stages(model).assignments
    for stage in reversed(order):
        if stage in assigned:
            return stage
    raise UsageError(
        f"{model} serves in no stage yet",
        hint="promote a version first, or pass --reference PATH to check against that data",
    )


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


def _check_input(frame: pd.DataFrame, record: VersionRecord | None, path: Path) -> None:
    """Refuse data the check cannot judge: no rows, or text where the model takes numbers.

    Missing columns are refused by the engine (naming them); a window with a few rows
    is judged `insufficient` rather than refused.
    """
    import pandas as pd

    if len(frame) == 0:
        raise UsageError(f"--current {path}: no rows", hint="point at logs that hold predictions")
    numeric = [
        f.name
        for f in (record.signature.inputs if record and record.signature else ())
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
                hint=f"{record.model} {record.version} takes {name} as a number"
                if record
                else None,
            )


def _reference(
    ws: Workspace,
    record: VersionRecord,
    path: Path | None,
    features: list[str] | None,
    skip: set[str],
) -> tuple[Profile, str]:
    """The version's stored profile, else its training data through DVC, else --reference."""
    from modelreg.adapters.tables import read_table
    from modelreg.monitoring.profile import Profile, build_profile

    if path is not None:
        return _profile(read_table(path), features, path, skip), str(path)
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
    frame: pd.DataFrame,
    task: str | None,
    snap: Snapshot,
    record: VersionRecord,
    rules: DriftRules,
    target: str | None = None,
) -> Any:
    """Concept drift when the log carries labels next to the predictions.

    A log that names the version serving each row (a canary's) judges each row against
    that version's registered metric, not all of them against the stable's.
    """
    from modelreg.monitoring.concept import concept_by_version, concept_drift

    names = (target, *LABELS) if target else LABELS  # model.yaml's target: first
    label = next((c for c in names if c in frame.columns), None)
    if label is None or PREDICTION not in frame.columns or task is None:
        return None
    if SERVED_BY not in frame.columns:
        return concept_drift(frame[label], frame[PREDICTION], task, record.metrics, rules)
    served = {str(v) for v in frame[SERVED_BY].dropna()}
    metrics = {v: snap.record(record.model, v).metrics for v in served if v != record.version}
    metrics[record.version] = record.metrics
    return concept_by_version(
        frame[label], frame[PREDICTION], frame[SERVED_BY], task, metrics, rules
    )
