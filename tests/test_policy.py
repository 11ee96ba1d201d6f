"""The policy schema, the default policy, and parsing policy data into typed objects."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from modelreg.errors import UsageError, ValidationError
from modelreg.registry.drift_rules import DriftRules
from modelreg.registry.policy import (
    DEFAULT_POLICY_YAML,
    Regression,
    format_duration,
    metric_direction,
    parse_duration,
    parse_policy,
)


def policy_schema() -> dict[str, Any]:
    text = (resources.files("modelreg") / "schemas" / "policy.schema.json").read_text("utf-8")
    return dict(json.loads(text))


VALIDATOR = Draft202012Validator(policy_schema())

FULL: dict[str, Any] = yaml.load(
    """
stages:
  - name: staging
    requires: [accuracy]
    gates:
      - {metric: accuracy, min: 0.85}
  - name: production
    from: staging
    soak: 24h
    signature: strict
    reviews: 1
    gates:
      - {metric: accuracy, min: 0.90}
      - {metric: f1, max_regression: 0.01}
      - {metric: rmse, max_regression: 5%}
      - {metric: latency_ms, max: 50, direction: lower}
    rollout:
      strategy: canary
      steps: [{weight: 10, pause: 1h}, {weight: 50, pause: 1h}, {weight: 100}]
      analysis:
        - {metric: error_rate, max: 0.02}
        - {metric: accuracy_online, max_regression: 0.02, failure_limit: 2}
        - {metric: latency_p95_ms, max_regression: 10%}
      on_failure: rollback
      auto_advance: false
drift: {schedule: "0 6 * * *"}
retrain:
  triggers: [drift, schedule, data-volume]
  schedule: "0 3 * * 1"
  min_new_rows: 50000
  window: {last: 90d}
  must_beat_current: true
  metric: f1
