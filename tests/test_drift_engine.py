"""The drift engine on real statistics: seeded samples and scikit-learn's bundled datasets."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes
from scipy import stats

from conftest import trials
from modelreg.errors import UsageError
from modelreg.monitoring.compare import compare
from modelreg.monitoring.concept import concept_drift
from modelreg.monitoring.profile import Profile, build_profile
from modelreg.registry.drift_rules import DriftRules, MethodRule, drift_schema
from modelreg.stats.tests import chi2_homogeneity, holm, ks_pvalue

PLANS = np.array(["basic", "plus", "pro", "team"])
PLAN_P = [0.4, 0.3, 0.2, 0.1]
REGIONS = np.array(["north", "south", "east", "west", "centre"])
REGION_P = [0.3, 0.25, 0.2, 0.15, 0.1]


@cache
def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame.drop(columns="target")


def sample(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """n rows resampled from breast cancer's 30 features, plus two categorical columns."""
    base = breast_cancer()
    df = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    df["plan"] = rng.choice(PLANS, n, p=PLAN_P)
    df["region"] = rng.choice(REGIONS, n, p=REGION_P)
    return df


@pytest.fixture(scope="module")
def big_pair() -> tuple[Profile, pd.DataFrame]:
    """A reference profile and an unchanged current window, 100,000 rows each."""
    rng = np.random.default_rng(7)
    return build_profile(sample(rng, 100_000)), sample(rng, 100_000)


# --------------------------------------------------------------------------- honesty


def test_same_distribution_flags_a_column_in_under_5_percent_of_trials() -> None:
    rng = np.random.default_rng(2024)
    flagged, n = 0, trials(thorough=200, ci=30)
    for _ in range(n):
        report = compare(build_profile(sample(rng, 2000)), sample(rng, 500))
        flagged += bool(report.drifted)
    assert flagged / n < 0.05


def test_same_distribution_in_minimum_size_windows_stays_under_5_percent() -> None:
    rng = np.random.default_rng(99)
    flagged, n = 0, trials(thorough=200, ci=30)
    for _ in range(n):
        report = compare(build_profile(sample(rng, 1000)), sample(rng, 100))
        assert report.verdict != "insufficient"
        flagged += bool(report.drifted)
    assert flagged / n < 0.05


def test_unchanged_100k_window_is_ok(big_pair: tuple[Profile, pd.DataFrame]) -> None:
    profile, current = big_pair
    report = compare(profile, current)
    assert report.verdict == "ok"
    assert report.drifted == ()
    assert len(report.columns) == 32


def test_mean_shift_of_a_quarter_sigma_at_100k_rows_flags_only_that_column(
    big_pair: tuple[Profile, pd.DataFrame],
) -> None:
    profile, current = big_pair
    shifted = current.copy()
    shifted["mean texture"] += 0.25 * breast_cancer()["mean texture"].std()
    report = compare(profile, shifted)
    assert set(report.drifted) == {"mean texture"}
    col = next(c for c in report.columns if c.name == "mean texture")
    assert col.method == "wasserstein"
    assert col.statistic is not None and 0.2 < col.statistic < 0.3
    assert report.verdict == "warn"


def test_unit_change_scaling_mean_radius_by_1_08_flags_only_that_column(
    big_pair: tuple[Profile, pd.DataFrame],
) -> None:
    profile, current = big_pair
    scaled = current.copy()
    scaled["mean radius"] *= 1.08
    report = compare(profile, scaled)
    assert set(report.drifted) == {"mean radius"}


def test_new_category_at_5_percent_flags_only_that_column(
    big_pair: tuple[Profile, pd.DataFrame],
) -> None:
    profile, current = big_pair
    changed = current.copy()
    rng = np.random.default_rng(3)
    changed.loc[rng.random(len(changed)) < 0.05, "plan"] = "enterprise"
    report = compare(profile, changed)
    assert set(report.drifted) == {"plan"}
    col = next(c for c in report.columns if c.name == "plan")
    (label, share), *_ = col.quality.unseen
    assert label == "enterprise" and share == pytest.approx(0.05, abs=0.005)
    assert any("new category 'enterprise'" in r for r in col.reasons)


