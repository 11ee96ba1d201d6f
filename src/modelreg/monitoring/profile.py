"""Reference profiles: a registered version's training data summarised once, stored as JSON.

`build_profile` keeps quantiles (or exact values), PSI bins, histogram bins and category
counts per column, so a drift check never re-reads the training data. See docs/drift.md.
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
    lookup = column_lookup(df, source)
    if columns is None:
        names = [n for n, c in lookup.items() if dtype_family(df[c].dtype) != "datetime"]
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


def column_lookup(df: pd.DataFrame, source: str) -> dict[str, Any]:
    lookup: dict[str, Any] = {}
    for col in df.columns:
        if str(col) in lookup:
            raise UsageError(f"{source}: column {col} appears twice (rename one of them)")
        lookup[str(col)] = col
    return lookup


def dtype_family(dtype: Any) -> str:
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
    family = dtype_family(series.dtype)
    if family == "numeric" or _looks_numeric(series):
        values, missing, _ = to_float(series)
        return _numeric_profile(name, str(series.dtype), values, missing, grid)
    counts, missing = category_counts(series)
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


def to_float(series: pd.Series) -> tuple[FloatArray, int, int]:
    """Finite float values, the missing count (nulls and ±inf) and unparseable count."""
    import numpy as np
    import pandas as pd

    nulls = int(series.isna().sum())
    if dtype_family(series.dtype) in ("numeric", "bool"):
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
    distinct, dcounts = distinct_counts(s)
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
        bin_counts=tuple(bin_counts(s, edges).tolist()),
        hist_edges=tuple(hist_edges.tolist()),
        hist_counts=tuple(hist_counts(s, hist_edges)[0].tolist()),
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


def distinct_counts(s: FloatArray) -> tuple[FloatArray, IntArray]:
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


def bin_counts(s: FloatArray, edges: FloatArray) -> IntArray:
    """Counts of a sorted array in (-inf, e1], (e1, e2], ..., (ek, inf)."""
    import numpy as np

    cuts = np.searchsorted(s, edges, side="right")
    return np.diff(np.concatenate(([0], cuts, [s.size]))).astype(np.int64)


def hist_counts(s: FloatArray, edges: FloatArray) -> tuple[IntArray, int, int]:
    """Counts of a sorted array in [e0,e1), ..., [ek-1,ek], plus those below and above."""
    import numpy as np

    left = np.searchsorted(s, edges, side="left")
    right_end = int(np.searchsorted(s, edges[-1], side="right"))
    bounds = np.append(left[:-1], right_end)
    counts = np.diff(bounds).astype(np.int64)
    return counts, int(left[0]), int(s.size - right_end)


def category_counts(series: pd.Series) -> tuple[dict[str, int], int]:
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
