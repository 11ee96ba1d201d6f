"""Drift from partitions: per-chunk sketches, merged, judged as the in-memory engine judges.

Data larger than memory is read a chunk at a time (`adapters.partitions`). Each chunk
becomes a small sketch whose merge is a sum, so the order and the grouping of chunks do
not matter and Dask workers can each sketch their own files (`monitoring.dask_engine`):

- current data, against a reference profile: counts and sums of the values at the
  profile's knots (KS and Wasserstein from them are the in-memory figures), counts on
  the profile's PSI bins and histogram bins, values outside its range, moments, label
  counts. Exact up to float summation order; only the median shown in the summary is
  interpolated between knots.
- a reference profile: moments, min/max, exact value counts while a column has at most
  256 distinct values (as `build_profile`), else a mergeable quantile sketch (a
  piecewise-linear CDF exact at its knots, compressed to SKETCH_KNOTS), whose quantiles
  lie within about 1/SKETCH_KNOTS in rank of the exact ones. Category counts are exact.

See docs/monitoring.md for the tolerance the tests hold it to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.errors import UsageError
from modelreg.monitoring.compare import (
    TIME_COLUMN,
    KnotSums,
    NumericSample,
    _Checked,
    _outside,
    _unparseable_example,
    categorical_checked,
    judge_columns,
    knot_sums,
    knots_of,
    numeric_checked,
    numeric_measures,
    select_columns,
)
from modelreg.monitoring.profile import (
    EXACT_MAX_DISTINCT,
    MAX_CATEGORIES,
    PSI_BINS,
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    Profile,
    _discrete_deciles,
    _hist_edges,
    _looks_numeric,
    _rounded,
    bin_counts,
    category_counts,
    distinct_counts,
    dtype_family,
    hist_counts,
    quantile_grid,
    to_float,
)
from modelreg.monitoring.report import Chart, ConceptFinding, DriftReport, Summary
from modelreg.registry.drift_rules import DriftRules

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

CHUNK_ROWS = 500_000
SKETCH_KNOTS = 4096
CURRENT_DISTINCT_MAX = 4096


# --- small mergeable pieces -------------------------------------------------------------


@dataclass
class Moments:
    """Count, mean and sum of squared deviations; merged with Chan's formula."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: FloatArray) -> Moments:
        import numpy as np

        if not values.size:
            return cls()
        with np.errstate(all="ignore"):
            mean = float(np.mean(values))
            m2 = float(np.sum(np.square(values - mean)))
        return cls(int(values.size), mean, m2)

    def merge(self, other: Moments) -> Moments:
        if not other.n:
            return self
        if not self.n:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        return Moments(n, mean, m2)

    def std(self) -> float | None:
        return _finite(math.sqrt(self.m2 / self.n)) if self.n and self.m2 >= 0 else None


def _merge_distinct(
    a: tuple[FloatArray, IntArray] | None, b: tuple[FloatArray, IntArray] | None, cap: int
) -> tuple[FloatArray, IntArray] | None:
    """Distinct values and counts of two samples together; None once past `cap`."""
    import numpy as np

    if a is None or b is None:
        return None
    values, inverse = np.unique(np.concatenate((a[0], b[0])), return_inverse=True)
    if values.size > cap:
        return None
    counts = np.bincount(inverse, weights=np.concatenate((a[1], b[1])), minlength=values.size)
    return values, counts.astype(np.int64)


def _distinct_or_none(s: FloatArray, cap: int) -> tuple[FloatArray, IntArray] | None:
    values, counts = distinct_counts(s)
    return (values, counts) if values.size <= cap else None


