"""Pure drift and data-quality statistics: reference profiles, per-column tests and a verdict.

A reference profile is built once per registered version (`build_profile`) and stored as
small JSON; `compare` judges a current window against it without the training data.
Defaults are effect sizes (normalised Wasserstein, Jensen-Shannon) that must also be
statistically real (Holm-corrected KS / chi-square p < alpha), so neither huge samples
nor tiny windows raise false alarms. See docs/drift.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from modelreg.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

PROFILE_FORMAT = "modelreg.profile"
PROFILE_VERSION = 1
QUANTILES = 1001
TAIL_PROBS = (1e-6, 1e-5, 1e-4, 2e-4, 5e-4)
EXACT_MAX_DISTINCT = 256
MAX_CATEGORIES = 1000
HIST_BINS = 20
PSI_BINS = 10
PSI_EPS = 1e-4
CHART_CATEGORIES = 12

NUMERIC_METHODS = ("wasserstein", "psi", "ks")
CATEGORICAL_METHODS = ("jensenshannon", "psi", "chi2")
ALL_METHODS = ("wasserstein", "psi", "ks", "jensenshannon", "chi2")
DEFAULT_THRESHOLDS = {"wasserstein": 0.1, "psi": 0.2, "jensenshannon": 0.1}
EFFECT_MEASURE = {
    "wasserstein": "wasserstein",
    "psi": "psi",
    "ks": "ks",
    "jensenshannon": "jensenshannon",
    "chi2": "tvd",
}
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "precision", "recall")
REGRESSION_METRICS = ("rmse", "mae", "mse", "r2")
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse"})
ACTIONS = ("retrain_pr", "issue", "none")

Verdict = Literal["ok", "warn", "critical", "insufficient"]
Kind = Literal["numeric", "categorical"]
Severity = Literal["ok", "critical", "insufficient"]


# --------------------------------------------------------------------------- rules


def _method_schema(methods: Sequence[str], default: str | None, text: str) -> dict[str, Any]:
    method: dict[str, Any] = {"enum": list(methods), "description": "the test that judges drift"}
    if default is not None:
        method["default"] = default
    return {
        "type": "object",
        "additionalProperties": False,
        "description": text,
        "properties": {
            "method": method,
            "threshold": {
                "type": "number",
                "minimum": 0,
                "description": (
                    "drift when the method's effect exceeds this (defaults: wasserstein 0.1 "
                    "of the reference std, psi 0.2, jensenshannon 0.1; ks/chi2: min_effect)"
                ),
            },
        },
    }


DRIFT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Drift and data-quality rules for the scheduled drift check.",
    "properties": {
        "schedule": {
            "type": "string",
            "default": "0 6 * * *",
            "description": "cron expression (UTC) of the scheduled drift workflow",
        },
        "numeric": _method_schema(
            NUMERIC_METHODS, "wasserstein", "test for numeric columns (effect-size by default)"
        ),
        "categorical": _method_schema(
            CATEGORICAL_METHODS, "jensenshannon", "test for categorical columns"
        ),
        "alpha": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": 0.05,
            "description": (
                "significance level after Holm correction across columns; every method's "
                "effect must also be significant at this level (1 turns the guard off)"
            ),
        },
        "min_effect": {
            "type": "number",
            "minimum": 0,
            "default": 0.05,
            "description": (
                "for ks/chi2: smallest effect worth flagging (KS D, or total variation "
                "distance for chi2), so huge samples don't flag trivia"
            ),
        },
        "missing_rate": {
            "type": "object",
            "additionalProperties": False,
            "description": "missing-value rate rule",
            "properties": {
                "max_increase": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "default": 0.05,
                    "description": "largest allowed absolute rise of a column's missing rate",
                }
            },
        },
        "out_of_range": {
            "type": "object",
            "additionalProperties": False,
            "description": "values outside the reference's [min, max]",
            "properties": {
                "max_share": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "default": 0.05,
                    "description": "largest allowed share of out-of-range values",
                }
            },
        },
        "min_rows": {
            "type": "integer",
            "minimum": 1,
            "default": 100,
            "description": "fewer current rows than this: verdict 'insufficient'",
        },
        "dataset_share": {
            "type": "object",
            "additionalProperties": False,
            "description": "share of drifted columns that makes the dataset warn / critical",
            "properties": {
                "warn": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.2},
                "critical": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.4},
            },
        },
        "critical_columns": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "drift in any of these columns makes the verdict critical",
        },
        "columns": {
            "type": "object",
            "default": {},
            "description": "per-column override of method and threshold",
            "additionalProperties": _method_schema(ALL_METHODS, None, "override for one column"),
        },
        "concept": {
            "type": "object",
            "additionalProperties": False,
            "description": "concept drift once labels arrive: live metric vs registered metric",
            "properties": {
                "metric": {
                    "enum": [*CLASSIFICATION_METRICS, *REGRESSION_METRICS, None],
                    "default": None,
                    "description": "default: accuracy (classification) or rmse (regression)",
                },
                "max_drop": {
                    "type": "number",
                    "minimum": 0,
                    "default": 0.05,
                    "description": "largest allowed absolute worsening of the metric",
                },
            },
        },
        "action": {
            "enum": list(ACTIONS),
            "default": "retrain_pr",
            "description": "what a warn/critical verdict triggers in the scheduled workflow",
        },
    },
}


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
    """Typed `drift:` section of a policy; every field has a default."""

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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> DriftRules:
        """Build rules from the (schema-checked) `drift:` mapping; missing keys take defaults."""
        d = d or {}
        base = cls()
        share = d.get("dataset_share") or {}
        concept = d.get("concept") or {}
        overrides = d.get("columns") or {}
        return cls(
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
        )

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
        allowed = NUMERIC_METHODS if kind == "numeric" else CATEGORICAL_METHODS
        override = self.columns.get(column, MethodRule())
        method = override.method or default.method or allowed[0]
        if method not in allowed:
            where = f"columns.{column}" if override.method else kind
            raise UsageError(
                f"policy drift.{where}.method: {method!r} does not apply to {kind} "
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
        raise UsageError(f"policy drift.{where}: expected a mapping with method/threshold")
    method = raw.get("method", default.method)
    if method is not None and method not in allowed:
        raise UsageError(
            f"policy drift.{where}.method: {method!r} is not a test for it "
            f"(use one of: {', '.join(allowed)})"
        )
    threshold = raw.get("threshold")
    if threshold is None and method == default.method:
        threshold = default.threshold
    return MethodRule(method, None if threshold is None else float(threshold))


# --------------------------------------------------------------------------- profile


@dataclass(frozen=True)
class NumericProfile:
    """Reference summary of one numeric column: quantiles (or exact values), bins, moments."""

    name: str
    dtype: str
    count: int
    missing: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    bin_edges: tuple[float, ...] = ()
    bin_counts: tuple[int, ...] = ()
    hist_edges: tuple[float, ...] = ()
    hist_counts: tuple[int, ...] = ()
    kind: Literal["numeric"] = "numeric"


@dataclass(frozen=True)
class CategoricalProfile:
    """Reference summary of one categorical column: counts of its (top) categories."""

    name: str
    dtype: str
    count: int
    missing: int
    categories: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()
    other: int = 0
    kind: Literal["categorical"] = "categorical"


ColumnProfile = NumericProfile | CategoricalProfile


def quantile_grid() -> tuple[float, ...]:
    """Probabilities of the stored quantiles: 1001 uniform plus extra in both tails."""
    uniform = [i / (QUANTILES - 1) for i in range(QUANTILES)]
    tails = [*TAIL_PROBS, *(1.0 - p for p in TAIL_PROBS)]
    return tuple(sorted({*uniform, *tails}))


@dataclass(frozen=True)
class Profile:
    """The reference profile of a registered version, stored beside it as JSON."""

    rows: int
    columns: tuple[ColumnProfile, ...]
    grid: tuple[float, ...] = field(default_factory=quantile_grid)
    version: int = PROFILE_VERSION

    @property
    def names(self) -> tuple[str, ...]:
        """Profiled column names, in order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnProfile:
        """The profile of one column (KeyError if absent)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-able mapping (format + version + per-column summaries)."""
        return {
            "format": PROFILE_FORMAT,
            "version": self.version,
            "rows": self.rows,
            "grid": list(self.grid),
            "columns": [_column_to_dict(c) for c in self.columns],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "profile") -> Profile:
        """Read a profile written by `to_dict`; UsageError names `source` when it is not one."""
        if not isinstance(d, Mapping) or d.get("format") != PROFILE_FORMAT:
            raise UsageError(
                f"{source}: not a modelreg drift profile (rebuild it with build_profile)"
            )
        version = d.get("version")
        if version != PROFILE_VERSION:
            raise UsageError(
                f"{source}: version: profile format {version!r} is not supported "
                f"(this modelreg reads version {PROFILE_VERSION}; rebuild the profile)"
            )
        try:
            columns = tuple(_column_from_dict(c) for c in d["columns"])
            grid = tuple(float(p) for p in d["grid"])
            return cls(rows=int(d["rows"]), columns=columns, grid=grid, version=PROFILE_VERSION)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"{source}: columns: malformed profile ({exc!r}; rebuild it with build_profile)"
            ) from exc