def test_a_new_category_is_reported_even_at_a_tiny_share(
    big_pair: tuple[Profile, pd.DataFrame],
) -> None:
    profile, current = big_pair
    changed = current.copy()
    changed.loc[:2, "region"] = "atlantis"  # 3 rows in 100,000
    report = compare(profile, changed)
    assert set(report.drifted) == {"region"}
    col = next(c for c in report.columns if c.name == "region")
    assert col.quality.unseen == (("atlantis", 3 / 100_000),)
    assert col.statistic is not None and col.statistic < 0.1  # the effect alone is tiny


def test_missing_rate_rising_from_0_to_10_percent_flags_only_that_column(
    big_pair: tuple[Profile, pd.DataFrame],
) -> None:
    profile, current = big_pair
    changed = current.copy()
    rng = np.random.default_rng(5)
    changed.loc[rng.random(len(changed)) < 0.10, "mean smoothness"] = np.nan
    report = compare(profile, changed)
    assert set(report.drifted) == {"mean smoothness"}
    col = next(c for c in report.columns if c.name == "mean smoothness")
    assert col.quality.missing_reference == 0
    assert col.quality.missing_current == pytest.approx(0.10, abs=0.005)
    assert any(r.startswith("missing rate 0.0% → ") for r in col.reasons)


def test_tiny_shift_at_a_million_rows_is_significant_but_not_flagged() -> None:
    rng = np.random.default_rng(11)
    ref, cur = rng.normal(size=1_000_000), rng.normal(0.02, 1, size=1_000_000)
    assert stats.ks_2samp(ref, cur).pvalue < 1e-10  # a bare p-value would cry drift
    profile = build_profile(pd.DataFrame({"x": ref}))
    for rules in (DriftRules(), DriftRules(numeric=MethodRule("ks"))):
        col = compare(profile, pd.DataFrame({"x": cur}), rules).columns[0]
        assert col.p_value is not None and col.p_value < 1e-10
        assert not col.drifted, col.reasons


def test_p_value_methods_flag_when_the_effect_is_large_enough(
    big_pair: tuple[Profile, pd.DataFrame],
) -> None:
    profile, current = big_pair
    shifted = current.copy()
    shifted["mean texture"] += 0.25 * breast_cancer()["mean texture"].std()
    rules = DriftRules(numeric=MethodRule("ks"), categorical=MethodRule("chi2"))
    report = compare(profile, shifted, rules)
    assert set(report.drifted) == {"mean texture"}
    col = next(c for c in report.columns if c.name == "mean texture")
    assert (col.method, col.measure, col.threshold) == ("ks", "ks", 0.05)


# --------------------------------------------------------------------------- the statistics


def test_chi_square_is_the_2xk_homogeneity_test() -> None:
    reference, current = [50, 30, 15, 5], [35, 40, 20, 25]
    stat, p, dof = chi2_homogeneity(reference, current)
    expected = stats.chi2_contingency(np.array([reference, current]), correction=False)
    assert stat == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)
    assert dof == expected.dof == 3
    goodness_of_fit = stats.chisquare(current, np.array(reference) / 100 * sum(current))
    assert goodness_of_fit.statistic > 1.5 * stat  # the trap the engine avoids


def test_compare_uses_the_homogeneity_test_on_category_counts() -> None:
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 300 + ["c"] * 200})
    cur = pd.DataFrame({"c": ["a"] * 420 + ["b"] * 330 + ["c"] * 250})
    col = compare(build_profile(ref), cur).columns[0]
    table = np.array([[500, 300, 200], [420, 330, 250]])
    expected = stats.chi2_contingency(table, correction=False)
    assert col.measures["chi2"] == pytest.approx(expected.statistic)
    assert col.p_raw == pytest.approx(expected.pvalue)


@pytest.mark.parametrize(
    "make",
    [
        lambda r, n: r.normal(3, 2, n),
        lambda r, n: r.lognormal(0, 1, n),
        lambda r, n: r.exponential(5, n),
        lambda r, n: r.standard_t(3, n),
        lambda r, n: r.poisson(4, n).astype(float),
        lambda r, n: r.integers(0, 5000, n).astype(float),
    ],
    ids=["normal", "lognormal", "exponential", "t3", "poisson", "ints"],
)
@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_profile_ks_and_wasserstein_match_scipy_on_raw_data(make: object, shift: float) -> None:
    rng = np.random.default_rng(1)
    ref = make(rng, 200_000)  # type: ignore[operator]
    cur = make(rng, 50_000) * (1 + shift) + shift  # type: ignore[operator]
    col = compare(build_profile(pd.DataFrame({"x": ref})), pd.DataFrame({"x": cur})).columns[0]
    w = stats.wasserstein_distance(ref, cur) / ref.std()
    ks = stats.ks_2samp(ref, cur)
    assert col.measures["wasserstein"] == pytest.approx(w, abs=0.005, rel=0.02)
    assert col.measures["ks"] == pytest.approx(ks.statistic, abs=0.002)
    if ks.pvalue > 1e-6:
        assert col.p_raw == pytest.approx(ks.pvalue, rel=0.5, abs=0.02)