@dataclass
class QuantileSketch:
    """A CDF known at knots u (P(X < u) and P(X <= u)), linear between them; n values.

    The mixture of two such CDFs is again piecewise linear with knots at the union, so a
    merge is exact before `compress` keeps about SKETCH_KNOTS knots (every knot carrying
    more than 1/SKETCH_KNOTS of mass among them).
    """

    u: FloatArray
    lt: FloatArray
    le: FloatArray
    n: int

    @classmethod
    def of_sorted(cls, s: FloatArray, size: int = SKETCH_KNOTS) -> QuantileSketch:
        import numpy as np

        idx = np.unique(np.rint(np.linspace(0, s.size - 1, size + 1)).astype(np.int64))
        u = np.unique(s[idx])
        lt = np.searchsorted(s, u, side="left") / s.size
        le = np.searchsorted(s, u, side="right") / s.size
        return cls(u, lt.astype(np.float64), le.astype(np.float64), int(s.size))

    def cdf(self, x: FloatArray, *, strict: bool = False) -> FloatArray:
        """P(X < x) when strict, else P(X <= x), at each x."""
        import numpy as np

        u, lt, le = self.u, self.lt, self.le
        k = np.searchsorted(u, x, side="right") - 1
        kk = np.clip(k, 0, u.size - 1)
        nxt = np.minimum(kk + 1, u.size - 1)
        with np.errstate(all="ignore"):
            frac = np.where(nxt > kk, (x - u[kk]) / (u[nxt] - u[kk]), 0.0)
        between = le[kk] + np.clip(frac, 0.0, 1.0) * (lt[nxt] - le[kk])
        at_knot = u[kk] == x
        out = np.where(at_knot, lt[kk] if strict else le[kk], between)
        out = np.where(k >= u.size - 1, np.where(at_knot, out, 1.0), out)
        return np.asarray(np.where(k < 0, 0.0, out), dtype=np.float64)

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        import numpy as np

        n = self.n + other.n
        x = np.union1d(self.u, other.u)
        lt = (self.n * self.cdf(x, strict=True) + other.n * other.cdf(x, strict=True)) / n
        le = (self.n * self.cdf(x) + other.n * other.cdf(x)) / n
        return QuantileSketch(x, lt, le, n).compress()

    def compress(self, size: int = SKETCH_KNOTS) -> QuantileSketch:
        import numpy as np

        if self.u.size <= 2 * size:
            return self
        probs = np.linspace(0.0, 1.0, size + 1)
        keep = np.searchsorted(self.le, probs, side="left")
        keep = np.unique(np.clip(np.concatenate(([0], keep, [self.u.size - 1])), 0, None))
        keep = keep[keep < self.u.size]
        return QuantileSketch(self.u[keep], self.lt[keep], self.le[keep], self.n)

    def quantiles(self, probs: FloatArray) -> FloatArray:
        """The inverse CDF at each probability (linear between knots, flat across atoms)."""
        import numpy as np

        f = np.column_stack((self.lt, self.le)).ravel()
        x = np.repeat(self.u, 2)
        return np.asarray(np.interp(probs, f, x), dtype=np.float64)


# --- reference: profile sketches ------------------------------------------------------------


@dataclass
class NumericReference:
    """Mergeable sketch of one numeric reference column, finished into a NumericProfile."""

    name: str
    dtype: str
    rows: int = 0
    missing: int = 0
    moments: Moments = field(default_factory=Moments)
    lo: float = math.inf
    hi: float = -math.inf
    distinct: tuple[FloatArray, IntArray] | None = None
    sketch: QuantileSketch | None = None
    started: bool = False

    def add(self, series: pd.Series) -> None:
        import numpy as np

        values, missing, _ = to_float(series)
        self.rows += len(series)
        self.missing += missing
        if not values.size:
            return
        s = np.sort(values)
        self.merge_parts(
            Moments.of(s),
            float(s[0]),
            float(s[-1]),
            _distinct_or_none(s, EXACT_MAX_DISTINCT),
            QuantileSketch.of_sorted(s),
        )

    def merge_parts(
        self,
        moments: Moments,
        lo: float,
        hi: float,
        distinct: tuple[FloatArray, IntArray] | None,
        sketch: QuantileSketch | None,
    ) -> None:
        if sketch is None:
            return
        if not self.started:
            self.distinct, self.sketch, self.started = distinct, sketch, True
        else:
            self.distinct = _merge_distinct(self.distinct, distinct, EXACT_MAX_DISTINCT)
            self.sketch = sketch if self.sketch is None else self.sketch.merge(sketch)
        self.moments = self.moments.merge(moments)
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)

    def merge(self, other: NumericReference) -> None:
        self.rows += other.rows
        self.missing += other.missing
        self.merge_parts(other.moments, other.lo, other.hi, other.distinct, other.sketch)

    def finish(self, grid: Sequence[float], rows: int) -> NumericProfile:
        import numpy as np

        missing = self.missing + rows - self.rows
        count = self.moments.n
        if not count or self.sketch is None:
            return NumericProfile(name=self.name, dtype=self.dtype, count=0, missing=missing)
        hist_edges = _hist_edges(self.lo, self.hi)
        extra: dict[str, Any]
        if self.distinct is not None:
            values, counts = self.distinct
            edges = _discrete_deciles(values, counts)
            cum_le = _weighted_cum(values, counts, edges, "right")
            cum_lt = _weighted_cum(values, counts, hist_edges[1:-1], "left")
            extra = {"values": tuple(values.tolist()), "counts": tuple(counts.tolist())}
        else:
            sk = self.sketch
            quantiles = _rounded(sk.quantiles(np.asarray(grid, dtype=np.float64)))
            quantiles[0], quantiles[-1] = self.lo, self.hi
            deciles = np.linspace(0.0, 1.0, PSI_BINS + 1)[1:-1]
            edges = np.asarray(_rounded(np.unique(sk.quantiles(deciles))), dtype=np.float64)
            cum_le = np.rint(count * sk.cdf(edges)).astype(np.int64)
            cum_lt = np.rint(count * sk.cdf(hist_edges[1:-1], strict=True)).astype(np.int64)
            extra = {"quantiles": tuple(quantiles)}
        return NumericProfile(
            name=self.name,
            dtype=self.dtype,
            count=count,
            missing=missing,
            min=self.lo,
            max=self.hi,
            mean=_finite(self.moments.mean),
            std=self.moments.std(),
            bin_edges=tuple(edges.tolist()),
            bin_counts=_diff_counts(cum_le, count),
            hist_edges=tuple(hist_edges.tolist()),
            hist_counts=_diff_counts(cum_lt, count),
            **extra,
        )


