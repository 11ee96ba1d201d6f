"""The canary analysis's statistical tests agree with scipy on every sample hypothesis draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from modelreg.stats.tests import mann_whitney_binned, two_proportion_pvalue

ALTERNATIVES = st.sampled_from(["greater", "less", "two-sided"])


@st.composite
def proportions(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n_a = draw(st.integers(1, 5000))
    n_b = draw(st.integers(1, 5000))
    return draw(st.integers(0, n_a)), n_a, draw(st.integers(0, n_b)), n_b


@settings(max_examples=200, deadline=None)
@given(proportions())
def test_the_two_proportion_test_is_pearsons_chi_square_without_yates(
    sample: tuple[int, int, int, int],
) -> None:
    x_a, n_a, x_b, n_b = sample
    table = np.array([[x_a, n_a - x_a], [x_b, n_b - x_b]])
    if (table.sum(axis=0) == 0).any():
        assert two_proportion_pvalue(x_a, n_a, x_b, n_b, alternative="two-sided") == 1.0
        return
    expected = stats.chi2_contingency(table, correction=False).pvalue
    got = two_proportion_pvalue(x_a, n_a, x_b, n_b, alternative="two-sided")
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(proportions())
def test_the_one_sided_tails_add_up_to_one(sample: tuple[int, int, int, int]) -> None:
    greater = two_proportion_pvalue(*sample, alternative="greater")
    less = two_proportion_pvalue(*sample, alternative="less")
    assert 0.0 <= greater <= 1.0 and 0.0 <= less <= 1.0
    x_a, n_a, x_b, n_b = sample
    if 0 < x_a + x_b < n_a + n_b:
        assert greater + less == pytest.approx(1.0)
    if x_a / n_a > x_b / n_b:
        assert greater <= 0.5 <= less


def test_two_proportions_with_numbers() -> None:
    # 3 % errors in 1,000 canary requests against 1 % in 1,000 stable ones: p ≈ 0.0007.
    assert two_proportion_pvalue(30, 1000, 10, 1000) == pytest.approx(0.000697, rel=1e-2)
    # the same rates on 100 requests each: not significant at 0.05 (p ≈ 0.16)
    assert two_proportion_pvalue(3, 100, 1, 100) == pytest.approx(0.1556, rel=1e-2)
    assert two_proportion_pvalue(0, 0, 1, 10) == 1.0


@st.composite
def binned(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    bins = draw(st.integers(1, 8))
    counts = st.lists(st.integers(0, 30), min_size=bins, max_size=bins)
    a = draw(counts.filter(lambda c: sum(c) > 0))
    b = draw(counts.filter(lambda c: sum(c) > 0))
    return a, b


@settings(max_examples=200, deadline=None)
@given(binned(), ALTERNATIVES)
def test_mann_whitney_on_bins_is_scipys_on_the_expanded_samples(
    sample: tuple[list[int], list[int]], alternative: str
) -> None:
    a, b = sample
    xs = np.repeat(np.arange(len(a)), a)
    ys = np.repeat(np.arange(len(b)), b)
    got = mann_whitney_binned(a, b, alternative=alternative)
    if len(set(xs) | set(ys)) == 1:  # every value ties: scipy gives nan, there is no evidence
        assert got == 1.0
        return
    expected = stats.mannwhitneyu(
        xs, ys, alternative=alternative, method="asymptotic", use_continuity=True
    ).pvalue
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_mann_whitney_with_numbers() -> None:
    # 300 requests each; the canary's shifted one 5-ms bucket up: p far below 0.05
    stable = [100, 150, 50, 0]
    canary = [0, 100, 150, 50]
    assert mann_whitney_binned(canary, stable) < 1e-20
    assert mann_whitney_binned(stable, stable) == pytest.approx(0.5, abs=0.02)
    assert mann_whitney_binned([0, 0], [1, 2]) == 1.0
    assert math.isfinite(mann_whitney_binned([5], [7]))