_NUMERIC_TUPLES = ("quantiles", "values", "bin_edges", "hist_edges")
_INT_TUPLES = ("counts", "bin_counts", "hist_counts")


def _column_to_dict(col: ColumnProfile) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in col.__dict__.items():
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _column_from_dict(d: Mapping[str, Any]) -> ColumnProfile:
    if d["kind"] == "numeric":
        kw: dict[str, Any] = {k: _opt_float(d.get(k)) for k in ("min", "max", "mean", "std")}
        kw.update({k: tuple(float(x) for x in d.get(k, ())) for k in _NUMERIC_TUPLES})
        kw.update({k: tuple(int(x) for x in d.get(k, ())) for k in _INT_TUPLES})
        return NumericProfile(
            name=str(d["name"]),
            dtype=str(d["dtype"]),
            count=int(d["count"]),
            missing=int(d["missing"]),
            **kw,
        )
    if d["kind"] == "categorical":
        return CategoricalProfile(
            name=str(d["name"]),
            dtype=str(d["dtype"]),
            count=int(d["count"]),
            missing=int(d["missing"]),
            categories=tuple(str(c) for c in d["categories"]),
            counts=tuple(int(c) for c in d["counts"]),
            other=int(d.get("other", 0)),
        )
    raise ValueError(f"unknown column kind {d['kind']!r}")


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def build_profile(
    df: pd.DataFrame, columns: Sequence[str] | None = None, *, source: str = "reference data"
) -> Profile:
    """Summarise a reference frame once: quantiles, bins, category counts, missing, dtype."""
    lookup = _column_lookup(df, source)
    if columns is None:
        names = [n for n, c in lookup.items() if _family(df[c].dtype) != "datetime"]
    else:
        names = [str(c) for c in columns]
        absent = [n for n in names if n not in lookup]
        if absent:
            raise UsageError(
                f"{source}: no column(s) {', '.join(absent)} "
                f"(columns are: {', '.join(lookup) or 'none'}; fix the column list)"
            )
    grid = quantile_grid()
    return Profile(
        rows=len(df), columns=tuple(_profile_column(n, df[lookup[n]], grid) for n in names)
    )


