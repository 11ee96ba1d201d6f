"""The gate engine: every rule kind, its edge cases, its renderers, and that it never runs code."""

from __future__ import annotations

import builtins
import json
import math
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from modelreg.errors import UsageError, ValidationError
from modelreg.promotion.gates import FORMATS, GateContext, GateReport, RuleResult, evaluate, render
from modelreg.promotion.rollout import decide
from modelreg.promotion.rollout import render as render_rollout
from modelreg.registry.policy import Policy, parse_policy
from modelreg.registry.records import Artifact, Feature, Rollout, Signature, VersionRecord

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
INPUTS = (("tenure", "float"), ("plan", "category"))


def record(
    version: str,
    metrics: Mapping[str, float],
    inputs: tuple[tuple[str, str], ...] | None = INPUTS,
) -> VersionRecord:
    signature = Signature(tuple(Feature(n, t) for n, t in inputs)) if inputs is not None else None
    return VersionRecord(
        model="churn",
        version=version,
        created_at="2026-11-20T09:12:44Z",
        created_by="ana@example.com",
        code_commit="3f2c9e1",
        trigger="manual",
        parent=None,
        artifact=Artifact(f"models/churn/artifacts/{version}/model.pkl", "9b1e", 1, "pickle"),
        metrics=dict(metrics),
        dataset="holdout-2026-11",  # both on one named set: registered metrics compare
        signature=signature,
    )


def policy(**production: Any) -> Policy:
    return parse_policy(
        "default", {"stages": [{"name": "staging"}, {"name": "production", **production}]}
    )


def context(
    candidate: VersionRecord,
    current: VersionRecord | None = None,
    *,
    serving: str | None = None,
    since: datetime | None = None,
) -> GateContext:
    return GateContext("production", candidate, current, serving, since, NOW)


def gate_results(
    gate: dict[str, Any], metrics: Mapping[str, float], current: Mapping[str, float] | None
) -> list[RuleResult]:
    """The results of a single gate, with the signature rule switched off."""
    cur = record("v1.3.0", current) if current is not None else None
    pol = policy(signature="any", gates=[gate])
    return list(evaluate(pol, context(record("v1.4.0", metrics), cur)).results)


NAN, INF = float("nan"), float("inf")
ACC_MIN = {"metric": "accuracy", "min": 0.9}
LAT_MAX = {"metric": "latency_ms", "max": 50}
F1_REG = {"metric": "f1", "max_regression": 0.01}
RMSE_REG = {"metric": "rmse", "max_regression": 0.5}
RMSE_PCT = {"metric": "rmse", "max_regression": "5%"}
ACC_PCT = {"metric": "accuracy", "max_regression": "5%"}
MARGIN_PCT = {"metric": "margin", "max_regression": "10%"}
SCORE_LOWER = {"metric": "score", "max_regression": 1, "direction": "lower"}
ERR_HIGHER = {"metric": "error_rate", "max_regression": 0.01, "direction": "higher"}
NO_METRIC = "no metric"  # the current version exists but lacks the gate's metric