def test_ks_p_value_uses_the_reference_row_count() -> None:
    assert ks_pvalue(0.05, 200, 200) > 0.5
    assert ks_pvalue(0.05, 200_000, 200) > 0.3
    assert ks_pvalue(0.05, 200_000, 200_000) < 1e-100
    assert ks_pvalue(0.05, 1000, 1000) == pytest.approx(
        stats.ks_2samp(np.arange(1000), np.arange(1000) + 50).pvalue, rel=0.1
    )


def test_holm_adjusts_step_down_and_stays_monotone() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []


# --------------------------------------------------------------------------- data quality


def test_all_missing_column_is_a_finding_not_a_crash() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(PLANS, 1000)})
    cur = pd.DataFrame({"x": [np.nan] * 500, "c": [None] * 500})
    report = compare(build_profile(ref), cur)
    assert set(report.drifted) == {"x", "c"}
    for col in report.columns:
        assert col.quality.all_missing and col.statistic is None
        assert "all values missing" in col.reasons
    assert report.verdict == "critical"  # 2 of 2 columns ≥ 40 %
    json.dumps(report.to_dict(), allow_nan=False)


def test_all_missing_reference_column_is_noted_and_not_judged() -> None:
    ref = pd.DataFrame({"x": [np.nan] * 200, "y": np.arange(200.0)})
    cur = pd.DataFrame({"x": np.arange(200.0), "y": np.arange(200.0)})
    report = compare(build_profile(ref), cur)
    x = report.columns[0]
    assert not x.drifted and x.statistic is None
    assert "reference has no values" in x.notes[0]


def test_numbers_arriving_as_strings_are_parsed_not_flagged() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=2000)})
    cur = pd.DataFrame({"x": [str(float(v)) for v in rng.normal(size=2000)]})
    col = compare(build_profile(ref), cur).columns[0]
    assert not col.drifted
    assert col.quality.coerced and col.quality.type_change is None


def test_words_in_a_numeric_column_are_a_type_change_finding() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"tenure": rng.normal(size=2000), "ok": rng.normal(size=2000)})
    cur = pd.DataFrame({"tenure": ["long", "short"] * 1000, "ok": rng.normal(size=2000)})
    report = compare(build_profile(ref), cur)
    assert report.drifted == ("tenure",)
    col = report.columns[0]
    assert col.quality.type_change is not None and "'long'" in col.quality.type_change
    assert col.statistic is None and not col.quality.all_missing


def test_categorical_column_arriving_as_numbers_is_a_type_change() -> None:
    ref = pd.DataFrame({"plan": ["basic", "pro"] * 500})
    cur = pd.DataFrame({"plan": [1.5, 2.5] * 500})
    col = compare(build_profile(ref), cur).columns[0]
    assert col.drifted and col.quality.type_change is not None


def test_integer_codes_match_across_int_and_float_columns() -> None:
    ref = pd.DataFrame({"code": pd.Series(["1", "2", "3"] * 400, dtype=object)})
    cur = pd.DataFrame({"code": [1.0, 2.0, 3.0] * 400})
    col = compare(build_profile(ref), cur).columns[0]
    assert not col.drifted and col.quality.unseen == ()


def test_out_of_range_share_beyond_policy_is_flagged() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"age": rng.uniform(18, 90, 5000)})
    cur = pd.DataFrame({"age": np.concatenate([rng.uniform(18, 90, 900), np.full(100, 150.0)])})
    col = compare(build_profile(ref), cur, DriftRules(numeric=MethodRule("psi"))).columns[0]
    assert col.quality.out_of_range == pytest.approx(0.10, abs=0.005)
    assert any("outside the reference range" in r for r in col.reasons)