def _column_lookup(df: pd.DataFrame, source: str) -> dict[str, Any]:
    lookup: dict[str, Any] = {}
    for col in df.columns:
        if str(col) in lookup:
            raise UsageError(f"{source}: column {col} appears twice (rename one of them)")
        lookup[str(col)] = col
    return lookup


def _family(dtype: Any) -> str:
    """numeric, bool, datetime or string — the families a type change is judged by."""
    from pandas.api import types

    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_numeric_dtype(dtype):
        return "numeric"
    if types.is_datetime64_any_dtype(dtype) or types.is_timedelta64_dtype(dtype):
        return "datetime"
    return "string"


def _looks_numeric(series: pd.Series) -> bool:
    """An object column whose values are numbers (e.g. built from Python ints)."""
    import pandas as pd

    if str(series.dtype) != "object":
        return False
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return inferred in ("integer", "floating", "mixed-integer-float", "decimal")


def _profile_column(name: str, series: pd.Series, grid: Sequence[float]) -> ColumnProfile:
    family = _family(series.dtype)
    if family == "numeric" or _looks_numeric(series):
        values, missing, _ = _to_float(series)
        return _numeric_profile(name, str(series.dtype), values, missing, grid)
    counts, missing = _category_counts(series)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = ordered[:MAX_CATEGORIES]
    return CategoricalProfile(
        name=name,
        dtype=str(series.dtype),
        count=sum(counts.values()),
        missing=missing,
        categories=tuple(k for k, _ in kept),
        counts=tuple(v for _, v in kept),
        other=sum(v for _, v in ordered[MAX_CATEGORIES:]),
    )


def _to_float(series: pd.Series) -> tuple[FloatArray, int, int]:
    """Finite float values, the missing count (nulls and ±inf) and unparseable count."""
    import numpy as np
    import pandas as pd

    nulls = int(series.isna().sum())
    if _family(series.dtype) in ("numeric", "bool"):
        raw = series.to_numpy(dtype="float64", na_value=np.nan)
        failed = 0
    else:
        parsed = pd.to_numeric(series, errors="coerce")
        raw = np.asarray(parsed.to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64)
        failed = int(np.isnan(raw).sum()) - nulls
    finite = np.isfinite(raw)
    values = raw[finite] if not finite.all() else raw
    missing = len(series) - int(values.size) - failed
    return np.ascontiguousarray(values, dtype=np.float64), missing, failed


def _numeric_profile(
    name: str, dtype: str, values: FloatArray, missing: int, grid: Sequence[float]
) -> NumericProfile:
    import numpy as np

    if values.size == 0:
        return NumericProfile(name=name, dtype=dtype, count=0, missing=missing)
    s = np.sort(values)
    mean, std = _moments(s)
    distinct, dcounts = _distinct(s)
    exact = distinct.size <= EXACT_MAX_DISTINCT
    if exact:
        edges = _discrete_deciles(distinct, dcounts)
        extra: dict[str, Any] = {
            "values": tuple(distinct.tolist()),
            "counts": tuple(dcounts.tolist()),
        }
    else:
        quantiles = _rounded(_sorted_quantiles(s, np.asarray(grid, dtype=np.float64)))
        quantiles[0], quantiles[-1] = float(s[0]), float(s[-1])
        edges = np.unique(_sorted_quantiles(s, np.linspace(0.0, 1.0, PSI_BINS + 1)[1:-1]))
        extra = {"quantiles": tuple(quantiles)}
    edges = np.asarray(_rounded(edges), dtype=np.float64) if not exact else edges
    hist_edges = _hist_edges(float(s[0]), float(s[-1]))
    return NumericProfile(
        name=name,
        dtype=dtype,
        count=int(s.size),
        missing=missing,
        min=float(s[0]),
        max=float(s[-1]),
        mean=mean,
        std=std,
        bin_edges=tuple(edges.tolist()),
        bin_counts=tuple(_bin_counts(s, edges).tolist()),
        hist_edges=tuple(hist_edges.tolist()),
        hist_counts=tuple(_hist_counts(s, hist_edges)[0].tolist()),
        **extra,
    )


def _moments(s: FloatArray) -> tuple[float | None, float | None]:
    """Mean and population std, scaled first so huge values cannot overflow."""
    import numpy as np

    scale = max(abs(float(s[0])), abs(float(s[-1])), 1.0)
    with np.errstate(all="ignore"):
        z = s / scale if scale > 1e100 else s
        mean = float(np.mean(z))
        std = float(np.std(z))
    factor = scale if scale > 1e100 else 1.0
    return _finite(mean * factor), _finite(std * factor)


