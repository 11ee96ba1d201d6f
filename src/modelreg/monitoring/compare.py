"""Judging a current window against a reference profile: per-column tests and a verdict.

Defaults are effect sizes (normalised Wasserstein, Jensen-Shannon) that must also be
statistically real (Holm-corrected KS / chi-square p < alpha), so neither huge samples
nor tiny windows raise false alarms. See docs/drift.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from modelreg.errors import UsageError
from modelreg.monitoring.profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    Profile,
    bin_counts,
    category_counts,
    column_lookup,
    distinct_counts,
    dtype_family,
    hist_counts,
    to_float,
)
from modelreg.monitoring.report import (
    Chart,
    ColumnDrift,
    ConceptFinding,
    DriftReport,
    Quality,
    Role,
    Summary,
    Verdict,
)
from modelreg.registry.drift_rules import DriftRules
from modelreg.stats.tests import (
    chi2_homogeneity,
    holm,
    jensen_shannon,
    ks_pvalue,
    missing_rate_pvalue,
    out_of_range_pvalue,
    psi,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

CHART_CATEGORIES = 12
GAP_KNOTS = 16
PREDICTION_COLUMNS = ("prediction",)
TARGET_COLUMNS = ("label", "target", "y_true")
TIME_COLUMN = "timestamp"
EFFECT_MEASURE = {
    "wasserstein": "wasserstein",
    "psi": "psi",
    "ks": "ks",
    "jensenshannon": "jensenshannon",
    "chi2": "tvd",
}


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


def knots_of(col: NumericProfile, grid: Sequence[float]) -> FloatArray:
    """The values at which a current sample is counted and summed against `col`.

    A quantile profile's knots; a few-valued profile's values, each gap cut in
    GAP_KNOTS parts so the current CDF is known closely inside the gaps too.
    """
    import numpy as np

    if not col.values:
        return _ref_cdf(col, grid)[0]
    v = np.asarray(col.values, dtype=np.float64)
    if v.size < 2:
        return v
    t = np.linspace(0.0, 1.0, GAP_KNOTS, endpoint=False)
    with np.errstate(all="ignore"):
        inner = (v[:-1, None] + np.diff(v)[:, None] * t[None, :]).ravel()
    knots = np.unique(np.append(inner[np.isfinite(inner)], v))
    return np.asarray(knots, dtype=np.float64)


@dataclass(frozen=True)
class KnotSums:
    """Counts and sums of current values at a profile's knots: all KS and W1 need of them.

    `lt[k]`/`le[k]` count values below / at most knot k; `s_lt`/`s_le` sum (value - shift)
    over the same values, `total` over all; shift is the middle knot, for precision.
    Sums over disjoint chunks add up, so partitions and Dask workers can each count theirs.
    """

    n: int
    lt: IntArray
    le: IntArray
    s_lt: FloatArray
    s_le: FloatArray
    total: float


def knot_sums(c: FloatArray, u: FloatArray) -> KnotSums:
    """KnotSums of sorted values `c` at knots `u`."""
    import numpy as np

    lt = np.searchsorted(c, u, side="left").astype(np.int64)
    le = np.searchsorted(c, u, side="right").astype(np.int64)
    shift = float(u[u.size // 2])
    with np.errstate(all="ignore"):
        cs = np.concatenate(([0.0], np.cumsum(c - shift)))
    return KnotSums(int(c.size), lt, le, cs[lt], cs[le], float(cs[-1]))


def _numeric_measures(
    col: NumericProfile, c: FloatArray, grid: Sequence[float]
) -> dict[str, float]:
    """KS D, normalised Wasserstein-1 and PSI of sorted current values vs the profile."""
    import numpy as np

    edges = np.asarray(col.bin_edges, dtype=np.float64)
    exact = distinct_counts(c) if col.values else None
    sums = None if exact is not None else knot_sums(c, knots_of(col, grid))
    return numeric_measures(col, grid, sums, bin_counts(c, edges), exact)


def numeric_measures(
    col: NumericProfile,
    grid: Sequence[float],
    sums: KnotSums | None,
    cur_bins: IntArray,
    distinct: tuple[FloatArray, IntArray] | None,
) -> dict[str, float]:
    """KS D, normalised W1 and PSI from knot sums, PSI bin counts and (when few) the
    current sample's distinct values and counts."""
    import numpy as np

    if col.values and distinct is not None:
        d, w1 = _exact_ks_w1(col, *distinct)
    elif sums is None:
        raise ValueError("numeric_measures needs knot sums or the distinct values")
    elif col.values:
        d, w1 = _step_ks_w1(col, sums, knots_of(col, grid))
    else:
        d, w1 = _knot_ks_w1(col, sums, grid)
    spread = col.std if col.std else max(abs(col.mean or 0.0), 1.0)
    ref_bins = np.asarray(col.bin_counts, dtype=np.float64)
    out = {"ks": d, "wasserstein": w1 / spread, "psi": psi(ref_bins, cur_bins.astype(np.float64))}
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _knot_ks_w1(col: NumericProfile, k: KnotSums, grid: Sequence[float]) -> tuple[float, float]:
    """KS and W1 against a quantile profile: exact at the knots, linear between them."""
    import numpy as np

    u, ref_lt, ref_le = _ref_cdf(col, grid)
    n, lt, le = k.n, k.lt, k.le
    d = float(max(np.abs(ref_lt - lt / n).max(), np.abs(ref_le - le / n).max()))
    shift = float(u[u.size // 2])
    with np.errstate(all="ignore"):
        us = u - shift
        below = lt[0] * us[0] - k.s_lt[0]
        above = (k.total - k.s_le[-1]) - (n - le[-1]) * us[-1]
        width = np.diff(u)
        inner = (lt[1:] - le[:-1]) * us[1:] - (k.s_lt[1:] - k.s_le[:-1])
        int_cur = (le[:-1] / n) * width + inner / n
        int_ref = width * (ref_le[:-1] + ref_lt[1:]) / 2
        w1 = float((below + above) / n + np.abs(int_ref - int_cur).sum())
    return d, w1


def _step_ks_w1(col: NumericProfile, k: KnotSums, x: FloatArray) -> tuple[float, float]:
    """KS and W1 against a few-valued profile from counts and sums at its values alone.

    Used when the current sample has too many distinct values to keep; `x` are the
    knots the sums were taken at (the values and points inside each gap). KS is exact
    (the reference CDF is flat between knots); W1 is exact unless the current CDF
    crosses the reference's between two knots, where it is the midpoint of the bounds.
    """
    import numpy as np

    values = np.asarray(col.values, dtype=np.float64)
    ref_cum = np.cumsum(np.asarray(col.counts, dtype=np.float64)) / col.count
    ref_le = _step(ref_cum, np.searchsorted(values, x, side="right"))
    n = k.n
    cur_lt, cur_le = k.lt / n, k.le / n
    d = max(float(cur_lt[0]), float(np.abs(ref_le - cur_le).max()))
    if x.size > 1:
        d = max(d, float(np.abs(ref_le[:-1] - cur_lt[1:]).max()))
    shift = float(x[x.size // 2])
    with np.errstate(all="ignore"):
        xs = x - shift
        below = k.lt[0] * xs[0] - k.s_lt[0]
        above = (k.total - k.s_le[-1]) - (n - k.le[-1]) * xs[-1]
        width = np.diff(x)
        inner = (k.lt[1:] - k.le[:-1]) * xs[1:] - (k.s_lt[1:] - k.s_le[:-1])
        int_cur = cur_le[:-1] * width + inner / n
        gaps = np.abs(ref_le[:-1] * width - int_cur)
        # Where the current CDF crosses the reference's inside a gap, the area lies between
        # that bound and the area of one step at the values' mean; take the midpoint.
        a, b, r = cur_le[:-1], cur_lt[1:], ref_le[:-1]
        t = np.clip((b * width - int_cur) / (b - a), 0.0, width)
        step = (r - a) * t + (b - r) * (width - t)
        gaps = np.where((r > a) & (r < b), (gaps + step) / 2, gaps)
        w1 = float((below + above) / n + gaps.sum())
    return d, w1


def _exact_ks_w1(
    col: NumericProfile, cur_values: FloatArray, cur_counts: IntArray
) -> tuple[float, float]:
    """KS and W1 against a few-valued profile, exact on the union of both supports."""
    import numpy as np

    values = np.asarray(col.values, dtype=np.float64)
    ref_cum = np.cumsum(np.asarray(col.counts, dtype=np.float64)) / col.count
    cur_cum = np.cumsum(cur_counts) / cur_counts.sum()
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
    summaries: tuple[Summary | None, Summary | None] = (None, None)


def role_of(name: str) -> Role:
    """A column's part in the report: the model's prediction, its target, or a feature."""
    if name in PREDICTION_COLUMNS:
        return "prediction"
    if name in TARGET_COLUMNS:
        return "target"
    return "feature"


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
    lookup = column_lookup(current, source)
    names, ignored, absent = select_columns(profile, lookup, features, model, source)
    rows = len(current)
    checked = []
    if rows >= rules.min_rows:
        checked = [
            _check_column(profile.column(n), current[lookup[n]], profile, rules) for n in names
        ]
    span = _span(current, lookup)
    return judge_columns(
        profile, rows, rules, checked, ignored=ignored, absent=absent, concept=concept, span=span
    )


def select_columns(
    profile: Profile,
    available: Mapping[str, Any],
    features: Sequence[str] | None,
    model: str | None,
    source: str,
) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
    """Columns to check, columns the profile lacks (ignored) and profiled ones absent."""
    names = _names_to_check(profile, available, features, model, source)
    ignored = tuple(n for n in available if n not in profile.names)
    absent = tuple(n for n in profile.names if n not in available and n in names)
    return [n for n in names if n in available], ignored, absent


def judge_columns(
    profile: Profile,
    rows: int,
    rules: DriftRules,
    checked: Sequence[_Checked],
    *,
    ignored: tuple[str, ...],
    absent: tuple[str, ...],
    concept: ConceptFinding | None,
    span: tuple[str, str] | None,
) -> DriftReport:
    """Holm-correct the measured columns, judge each and the data set (or: insufficient)."""
    if rows < rules.min_rows or not checked:
        report = _insufficient(
            profile, rows, rules, ignored=ignored, absent=absent, concept=concept
        )
        return replace(report, current_span=span)
    adjusted = _adjust(checked)
    columns = tuple(_judge(c, adjusted[i], rules) for i, c in enumerate(checked))
    report = _verdict(
        profile, rows, rules, columns, ignored=ignored, absent=absent, concept=concept
    )
    return replace(report, current_span=span)


def _span(current: pd.DataFrame, lookup: Mapping[str, Any]) -> tuple[str, str] | None:
    """First and last timestamp of the current rows, when they carry one."""
    import pandas as pd

    if TIME_COLUMN not in lookup:
        return None
    stamps = pd.to_datetime(current[lookup[TIME_COLUMN]], errors="coerce", utc=True).dropna()
    if stamps.empty:
        return None
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return stamps.min().strftime(fmt), stamps.max().strftime(fmt)


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
    p = missing_rate_pvalue(col.missing, ref_rows, cur_missing, cur_rows)
    rise = cur_rate - ref_rate
    if rise <= rules.missing_max_increase:
        return p, None
    return p, (
        f"missing rate {ref_rate:.1%} → {cur_rate:.1%} "
        f"(+{rise:.1%} > drift.missing_rate.max_increase {rules.missing_max_increase:.1%})"
    )


@dataclass(frozen=True)
class NumericSample:
    """What a numeric check needs of the current values, without the values themselves.

    Built from one frame (`_numeric_sample`) or merged from the sketches of partitions.
    """

    rows: int
    missing: int
    type_change: str | None
    coerced: bool
    dtype: str
    n: int
    measures: dict[str, float]
    below: int
    above: int
    chart: Chart | None
    summary: Summary


def _check_numeric(
    col: NumericProfile, series: pd.Series, profile: Profile, rules: DriftRules
) -> _Checked:
    return numeric_checked(col, _numeric_sample(col, series, profile.grid), profile, rules)


def _numeric_sample(col: NumericProfile, series: pd.Series, grid: Sequence[float]) -> NumericSample:
    import numpy as np

    rows = len(series)
    values, missing, type_change, coerced = _numeric_values(col, series)
    c = np.sort(values)
    measures: dict[str, float] = {}
    below = above = 0
    chart = None
    if c.size and col.count:
        measures = _numeric_measures(col, c, grid)
        below, above = _outside(col, c)
        chart = _numeric_chart(col, c)
    summary = _numeric_summary(c, missing / rows if rows else 0.0)
    return NumericSample(
        rows, missing, type_change, coerced, str(series.dtype), int(c.size), measures,
        below, above, chart, summary,
    )  # fmt: skip


def numeric_checked(
    col: NumericProfile, s: NumericSample, profile: Profile, rules: DriftRules
) -> _Checked:
    """Measurements of one numeric column, before correction and judgement."""
    rows, missing, type_change = s.rows, s.missing, s.type_change
    notes = [f"numbers arrived as {s.dtype}; parsed them"] if s.coerced else []
    reasons = [f"type change {type_change}"] if type_change else []
    all_missing = s.n == 0 and rows > 0 and not type_change
    if all_missing:
        reasons.append("all values missing")
    p_missing, flag_missing = _missing_test(col, profile.rows, missing, rows, rules)
    pvalues, flags = {"missing": p_missing}, {"missing": flag_missing}
    measures: dict[str, float] = {}
    out_share = None
    chart = None
    if s.n and col.count:
        measures = s.measures
        pvalues["drift"] = ks_pvalue(measures.get("ks", 0.0), col.count, s.n)
        out_share, pvalues["range"], flags["range"] = _range_finding(
            col, s.below, s.above, s.n, rules
        )
        chart = s.chart
    elif not col.count:
        notes.append("the reference has no values in this column; nothing to compare")
    quality = Quality(
        missing_reference=col.missing / profile.rows if profile.rows else 0.0,
        missing_current=missing / rows if rows else 0.0,
        out_of_range=out_share,
        type_change=type_change,
        coerced=s.coerced,
        all_missing=all_missing,
    )
    kept = {k: v for k, v in flags.items() if v}
    summaries = (_numeric_reference_summary(col, profile), s.summary)
    return _Checked(
        col,
        measures,
        s.n,
        quality,
        chart,
        pvalues,
        kept,
        tuple(reasons),
        tuple(notes),
        summaries,
    )


def _numeric_reference_summary(col: NumericProfile, profile: Profile) -> Summary:
    """The profile's own moments and range; its median from the stored quantiles or values."""
    median = None
    if col.values:
        half, seen = col.count / 2, 0
        for value, n in zip(col.values, col.counts, strict=True):
            seen += n
            if seen >= half:
                median = value
                break
    elif col.quantiles:
        median = col.quantiles[
            min(range(len(profile.grid)), key=lambda i: abs(profile.grid[i] - 0.5))
        ]
    missing = col.missing / profile.rows if profile.rows else 0.0
    return Summary(
        count=col.count,
        missing=missing,
        mean=col.mean,
        std=col.std,
        min=col.min,
        median=median,
        max=col.max,
    )


def _numeric_summary(c: FloatArray, missing: float) -> Summary:
    """Moments, range and median of the sorted current values."""
    import numpy as np

    if not c.size:
        return Summary(count=0, missing=missing)
    with np.errstate(all="ignore"):
        mean, std = float(np.mean(c)), float(np.std(c))
    return Summary(
        count=int(c.size),
        missing=missing,
        mean=mean if math.isfinite(mean) else None,
        std=std if math.isfinite(std) else None,
        min=float(c[0]),
        median=float(np.median(c)),
        max=float(c[-1]),
    )


def _numeric_values(
    col: NumericProfile, series: pd.Series
) -> tuple[FloatArray, int, str | None, bool]:
    """Finite values, missing count, a type-change finding, and whether strings were parsed."""
    import numpy as np

    family = dtype_family(series.dtype)
    change = f"{col.dtype} → {series.dtype}"
    if family == "datetime":
        return np.empty(0), int(series.isna().sum()), change, False
    values, missing, failed = to_float(series)
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


def _outside(col: NumericProfile, c: FloatArray) -> tuple[int, int]:
    """How many sorted values lie below the reference min and above its max."""
    import numpy as np

    lo = -math.inf if col.min is None else col.min
    hi = math.inf if col.max is None else col.max
    below = int(np.searchsorted(c, lo, side="left"))
    return below, int(c.size - np.searchsorted(c, hi, side="right"))


def _range_finding(
    col: NumericProfile, below: int, above: int, n: int, rules: DriftRules
) -> tuple[float, float, str | None]:
    """Share of values beyond the reference [min, max], its p-value and the finding."""
    lo = -math.inf if col.min is None else col.min
    hi = math.inf if col.max is None else col.max
    share = (below + above) / n
    p = out_of_range_pvalue(below + above, n, col.count)
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
    counts, below, above = hist_counts(c, edges)
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
    counts, missing = category_counts(series)
    return categorical_checked(col, len(series), counts, missing, series.dtype, ref_rows, rules)


def categorical_checked(
    col: CategoricalProfile,
    rows: int,
    counts: Mapping[str, int],
    missing: int,
    dtype: Any,
    ref_rows: int,
    rules: DriftRules,
) -> _Checked:
    """Measurements of one categorical column from its label counts (merged or not)."""
    import numpy as np

    total = sum(counts.values())
    known = dict(zip(col.categories, col.counts, strict=True))
    unseen = _unseen(col, counts, total)
    reasons, notes = _category_findings(col, counts, known, unseen)
    type_change = _categorical_type_change(col, dtype, counts, known, total)
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
    ref_counts = dict(zip(col.categories, col.counts, strict=True))
    summaries = (
        _categorical_summary(ref_counts, col.count, quality.missing_reference, len(col.categories)),
        _categorical_summary(counts, total, quality.missing_current, len(counts)),
    )
    return _Checked(
        col,
        measures,
        total,
        quality,
        chart,
        pvalues,
        flags,
        tuple(reasons),
        tuple(notes),
        summaries,
    )


def _categorical_summary(
    counts: Mapping[str, int], total: int, missing: float, distinct: int
) -> Summary:
    """Count, distinct categories and the most common one with its share."""
    top = min(counts.items(), key=lambda kv: (-kv[1], kv[0]), default=None)
    return Summary(
        count=total,
        missing=missing,
        distinct=distinct,
        top=None if top is None else top[0],
        top_share=None if top is None or not total else top[1] / total,
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
    dtype: Any,
    counts: Mapping[str, int],
    known: Mapping[str, int],
    total: int,
) -> str | None:
    """A change of dtype family whose values mostly don't match the reference categories."""
    import pandas as pd

    try:
        ref_family = dtype_family(pd.api.types.pandas_dtype(col.dtype))
    except TypeError:
        ref_family = "string"
    if dtype_family(dtype) == ref_family or not total or not col.count:
        return None
    matched = sum(n for k, n in counts.items() if k in known)
    if matched / total >= 0.5:
        return None
    return f"{col.dtype} → {dtype}"


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
        role=role_of(col.name),
        reference_summary=checked.summaries[0],
        current_summary=checked.summaries[1],
    )


def _significant(p: float | None, rules: DriftRules) -> bool:
    return p is None or p < rules.alpha


def _effect_reason(
    method: str, measure: str, statistic: float, threshold: float, p_value: float | None
) -> str:
    name = measure if measure == method else f"{method} ({measure})"
    p = "" if p_value is None else f", Holm p={p_value:.2g}"
    return f"{name} {statistic:.4g} > {threshold:g}{p}"


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
