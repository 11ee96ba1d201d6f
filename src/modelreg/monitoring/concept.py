"""Concept drift: the live metric on labelled rows against the version's registered one."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    import numpy as np

    rules = rules or DriftRules()
    metric = _concept_metric(task, rules)
    if metric not in registered_metrics:
        raise UsageError(
            f"version record: metrics: no {metric!r} to compare the live {metric} with "
            f"(register it, or set drift.concept.metric to one of: "
            f"{', '.join(sorted(registered_metrics)) or 'none'})"
        )
    registered = float(registered_metrics[metric])
    truth, pred = _labelled_pairs(np.asarray(y_true), np.asarray(y_pred))
    rows = int(truth.size)
    if rows < rules.min_rows:
        reason = (
            f"concept: only {rows} labelled rows; need at least {rules.min_rows} to judge "
            f"{metric} (policy drift.min_rows)"
        )
        return ConceptFinding(
            metric, registered, None, None, rules.concept_max_drop, rows, "insufficient", reason
        )
    live = _metric_value(metric, truth, pred)
    drop = live - registered if metric in LOWER_IS_BETTER else registered - live
    bad = drop > rules.concept_max_drop
    word = "worsened" if bad else "changed"
    reason = (
        f"concept: {metric} {word} by {drop:+.4g} ({registered:.4g} → {live:.4g} on {rows} "
        f"labelled rows; drift.concept.max_drop {rules.concept_max_drop:g})"
    )
    severity: Severity = "critical" if bad else "ok"
    return ConceptFinding(
        metric, registered, live, drop, rules.concept_max_drop, rows, severity, reason
    )


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
    return y_true[keep], y_pred[keep]


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