@pytest.mark.parametrize("rows", [0, 1, 12, 99])
def test_tiny_or_empty_windows_are_insufficient_and_say_why(rows: int) -> None:
    rng = np.random.default_rng(0)
    profile = build_profile(pd.DataFrame({"x": rng.normal(size=500)}))
    report = compare(profile, pd.DataFrame({"x": rng.normal(size=rows)}))
    assert report.verdict == "insufficient"
    assert report.columns == ()
    what = "no rows" if rows == 0 else f"only {rows} row"
    assert report.reasons[0].startswith(f"insufficient: {what}")
    assert "need at least 100 (policy drift.min_rows)" in report.reasons[0]


def test_a_frame_without_columns_is_insufficient() -> None:
    profile = build_profile(pd.DataFrame({"x": np.arange(500.0)}))
    report = compare(profile, pd.DataFrame())
    assert report.verdict == "insufficient"


def test_twelve_rows_message_matches_the_policy_wording() -> None:
    profile = build_profile(pd.DataFrame({"x": np.arange(500.0)}))
    report = compare(profile, pd.DataFrame({"x": np.arange(12.0)}))
    assert report.reasons[0] == (
        "insufficient: only 12 rows in the current window; need at least 100 "
        "(policy drift.min_rows)"
    )


# --------------------------------------------------------------------------- column roles


def test_missing_model_columns_raise_a_usage_error_naming_them() -> None:
    profile = build_profile(pd.DataFrame({"x": np.arange(200.0), "y": np.arange(200.0)}))
    with pytest.raises(UsageError) as err:
        compare(
            profile,
            pd.DataFrame({"z": np.arange(200.0)}),
            features=["x", "y"],
            model="churn",
            source="logs/predictions.csv",
        )
    assert str(err.value) == (
        "logs/predictions.csv: prediction log lacks column(s) x, y that model churn takes "
        "(add them to the log)"
    )


def test_extra_columns_are_listed_as_ignored_and_absent_profile_columns_noted() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=500), "label": rng.integers(0, 2, 500)})
    cur = pd.DataFrame(
        {
            "id": np.arange(500),
            "ts": pd.date_range("2026-01-01", periods=500, freq="h"),
            "x": rng.normal(size=500),
            "prediction": rng.integers(0, 2, 500),
        }
    )
    report = compare(build_profile(ref), cur)
    assert report.ignored_columns == ("id", "ts", "prediction")
    assert report.missing_columns == ("label",)
    assert [c.name for c in report.columns] == ["x"]
    assert any("label" in r for r in report.reasons)


def test_features_restrict_the_checked_columns() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500)})
    cur = pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(5, 1, 500)})
    report = compare(build_profile(ref), cur, features=["x"])
    assert [c.name for c in report.columns] == ["x"]
    assert report.verdict == "ok"


def test_profile_skips_datetime_columns_and_can_take_a_column_list() -> None:
    df = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=3), "x": [1.0, 2.0, 3.0]})
    assert build_profile(df).names == ("x",)
    with pytest.raises(UsageError, match="no column"):
        build_profile(df, ["nope"])


# --------------------------------------------------------------------------- verdict


def _shift_frame(rng: np.random.Generator, shifted: int, total: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {f"c{i}": rng.normal(1.0 if i < shifted else 0.0, 1, 1000) for i in range(total)}
    )


@pytest.mark.parametrize(
    ("shifted", "verdict"), [(0, "ok"), (1, "warn"), (2, "warn"), (4, "critical")]
)
def test_verdict_follows_the_share_of_drifted_columns(shifted: int, verdict: str) -> None:
    rng = np.random.default_rng(0)
    profile = build_profile(_shift_frame(rng, 0))
    report = compare(profile, _shift_frame(rng, shifted))
    assert report.verdict == verdict
    assert report.share == pytest.approx(shifted / 10)
    assert report.reasons[0].startswith(verdict)


def test_drift_in_a_critical_column_makes_the_verdict_critical() -> None:
    rng = np.random.default_rng(0)
    profile = build_profile(_shift_frame(rng, 0))
    rules = DriftRules.from_dict({"critical_columns": ["c0"]})
    report = compare(profile, _shift_frame(rng, 1), rules)
    assert report.verdict == "critical"
    assert report.columns[0].critical and report.columns[0].drifted
    assert any("c0 drifted (drift.critical_columns)" in r for r in report.reasons)