def _weighted_cum(values: FloatArray, counts: IntArray, edges: FloatArray, side: str) -> IntArray:
    """How many values lie at or below (side="right") or below ("left") each edge."""
    import numpy as np

    cum = np.concatenate(([0], np.cumsum(counts)))
    return np.asarray(cum[np.searchsorted(values, edges, side=side)], dtype=np.int64)  # type: ignore[call-overload]


def _diff_counts(cum: IntArray, total: int) -> tuple[int, ...]:
    import numpy as np

    return tuple(np.diff(np.concatenate(([0], cum, [total]))).astype(np.int64).tolist())


class _LabelCounts:
    """Rows, missing values and label counts of one categorical column: added chunk by
    chunk, merged in any order (the reference's and the current window's sketches)."""

    rows: int
    missing: int
    counts: dict[str, int]

    def add(self, series: pd.Series) -> None:
        counts, missing = category_counts(series)
        self.rows += len(series)
        self.missing += missing
        _add_counts(self.counts, counts)

    def merge(self, other: _LabelCounts) -> None:
        self.rows += other.rows
        self.missing += other.missing
        _add_counts(self.counts, other.counts)


@dataclass
class CategoricalReference(_LabelCounts):
    """Mergeable sketch of one categorical reference column: exact label counts."""

    name: str
    dtype: str
    rows: int = 0
    missing: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def finish(self, rows: int) -> CategoricalProfile:
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = ordered[:MAX_CATEGORIES]
        return CategoricalProfile(
            name=self.name,
            dtype=self.dtype,
            count=sum(self.counts.values()),
            missing=self.missing + rows - self.rows,
            categories=tuple(k for k, _ in kept),
            counts=tuple(v for _, v in kept),
            other=sum(v for _, v in ordered[MAX_CATEGORIES:]),
        )


