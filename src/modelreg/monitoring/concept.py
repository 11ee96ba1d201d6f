"""Concept drift: the live metric on labelled rows against the version's registered one."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from modelreg.errors import UsageError
from modelreg.monitoring.report import ConceptFinding, Severity
from modelreg.registry.drift_rules import CLASSIFICATION_METRICS, REGRESSION_METRICS, DriftRules

LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse"})


def concept_drift(
    y_true: Sequence[Any] | Any,
    y_pred: Sequence[Any] | Any,
    task: str,
    registered_metrics: Mapping[str, float],
    rules: DriftRules | None = None,
) -> ConceptFinding:
    """Compare the live metric over labelled rows with the version's registered metric."""
    rules = rules or DriftRules()
    metric = _concept_metric(task, rules)
    if metric not in registered_metrics:
        raise UsageError(
            f"version record: metrics: no {metric!r} to compare the live {metric} with "
            f"(register it, or set drift.concept.metric to one of: "
            f"{', '.join(sorted(registered_metrics)) or 'none'})"
        )
    return concept_against(y_true, y_pred, task, float(registered_metrics[metric]), rules)


def concept_against(
    y_true: Sequence[Any] | Any,
    y_pred: Sequence[Any] | Any,
    task: str,
    baseline: float | None,
    rules: DriftRules | None = None,
    *,
    baseline_from: str = "registered",
    missing: str = "",
) -> ConceptFinding:
    """The live metric over labelled rows against `baseline` (registered, or measured on
    the reference); with no baseline the live metric is reported and judged `insufficient`,
    `missing` saying why."""
    import numpy as np

    rules = rules or DriftRules()
    metric = _concept_metric(task, rules)
    truth, pred = _labelled_pairs(np.asarray(y_true), np.asarray(y_pred))
    rows = int(truth.size)
    if rows < rules.min_rows:
        reason = (
            f"concept: only {rows} labelled rows; need at least {rules.min_rows} to judge "
            f"{metric} (policy drift.min_rows)"
        )
        return ConceptFinding(
            metric,
            baseline,
            None,
            None,
            rules.concept_max_drop,
            rows,
            "insufficient",
            reason,
            baseline_from,
        )
    live = _metric_value(metric, truth, pred)
    if baseline is None:
        reason = f"concept: {metric} {live:.4g} on {rows} labelled rows; {missing}"
        return ConceptFinding(
            metric,
            None,
            live,
            None,
            rules.concept_max_drop,
            rows,
            "insufficient",
            reason,
            baseline_from,
        )
    drop = live - baseline if metric in LOWER_IS_BETTER else baseline - live
    bad = drop > rules.concept_max_drop
    severity: Severity = "critical" if bad else "ok"
    reason = "concept: " + _change(metric, baseline, live, drop, rows, rules.concept_max_drop)
    return ConceptFinding(
        metric, baseline, live, drop, rules.concept_max_drop, rows, severity, reason, baseline_from
    )


def reference_metric(
    y_true: Sequence[Any] | Any,
    y_pred: Sequence[Any] | Any,
    task: str,
    rules: DriftRules | None = None,
) -> tuple[float | None, int]:
    """The concept metric on the reference's labelled rows (None below drift.min_rows)."""
    import numpy as np

    rules = rules or DriftRules()
    truth, pred = _labelled_pairs(np.asarray(y_true), np.asarray(y_pred))
    rows = int(truth.size)
    if rows < rules.min_rows:
        return None, rows
    return _metric_value(_concept_metric(task, rules), truth, pred), rows


def infer_task(y_true: Sequence[Any] | Any) -> str:
    """`regression` when the labels are numbers and some are not whole; else classification."""
    import pandas as pd

    labels = pd.Series(list(y_true) if not hasattr(y_true, "dtype") else y_true).dropna()
    if labels.empty or pd.api.types.is_bool_dtype(labels.dtype):
        return "classification"
    numbers = pd.to_numeric(labels, errors="coerce")
    if numbers.isna().any():
        return "classification"
    return "regression" if bool((numbers % 1 != 0).any()) else "classification"


def _change(
    metric: str, registered: float, live: float, drop: float, rows: int, max_drop: float
) -> str:
    """How the metric moved, signed as the metric moved: accuracy falling is a minus."""
    change = live - registered
    verb = "dropped" if change < 0 else "rose" if change > 0 else "held"
    judged = "worse" if drop > 0 else "better" if drop < 0 else "no change"
    limit = "beyond" if drop > max_drop else "within"
    return (
        f"{metric} {verb} {change:+.4g} ({judged}; {registered:.4g} → {live:.4g} on {rows} "
        f"labelled rows; {limit} drift.concept.max_drop {max_drop:g})"
    )