@pytest.mark.parametrize(
    ("gate", "value", "current", "verdict", "detail"),
    [
        # absolute bounds; equal to the bound passes
        (ACC_MIN, 0.95, None, "pass", "accuracy 0.95 >= 0.9"),
        (ACC_MIN, 0.85, None, "fail", "accuracy 0.85 is below 0.9"),
        (ACC_MIN, 0.9, None, "pass", "accuracy 0.9 >= 0.9"),
        (LAT_MAX, 40, None, "pass", "latency_ms 40 <= 50"),
        (LAT_MAX, 60, None, "fail", "latency_ms 60 is above 50"),
        (LAT_MAX, 50, None, "pass", "latency_ms 50 <= 50"),
        ({"metric": "delta", "min": -1}, -1, None, "pass", ">= -1"),
        # a missing or non-finite value fails
        (ACC_MIN, None, None, "fail", "metric accuracy missing from version record"),
        (LAT_MAX, None, None, "fail", "metric latency_ms missing from version record"),
        (ACC_MIN, NAN, None, "fail", "metric accuracy is nan in version record"),
        (LAT_MAX, NAN, None, "fail", "not a finite number"),
        (ACC_MIN, INF, None, "fail", "not a finite number"),
        (F1_REG, NAN, 0.8, "fail", "metric f1 is nan"),
        (F1_REG, None, 0.8, "fail", "metric f1 missing"),
        (F1_REG, None, None, "fail", "metric f1 missing"),
        # absolute regression, higher is better
        (F1_REG, 0.868, 0.874, "pass", "f1 0.868 vs v1.3.0 0.874 (-0.006)"),
        (F1_REG, 0.864, 0.874, "pass", "f1 0.864 vs v1.3.0"),
        (F1_REG, 0.85, 0.874, "fail", "f1 dropped 0.024 from v1.3.0 (0.874 -> 0.85)"),
        (F1_REG, 0.9, 0.874, "pass", "(+0.026)"),
        ({"metric": "f1", "max_regression": 0.1}, 0.7, 0.8, "pass", "(-0.1)"),
        ({"metric": "f1", "max_regression": 0}, 0.873, 0.874, "fail", "at most 0 allowed"),
        # absolute regression, lower is better
        (RMSE_REG, 10.5, 10, "pass", "(+0.5)"),
        (RMSE_REG, 10.6, 10, "fail", "rmse rose 0.6 from v1.3.0 (10 -> 10.6)"),
        (RMSE_REG, 2, 10, "pass", "(-8)"),
        # relative regression, both directions
        (RMSE_PCT, 10.5, 10, "pass", "(+5%)"),
        (RMSE_PCT, 10.6, 10, "fail", "rmse rose 6% from v1.3.0 (10 -> 10.6); at most 5% allowed"),
        (ACC_PCT, 0.855, 0.9, "pass", "(-5%)"),
        (ACC_PCT, 0.85, 0.9, "fail", "accuracy dropped 5.56%"),
        (MARGIN_PCT, -1.1, -1, "pass", "(-10%)"),
        (MARGIN_PCT, -1.2, -1, "fail", "margin dropped 20%"),
        (RMSE_PCT, 0.1, 0, "fail", "rmse rose 0.1 from v1.3.0"),
        # an explicit direction overrides the one the name suggests
        (SCORE_LOWER, 12, 10, "fail", "score rose 2"),
        (SCORE_LOWER, 5, 10, "pass", "(-5)"),
        (ERR_HIGHER, 0.1, 0.2, "fail", "error_rate dropped 0.1"),
        # nothing to compare with: the regression rule does not apply
        (F1_REG, 0.1, None, "skip", "no version in production yet"),
        (F1_REG, 0.1, NO_METRIC, "skip", "v1.3.0 has no f1 to compare with"),
        (F1_REG, 0.1, NAN, "skip", "v1.3.0 has f1 nan, nothing to compare with"),
    ],
)
def test_a_metric_gate(
    gate: dict[str, Any], value: float | None, current: Any, verdict: str, detail: str
) -> None:
    metric = gate["metric"]
    values = {} if value is None else {metric: float(value)}
    cur = {} if current == NO_METRIC else None if current is None else {metric: float(current)}
    (result,) = gate_results(gate, values, cur)
    assert (result.verdict, result.metric) == (verdict, metric)
    assert detail in result.detail


def test_a_gate_with_several_bounds_gives_one_result_per_bound() -> None:
    gate = {"metric": "accuracy", "min": 0.8, "max": 0.99, "max_regression": 0.01}
    results = gate_results(gate, {"accuracy": 0.995}, {"accuracy": 0.9})
    assert [(r.kind, r.verdict) for r in results] == [
        ("min", "pass"),
        ("max", "fail"),
        ("regression", "pass"),
    ]


