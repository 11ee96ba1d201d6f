"""Two-sample tests, distances and multiple-testing correction, free of any modelreg type."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

PSI_EPS = 1e-4


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


def missing_rate_pvalue(ref_missing: int, ref_rows: int, cur_missing: int, cur_rows: int) -> float:
    """One-sided two-proportion z-test that the current missing rate is higher."""
    if ref_rows == 0 or cur_rows == 0:
        return 1.0
    pooled = (ref_missing + cur_missing) / (ref_rows + cur_rows)
    se = math.sqrt(pooled * (1 - pooled) * (1 / ref_rows + 1 / cur_rows))
    diff = cur_missing / cur_rows - ref_missing / ref_rows
    if se == 0:
        return 0.0 if diff > 0 else 1.0
    return 0.5 * math.erfc(diff / se / math.sqrt(2))


def out_of_range_pvalue(outside: int, n: int, n_reference: int) -> float:
    """P(at least `outside` of n fresh values fall beyond the reference's sample extremes)."""
    from scipy import stats

    if outside == 0:
        return 1.0
    return float(stats.binom.sf(outside - 1, n, min(1.0, 2 / (n_reference + 1))))


def two_proportion_pvalue(
    hits_a: int, n_a: int, hits_b: int, n_b: int, *, alternative: str = "greater"
) -> float:
    """Pooled two-proportion z-test of rate a against rate b (`greater`: a is higher).

    The z statistic squared is Pearson's chi-square on the 2×2 table without Yates's
    correction; `two-sided` gives that test's p-value.
    """
    if n_a <= 0 or n_b <= 0:
        return 1.0
    pooled = (hits_a + hits_b) / (n_a + n_b)
    diff = hits_a / n_a - hits_b / n_b
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return _normal_pvalue(diff, se, alternative)


def _normal_pvalue(diff: float, se: float, alternative: str) -> float:
    """P-value of `diff` under N(0, se²): upper tail, lower tail or both."""
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(f"unknown alternative {alternative!r}")
    if se == 0:
        if diff == 0:
            return 1.0
        if alternative == "two-sided" or (diff > 0) == (alternative == "greater"):
            return 0.0
        return 1.0
    z = diff / se
    if alternative == "two-sided":
        return min(1.0, math.erfc(abs(z) / math.sqrt(2)))
    if alternative == "less":
        z = -z
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_binned(
    counts_a: Sequence[float], counts_b: Sequence[float], *, alternative: str = "greater"
) -> float:
    """Tie-corrected Mann–Whitney U test on two samples given as counts over the same bins.

    Every observation in one bin ties with the others in it (a latency histogram's
    bucket holds requests whose exact time is unknown), so ranks are mid-ranks per bin
    and the variance carries the tie correction. `greater`: sample a tends to larger
    values. The normal approximation with continuity correction, as scipy's
    `mannwhitneyu(method="asymptotic")`.
    """
    if len(counts_a) != len(counts_b):
        raise ValueError("both samples need the same bins")
    n_a, n_b = float(sum(counts_a)), float(sum(counts_b))
    n = n_a + n_b
    if n_a <= 0 or n_b <= 0:
        return 1.0
    below = 0.0
    rank_sum_a = 0.0
    ties = 0.0
    for a, b in zip(counts_a, counts_b, strict=True):
        t = a + b
        rank_sum_a += a * (below + (t + 1) / 2)
        ties += t**3 - t
        below += t
    u = rank_sum_a - n_a * (n_a + 1) / 2
    mean = n_a * n_b / 2
    var = n_a * n_b / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    se = math.sqrt(max(var, 0.0))
    if alternative == "two-sided":
        diff = max(abs(u - mean) - 0.5, 0.0)
    elif alternative == "greater":
        diff = u - mean - 0.5
    elif alternative == "less":
        diff = u - mean + 0.5
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    if se == 0:
        return 1.0
    return _normal_pvalue(diff, se, alternative)