def _distinct(s: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct values of a sorted array and their counts."""
    import numpy as np

    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    counts = np.diff(np.append(starts, s.size))
    return s[starts], counts.astype(np.int64)


def _sorted_quantiles(s: FloatArray, probs: FloatArray) -> FloatArray:
    """Linear-interpolation quantiles of a sorted array, safe near float64's limits."""
    import numpy as np

    pos = probs * (s.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, s.size - 1)
    frac = pos - lo
    with np.errstate(all="ignore"):
        q = s[lo] * (1.0 - frac) + s[hi] * frac
    return np.clip(np.where(np.isfinite(q), q, s[lo]), s[lo], s[hi])


def _discrete_deciles(values: FloatArray, counts: IntArray) -> FloatArray:
    """PSI bin edges for a few-valued column: the value where each decile is reached."""
    import numpy as np

    cum = np.cumsum(counts) / counts.sum()
    probs = np.linspace(0.0, 1.0, PSI_BINS + 1)[1:-1]
    idx = np.minimum(np.searchsorted(cum, probs - 1e-12), values.size - 1)
    edges = np.unique(values[idx])
    return np.asarray(edges[edges < values[-1]], dtype=np.float64)


def _rounded(values: Any) -> list[float]:
    """12 significant digits: far below any threshold, a third smaller as JSON."""
    return [float(f"{x:.12g}") for x in values]


def _hist_edges(lo: float, hi: float) -> FloatArray:
    import numpy as np

    if not hi > lo:
        return np.array([lo - 0.5, lo + 0.5]) if abs(lo) < 1e300 else np.array([lo, lo])
    t = np.linspace(0.0, 1.0, HIST_BINS + 1)
    with np.errstate(all="ignore"):
        edges = lo * (1.0 - t) + hi * t
    edges[0], edges[-1] = lo, hi
    return np.maximum.accumulate(edges)


def _bin_counts(s: FloatArray, edges: FloatArray) -> IntArray:
    """Counts of a sorted array in (-inf, e1], (e1, e2], ..., (ek, inf)."""
    import numpy as np

    cuts = np.searchsorted(s, edges, side="right")
    return np.diff(np.concatenate(([0], cuts, [s.size]))).astype(np.int64)


def _hist_counts(s: FloatArray, edges: FloatArray) -> tuple[IntArray, int, int]:
    """Counts of a sorted array in [e0,e1), ..., [ek-1,ek], plus those below and above."""
    import numpy as np

    left = np.searchsorted(s, edges, side="left")
    right_end = int(np.searchsorted(s, edges[-1], side="right"))
    bounds = np.append(left[:-1], right_end)
    counts = np.diff(bounds).astype(np.int64)
    return counts, int(left[0]), int(s.size - right_end)


def _category_counts(series: pd.Series) -> tuple[dict[str, int], int]:
    """Counts per normalised label (bool/int/float/str spelled alike) and the missing count."""
    vc = series.value_counts(dropna=True)
    counts: dict[str, int] = {}
    for key, n in zip(vc.index.tolist(), vc.tolist(), strict=True):
        if n:
            label = _label(key)
            counts[label] = counts.get(label, 0) + int(n)
    return counts, int(series.isna().sum())


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


# --------------------------------------------------------------------------- report types


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


@dataclass(frozen=True)
class ConceptFinding:
    """Live metric on labelled rows versus the metric registered with the version."""

    metric: str
    registered: float
    live: float | None
    drop: float | None
    max_drop: float
    rows: int
    severity: Severity
    reason: str


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
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DriftReport:
        """Rebuild a report from `to_dict` output (e.g. a stored JSON report)."""
        policy = d.get("policy") or {}
        share = policy.get("dataset_share") or {}
        concept = d.get("concept")
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
    }


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