@pytest.mark.parametrize(
    ("gate", "current", "bound"),
    [
        ({"metric": "accuracy", "min": 0.9}, None, ">= 0.9"),
        ({"metric": "latency_ms", "max": 50}, None, "<= 50"),
        ({"metric": "f1", "max_regression": 0.01}, {"f1": 0.912}, ">= 0.902 (v1.3.0 0.912 - 0.01)"),
        ({"metric": "rmse", "max_regression": "5%"}, {"rmse": 10}, "<= 10.5 (v1.3.0 10 + 5%)"),
        ({"metric": "f1", "max_regression": 0.01}, None, "max regression 0.01 vs current"),
    ],
)
def test_a_gate_states_its_bound_in_words(gate: dict[str, Any], current: Any, bound: str) -> None:
    (result,) = gate_results(gate, {"accuracy": 1, "latency_ms": 1, "f1": 1, "rmse": 1}, current)
    assert result.bound == bound


@pytest.mark.parametrize(
    ("requires", "metrics", "verdicts"),
    [
        (["accuracy"], {"accuracy": 0.9}, ["pass"]),
        (["accuracy", "f1"], {"accuracy": 0.9}, ["pass", "fail"]),
        (["accuracy"], {"accuracy": NAN}, ["fail"]),
    ],
)
def test_required_metrics_must_be_present_and_finite(
    requires: list[str], metrics: dict[str, float], verdicts: list[str]
) -> None:
    report = evaluate(
        policy(signature="any", requires=requires), context(record("v1.4.0", metrics))
    )
    assert [r.verdict for r in report.results] == verdicts
    assert all(r.kind == "required" for r in report.results)


@pytest.mark.parametrize(
    ("serving", "verdict", "detail"),
    [
        ("v1.4.0", "pass", "v1.4.0 serves in staging"),
        ("v1.3.0", "fail", "v1.4.0 must serve in staging first (staging serves v1.3.0)"),
        (None, "fail", "v1.4.0 must serve in staging first (nothing serves in staging)"),
    ],
)
def test_stage_order_needs_the_candidate_serving_in_the_from_stage(
    serving: str | None, verdict: str, detail: str
) -> None:
    ctx = context(record("v1.4.0", {}), serving=serving)
    (result,) = evaluate(policy(**{"from": "staging", "signature": "any"}), ctx).results
    assert (result.kind, result.verdict) == ("stage_order", verdict)
    assert result.detail.startswith(detail)
    assert result.observed == f"staging: {serving or 'none'}"


@pytest.mark.parametrize(
    ("served", "serving", "verdict", "detail"),
    [
        (timedelta(hours=25), "v1.4.0", "pass", "has served in staging for 25h, since"),
        (timedelta(hours=24), "v1.4.0", "pass", "for 24h"),
        (timedelta(hours=23), "v1.4.0", "fail", "for 23h; 1h to go, eligible at 2026-11-21 13:00"),
        (timedelta(minutes=-5), "v1.4.0", "fail", "24h 5m to go"),
        (None, "v1.4.0", "fail", "unknown since when v1.4.0 serves in staging"),
        (timedelta(hours=48), "v1.3.0", "fail", "v1.4.0 does not serve in staging"),
    ],
)
def test_soak_needs_enough_time_in_the_from_stage(
    served: timedelta | None, serving: str, verdict: str, detail: str
) -> None:
    since = NOW - served if served is not None else None
    ctx = context(record("v1.4.0", {}), serving=serving, since=since)
    results = evaluate(
        policy(**{"from": "staging", "soak": "24h", "signature": "any"}), ctx
    ).results
    soak = results[1]
    assert (soak.kind, soak.verdict, soak.bound) == ("soak", verdict, ">= 24h in staging")
    assert detail in soak.detail