def concept_by_version(
    y_true: Sequence[Any] | Any,
    y_pred: Sequence[Any] | Any,
    served_by: Sequence[Any] | Any,
    task: str,
    registered: Mapping[str, Mapping[str, float]],
    rules: DriftRules | None = None,
) -> ConceptFinding:
    """Concept drift of a log several versions served (a canary): each row is judged
    against the metric registered with the version that served it.

    `served_by` is the log's `version` column; `registered` maps version → its metrics.
    The finding is the worst version's, its reason naming every version's.
    """
    import numpy as np

    truth, pred, versions = np.asarray(y_true), np.asarray(y_pred), np.asarray(served_by)
    findings = []
    for version in sorted({str(v) for v in versions if v == v and v is not None}):
        if version not in registered:
            raise UsageError(
                f"prediction log: version {version!r} served rows but is not registered "
                f"(known: {', '.join(sorted(registered)) or 'none'})"
            )
        rows = versions.astype(str) == version
        found = concept_drift(truth[rows], pred[rows], task, registered[version], rules)
        findings.append(
            replace(found, reason=found.reason.replace("concept:", f"concept ({version}):", 1))
        )
    if not findings:
        raise UsageError("prediction log: no row names the version that served it")
    worst = max(findings, key=_badness)
    return replace(worst, reason="; ".join(f.reason for f in findings))


def _badness(finding: ConceptFinding) -> tuple[int, float]:
    rank = {"critical": 2, "ok": 1, "insufficient": 0}.get(finding.severity, 0)
    return rank, finding.drop if finding.drop is not None else float("-inf")


def _concept_metric(task: str, rules: DriftRules) -> str:
    if task not in ("classification", "regression"):
        raise UsageError(
            f"concept drift: task {task!r} is unknown (use classification or regression)"
        )
    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    metric = rules.concept_metric or allowed[0]
    if metric not in allowed:
        raise UsageError(
            f"policy drift.concept.metric: {metric!r} does not fit a {task} model "
            f"(use one of: {', '.join(allowed)})"
        )
    return metric


def _labelled_pairs(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Drop rows whose label or prediction is missing."""
    import pandas as pd

    if y_true.shape != y_pred.shape:
        raise UsageError(
            f"concept drift: {y_true.shape[0]} labels but {y_pred.shape[0]} predictions "
            "(join labels to predictions row by row)"
        )
    keep = ~(pd.isna(y_true) | pd.isna(y_pred))
    return _same_kind(y_true[keep], y_pred[keep])


def _same_kind(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Labels and predictions as one kind: numbers written as text ("1", from JSON or a
    CSV) are read as numbers when the other side is numeric; text against numbers that
    do not parse is a usage error, not a crash in scikit-learn."""
    import pandas as pd

    def numeric(a: Any) -> bool:
        if a.dtype.kind in "iuf":
            return True
        return len(a) == 0 or all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in a.tolist()
        )

    sides = [y_true, y_pred]
    kinds = [numeric(a) for a in sides]
    if kinds[0] == kinds[1]:
        return y_true, y_pred
    text = kinds.index(False)
    parsed = pd.to_numeric(pd.Series(sides[text], dtype=object), errors="coerce")
    if parsed.isna().any():
        bad = sides[text][parsed.isna().to_numpy()][0]
        what = ("labels", "predictions")
        raise UsageError(
            f"concept drift: {what[text]} are text (e.g. {bad!r}) but {what[1 - text]} are "
            "numbers (write both the same way, e.g. the class the model predicts)"
        )
    sides[text] = parsed.to_numpy()
    return sides[0], sides[1]


def _metric_value(metric: str, y_true: Any, y_pred: Any) -> float:
    from sklearn import metrics

    if metric in REGRESSION_METRICS:
        t, p = y_true.astype(float), y_pred.astype(float)
        if metric == "rmse":
            return float(math.sqrt(metrics.mean_squared_error(t, p)))
        funcs = {
            "mae": metrics.mean_absolute_error,
            "mse": metrics.mean_squared_error,
            "r2": metrics.r2_score,
        }
        return float(funcs[metric](t, p))
    if metric in ("accuracy", "balanced_accuracy"):
        fn = metrics.accuracy_score if metric == "accuracy" else metrics.balanced_accuracy_score
        return float(fn(y_true, y_pred))
    binary = set(y_true.tolist()) | set(y_pred.tolist()) <= {0, 1}
    scorers = {
        "f1": metrics.f1_score,
        "precision": metrics.precision_score,
        "recall": metrics.recall_score,
    }
    scorer = scorers[metric]
    average = "binary" if binary else "macro"
    return float(scorer(y_true, y_pred, average=average, zero_division=0))