""",
    Loader=yaml.CSafeLoader,
)


def errors(data: Any) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(data)]


def edited(path: str, value: Any) -> dict[str, Any]:
    """FULL with the value at a dotted path (list indexes as numbers) set; `...` deletes it."""
    data = copy.deepcopy(FULL)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = data
    for p in parents:
        node = node[p]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


def renamed(path: str, new_key: str) -> dict[str, Any]:
    """FULL with the key at a dotted path renamed, as a typo would."""
    data = copy.deepcopy(FULL)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = data
    for p in parents:
        node = node[p]
    node[new_key] = node.pop(last)
    return data


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(policy_schema())


def test_the_full_example_policy_is_valid() -> None:
    assert errors(FULL) == []


def test_the_schema_examples_are_valid() -> None:
    schema = policy_schema()
    for example in schema["examples"]:
        assert errors(example) == []
    for name in ("gate", "check", "step", "rollout", "stage", "retrain"):
        sub = Draft202012Validator({"$defs": schema["$defs"], **schema["$defs"][name]})
        for example in schema["$defs"][name]["examples"]:
            assert list(sub.iter_errors(example)) == [], (name, example)


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        # `if`/`else` subschemas carry `properties` too, but neither a type nor the flag.
        if "properties" in node and (
            "additionalProperties" in node or node.get("type") == "object"
        ):
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_every_object_in_the_schema_rejects_unknown_keys() -> None:
    objects = list(_objects(policy_schema()))
    assert len(objects) >= 8
    assert all(o["additionalProperties"] is False for o in objects)


def test_the_default_policy_validates_against_the_schema() -> None:
    data = yaml.load(DEFAULT_POLICY_YAML, Loader=yaml.CSafeLoader)
    assert errors(data) == []


def test_the_default_policy_promotes_staging_to_production_directly() -> None:
    policy = parse_policy("default", yaml.load(DEFAULT_POLICY_YAML, Loader=yaml.CSafeLoader))
    assert policy.stage_names == ("staging", "production")
    production = policy.stage("production")
    assert production.from_stage == "staging"
    assert production.rollout.strategy == "direct"
    assert production.signature == "strict"


def test_the_default_policy_shows_a_commented_canary_that_validates_when_uncommented() -> None:
    lines = []
    for line in DEFAULT_POLICY_YAML.splitlines():
        body = line.removeprefix("      # ")
        if "strategy: direct" in line:
            continue
        lines.append("      " + body if body != line and not body[:1].isupper() else line)
    data = yaml.load("\n".join(lines), Loader=yaml.CSafeLoader)
    assert errors(data) == []
    rollout = parse_policy("default", data).stage("production").rollout
    assert rollout.strategy == "canary"
    assert [s.weight for s in rollout.steps] == [10, 50, 100]


def test_modelreg_validates_policies_with_the_shipped_schema_file_as_it_is() -> None:
    from modelreg.registry.schemas import schema

    assert schema("policy") == policy_schema()


def test_the_shipped_schema_alone_rejects_a_drift_mistake_as_check_jsonschema_would() -> None:
    bad = {**FULL, "drift": {"numeric": {"method": "chi2"}, "action": "page"}}
    paths = sorted(".".join(map(str, e.absolute_path)) for e in VALIDATOR.iter_errors(bad))
    assert paths == ["drift.action", "drift.numeric.method"]


def test_the_drift_schema_in_the_file_names_what_the_drift_rules_accept() -> None:
    from modelreg.registry import drift_rules as r

    drift = policy_schema()["properties"]["drift"]["properties"]
    assert drift["numeric"]["properties"]["method"]["enum"] == list(r.NUMERIC_METHODS)
    assert drift["categorical"]["properties"]["method"]["enum"] == list(r.CATEGORICAL_METHODS)
    column = drift["columns"]["additionalProperties"]["properties"]["method"]
    assert column["enum"] == list(r.ALL_METHODS)
    metrics = [*r.CLASSIFICATION_METRICS, *r.REGRESSION_METRICS, None]
    assert drift["concept"]["properties"]["metric"]["enum"] == metrics
    assert drift["action"]["enum"] == list(r.ACTIONS)
    defaults = r.DriftRules()
    assert drift["numeric"]["properties"]["method"]["default"] == defaults.numeric.method
    assert drift["categorical"]["properties"]["method"]["default"] == defaults.categorical.method


def test_a_policy_file_cannot_construct_python_objects() -> None:
    text = "stages: !!python/object/apply:os.system ['echo hacked']\n"
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load(text, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize(
    ("path", "typo"),
    [
        ("stages.0.gates", "gate"),
        ("stages.1.gates.0.min", "mn"),
        ("stages.1.gates.1.max_regression", "max_regresion"),
        ("stages.1.from", "form"),
        ("stages.1.rollout.steps", "step"),
        ("stages.1.rollout.analysis.1.failure_limit", "failures"),
        ("stages.1.rollout.on_failure", "onfailure"),
        ("stages.1.rollout.steps.0.pause", "wait"),
        ("retrain.window", "windw"),
        ("stages", "stage"),
    ],
)
def test_a_misspelt_key_is_rejected(path: str, typo: str) -> None:
    assert errors(renamed(path, typo)), f"{typo} was accepted"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("stages.0.name", "Staging"),
        ("stages.0.name", "../prod"),
        ("stages.1.from", "Staging"),
        ("stages.1.soak", "24 hours"),
        ("stages.1.soak", "1.5h"),
        ("stages.1.soak", 86400),
        ("stages.1.signature", "loose"),
        ("stages.1.reviews", -1),
        ("stages.1.gates.0.min", "0.9"),
        ("stages.1.gates.0.min", True),
        ("stages.1.gates.0.metric", "__import__('os').system('x')"),
        ("stages.1.gates.0.metric", "lambda: 0"),
        ("stages.1.gates.0.metric", ""),
        ("stages.1.gates.1.max_regression", "5 %"),
        ("stages.1.gates.1.max_regression", "five%"),
        ("stages.1.gates.1.max_regression", -0.01),
        ("stages.1.gates.3.direction", "down"),
        ("stages.1.gates.0", {"metric": "accuracy"}),
        ("stages.1.rollout.strategy", "canery"),
        ("stages.1.rollout.strategy", ...),
        ("stages.1.rollout.steps", []),
        ("stages.1.rollout.steps.0.weight", 0),
        ("stages.1.rollout.steps.0.weight", 101),
        ("stages.1.rollout.steps.0.weight", 12.5),
        ("stages.1.rollout.on_failure", "abort"),
        ("stages.1.rollout.analysis.1.failure_limit", -1),
        ("stages.1.rollout.auto_advance", "yes"),
        ("stages", []),
        ("retrain.triggers", ["cron"]),
        ("retrain.schedule", "daily"),
        ("retrain.schedule", ...),
        ("retrain.min_new_rows", ...),
        ("retrain.min_new_rows", 0),
        ("retrain.window", "everything"),
        ("retrain.window", {"last": "90 days"}),
        ("retrain.must_beat_current", "true"),
        ("drift", ["not", "a", "mapping"]),
        ("drift.schedule", "daily"),
    ],
)
def test_a_wrong_value_is_rejected(path: str, value: Any) -> None:
    assert errors(edited(path, value)), f"{path}={value!r} was accepted"


def test_soak_without_from_is_rejected() -> None:
    assert errors(edited("stages.1.from", ...))


def test_a_canary_needs_steps() -> None:
    assert errors(edited("stages.1.rollout.steps", ...))


def test_a_direct_rollout_takes_no_canary_keys() -> None:
    assert errors(edited("stages.1.rollout.strategy", "direct"))
    direct = edited("stages.1.rollout", {"strategy": "direct"})
    assert errors(direct) == []


def test_parse_policy_types_every_section() -> None:
    policy = parse_policy("default", FULL)
    staging, production = policy.stages
    assert staging.requires == ("accuracy",)
    assert production.from_stage == "staging"
    assert production.soak == timedelta(hours=24)
    assert production.reviews == 1
    f1, rmse = production.gates[1], production.gates[2]
    assert f1.max_regression == Regression(0.01, relative=False)
    assert rmse.max_regression == Regression(5.0, relative=True)
    assert rmse.better == "lower"
    rollout = production.rollout
    assert [(s.weight, s.pause) for s in rollout.steps] == [
        (10, timedelta(hours=1)),
        (50, timedelta(hours=1)),
        (100, None),
    ]
    assert [c.failure_limit for c in rollout.analysis] == [0, 2, 0]
    assert policy.retrain.window == timedelta(days=90)
    assert policy.retrain.triggers == ("drift", "schedule", "data-volume")
    assert policy.retrain.min_new_rows == 50000
    assert policy.drift == DriftRules(schedule="0 6 * * *")
    assert policy.drift.source == "policies/default.yaml"


def test_parse_policy_fills_defaults() -> None:
    policy = parse_policy("p", {"stages": [{"name": "staging"}]})
    stage = policy.stage("staging")
    assert stage.signature == "strict"
    assert stage.rollout.strategy == "direct"
    assert stage.gates == ()
    assert policy.retrain.must_beat_current is True
    assert policy.retrain.window is None
    assert policy.drift == DriftRules()


def test_a_window_of_all_means_no_cut_off() -> None:
    policy = parse_policy("p", {**FULL, "retrain": {"window": "all"}})
    assert policy.retrain.window is None


def test_the_retrain_comparison_metric_defaults_to_the_first_headline_metric() -> None:
    assert parse_policy("p", FULL).retrain.comparison_metric(["accuracy"]) == "f1"
    retrain = parse_policy("p", {**FULL, "retrain": {}}).retrain
    assert retrain.comparison_metric(["roc_auc", "f1"]) == "roc_auc"
    assert retrain.comparison_metric([]) is None


def test_an_unknown_stage_names_the_known_ones() -> None:
    with pytest.raises(
        UsageError, match=r"'prod' is not in policy 'default' \(known: staging, production\)"
    ):
        parse_policy("default", FULL).stage("prod")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"stages": [{"name": "a"}, {"name": "a"}]},
            r"policies/p.yaml: stages\[1\].name: stage 'a' is listed twice",
        ),
        (
            {"stages": [{"name": "a", "from": "b"}, {"name": "b"}]},
            r"stages\[0\].from: 'b' is not an earlier stage",
        ),
        (
            {"stages": [{"name": "a", "from": "a"}]},
            r"stages\[0\].from: 'a' is not an earlier stage",
        ),
        (
            {"stages": [{"name": "a", "gates": [{"metric": "x", "min": 0.9, "max": 0.5}]}]},
            r"stages\[0\].gates\[0\]: min 0.9 is above max 0.5",
        ),
        (
            {"stages": [{"name": "a", "gates": [{"metric": "x", "min": float("nan")}]}]},
            r"stages\[0\].gates\[0\].min: nan is not a finite number",
        ),
        (
            {"stages": [{"name": "a", "gates": [{"metric": "x", "max": float("inf")}]}]},
            r"gates\[0\].max: inf is not a finite number",
        ),
        (
            {
                "stages": [
                    {
                        "name": "a",
                        "rollout": {
                            "strategy": "canary",
                            "steps": [{"weight": 50}, {"weight": 20}],
                        },
                    }
                ]
            },
            r"stages\[0\].rollout.steps\[1\].weight: 20 is not above 50",
        ),
    ],
)
def test_parse_policy_rejects_what_the_schema_cannot_see(data: Any, message: str) -> None:
    assert errors(data) == []
    with pytest.raises(ValidationError, match=message):
        parse_policy("p", data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d12h", timedelta(days=2, hours=12)),
        ("0s", timedelta(0)),
        (" 24h ", timedelta(hours=24)),
    ],
)
def test_parse_duration_reads_a_number_and_a_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "24", "h", "1.5h", "24 hours", "1m1h", "-1h", "1w", "24H", "999999999999d"]
)
def test_parse_duration_rejects_anything_else_with_a_hint(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_duration(text)
    assert repr(text) in str(raised.value)


def test_parse_duration_says_how_to_write_one() -> None:
    with pytest.raises(ValidationError, match=r"'24 hours' is not a duration \(write a number"):
        parse_duration("24 hours")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "1m 30s"),
        (timedelta(hours=24), "24h"),
        (timedelta(hours=47, minutes=5), "47h 5m"),
        (timedelta(days=3, hours=2), "3d 2h"),
        (timedelta(days=90), "90d"),
        (-timedelta(hours=2), "-2h"),
    ],
)
def test_format_duration_reads_back(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
    if not text.startswith("-"):
        assert parse_duration(text.replace(" ", "")) == delta


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("rmse", "lower"),
        ("mae", "lower"),
        ("mse", "lower"),
        ("loss", "lower"),
        ("log_loss", "lower"),
        ("val_loss", "lower"),
        ("error", "lower"),
        ("error_rate", "lower"),
        ("mean_absolute_error", "lower"),
        ("latency", "lower"),
        ("latency_p95_ms", "lower"),
        ("latencyP95", "lower"),
        ("p95_latency", "lower"),
        ("inference_ms", "lower"),
        ("test.RMSE", "lower"),
        ("accuracy", "higher"),
        ("accuracy_online", "higher"),
        ("f1", "higher"),
        ("roc_auc", "higher"),
        ("r2", "higher"),
        ("ms_ssim", "higher"),
        ("precision", "higher"),
    ],
)
def test_metric_direction_is_guessed_from_the_name(name: str, direction: str) -> None:
    assert metric_direction(name) == direction


def test_an_explicit_direction_wins() -> None:
    assert metric_direction("rmse", "higher") == "higher"
    assert metric_direction("accuracy", "lower") == "lower"