@pytest.mark.parametrize(
    ("candidate", "current", "verdict", "detail"),
    [
        (INPUTS, INPUTS, "pass", "same inputs"),
        ((*INPUTS, ("region", "category")), INPUTS, "pass", "adds input region"),
        ((("plan", "category"), ("tenure", "float")), INPUTS, "pass", "same inputs"),
        ((("tenure", "float"),), INPUTS, "fail", "drops input plan"),
        ((("tenure", "int"), INPUTS[1]), INPUTS, "fail", "retypes input tenure float -> int"),
        ((("tenure", "int"),), INPUTS, "fail", "drops input plan; retypes input tenure float"),
        (INPUTS, None, "skip", "v1.3.0 records no signature"),
        (None, INPUTS, "skip", "v1.4.0 records no signature"),
    ],
)
def test_a_strict_signature_forbids_dropped_or_retyped_inputs(
    candidate: Any, current: Any, verdict: str, detail: str
) -> None:
    ctx = context(record("v1.4.0", {}, candidate), record("v1.3.0", {}, current))
    (result,) = evaluate(policy(), ctx).results
    assert (result.kind, result.verdict) == ("signature", verdict)
    assert result.detail.startswith(detail)


def test_the_signature_rule_skips_when_no_version_serves_yet() -> None:
    (result,) = evaluate(policy(), context(record("v1.4.0", {}))).results
    assert (result.verdict, result.detail) == ("skip", "no version in production yet")


def test_signature_any_turns_the_rule_off() -> None:
    ctx = context(record("v1.4.0", {}, ()), record("v1.3.0", {}))
    assert evaluate(policy(signature="any"), ctx).results == ()


def test_an_unknown_stage_is_a_usage_error_naming_the_known_ones() -> None:
    ctx = GateContext("prod", record("v1.4.0", {}), None, None, None, NOW)
    with pytest.raises(UsageError, match=r"known: staging, production"):
        evaluate(policy(), ctx)


FULL_STAGE: dict[str, Any] = {
    "from": "staging",
    "soak": "24h",
    "reviews": 1,
    "requires": ["accuracy"],
    "gates": [
        {"metric": "accuracy", "min": 0.9},
        {"metric": "f1", "max_regression": 0.01},
        {"metric": "rmse", "max_regression": "5%"},
    ],
}


def full_report(f1: float) -> GateReport:
    cand = record("v1.4.0", {"accuracy": 0.93, "f1": f1, "rmse": 10})
    cur = record("v1.3.0", {"accuracy": 0.91, "f1": 0.874, "rmse": 10})
    ctx = context(cand, cur, serving="v1.4.0", since=NOW - timedelta(hours=30))
    return evaluate(policy(**FULL_STAGE), ctx)


def test_a_report_lists_rules_in_order_and_passes_when_none_fails() -> None:
    report = full_report(0.88)
    kinds = [r.kind for r in report.results]
    assert kinds == [
        "stage_order",
        "soak",
        "required",
        "min",
        "regression",
        "regression",
        "signature",
    ]
    assert report.passed and report.failures == ()
    assert (report.model, report.version, report.stage, report.current) == (
        "churn",
        "v1.4.0",
        "production",
        "v1.3.0",
    )


def test_a_report_fails_when_one_rule_fails() -> None:
    report = full_report(0.5)
    assert not report.passed
    assert [(r.kind, r.metric) for r in report.failures] == [("regression", "f1")]


def test_a_skipped_rule_does_not_fail_the_report() -> None:
    cand = record("v1.4.0", {"accuracy": 0.93, "f1": 0.8, "rmse": 3})
    ctx = context(cand, None, serving="v1.4.0", since=NOW - timedelta(days=2))
    report = evaluate(policy(**FULL_STAGE), ctx)
    assert report.passed
    assert [r.verdict for r in report.results].count("skip") == 3