def test_concept_drift_beyond_max_drop_is_critical_and_in_the_report() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    pred = np.where(rng.random(1000) < 0.8, y, 1 - y)  # ~80 % accurate
    finding = concept_drift(y, pred, "classification", {"accuracy": 0.91})
    assert finding.severity == "critical" and finding.metric == "accuracy"
    assert finding.drop == pytest.approx(0.91 - finding.live)  # type: ignore[operator]
    profile = build_profile(_shift_frame(rng, 0))
    report = compare(profile, _shift_frame(rng, 0), concept=finding)
    assert report.verdict == "critical"
    assert report.concept == finding
    assert any(r.startswith("critical: concept: accuracy dropped -") for r in report.reasons)


def test_concept_drift_for_regression_uses_rmse_and_small_changes_are_ok() -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True)
    model = Ridge(alpha=0.1).fit(x[:300], y[:300])
    rmse = float(np.sqrt(np.mean((model.predict(x[:300]) - y[:300]) ** 2)))
    finding = concept_drift(y[300:], model.predict(x[300:]), "regression", {"rmse": rmse})
    assert finding.metric == "rmse" and finding.live is not None
    loose = DriftRules.from_dict({"concept": {"max_drop": 10.0}})
    assert concept_drift(y[300:], model.predict(x[300:]), "regression", {"rmse": rmse}, loose)
    ok = concept_drift(y, y + 0.01, "regression", {"rmse": 0.0})
    assert ok.severity == "ok"


def test_concept_drift_refuses_to_judge_few_labels_and_names_missing_metrics() -> None:
    few = concept_drift([1, 0, 1], [1, 1, 1], "classification", {"accuracy": 0.9})
    assert few.severity == "insufficient" and few.live is None
    with pytest.raises(UsageError, match="no 'f1'"):
        rules = DriftRules.from_dict({"concept": {"metric": "f1"}})
        concept_drift([1] * 200, [1] * 200, "classification", {"accuracy": 0.9}, rules)
    with pytest.raises(UsageError, match="does not fit a regression model"):
        rules = DriftRules.from_dict({"concept": {"metric": "accuracy"}})
        concept_drift([1.0] * 200, [1.0] * 200, "regression", {"accuracy": 0.9}, rules)


# --------------------------------------------------------------------------- rules and schema

EXAMPLE_DRIFT = {
    "schedule": "0 6 * * *",
    "numeric": {"method": "wasserstein", "threshold": 0.1},
    "categorical": {"method": "jensenshannon", "threshold": 0.1},
    "alpha": 0.05,
    "min_effect": 0.05,
    "missing_rate": {"max_increase": 0.05},
    "out_of_range": {"max_share": 0.05},
    "min_rows": 100,
    "dataset_share": {"warn": 0.2, "critical": 0.4},
    "critical_columns": ["tenure"],
    "columns": {"tenure": {"method": "psi", "threshold": 0.2}},
    "concept": {"metric": "accuracy", "max_drop": 0.05},
    "action": "retrain_pr",
}


def test_rules_from_the_policy_example_and_defaults_agree() -> None:
    rules = DriftRules.from_dict(EXAMPLE_DRIFT)
    assert rules.columns["tenure"] == MethodRule("psi", 0.2)
    assert rules.rule_for("tenure", "numeric") == ("psi", 0.2)
    assert rules.rule_for("other", "numeric") == ("wasserstein", 0.1)
    assert rules.critical_columns == ("tenure",)
    assert DriftRules.from_dict(None) == DriftRules()
    assert DriftRules.from_dict(DriftRules().to_dict()) == DriftRules()


def test_method_without_threshold_takes_that_methods_default() -> None:
    rules = DriftRules.from_dict({"numeric": {"method": "psi"}, "categorical": {"method": "chi2"}})
    assert rules.rule_for("x", "numeric") == ("psi", 0.2)
    assert rules.rule_for("c", "categorical") == ("chi2", 0.05)
    tuned = DriftRules.from_dict({"min_effect": 0.1, "numeric": {"method": "ks"}})
    assert tuned.rule_for("x", "numeric") == ("ks", 0.1)


