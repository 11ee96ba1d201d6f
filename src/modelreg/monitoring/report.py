"""The result of a drift check: per-column judgements, concept drift and the verdict.

Plain dataclasses with a strict-JSON `to_dict` / `from_dict`, rendered by
`modelreg.monitoring.render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from modelreg.registry.drift_rules import Kind

Verdict = Literal["ok", "warn", "critical", "insufficient"]
Severity = Literal["ok", "critical", "insufficient"]


@dataclass(frozen=True)
class Quality:
    """Data-quality facts of one column: missing rates, range, unseen categories, types."""

    missing_reference: float
    missing_current: float
    out_of_range: float | None = None
    unseen: tuple[tuple[str, float], ...] = ()
    type_change: str | None = None
    coerced: bool = False
    all_missing: bool = False


@dataclass(frozen=True)
class Chart:
    """Reference and current counts on the same bins (numeric) or categories."""

    reference: tuple[int, ...]
    current: tuple[int, ...]
    edges: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()
    below: int = 0
    above: int = 0


@dataclass(frozen=True)
class Summary:
    """Summary statistics of one column in one data set (numeric or categorical fields)."""

    count: int
    missing: float  # share of rows
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    median: float | None = None
    max: float | None = None
    distinct: int | None = None
    top: str | None = None
    top_share: float | None = None


Role = Literal["feature", "prediction", "target"]


@dataclass(frozen=True)
class Sources:
    """Where a report's data came from, for the reader: files, version, window, time."""

    reference: str
    current: str
    model: str | None = None
    version: str | None = None
    stage: str | None = None
    window: str | None = None
    generated_at: str | None = None
    rules: str | None = None  # where the drift rules came from: a policy file, or defaults


@dataclass(frozen=True)
class ColumnDrift:
    """The judgement on one column: its test, effect, p-value, findings and chart data."""

    name: str
    kind: Kind
    method: str
    measure: str
    statistic: float | None
    threshold: float
    p_value: float | None
    p_raw: float | None
    drifted: bool
    critical: bool
    rows: int
    measures: Mapping[str, float]
    quality: Quality
    chart: Chart | None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    role: Role = "feature"
    reference_summary: Summary | None = None
    current_summary: Summary | None = None


@dataclass(frozen=True)
class ConceptFinding:
    """Live metric on labelled rows versus the metric registered with the version."""

    metric: str
    registered: float | None  # the baseline; None when there is nothing to compare with
    live: float | None
    drop: float | None
    max_drop: float
    rows: int
    severity: Severity
    reason: str
    baseline: str = "registered"  # where `registered` came from: "registered" or "reference"


@dataclass(frozen=True)
class LabelJoin:
    """How a labels file (`drift --labels FILE --key COLUMN`) met the data it labels."""

    source: str
    key: str
    labels: int  # label records read
    duplicates: int  # records whose key came again later (the last label won)
    matched: int  # current rows that got a label
    unlabelled: int  # current rows that did not
    unmatched: int  # label keys that match no row of the current (or reference) data
    matched_reference: int | None = None  # reference rows that got a label, when joined