def test_the_markdown_render_has_a_verdict_heading_and_a_table() -> None:
    text = render(full_report(0.5), "markdown")
    lines = text.splitlines()
    assert lines[0] == "### ❌ Gates: churn v1.4.0 → production: 1 of 7 rules failed"
    assert "Compared with v1.3.0, now serving in production, both on holdout-2026-11." in text
    assert "Needs 1 approving review" in text
    assert "| rule | observed | bound | verdict |" in lines
    assert "| f1 regression | 0.5 | ≥ 0.864 (v1.3.0 0.874 - 0.01) | ❌ fail |" in lines
    assert "| accuracy min | 0.93 | ≥ 0.9 | ✅ pass |" in lines
    assert "- ❌ **f1 regression**: f1 dropped 0.374 from v1.3.0 (0.874 → 0.5)" in text
    assert render(full_report(0.88), "markdown").startswith(
        "### ✅ Gates: churn v1.4.0 → production"
    )


def test_the_text_render_has_one_line_per_rule() -> None:
    text = render(full_report(0.5), "text")
    lines = text.splitlines()
    assert lines[0] == "FAILED  churn v1.4.0 -> production: 1 of 7 rules failed"
    assert len(lines) == 2 + 7
    assert any(line.split()[:3] == ["FAIL", "f1", "regression"] for line in lines)


def test_the_json_render_is_strict_json_even_for_nan() -> None:
    report = evaluate(
        policy(gates=[{"metric": "f1", "min": 0.5}]), context(record("v1", {"f1": NAN}))
    )
    data = json.loads(render(report, "json"))
    assert data["passed"] is False
    assert data["rules"][0] == {
        "kind": "min",
        "metric": "f1",
        "observed": None,
        "bound": ">= 0.5",
        "verdict": "fail",
        "detail": "metric f1 is nan in version record, not a finite number",
    }


def test_an_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown format 'html'"):
        render(full_report(0.88), "html")


def test_a_markdown_cell_cannot_break_the_table() -> None:
    result = RuleResult("min", "a", "x|y<script>", "<= 1", "pass", "")
    report = GateReport("m", "v1", "s", None, (result,))
    assert "| a min | x\\|y&lt;script> | ≤ 1 | ✅ pass |" in render(report, "markdown")


# --- No policy can make the engine run code -------------------------------------------

SCHEMA = Draft202012Validator(
    json.loads((resources.files("modelreg") / "schemas" / "policy.schema.json").read_text("utf-8"))
)
EVIL = [
    "__import__('os').system('touch /tmp/pwned')",
    "lambda: __import__('os')",
    "eval('1+1')",
    "exec('x=1')",
    "os.system",
    "open('/etc/passwd').read()",
    "${{ github.token }}",
    "{{ 7*7 }}",
    "1; rm -rf /",
    "__class__.__mro__",
    "0.9 if True else 0",
    "5%",
    "1e309",
    "eval",
    "subprocess.Popen",
    "sys.exit",
]
NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]*\Z")
plain_names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z")
names = st.one_of(plain_names, plain_names, st.sampled_from(EVIL), st.text(max_size=24))
numbers = st.one_of(st.floats(), st.integers(-(10**6), 10**6))
bounds = st.one_of(
    numbers,
    numbers,
    numbers,
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,2})?%\Z"),
    st.sampled_from([*EVIL, "higher", "lower"]),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)
gates = st.tuples(
    names,
    st.dictionaries(
        st.sampled_from(["min", "max", "max_regression", "direction"]), bounds, max_size=2
    ),
    st.sampled_from(["min", "max", "max_regression"]),
    st.one_of(st.floats(), st.integers(0, 10), st.sampled_from(["5%", "0.5%"])),
).map(lambda t: {"metric": t[0], **t[1], t[2]: t[1].get(t[2], t[3])})


class Forbidden(AssertionError):
    """Raised by the sentinels that stand in for every way to run code."""


@contextmanager
def nothing_may_run_code() -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise Forbidden(f"called with {args!r}")

    with (
        mock.patch.object(builtins, "eval", refuse),
        mock.patch.object(builtins, "exec", refuse),
        mock.patch.object(builtins, "compile", refuse),
        mock.patch.object(builtins, "__import__", refuse),
        mock.patch.object(os, "system", refuse),
        mock.patch.object(subprocess, "Popen", refuse),
    ):
        yield