def _add_counts(into: dict[str, int], counts: dict[str, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


Reference = NumericReference | CategoricalReference


@dataclass
class ProfileSketch:
    """Per-column reference sketches of any number of chunks; `finish` gives a Profile."""

    columns: Sequence[str] | None = None
    rows: int = 0
    parts: dict[str, Reference] = field(default_factory=dict)

    def add(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        for col in frame.columns:
            name = str(col)
            if self.columns is None and dtype_family(frame[col].dtype) == "datetime":
                continue
            if self.columns is not None and name not in self.columns:
                continue
            if name not in self.parts:
                self.parts[name] = _new_reference(name, frame[col])
            self.parts[name].add(frame[col])

    def merge(self, other: ProfileSketch) -> ProfileSketch:
        self.rows += other.rows
        for name, part in other.parts.items():
            mine = self.parts.get(name)
            if mine is None:
                self.parts[name] = part
            elif isinstance(mine, NumericReference) and isinstance(part, NumericReference):  # noqa: SIM114
                mine.merge(part)
            elif isinstance(mine, CategoricalReference) and isinstance(part, CategoricalReference):
                mine.merge(part)
            else:
                raise UsageError(
                    f"reference data: column {name} holds numbers in some partitions and "
                    "text in others (write one type in every partition)"
                )
        return self

    def finish(self, source: str = "reference data") -> Profile:
        names = list(self.columns) if self.columns is not None else list(self.parts)
        absent = [n for n in names if n not in self.parts]
        if absent:
            raise UsageError(
                f"{source}: no column(s) {', '.join(absent)} "
                f"(columns are: {', '.join(self.parts) or 'none'}; fix the column list)"
            )
        grid = quantile_grid()
        return Profile(
            rows=self.rows, columns=tuple(_finish(self.parts[n], grid, self.rows) for n in names)
        )


def _finish(part: Reference, grid: Sequence[float], rows: int) -> ColumnProfile:
    if isinstance(part, NumericReference):
        return part.finish(grid, rows)
    return part.finish(rows)


def _new_reference(name: str, series: pd.Series) -> Reference:
    if dtype_family(series.dtype) == "numeric" or _looks_numeric(series):
        return NumericReference(name, str(series.dtype))
    return CategoricalReference(name, str(series.dtype))


# --- current data: sketches against a profile ----------------------------------------------


@dataclass
class NumericCurrent:
    """Mergeable sketch of one numeric current column against its profile column."""

    dtype: str
    rows: int = 0
    missing: int = 0
    failed: int = 0
    example: str = ""
    sums: KnotSums | None = None
    bins: IntArray | None = None
    hist: IntArray | None = None
    hist_below: int = 0
    hist_above: int = 0
    below: int = 0
    above: int = 0
    moments: Moments = field(default_factory=Moments)
    lo: float = math.inf
    hi: float = -math.inf
    distinct: tuple[FloatArray, IntArray] | None = None
    started: bool = False

    def add(self, col: NumericProfile, knots: FloatArray, series: pd.Series) -> None:
        import numpy as np

        self.rows += len(series)
        if dtype_family(self.dtype) == "datetime":
            self.missing += int(series.isna().sum())
            return
        values, missing, failed = to_float(series)
        self.missing += missing
        if failed and not self.failed:
            self.example = _unparseable_example(series)
        self.failed += failed
        if not values.size or not col.count:
            return
        c = np.sort(values)
        hist, hist_below, hist_above = hist_counts(c, np.asarray(col.hist_edges))
        part = NumericCurrent(
            dtype=self.dtype,
            sums=knot_sums(c, knots),
            bins=bin_counts(c, np.asarray(col.bin_edges, dtype=np.float64)),
            hist=hist,
            hist_below=hist_below,
            hist_above=hist_above,
            moments=Moments.of(c),
            lo=float(c[0]),
            hi=float(c[-1]),
            distinct=_distinct_or_none(c, CURRENT_DISTINCT_MAX) if col.values else None,
            started=True,
        )
        part.below, part.above = _outside(col, c)
        self.merge_values(part)

    def merge(self, other: NumericCurrent) -> None:
        self.rows += other.rows
        self.missing += other.missing
        if other.failed and not self.failed:
            self.example = other.example
        self.failed += other.failed
        self.merge_values(other)

    def merge_values(self, other: NumericCurrent) -> None:
        if not other.started:
            return
        if not self.started:
            for name in ("sums", "bins", "hist", "distinct", "moments", "lo", "hi"):
                setattr(self, name, getattr(other, name))
            self.hist_below, self.hist_above = other.hist_below, other.hist_above
            self.below, self.above, self.started = other.below, other.above, True
            return
        assert self.sums is not None and other.sums is not None
        self.sums = _add_sums(self.sums, other.sums)
        self.bins = _add_arrays(self.bins, other.bins)
        self.hist = _add_arrays(self.hist, other.hist)
        self.hist_below += other.hist_below
        self.hist_above += other.hist_above
        self.below += other.below
        self.above += other.above
        self.moments = self.moments.merge(other.moments)
        self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        self.distinct = _merge_distinct(self.distinct, other.distinct, CURRENT_DISTINCT_MAX)

    def sample(self, col: NumericProfile, grid: Sequence[float], rows: int) -> NumericSample:
        """The NumericSample `compare` would have built from all these rows at once."""
        missing = self.missing + rows - self.rows
        n = self.moments.n
        type_change, coerced = self._type_change(col, n)
        measures: dict[str, float] = {}
        chart = None
        if n and col.count and self.sums is not None and self.bins is not None:
            measures = numeric_measures(col, grid, self.sums, self.bins, self.distinct)
            chart = Chart(
                reference=col.hist_counts,
                current=tuple(int(x) for x in (self.hist if self.hist is not None else ())),
                edges=col.hist_edges,
                below=self.hist_below,
                above=self.hist_above,
            )
        share = missing / rows if rows else 0.0
        summary = Summary(
            count=n,
            missing=share,
            mean=_finite(self.moments.mean) if n else None,
            std=self.moments.std(),
            min=self.lo if n else None,
            median=self._median(col, grid) if n else None,
            max=self.hi if n else None,
        )
        return NumericSample(
            rows, missing, type_change, coerced, self.dtype, n, measures,
            self.below, self.above, chart, summary,
        )  # fmt: skip

    def _type_change(self, col: NumericProfile, n: int) -> tuple[str | None, bool]:
        family = dtype_family(self.dtype)
        change = f"{col.dtype} → {self.dtype}"
        if family == "datetime":
            return change, False
        if self.failed:
            return (
                f"{change}: {self.failed} value(s) are not numbers (e.g. {self.example!r})",
                False,
            )
        if family == "bool":
            return change, False
        return None, family == "string" and n > 0

    def _median(self, col: NumericProfile, grid: Sequence[float]) -> float | None:
        """Exact from distinct values; else interpolated between the profile's knots."""
        import numpy as np

        n = self.moments.n
        if self.distinct is not None:
            values, counts = self.distinct
            cum = np.cumsum(counts)
            lo = values[np.searchsorted(cum, (n - 1) // 2 + 1)]
            hi = values[np.searchsorted(cum, n // 2 + 1)]
            return float((lo + hi) / 2)
        if self.sums is None:
            return None
        u = knots_of(col, grid)
        f = np.concatenate(
            ([0.0], np.column_stack((self.sums.lt, self.sums.le)).ravel() / n, [1.0])
        )
        x = np.concatenate(([self.lo], np.repeat(u, 2), [self.hi]))
        return float(np.clip(np.interp(0.5, f, x), self.lo, self.hi))


def _add_sums(a: KnotSums, b: KnotSums) -> KnotSums:
    return KnotSums(a.n + b.n, a.lt + b.lt, a.le + b.le, a.s_lt + b.s_lt, a.s_le + b.s_le,
                    a.total + b.total)  # fmt: skip


def _add_arrays(a: IntArray | None, b: IntArray | None) -> IntArray | None:
    if a is None:
        return b
    return a if b is None else a + b


@dataclass
class CategoricalCurrent(_LabelCounts):
    """Mergeable sketch of one categorical current column: rows, missing, label counts."""

    dtype: str
    rows: int = 0
    missing: int = 0
    counts: dict[str, int] = field(default_factory=dict)


Current = NumericCurrent | CategoricalCurrent


@dataclass
class CurrentSketch:
    """Sketches of current data against one profile; chunks and partitions merge into it."""

    profile: Profile
    rows: int = 0
    seen: list[str] = field(default_factory=list)
    parts: dict[str, Current] = field(default_factory=dict)
    first: Any = None
    last: Any = None
    _knots: dict[str, FloatArray] = field(default_factory=dict, repr=False)

    def add(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        profiled = set(self.profile.names)
        for col in frame.columns:
            name = str(col)
            if name not in self.seen:
                self.seen.append(name)
            if name in profiled:
                self._add_column(name, frame[col])
        if TIME_COLUMN in frame.columns:
            self._add_span(frame[TIME_COLUMN])

    def _add_column(self, name: str, series: pd.Series) -> None:
        col = self.profile.column(name)
        part = self.parts.get(name)
        if isinstance(col, NumericProfile):
            if part is None:
                part = self.parts[name] = NumericCurrent(str(series.dtype))
            if name not in self._knots:
                self._knots[name] = knots_of(col, self.profile.grid) if col.count else _empty()
            assert isinstance(part, NumericCurrent)
            part.add(col, self._knots[name], series)
        else:
            if part is None:
                part = self.parts[name] = CategoricalCurrent(str(series.dtype))
            assert isinstance(part, CategoricalCurrent)
            part.add(series)

    def _add_span(self, raw: pd.Series) -> None:
        import pandas as pd

        stamps = pd.to_datetime(raw, errors="coerce", utc=True).dropna()
        if stamps.empty:
            return
        lo, hi = stamps.min(), stamps.max()
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)

    def merge(self, other: CurrentSketch) -> CurrentSketch:
        self.rows += other.rows
        self.seen.extend(n for n in other.seen if n not in self.seen)
        for name, part in other.parts.items():
            mine = self.parts.get(name)
            if mine is None:
                self.parts[name] = part
            elif isinstance(mine, NumericCurrent) and isinstance(part, NumericCurrent):  # noqa: SIM114
                mine.merge(part)
            elif isinstance(mine, CategoricalCurrent) and isinstance(part, CategoricalCurrent):
                mine.merge(part)
        for stamp in (other.first, other.last):
            if stamp is not None:
                self.first = stamp if self.first is None else min(self.first, stamp)
                self.last = stamp if self.last is None else max(self.last, stamp)
        return self

    def report(
        self,
        rules: DriftRules | None = None,
        *,
        features: Sequence[str] | None = None,
        model: str | None = None,
        source: str = "current data",
        concept: ConceptFinding | None = None,
    ) -> DriftReport:
        """The report `compare` gives on all the rows these sketches saw."""
        rules = rules or DriftRules()
        profile = self.profile
        available = {n: n for n in self.seen}
        names, ignored, absent = select_columns(profile, available, features, model, source)
        checked: list[_Checked] = []
        if self.rows >= rules.min_rows:
            checked = [self._checked(n, rules) for n in names]
        span = None
        if self.first is not None:
            fmt = "%Y-%m-%dT%H:%M:%SZ"
            span = (self.first.strftime(fmt), self.last.strftime(fmt))
        return judge_columns(
            profile, self.rows, rules, checked, ignored=ignored, absent=absent,
            concept=concept, span=span,
        )  # fmt: skip

    def _checked(self, name: str, rules: DriftRules) -> _Checked:
        col = self.profile.column(name)
        part = self.parts[name]
        if isinstance(col, NumericProfile):
            assert isinstance(part, NumericCurrent)
            sample = part.sample(col, self.profile.grid, self.rows)
            return numeric_checked(col, sample, self.profile, rules)
        assert isinstance(part, CategoricalCurrent)
        missing = part.missing + self.rows - part.rows
        return categorical_checked(
            col, self.rows, part.counts, missing, _dtype(part.dtype), self.profile.rows, rules
        )


def _dtype(name: str) -> Any:
    import pandas as pd

    try:
        return pd.api.types.pandas_dtype(name)
    except TypeError:
        return "object"


def _empty() -> FloatArray:
    import numpy as np

    return np.empty(0, dtype=np.float64)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


# --- one process: read the partitions in chunks --------------------------------------------


def sketch_profile(
    frames: Iterable[pd.DataFrame], columns: Sequence[str] | None = None
) -> ProfileSketch:
    """A ProfileSketch of every frame in `frames`."""
    sketch = ProfileSketch(columns=None if columns is None else list(columns))
    for frame in frames:
        sketch.add(frame)
    return sketch


def sketch_current(profile: Profile, frames: Iterable[pd.DataFrame]) -> CurrentSketch:
    """A CurrentSketch of every frame in `frames` against `profile`."""
    sketch = CurrentSketch(profile)
    for frame in frames:
        sketch.add(frame)
    return sketch


def profile_file(
    path: Path, columns: Sequence[str] | None, chunk_rows: int = CHUNK_ROWS
) -> ProfileSketch:
    """The reference sketch of one Parquet file (what a Dask task computes)."""
    from modelreg.adapters.partitions import iter_chunks

    return sketch_profile(iter_chunks(path, chunk_rows=chunk_rows, columns=columns), columns)


def current_file(path: Path, profile: Profile, chunk_rows: int = CHUNK_ROWS) -> CurrentSketch:
    """The current sketch of one Parquet file against `profile` (what a Dask task computes)."""
    from modelreg.adapters.partitions import iter_chunks

    return sketch_current(profile, iter_chunks(path, chunk_rows=chunk_rows))


def profile_partitions(
    path: Path,
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    source: str | None = None,
) -> Profile:
    """The reference profile of a folder of Parquet files, read a chunk at a time."""
    from modelreg.adapters.partitions import parquet_parts

    sketch = ProfileSketch(columns=None if columns is None else list(columns))
    for part in parquet_parts(path):
        sketch.merge(profile_file(part, columns, chunk_rows))
    return sketch.finish(source or str(path))


def compare_partitions(
    profile: Profile,
    path: Path,
    rules: DriftRules | None = None,
    *,
    features: Sequence[str] | None = None,
    model: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    source: str | None = None,
) -> DriftReport:
    """`compare` on a folder of Parquet files, read a chunk at a time."""
    from modelreg.adapters.partitions import parquet_parts

    sketch = CurrentSketch(profile)
    for part in parquet_parts(path):
        sketch.merge(current_file(part, profile, chunk_rows))
    return sketch.report(rules, features=features, model=model, source=source or str(path))
