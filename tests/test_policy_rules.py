"""Policy rules typed in the registry layer: drift, rollout and retrain mistakes and
over-long durations refused by `validate`, naming the file and the key path."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from conftest import Registry
from modelreg.errors import RuleError, UsageError, ValidationError
from modelreg.registry.drift_rules import DriftRules
from modelreg.registry.policy import MAX_DURATION, format_duration, parse_duration, parse_policy

LIMIT = int(MAX_DURATION.total_seconds())
STAGES = [{"name": "staging"}, {"name": "production", "from": "staging"}]


# --------------------------------------------------------------------------- durations

parts = st.tuples(*(st.integers(0, 10**12) for _ in range(4))).filter(any)


def _text(days: int, hours: int, minutes: int, seconds: int) -> str:
    units = zip((days, hours, minutes, seconds), "dhms", strict=True)
    return "".join(f"{n}{u}" for n, u in units if n)


def _seconds(days: int, hours: int, minutes: int, seconds: int) -> int:
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


@given(parts)
def test_a_duration_is_read_exactly_up_to_366_days_and_refused_beyond(
    p: tuple[int, int, int, int],
) -> None:
    total = _seconds(*p)
    if total <= LIMIT:
        assert parse_duration(_text(*p)) == timedelta(seconds=total)
    else:
        with pytest.raises(ValidationError, match="is longer than 366 days"):
            parse_duration(_text(*p))


@given(st.integers(0, LIMIT).map(lambda s: timedelta(seconds=s)))
def test_every_accepted_duration_round_trips_through_its_written_form(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta).replace(" ", "")) == delta


@given(st.integers(LIMIT + 1, 10**15))
def test_any_duration_above_366_days_is_refused_whatever_its_unit(seconds: int) -> None:
    for text in (f"{seconds}s", f"{seconds // 60 + 1}m", f"{seconds // 86400 + 1}d"):
        with pytest.raises(ValidationError, match="366 days"):
            parse_duration(text)


def test_366_days_is_the_longest_duration() -> None:
    assert parse_duration("366d") == parse_duration("8784h") == MAX_DURATION
    for text in ("367d", "366d1s", "8785h", "99999999999d"):
        with pytest.raises(ValidationError, match="366 days"):
            parse_duration(text)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"stages": [STAGES[0], {**STAGES[1], "soak": "99999999999d"}]}, "stages[1].soak"),
        (
            {
                "stages": [
                    {
                        "name": "production",
                        "rollout": {
                            "strategy": "canary",
                            "steps": [{"weight": 10, "pause": "400d"}, {"weight": 100}],
                        },
                    }
                ]
            },
            "stages[0].rollout.steps[0].pause",
        ),
        ({"stages": STAGES, "retrain": {"window": {"last": "367d"}}}, "retrain.window.last"),
    ],
)
def test_a_duration_over_366_days_is_refused_with_the_file_and_key(data: dict, key: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_policy("x", data)
    assert (err.value.file, err.value.key) == ("policies/x.yaml", key)
    assert str(err.value).startswith(f"policies/x.yaml: {key}: ")
    assert "366 days" in err.value.what and err.value.fix


# --------------------------------------------------------------------------- drift rules


def test_parse_policy_types_the_drift_rules_and_remembers_their_file() -> None:
    data = {"stages": STAGES, "drift": {"columns": {"age": {"method": "ks"}}, "min_rows": 5}}
    rules = parse_policy("x", data).drift
    assert isinstance(rules, DriftRules) and rules.min_rows == 5
    assert rules.columns["age"].method == "ks"
    with pytest.raises(UsageError, match=r"^policies/x\.yaml: drift\.columns\.age\.method: 'ks'"):
        rules.rule_for("age", "categorical")


@pytest.mark.parametrize(
    ("drift", "key"),
    [
        ({"numeric": {"method": "chi2"}}, "drift.numeric.method"),
        ({"columns": {"age": "chi2"}}, "drift.columns.age"),
        ({"dataset_share": {"warn": 0.5, "critical": 0.3}}, "drift.dataset_share"),
    ],
)
def test_a_drift_rule_mistake_names_the_file_and_the_key_path(drift: dict, key: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_policy("x", {"stages": STAGES, "drift": drift})
    assert (err.value.file, err.value.key) == ("policies/x.yaml", key)
    assert err.value.fix


# --------------------------------------------------------------------------- validate


def _edit_policy(reg: Registry, edit: object) -> None:
    path = reg.root / "policies/default.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _sample(reg: Registry) -> str:
    path = reg.work / "sample.csv"
    path.write_text("tenure,plan\n1.5,basic\n3,pro\n")
    return str(path)


def test_validate_reports_a_drift_method_that_does_not_fit_the_column(
    registry: Registry,
) -> None:
    registry.register("churn", 0, "--sample", _sample(registry))
    _edit_policy(registry, lambda d: d["drift"].update(columns={"tenure": {"method": "chi2"}}))
    result = registry.run("validate")
    assert result.exit_code == 1, result.output
    line = next(ln for ln in result.output.splitlines() if "drift.columns" in ln)
    assert line.startswith(
        "policies/default.yaml: drift.columns.tenure.method: 'chi2' does not apply to "
        "numeric column tenure (churn v1.0.0 takes it as float)"
    ), line
    assert "wasserstein, psi, ks" in line and "Traceback" not in result.output


def test_validate_reports_a_concept_metric_that_does_not_fit_the_task(
    registry: Registry,
) -> None:
    registry.register("churn", 0)  # sets task: classification in model.yaml
    _edit_policy(registry, lambda d: d["drift"].update(concept={"metric": "rmse"}))
    result = registry.run("validate")
    assert result.exit_code == 1, result.output
    assert "policies/default.yaml: drift.concept.metric: 'rmse' does not fit" in result.output


def test_validate_refuses_a_soak_of_99999999999_days(registry: Registry) -> None:
    _edit_policy(registry, lambda d: d["stages"][1].update(soak="99999999999d"))
    result = registry.run("validate")
    assert result.exit_code == 1, result.output
    assert (
        "policies/default.yaml: stages[1].soak: '99999999999d' is longer than 366 days"
        in result.output
    )
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- layering


def test_the_registry_layer_imports_no_numeric_library_nor_the_drift_engine() -> None:
    code = """
import pkgutil, sys, importlib
import modelreg.registry
for m in pkgutil.iter_modules(modelreg.registry.__path__):
    importlib.import_module("modelreg.registry." + m.name)
from modelreg.registry import policy, schemas, yamlio
data = yamlio.parse_yaml(policy.DEFAULT_POLICY_YAML, "policies/default.yaml")
assert not schemas.schema_problems("policy", data, "policies/default.yaml")
policy.parse_policy("default", data)
heavy = ("numpy", "pandas", "scipy", "sklearn", "dvc", "github3")
engine = [m for m in sys.modules if m.startswith("modelreg.monitoring")]
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy) + engine)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