# --------------------------------------------------------------------------- statistics


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error control across columns)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def chi2_homogeneity(
    reference: Sequence[float] | FloatArray, current: Sequence[float] | FloatArray
) -> tuple[float, float, int]:
    """Pearson chi-square homogeneity test on the 2×k table [reference; current] of counts."""
    import numpy as np
    from scipy import stats

    table = np.array([reference, current], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or (rows == 0).any():
        return 0.0, 1.0, 0
    expected = np.outer(rows, table.sum(axis=0)) / rows.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    dof = table.shape[1] - 1
    return stat, float(stats.chi2.sf(stat, dof)), dof


def jensen_shannon(p: FloatArray, q: FloatArray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two count or share vectors."""
    import numpy as np

    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(math.sqrt(max(0.0, (kl_p + kl_q) / 2)))


def psi(reference: FloatArray, current: FloatArray) -> float:
    """Population stability index of two count vectors over the same bins (shares floored)."""
    import numpy as np

    r = np.maximum(reference / max(reference.sum(), 1), PSI_EPS)
    c = np.maximum(current / max(current.sum(), 1), PSI_EPS)
    return float(((c - r) * np.log(c / r)).sum())


def ks_pvalue(d: float, n_reference: int, n_current: int) -> float:
    """Two-sample KS p-value as scipy's ks_2samp(method='asymp'); Kolmogorov limit when large."""
    from scipy import special, stats

    if d <= 0 or n_reference <= 0 or n_current <= 0:
        return 1.0
    en = n_reference * n_current / (n_reference + n_current)
    if en > 10_000:  # kstwo.sf costs up to 0.3 s here and agrees with the limit within 1 %
        p = special.kolmogorov(math.sqrt(en) * d)
    else:
        p = stats.kstwo.sf(d, max(1, round(en)))
    return float(min(1.0, max(0.0, p)))


def _ref_cdf(
    col: NumericProfile, grid: Sequence[float]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Knots of the reference CDF: values u, P(X < u) and P(X <= u)."""
    import numpy as np

    q = np.asarray(col.quantiles, dtype=np.float64)
    probs = np.asarray(grid, dtype=np.float64)
    u, first = np.unique(q, return_index=True)
    last = q.size - 1 - np.unique(q[::-1], return_index=True)[1]
    return u, probs[first], probs[last]


def _numeric_measures(
    col: NumericProfile, c: FloatArray, grid: Sequence[float]
) -> dict[str, float]:
    """KS D, normalised Wasserstein-1 and PSI of sorted current values vs the profile."""
    import numpy as np

    if col.values:
        d, w1 = _exact_ks_w1(col, c)
    else:
        d, w1 = _knot_ks_w1(col, c, grid)
    spread = col.std if col.std else max(abs(col.mean or 0.0), 1.0)
    edges = np.asarray(col.bin_edges, dtype=np.float64)
    ref_bins = np.asarray(col.bin_counts, dtype=np.float64)
    cur_bins = _bin_counts(c, edges).astype(np.float64)
    out = {"ks": d, "wasserstein": w1 / spread, "psi": psi(ref_bins, cur_bins)}
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _knot_ks_w1(col: NumericProfile, c: FloatArray, grid: Sequence[float]) -> tuple[float, float]:
    """KS and W1 against a quantile profile: exact at the knots, linear between them."""
    import numpy as np

    u, ref_lt, ref_le = _ref_cdf(col, grid)
    n = c.size
    lt = np.searchsorted(c, u, side="left")
    le = np.searchsorted(c, u, side="right")
    d = float(max(np.abs(ref_lt - lt / n).max(), np.abs(ref_le - le / n).max()))
    shift = float(u[u.size // 2])
    with np.errstate(all="ignore"):
        cs = np.concatenate(([0.0], np.cumsum(c - shift)))
        us = u - shift
        below = lt[0] * us[0] - cs[lt[0]]
        above = (cs[n] - cs[le[-1]]) - (n - le[-1]) * us[-1]
        lo, hi, width = le[:-1], lt[1:], np.diff(u)
        int_cur = (le[:-1] / n) * width + ((hi - lo) * us[1:] - (cs[hi] - cs[lo])) / n
        int_ref = width * (ref_le[:-1] + ref_lt[1:]) / 2
        w1 = float((below + above) / n + np.abs(int_ref - int_cur).sum())
    return d, w1


def _exact_ks_w1(col: NumericProfile, c: FloatArray) -> tuple[float, float]:
    """KS and W1 against a few-valued profile, exact on the union of both supports."""
    import numpy as np

    values = np.asarray(col.values, dtype=np.float64)
    ref_cum = np.cumsum(np.asarray(col.counts, dtype=np.float64)) / col.count
    cur_values, cur_counts = _distinct(c)
    cur_cum = np.cumsum(cur_counts) / c.size
    x = np.union1d(values, cur_values)
    f_ref = _step(ref_cum, np.searchsorted(values, x, side="right"))
    f_cur = _step(cur_cum, np.searchsorted(cur_values, x, side="right"))
    gap = np.abs(f_ref - f_cur)
    with np.errstate(all="ignore"):
        w1 = float((gap[:-1] * np.diff(x)).sum())
    return float(gap.max()), w1


def _step(cum: FloatArray, idx: IntArray) -> FloatArray:
    import numpy as np

    return np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)


def _missing_pvalue(ref_missing: int, ref_rows: int, cur_missing: int, cur_rows: int) -> float:
    """One-sided two-proportion z-test that the current missing rate is higher."""
    if ref_rows == 0 or cur_rows == 0:
        return 1.0
    pooled = (ref_missing + cur_missing) / (ref_rows + cur_rows)
    se = math.sqrt(pooled * (1 - pooled) * (1 / ref_rows + 1 / cur_rows))
    diff = cur_missing / cur_rows - ref_missing / ref_rows
    if se == 0:
        return 0.0 if diff > 0 else 1.0
    return 0.5 * math.erfc(diff / se / math.sqrt(2))


def _out_of_range_pvalue(outside: int, n: int, n_reference: int) -> float:
    """P(at least `outside` of n fresh values fall beyond the reference's sample extremes)."""
    from scipy import stats

    if outside == 0:
        return 1.0
    return float(stats.binom.sf(outside - 1, n, min(1.0, 2 / (n_reference + 1))))


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class _Checked:
    """A column's measurements before multiple-testing correction and judgement."""

    profile: ColumnProfile
    measures: dict[str, float]
    rows: int
    quality: Quality
    chart: Chart | None
    pvalues: dict[str, float]
    flags: dict[str, str]
    reasons: tuple[str, ...]
    notes: tuple[str, ...]


def compare(
    profile: Profile,
    current: pd.DataFrame,
    rules: DriftRules | None = None,
    *,
    features: Sequence[str] | None = None,
    model: str | None = None,
    source: str = "current data",
    concept: ConceptFinding | None = None,
) -> DriftReport:
    """Judge a current window against a reference profile: per-column drift, quality, verdict."""
    rules = rules or DriftRules()
    lookup = _column_lookup(current, source)
    names = _names_to_check(profile, lookup, features, model, source)
    ignored = tuple(n for n in lookup if n not in profile.names)
    absent = tuple(n for n in profile.names if n not in lookup and n in names)
    names = [n for n in names if n in lookup]
    rows = len(current)
    if rows < rules.min_rows or not names:
        return _insufficient(profile, rows, rules, ignored=ignored, absent=absent, concept=concept)
    checked = [_check_column(profile.column(n), current[lookup[n]], profile, rules) for n in names]
    adjusted = _adjust(checked)
    columns = tuple(_judge(c, adjusted[i], rules) for i, c in enumerate(checked))
    return _verdict(profile, rows, rules, columns, ignored=ignored, absent=absent, concept=concept)


def _adjust(checked: Sequence[_Checked]) -> list[dict[str, float]]:
    """Holm over every p-value of the run (drift, missing rate, out-of-range; all columns)."""
    keys = [(i, test) for i, c in enumerate(checked) for test in c.pvalues]
    adjusted = holm([checked[i].pvalues[test] for i, test in keys])
    out: list[dict[str, float]] = [{} for _ in checked]
    for (i, test), p in zip(keys, adjusted, strict=True):
        out[i][test] = p
    return out


def _names_to_check(
    profile: Profile,
    lookup: Mapping[str, Any],
    features: Sequence[str] | None,
    model: str | None,
    source: str,
) -> list[str]:
    if features is None:
        return list(profile.names)
    wanted = [str(f) for f in features]
    lacking = [f for f in wanted if f not in lookup]
    if lacking:
        who = f"model {model}" if model else "the model"
        raise UsageError(
            f"{source}: prediction log lacks column(s) {', '.join(lacking)} that {who} takes "
            "(add them to the log)"
        )
    return [f for f in profile.names if f in wanted]


def _check_column(
    col: ColumnProfile, series: pd.Series, profile: Profile, rules: DriftRules
) -> _Checked:
    if isinstance(col, NumericProfile):
        return _check_numeric(col, series, profile, rules)
    return _check_categorical(col, series, profile.rows, rules)


def _missing_test(
    col: ColumnProfile, ref_rows: int, cur_missing: int, cur_rows: int, rules: DriftRules
) -> tuple[float, str | None]:
    """p-value of a missing-rate rise, and the finding if the rise exceeds the policy."""
    ref_rate = col.missing / ref_rows if ref_rows else 0.0
    cur_rate = cur_missing / cur_rows if cur_rows else 0.0
    p = _missing_pvalue(col.missing, ref_rows, cur_missing, cur_rows)
    rise = cur_rate - ref_rate
    if rise <= rules.missing_max_increase:
        return p, None
    return p, (
        f"missing rate {ref_rate:.1%} → {cur_rate:.1%} "
        f"(+{rise:.1%} > drift.missing_rate.max_increase {rules.missing_max_increase:.1%})"
    )


def _check_numeric(
    col: NumericProfile, series: pd.Series, profile: Profile, rules: DriftRules
) -> _Checked:
    import numpy as np

    rows = len(series)
    values, missing, type_change, coerced = _numeric_values(col, series)
    notes = [f"numbers arrived as {series.dtype}; parsed them"] if coerced else []
    reasons = [f"type change {type_change}"] if type_change else []
    c = np.sort(values)
    all_missing = c.size == 0 and rows > 0 and not type_change
    if all_missing:
        reasons.append("all values missing")
    p_missing, flag_missing = _missing_test(col, profile.rows, missing, rows, rules)
    pvalues, flags = {"missing": p_missing}, {"missing": flag_missing}
    measures: dict[str, float] = {}
    out_share = None
    chart = None
    if c.size and col.count:
        measures = _numeric_measures(col, c, profile.grid)
        pvalues["drift"] = ks_pvalue(measures.get("ks", 0.0), col.count, int(c.size))
        out_share, pvalues["range"], flags["range"] = _out_of_range(col, c, rules)
        chart = _numeric_chart(col, c)
    elif not col.count:
        notes.append("the reference has no values in this column; nothing to compare")
    quality = Quality(
        missing_reference=col.missing / profile.rows if profile.rows else 0.0,
        missing_current=missing / rows if rows else 0.0,
        out_of_range=out_share,
        type_change=type_change,
        coerced=coerced,
        all_missing=all_missing,
    )
    kept = {k: v for k, v in flags.items() if v}
    return _Checked(
        col, measures, int(c.size), quality, chart, pvalues, kept, tuple(reasons), tuple(notes)
    )


def _numeric_values(
    col: NumericProfile, series: pd.Series
) -> tuple[FloatArray, int, str | None, bool]:
    """Finite values, missing count, a type-change finding, and whether strings were parsed."""
    import numpy as np

    family = _family(series.dtype)
    change = f"{col.dtype} → {series.dtype}"
    if family == "datetime":
        return np.empty(0), int(series.isna().sum()), change, False
    values, missing, failed = _to_float(series)
    if failed:
        example = _unparseable_example(series)
        change = f"{change}: {failed} value(s) are not numbers (e.g. {example!r})"
        return values, missing, change, False
    if family == "bool":
        return values, missing, change, False
    return values, missing, None, family == "string" and values.size > 0


def _unparseable_example(series: pd.Series) -> str:
    import pandas as pd

    parsed = pd.to_numeric(series, errors="coerce")
    bad = series[parsed.isna() & series.notna()]
    return str(bad.iloc[0])[:40] if len(bad) else ""


def _out_of_range(
    col: NumericProfile, c: FloatArray, rules: DriftRules
) -> tuple[float, float, str | None]:
    """Share of values beyond the reference [min, max], its p-value and the finding."""
    import numpy as np

    lo = -math.inf if col.min is None else col.min
    hi = math.inf if col.max is None else col.max
    below = int(np.searchsorted(c, lo, side="left"))
    above = int(c.size - np.searchsorted(c, hi, side="right"))
    share = (below + above) / c.size
    p = _out_of_range_pvalue(below + above, int(c.size), col.count)
    if share <= rules.out_of_range_max_share:
        return share, p, None
    return (
        share,
        p,
        (
            f"{share:.1%} of values outside the reference range [{lo:.6g}, {hi:.6g}] "
            f"(> drift.out_of_range.max_share {rules.out_of_range_max_share:.1%})"
        ),
    )


def _numeric_chart(col: NumericProfile, c: FloatArray) -> Chart:
    import numpy as np

    edges = np.asarray(col.hist_edges, dtype=np.float64)
    counts, below, above = _hist_counts(c, edges)
    return Chart(
        reference=col.hist_counts,
        current=tuple(counts.tolist()),
        edges=col.hist_edges,
        below=below,
        above=above,
    )


def _check_categorical(
    col: CategoricalProfile, series: pd.Series, ref_rows: int, rules: DriftRules
) -> _Checked:
    import numpy as np

    rows = len(series)
    counts, missing = _category_counts(series)
    total = sum(counts.values())
    known = dict(zip(col.categories, col.counts, strict=True))
    unseen = _unseen(col, counts, total)
    reasons, notes = _category_findings(col, counts, known, unseen)
    type_change = _categorical_type_change(col, series, counts, known, total)
    if type_change:
        reasons.append(f"type change {type_change}")
    all_missing = total == 0 and rows > 0
    if all_missing:
        reasons.append("all values missing")
    p_missing, flag_missing = _missing_test(col, ref_rows, missing, rows, rules)
    pvalues = {"missing": p_missing}
    measures: dict[str, float] = {}
    chart = None
    if total and col.count:
        labels, ref_vec, cur_vec = _category_table(col, counts)
        measures, pvalues["drift"] = _categorical_measures(np.asarray(ref_vec), np.asarray(cur_vec))
        chart = _categorical_chart(labels, ref_vec, cur_vec)
    elif not col.count:
        notes.append("the reference has no values in this column; nothing to compare")
    quality = Quality(
        missing_reference=col.missing / ref_rows if ref_rows else 0.0,
        missing_current=missing / rows if rows else 0.0,
        unseen=tuple(unseen),
        type_change=type_change,
        all_missing=all_missing,
    )
    flags = {"missing": flag_missing} if flag_missing else {}
    return _Checked(
        col, measures, total, quality, chart, pvalues, flags, tuple(reasons), tuple(notes)
    )


def _category_findings(
    col: CategoricalProfile,
    counts: Mapping[str, int],
    known: Mapping[str, int],
    unseen: Sequence[tuple[str, float]],
) -> tuple[list[str], list[str]]:
    """New categories are always findings, whatever their share."""
    if unseen:
        listed = ", ".join(f"{k!r} ({s:.2%})" for k, s in unseen[:5])
        more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
        return [f"new categor{'y' if len(unseen) == 1 else 'ies'} {listed}{more}"], []
    if col.other and any(k not in known for k in counts):
        return [], ["the reference kept only its top categories; new ones can't be told apart"]
    return [], []


def _unseen(
    col: CategoricalProfile, counts: Mapping[str, int], total: int
) -> list[tuple[str, float]]:
    if col.other or not col.count:
        return []
    known = set(col.categories)
    new = [(k, n / total) for k, n in counts.items() if k not in known]
    return sorted(new, key=lambda kv: (-kv[1], kv[0]))


def _categorical_type_change(
    col: CategoricalProfile,
    series: pd.Series,
    counts: Mapping[str, int],
    known: Mapping[str, int],
    total: int,
) -> str | None:
    """A change of dtype family whose values mostly don't match the reference categories."""
    import pandas as pd

    try:
        ref_family = _family(pd.api.types.pandas_dtype(col.dtype))
    except TypeError:
        ref_family = "string"
    if _family(series.dtype) == ref_family or not total or not col.count:
        return None
    matched = sum(n for k, n in counts.items() if k in known)
    if matched / total >= 0.5:
        return None
    return f"{col.dtype} → {series.dtype}"


def _category_table(
    col: CategoricalProfile, counts: Mapping[str, int]
) -> tuple[list[str], list[float], list[float]]:
    """Aligned reference/current count vectors: known categories, new ones, then 'other'."""
    labels = list(col.categories)
    ref = [float(n) for n in col.counts]
    cur = [float(counts.get(k, 0)) for k in labels]
    known = set(labels)
    extra = sorted((k for k in counts if k not in known), key=lambda k: -counts[k])
    if col.other:
        labels.append("(other)")
        ref.append(float(col.other))
        cur.append(float(sum(counts[k] for k in extra)))
    else:
        labels.extend(extra)
        ref.extend(0.0 for _ in extra)
        cur.extend(float(counts[k]) for k in extra)
    return labels, ref, cur


def _categorical_measures(ref: FloatArray, cur: FloatArray) -> tuple[dict[str, float], float]:
    import numpy as np

    stat, p, _ = chi2_homogeneity(ref, cur)
    tvd = float(np.abs(ref / ref.sum() - cur / cur.sum()).sum() / 2)
    measures = {
        "jensenshannon": jensen_shannon(ref, cur),
        "psi": psi(ref, cur),
        "chi2": stat,
        "tvd": tvd,
    }
    return {k: v for k, v in measures.items() if math.isfinite(v)}, p


def _categorical_chart(labels: list[str], ref: list[float], cur: list[float]) -> Chart:
    rt, ct = sum(ref) or 1.0, sum(cur) or 1.0
    order = sorted(range(len(labels)), key=lambda i: -max(ref[i] / rt, cur[i] / ct))
    top = order[:CHART_CATEGORIES]
    rest = order[CHART_CATEGORIES:]
    names = [labels[i] for i in top]
    r = [int(ref[i]) for i in top]
    c = [int(cur[i]) for i in top]
    if rest:
        names.append(f"({len(rest)} more)")
        r.append(int(sum(ref[i] for i in rest)))
        c.append(int(sum(cur[i] for i in rest)))
    return Chart(reference=tuple(r), current=tuple(c), labels=tuple(names))


def _judge(checked: _Checked, adjusted: Mapping[str, float], rules: DriftRules) -> ColumnDrift:
    col = checked.profile
    method, threshold = rules.rule_for(col.name, col.kind)
    measure = EFFECT_MEASURE[method]
    statistic = checked.measures.get(measure)
    p_value = adjusted.get("drift")
    reasons = list(checked.reasons)
    if statistic is not None and statistic > threshold and _significant(p_value, rules):
        reasons.insert(0, _effect_reason(method, measure, statistic, threshold, p_value))
    for test, finding in checked.flags.items():
        if _significant(adjusted.get(test), rules):
            reasons.append(f"{finding}, Holm p={adjusted[test]:.2g}")
    return ColumnDrift(
        name=col.name,
        kind=col.kind,
        method=method,
        measure=measure,
        statistic=statistic,
        threshold=threshold,
        p_value=p_value,
        p_raw=checked.pvalues.get("drift"),
        drifted=bool(reasons),
        critical=col.name in rules.critical_columns,
        rows=checked.rows,
        measures=checked.measures,
        quality=checked.quality,
        chart=checked.chart,
        reasons=tuple(reasons),
        notes=checked.notes,
    )


def _significant(p: float | None, rules: DriftRules) -> bool:
    return p is None or p < rules.alpha


def _effect_reason(
    method: str, measure: str, statistic: float, threshold: float, p_value: float | None
) -> str:
    name = measure if measure == method else f"{method} ({measure})"
    p = "" if p_value is None else f", Holm p={p_value:.2g}"
    return f"{name} {statistic:.4g} > {threshold:g}{p}"


# --------------------------------------------------------------------------- verdict


def _insufficient(
    profile: Profile,
    rows: int,
    rules: DriftRules,
    *,
    ignored: tuple[str, ...],
    absent: tuple[str, ...],
    concept: ConceptFinding | None,
) -> DriftReport:
    if rows < rules.min_rows:
        what = "no rows" if rows == 0 else f"only {rows} row{'s' if rows != 1 else ''}"
        why = (
            f"insufficient: {what} in the current window; need at least {rules.min_rows} "
            "(policy drift.min_rows)"
        )
    else:
        why = "insufficient: no profiled column is present in the current data"
    return DriftReport(
        verdict="insufficient",
        share=0.0,
        columns=(),
        ignored_columns=ignored,
        rows_reference=profile.rows,
        rows_current=rows,
        reasons=(why, *_absent_reasons(absent), *_concept_reasons(concept)),
        missing_columns=absent,
        concept=concept,
        share_warn=rules.share_warn,
        share_critical=rules.share_critical,
        alpha=rules.alpha,
    )


def _absent_reasons(absent: Sequence[str]) -> tuple[str, ...]:
    if not absent:
        return ()
    return (f"note: profiled column(s) {', '.join(absent)} absent from the current data",)


def _concept_reasons(concept: ConceptFinding | None) -> tuple[str, ...]:
    if concept is None:
        return ()
    return (f"{concept.severity}: {concept.reason}",)


def _verdict(
    profile: Profile,
    rows: int,
    rules: DriftRules,
    columns: tuple[ColumnDrift, ...],
    *,
    ignored: tuple[str, ...],
    absent: tuple[str, ...],
    concept: ConceptFinding | None,
) -> DriftReport:
    drifted = [c.name for c in columns if c.drifted]
    share = len(drifted) / len(columns)
    critical_hit = [c.name for c in columns if c.drifted and c.critical]
    share_text = f"{len(drifted)} of {len(columns)} columns drifted ({share:.0%})"
    reasons: list[str] = []
    if share >= rules.share_critical:
        reasons.append(
            f"critical: {share_text}, at or above drift.dataset_share.critical "
            f"{rules.share_critical:.0%}"
        )
    if critical_hit:
        reasons.append(f"critical: {', '.join(critical_hit)} drifted (drift.critical_columns)")
    concept_critical = concept is not None and concept.severity == "critical"
    verdict: Verdict = "critical" if reasons or concept_critical else "ok"
    if verdict == "ok" and drifted:
        verdict = "warn"
        at_warn = share >= rules.share_warn
        level = "at or above" if at_warn else "below"
        reasons.append(
            f"warn: {share_text}: {', '.join(drifted)} ({level} drift.dataset_share.warn "
            f"{rules.share_warn:.0%})"
        )
    if verdict == "ok":
        reasons.append(f"ok: none of {len(columns)} columns drifted")
    reasons.extend(_concept_reasons(concept))
    reasons.extend(_absent_reasons(absent))
    return DriftReport(
        verdict=verdict,
        share=share,
        columns=columns,
        ignored_columns=ignored,
        rows_reference=profile.rows,
        rows_current=rows,
        reasons=tuple(reasons),
        missing_columns=absent,
        concept=concept,
        share_warn=rules.share_warn,
        share_critical=rules.share_critical,
        alpha=rules.alpha,
    )


# --------------------------------------------------------------------------- concept drift


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
