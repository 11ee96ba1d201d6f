"""The `drift:` rules of a policy: methods, thresholds, verdict shares and the action.

Plain data read by the registry (validate, the policy loader) and applied by the drift
engine in `modelreg.monitoring`; this module imports no numpy, pandas or scipy.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from modelreg.errors import RuleError, UsageError

NUMERIC_METHODS = ("wasserstein", "psi", "ks")
CATEGORICAL_METHODS = ("jensenshannon", "psi", "chi2")
ALL_METHODS = ("wasserstein", "psi", "ks", "jensenshannon", "chi2")
DEFAULT_THRESHOLDS = {"wasserstein": 0.1, "psi": 0.2, "jensenshannon": 0.1}
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "precision", "recall")
REGRESSION_METRICS = ("rmse", "mae", "mse", "r2")
ACTIONS = ("retrain_pr", "issue", "none")

Kind = Literal["numeric", "categorical"]
# How the drift check profiles a column of each signature type (datetime: not at all).
SIGNATURE_KINDS: dict[str, Kind] = {
    "int": "numeric",
    "float": "numeric",
    "bool": "categorical",
    "category": "categorical",
    "string": "categorical",
}


def methods_for(kind: Kind) -> tuple[str, ...]:
    """The tests that can judge a column of this kind."""
    return NUMERIC_METHODS if kind == "numeric" else CATEGORICAL_METHODS


def drift_schema() -> dict[str, Any]:
    """The JSON Schema of the `drift:` mapping, as the shipped policy schema states it."""
    from modelreg.registry.schemas import schema

    fragment: dict[str, Any] = copy.deepcopy(schema("policy")["properties"]["drift"])
    return fragment


@dataclass(frozen=True)
class MethodRule:
    """A test and its threshold; None means the default for the column kind or method."""

    method: str | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The policy mapping for this rule, without unset keys."""
        out: dict[str, Any] = {}
        if self.method is not None:
            out["method"] = self.method
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out


@dataclass(frozen=True)
class DriftRules:
    """Typed `drift:` section of a policy; every field has a default.

    `source` names the policy file the rules came from, for messages at drift time.
    """

    schedule: str = "0 6 * * *"
    numeric: MethodRule = MethodRule("wasserstein", 0.1)
    categorical: MethodRule = MethodRule("jensenshannon", 0.1)
    alpha: float = 0.05
    min_effect: float = 0.05
    missing_max_increase: float = 0.05
    out_of_range_max_share: float = 0.05
    min_rows: int = 100
    share_warn: float = 0.2
    share_critical: float = 0.4
    critical_columns: tuple[str, ...] = ()
    columns: Mapping[str, MethodRule] = field(default_factory=dict)
    concept_metric: str | None = None
    concept_max_drop: float = 0.05
    action: str = "retrain_pr"
    source: str = field(default="policy", compare=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, *, source: str = "policy") -> DriftRules:
        """Build rules from the (schema-checked) `drift:` mapping; missing keys take defaults.

        RuleError (naming the key path) for what the schema cannot see.
        """
        d = d or {}
        base = cls()
        share = d.get("dataset_share") or {}
        concept = d.get("concept") or {}
        overrides = d.get("columns") or {}
        rules = cls(
            schedule=str(d.get("schedule", base.schedule)),
            numeric=_parse_method(d.get("numeric"), base.numeric, NUMERIC_METHODS, "numeric"),
            categorical=_parse_method(
                d.get("categorical"), base.categorical, CATEGORICAL_METHODS, "categorical"
            ),
            alpha=float(d.get("alpha", base.alpha)),
            min_effect=float(d.get("min_effect", base.min_effect)),
            missing_max_increase=float(
                (d.get("missing_rate") or {}).get("max_increase", base.missing_max_increase)
            ),
            out_of_range_max_share=float(
                (d.get("out_of_range") or {}).get("max_share", base.out_of_range_max_share)
            ),
            min_rows=int(d.get("min_rows", base.min_rows)),
            share_warn=float(share.get("warn", base.share_warn)),
            share_critical=float(share.get("critical", base.share_critical)),
            critical_columns=tuple(str(c) for c in d.get("critical_columns") or ()),
            columns={
                str(k): _parse_method(v, MethodRule(), ALL_METHODS, f"columns.{k}")
                for k, v in overrides.items()
            },
            concept_metric=concept.get("metric"),
            concept_max_drop=float(concept.get("max_drop", base.concept_max_drop)),
            action=str(d.get("action", base.action)),
            source=source,
        )
        if rules.share_warn > rules.share_critical:
            raise RuleError(
                "drift.dataset_share",
                f"warn {rules.share_warn:g} is above critical {rules.share_critical:g}",
                fix="warn must be at most critical",
            )
        return rules

    def to_dict(self) -> dict[str, Any]:
        """The `drift:` mapping these rules stand for (every key spelled out)."""
        return {
            "schedule": self.schedule,
            "numeric": self.numeric.to_dict(),
            "categorical": self.categorical.to_dict(),
            "alpha": self.alpha,
            "min_effect": self.min_effect,
            "missing_rate": {"max_increase": self.missing_max_increase},
            "out_of_range": {"max_share": self.out_of_range_max_share},
            "min_rows": self.min_rows,
            "dataset_share": {"warn": self.share_warn, "critical": self.share_critical},
            "critical_columns": list(self.critical_columns),
            "columns": {k: v.to_dict() for k, v in self.columns.items()},
            "concept": {"metric": self.concept_metric, "max_drop": self.concept_max_drop},
            "action": self.action,
        }

    def rule_for(self, column: str, kind: Kind) -> tuple[str, float]:
        """The (method, threshold) that judges `column`, per-column override first."""
        default = self.numeric if kind == "numeric" else self.categorical
        allowed = methods_for(kind)
        override = self.columns.get(column, MethodRule())
        method = override.method or default.method or allowed[0]
        if method not in allowed:
            where = f"columns.{column}" if override.method else kind
            raise UsageError(
                f"{self.source}: drift.{where}.method: {method!r} does not apply to {kind} "
                f"column {column} (use one of: {', '.join(allowed)})"
            )
        threshold = override.threshold
        if threshold is None and method == default.method:
            threshold = default.threshold
        if threshold is None:
            threshold = DEFAULT_THRESHOLDS.get(method, self.min_effect)
        return method, float(threshold)


def _parse_method(raw: Any, default: MethodRule, allowed: Sequence[str], where: str) -> MethodRule:
    """Parse one `{method, threshold}` mapping, inheriting what it leaves out."""
    if raw is None:
        return default
    if not isinstance(raw, Mapping):
        raise RuleError(
            f"drift.{where}", "expected a mapping", fix="write {method: ..., threshold: ...}"
        )
    method = raw.get("method", default.method)
    if method is not None and method not in allowed:
        raise RuleError(
            f"drift.{where}.method",
            f"{method!r} is not a test for it",
            fix=f"use one of: {', '.join(allowed)}",
        )
    threshold = raw.get("threshold")
    if threshold is None and method == default.method:
        threshold = default.threshold
    return MethodRule(method, None if threshold is None else float(threshold))