def test_the_sentinel_catches_eval() -> None:
    with nothing_may_run_code(), pytest.raises(Forbidden):
        eval("1")


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    gate=gates,
    requires=st.lists(names.filter(NAME.match), max_size=2),
    candidate=st.one_of(st.none(), st.floats(), st.integers(-100, 100)),
    current=st.one_of(st.none(), st.floats(), st.integers(-100, 100)),
)
def test_no_policy_makes_the_engines_run_code(
    gate: dict[str, Any], requires: list[str], candidate: float | None, current: float | None
) -> None:
    production = {
        "name": "production",
        "from": "staging",
        "requires": requires,
        "gates": [gate],
        "rollout": {
            "strategy": "canary",
            "steps": [{"weight": 10}, {"weight": 50}],
            "analysis": [{**gate, "failure_limit": 1}],
        },
    }
    data = {"stages": [{"name": "staging"}, production]}
    if not SCHEMA.is_valid(data):
        return  # the schema refuses it before any engine sees it
    metric = gate["metric"]
    cand = {} if candidate is None else {metric: float(candidate)}
    cur = {} if current is None else {metric: float(current)}
    with nothing_may_run_code():
        try:
            pol = parse_policy("fuzz", data)
        except ValidationError:
            return  # e.g. min above max or a non-finite bound: refused as data
        ctx = context(record("v1.4.0", cand), record("v1.3.0", cur), serving="v1.4.0")
        report = evaluate(pol, ctx)
        state = Rollout(candidate="v1.4.0", weight=10)
        decision = decide(pol.stage("production").rollout, state, cand, cur, NOW, NOW)
        rendered = [render(report, f) for f in FORMATS] + [
            render_rollout(decision, f) for f in FORMATS
        ]
    # The strings are only ever names: the gate's metric comes back verbatim, as data.
    assert metric in {r.metric for r in report.results}
    assert metric in {c.metric for c in decision.checks}
    assert decision.action in {"advance", "wait", "rollback"}
    assert all(isinstance(text, str) for text in rendered)


@given(metric=st.sampled_from(EVIL))
def test_the_schema_refuses_code_as_a_bound(metric: str) -> None:
    gate = {"metric": "accuracy", "min": metric}
    assert not SCHEMA.is_valid({"stages": [{"name": "production", "gates": [gate]}]})


@given(
    value=st.floats(allow_nan=False, allow_infinity=False),
    low=st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_min_gate_passes_exactly_when_the_value_reaches_the_bound(
    value: float, low: float
) -> None:
    (result,) = gate_results({"metric": "m", "min": low}, {"m": value}, None)
    close = math.isclose(value, low, rel_tol=1e-9, abs_tol=1e-12)
    assert (result.verdict == "pass") == (value >= low or close)


@given(
    base=st.floats(-1e6, 1e6),
    value=st.floats(-1e6, 1e6),
    allowed=st.floats(0, 1e3),
    lower=st.booleans(),
)
def test_a_regression_gate_never_passes_a_worse_value_beyond_the_allowance(
    base: float, value: float, allowed: float, lower: bool
) -> None:
    gate = {"metric": "m", "max_regression": allowed, "direction": "lower" if lower else "higher"}
    (result,) = gate_results(gate, {"m": value}, {"m": base})
    worse_by = value - base if lower else base - value
    if result.verdict == "pass":
        assert worse_by <= allowed or math.isclose(worse_by, allowed, rel_tol=1e-6, abs_tol=1e-6)
    else:
        assert worse_by > allowed - 1e-6


@pytest.mark.parametrize("name", ["os.system", "eval", "sys.exit", "subprocess.Popen", "exec"])
def test_a_metric_named_like_code_is_only_a_key(name: str) -> None:
    pol = policy(signature="any", gates=[{"metric": name, "min": 1}])
    with nothing_may_run_code():
        (result,) = evaluate(pol, context(record("v1.4.0", {name: 2.0}))).results
    assert (result.metric, result.observed, result.verdict) == (name, 2.0, "pass")