@dataclass(frozen=True)
class DriftReport:
    """Per-column judgements and the dataset verdict with one-line reasons."""

    verdict: Verdict
    share: float
    columns: tuple[ColumnDrift, ...]
    ignored_columns: tuple[str, ...]
    rows_reference: int
    rows_current: int
    reasons: tuple[str, ...]
    missing_columns: tuple[str, ...] = ()
    concept: ConceptFinding | None = None
    share_warn: float = 0.2
    share_critical: float = 0.4
    alpha: float = 0.05
    current_span: tuple[str, str] | None = None  # first and last timestamp of the current rows
    labels: LabelJoin | None = None

    @property
    def drifted(self) -> tuple[str, ...]:
        """Names of the drifted columns."""
        return tuple(c.name for c in self.columns if c.drifted)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping (strict JSON: no NaN or infinity)."""
        return {
            "verdict": self.verdict,
            "share": self.share,
            "drifted": list(self.drifted),
            "rows_reference": self.rows_reference,
            "rows_current": self.rows_current,
            "reasons": list(self.reasons),
            "ignored_columns": list(self.ignored_columns),
            "missing_columns": list(self.missing_columns),
            "policy": {
                "alpha": self.alpha,
                "dataset_share": {"warn": self.share_warn, "critical": self.share_critical},
            },
            "concept": None if self.concept is None else dict(self.concept.__dict__),
            "columns": [_drift_to_dict(c) for c in self.columns],
            "current_span": None if self.current_span is None else list(self.current_span),
            "labels": None if self.labels is None else dict(self.labels.__dict__),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DriftReport:
        """Rebuild a report from `to_dict` output (e.g. a stored JSON report)."""
        policy = d.get("policy") or {}
        share = policy.get("dataset_share") or {}
        concept = d.get("concept")
        span = d.get("current_span")
        labels = d.get("labels")
        return cls(
            verdict=d["verdict"],
            share=float(d["share"]),
            columns=tuple(_drift_from_dict(c) for c in d["columns"]),
            ignored_columns=tuple(d["ignored_columns"]),
            rows_reference=int(d["rows_reference"]),
            rows_current=int(d["rows_current"]),
            reasons=tuple(d["reasons"]),
            missing_columns=tuple(d.get("missing_columns", ())),
            concept=None if concept is None else ConceptFinding(**concept),
            share_warn=float(share.get("warn", 0.2)),
            share_critical=float(share.get("critical", 0.4)),
            alpha=float(policy.get("alpha", 0.05)),
            current_span=None if not span else (str(span[0]), str(span[1])),
            labels=None if labels is None else LabelJoin(**labels),
        )


def _drift_to_dict(c: ColumnDrift) -> dict[str, Any]:
    q = c.quality
    chart = c.chart
    return {
        "name": c.name,
        "kind": c.kind,
        "method": c.method,
        "measure": c.measure,
        "statistic": c.statistic,
        "threshold": c.threshold,
        "p_value": c.p_value,
        "p_raw": c.p_raw,
        "drifted": c.drifted,
        "critical": c.critical,
        "rows": c.rows,
        "measures": dict(c.measures),
        "quality": {**q.__dict__, "unseen": [list(u) for u in q.unseen]},
        "chart": None
        if chart is None
        else {k: list(v) if isinstance(v, tuple) else v for k, v in chart.__dict__.items()},
        "reasons": list(c.reasons),
        "notes": list(c.notes),
        "role": c.role,
        "reference_summary": _summary_to_dict(c.reference_summary),
        "current_summary": _summary_to_dict(c.current_summary),
    }


def _summary_to_dict(s: Summary | None) -> dict[str, Any] | None:
    return None if s is None else dict(s.__dict__)


def _summary_from_dict(d: Mapping[str, Any] | None) -> Summary | None:
    return None if d is None else Summary(**d)


def _drift_from_dict(d: Mapping[str, Any]) -> ColumnDrift:
    q = dict(d["quality"])
    q["unseen"] = tuple((str(k), float(v)) for k, v in q.get("unseen", ()))
    chart = d.get("chart")
    return ColumnDrift(
        name=d["name"],
        kind=d["kind"],
        method=d["method"],
        measure=d["measure"],
        statistic=d["statistic"],
        threshold=float(d["threshold"]),
        p_value=d["p_value"],
        p_raw=d["p_raw"],
        drifted=bool(d["drifted"]),
        critical=bool(d["critical"]),
        rows=int(d["rows"]),
        measures=dict(d["measures"]),
        quality=Quality(**q),
        chart=None if chart is None else _chart_from_dict(chart),
        reasons=tuple(d["reasons"]),
        notes=tuple(d["notes"]),
        role=d.get("role", "feature"),
        reference_summary=_summary_from_dict(d.get("reference_summary")),
        current_summary=_summary_from_dict(d.get("current_summary")),
    )


def _chart_from_dict(d: Mapping[str, Any]) -> Chart:
    return Chart(
        reference=tuple(int(x) for x in d["reference"]),
        current=tuple(int(x) for x in d["current"]),
        edges=tuple(float(x) for x in d.get("edges", ())),
        labels=tuple(str(x) for x in d.get("labels", ())),
        below=int(d.get("below", 0)),
        above=int(d.get("above", 0)),
    )