def test_a_numeric_method_on_a_categorical_column_is_a_usage_error() -> None:
    rules = DriftRules.from_dict({"columns": {"plan": {"method": "wasserstein"}}})
    profile = build_profile(pd.DataFrame({"plan": ["a", "b"] * 100}))
    with pytest.raises(UsageError, match=r"drift\.columns\.plan\.method"):
        compare(profile, pd.DataFrame({"plan": ["a", "b"] * 100}), rules)


def test_drift_schema_is_valid_and_matches_the_rules() -> None:
    import jsonschema

    schema = drift_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(EXAMPLE_DRIFT)) == []
    assert list(validator.iter_errors(DriftRules().to_dict())) == []
    assert list(validator.iter_errors({"numeric": {"method": "chi2"}}))
    assert list(validator.iter_errors({"unknown": 1}))
    assert set(schema["properties"]) == set(EXAMPLE_DRIFT)
    defaults = DriftRules().to_dict()
    for key in ("schedule", "alpha", "min_effect", "min_rows", "action"):
        assert schema["properties"][key]["default"] == defaults[key]


# --------------------------------------------------------------------------- profile format


def test_profile_round_trips_through_json_and_stays_small(
    big_pair: tuple[Profile, pd.DataFrame],
) -> None:
    profile, _ = big_pair
    text = json.dumps(profile.to_dict(), allow_nan=False, separators=(",", ":"))
    assert Profile.from_dict(json.loads(text)) == profile
    assert len(text) < 30_000 * len(profile.columns)
    assert profile.to_dict()["version"] == 1


def test_reading_a_foreign_or_newer_profile_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a modelreg drift profile"):
        Profile.from_dict({"rows": 1}, source="models/churn/profile.json")
    newer = {"format": "modelreg.profile", "version": 99, "rows": 0, "grid": [], "columns": []}
    with pytest.raises(UsageError, match="version: profile format 99"):
        Profile.from_dict(newer, source="models/churn/profile.json")


def test_importing_the_engine_does_not_import_numpy_scipy_pandas_or_sklearn() -> None:
    code = (
        "import sys, modelreg.monitoring.compare, modelreg.monitoring.concept;"
        "import modelreg.stats.tests;"
        "import modelreg.monitoring.render;"
        "import modelreg.adapters.tables;"
        "print(sorted(m for m in ('numpy','scipy','pandas','sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- properties

finite_or_not = st.floats(allow_nan=True, allow_infinity=True)
small_frames = data_frames(
    [
        column("a", elements=finite_or_not, dtype=float),
        column("b", elements=st.integers(-1000, 1000), dtype=int),
        column("c", elements=st.sampled_from(["x", "y", "z", None]), dtype=object),
    ],
    index=range_indexes(min_size=0, max_size=25),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=small_frames)
def test_profile_to_dict_from_dict_round_trip(frame: pd.DataFrame) -> None:
    profile = build_profile(frame)
    text = json.dumps(profile.to_dict(), allow_nan=False)
    assert Profile.from_dict(json.loads(text)) == profile


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reference=small_frames, current=small_frames, min_rows=st.integers(1, 5))
def test_compare_never_raises_on_arbitrary_small_frames(
    reference: pd.DataFrame, current: pd.DataFrame, min_rows: int
) -> None:
    rules = DriftRules(min_rows=min_rows)
    report = compare(build_profile(reference), current, rules)
    assert report.verdict in ("ok", "warn", "critical", "insufficient")
    assert 0.0 <= report.share <= 1.0
    json.dumps(report.to_dict(), allow_nan=False)


def test_the_deprecated_modelreg_drift_module_still_offers_what_the_docs_promised() -> None:
    import importlib

    sys.modules.pop("modelreg.drift", None)
    with pytest.warns(DeprecationWarning, match=r"modelreg\.drift is deprecated"):
        old = importlib.import_module("modelreg.drift")
    assert drift_schema() == old.DRIFT_SCHEMA
    frame = pd.DataFrame({"x": np.arange(300.0), "plan": ["a", "b", "c"] * 100})
    profile = old.Profile.from_dict(old.build_profile(frame).to_dict())
    report = old.compare(profile, frame, old.DriftRules.from_dict({"min_rows": 10}))
    assert report.verdict == "ok"
    finding = old.concept_drift([0, 1] * 60, [0, 1] * 60, "classification", {"accuracy": 1.0})
    assert finding.severity == "ok"
