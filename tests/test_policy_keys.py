"""Every key of the policy schema does what docs/policies.md and docs/drift.md say.

The keys are collected by walking the shipped policy.schema.json, so a key added to the
schema without an entry in CHECKS fails CI with a message naming it. Each check builds a
small policy with and without the key and asserts that the behaviour differs as documented,
at the pure-engine level (gates, rollout, drift compare, concept drift, retrain decision).
Keys read only by a command point at the command-level test that proves them (`Covered`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelreg.monitoring.compare import compare
from modelreg.monitoring.concept import concept_drift
from modelreg.monitoring.profile import Profile, build_profile
from modelreg.monitoring.report import DriftReport
from modelreg.promotion.gates import GateContext, GateReport, evaluate, render
from modelreg.promotion.online import Counts, Evidence
from modelreg.promotion.rollout import RolloutDecision, decide
from modelreg.registry.drift_rules import DriftRules
from modelreg.registry.policy import Policy, parse_policy
from modelreg.registry.records import (
    Artifact,
    Comparison,
    Feature,
    Rollout,
    Signature,
    VersionRecord,
)
from modelreg.registry.schemas import schema, validator
from modelreg.training.retrain import _beats

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
TESTS = Path(__file__).parent


# --------------------------------------------------------------------------- the schema walk


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), ref
        node = root["$defs"][ref.removeprefix("#/$defs/")]
    return node


def _walk(node: Mapping[str, Any], root: Mapping[str, Any], prefix: str) -> Iterator[str]:
    node = _resolve(node, root)
    for branch in (*node.get("oneOf", ()), *node.get("anyOf", ())):
        yield from _walk(branch, root, prefix)
    if "items" in node and isinstance(node["items"], Mapping):
        yield from _walk(node["items"], root, prefix + "[]")
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield f"{prefix}.<column>"
        yield from _walk(extra, root, f"{prefix}.<column>")
    for key, child in (node.get("properties") or {}).items():
        if child is False:  # `else: {steps: false}` forbids a key, it adds none
            continue
        path = f"{prefix}.{key}" if prefix else key
        yield path
        yield from _walk(child, root, path)


def schema_paths() -> set[str]:
    """Every property path of the policy schema, e.g. `stages[].rollout.steps[].pause`."""
    root = schema("policy")
    return set(_walk(root, root, ""))


# --------------------------------------------------------------------------- small builders


def record(version: str, metrics: Mapping[str, float], inputs: str = "tenure plan") -> Any:
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
        signature=Signature(tuple(Feature(n, "float") for n in inputs.split())),
    )


def policy(stage: Mapping[str, Any] | None = None, **top: Any) -> Policy:
    """A two-stage policy whose production stage is `stage`; checked by the schema first."""
    data = {"stages": [{"name": "staging"}, {"name": "production", **(stage or {})}], **top}
    problems = [e.message for e in validator("policy").iter_errors(data)]
    assert not problems, problems
    return parse_policy("default", data)


def gate(
    stage: Mapping[str, Any] | None = None,
    *,
    cand: Mapping[str, float] | None = None,
    cur: Mapping[str, float] | None = None,
    inputs: str = "tenure plan",
    serving: str | None = "v2",
    since: timedelta = timedelta(hours=1),
) -> GateReport:
    """Candidate v2 for production, against v1 now serving there (when `cur` is given)."""
    candidate = record("v2", cand if cand is not None else {"f1": 0.8}, inputs)
    current = record("v1", cur) if cur is not None else None
    ctx = GateContext("production", candidate, current, serving, NOW - since, NOW)
    return evaluate(policy(stage), ctx)


def verdicts(report: GateReport) -> list[str]:
    return [f"{r.label}: {r.verdict}" for r in report.results]


CANARY = {"strategy": "canary", "steps": [{"weight": 10}, {"weight": 50}, {"weight": 100}]}


def rollout(
    changes: Mapping[str, Any] | None = None,
    *,
    online: Mapping[str, float] | None = None,
    stable: Mapping[str, float] | None = None,
    failures: int = 0,
    entered: timedelta = timedelta(minutes=10),
    evidence: Evidence | None = None,
) -> RolloutDecision:
    """The next move of a canary at step 1 (10%) of production."""
    stage = policy({"from": "staging", "rollout": {**CANARY, **(changes or {})}}).stage(
        "production"
    )
    state = Rollout("v2", 10, 0, None, failures)
    return decide(stage.rollout, state, online or {}, stable, NOW, NOW - entered, evidence)


def served(requests: int, errors: int, stable_errors: int) -> Evidence:
    """Both versions served `requests`; the canary failed `errors`, stable `stable_errors`."""
    return Evidence(Counts(requests, errors), Counts(requests, stable_errors), 600)


def errors_online(ev: Evidence) -> dict[str, Any]:
    """The online figures and counts of `ev`, as `rollout` takes them."""
    return {"online": ev.candidate.values(), "stable": ev.stable.values(), "evidence": ev}


@cache
def _reference() -> tuple[Profile, pd.DataFrame]:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "x": rng.normal(0, 1, 2000),
            "y": rng.normal(0, 1, 2000),
            "plan": rng.choice(["a", "b", "c"], 2000, p=[0.5, 0.3, 0.2]),
        }
    )
    return build_profile(frame), frame


def current(
    *, shift: float = 0.0, plan: tuple[float, float, float] = (0.5, 0.3, 0.2), rows: int = 500
) -> pd.DataFrame:
    """A current window of the reference's columns; x shifted by `shift` reference stds."""
    rng = np.random.default_rng(12)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, rows),
            "y": rng.normal(0, 1, rows),
            "plan": rng.choice(["a", "b", "c"], rows, p=list(plan)),
        }
    )


def drift(frame: pd.DataFrame, **rules: Any) -> DriftReport:
    rules_ok = policy(drift=rules).drift if rules else DriftRules()
    return compare(_reference()[0], frame, rules_ok)


def column(report: DriftReport, name: str) -> Any:
    return next(c for c in report.columns if c.name == name)


# --------------------------------------------------------------------------- stage keys


def check_stages() -> None:
    # Stages are in promotion order: a retrain serves first in stages[0], `from` must be earlier.
    assert policy().stage_names == ("staging", "production")
    with pytest.raises(Exception, match="not an earlier stage"):
        parse_policy("p", {"stages": [{"name": "a", "from": "b"}, {"name": "b"}]})


def check_stage_name() -> None:
    assert gate().stage == "production"
    with pytest.raises(Exception, match="not in policy"):
        policy().stage("prod")


def check_from() -> None:
    assert "stage order: fail" in verdicts(gate({"from": "staging"}, serving="v1"))
    assert "stage order: pass" in verdicts(gate({"from": "staging"}, serving="v2"))
    assert not any(v.startswith("stage order") for v in verdicts(gate(serving="v1")))


def check_soak() -> None:
    soaked = {"from": "staging", "soak": "24h"}
    assert "soak: fail" in verdicts(gate(soaked, since=timedelta(hours=20)))
    assert "soak: pass" in verdicts(gate(soaked, since=timedelta(hours=25)))
    assert not any("soak" in v for v in verdicts(gate({"from": "staging"})))


def check_signature() -> None:
    def dropped(stage: Mapping[str, Any] | None = None) -> list[str]:
        return verdicts(gate(stage, inputs="tenure", cur={"f1": 0.8}))

    assert "signature: fail" in dropped()
    assert "signature: fail" in dropped({"signature": "strict"})
    assert not any("fail" in v for v in dropped({"signature": "any"}))


def check_compare() -> None:
    # recorded: registered metrics on different datasets are not comparable; a recorded
    # paired evaluation against the current version is. paired: the runner's evaluation.
    rule = {"gates": [{"metric": "f1", "max_regression": 0.01}]}
    cand = replace(record("v2", {"f1": 0.947}), dataset="holdout-b")
    cur = replace(record("v1", {"f1": 1.0}), dataset="holdout-a")
    paired = Comparison("v1", "out/test.csv", "0" * 32, {"f1": 0.947}, {"f1": 0.815})

    def run(stage: Mapping[str, Any], c: VersionRecord, run: Comparison | None = None) -> Any:
        ctx = GateContext("production", c, cur, "v2", NOW, NOW, run)
        return evaluate(policy(stage), ctx)

    for stage in (rule, {**rule, "compare": "recorded"}):
        (failed,) = run(stage, cand).failures
        assert "not comparable" in failed.detail and "compare: paired" in failed.detail
        assert run(stage, replace(cand, comparisons=(paired,))).passed
    assert not run(rule, cand, paired).passed  # recorded mode ignores a runner's evaluation
    assert run({**rule, "compare": "paired"}, cand, paired).passed
    assert "not comparable" in run({**rule, "compare": "paired"}, cand).failures[0].detail


def check_reviews() -> None:
    assert "Needs 1 approving review" in render(gate({"reviews": 1}), "markdown")
    assert "approving review" not in render(gate(), "markdown")


def check_requires() -> None:
    assert "f1 present: pass" in verdicts(gate({"requires": ["f1"]}))
    assert "auc present: fail" in verdicts(gate({"requires": ["auc"]}))
    assert gate().passed


def check_gates() -> None:
    assert not gate({"gates": [{"metric": "f1", "min": 0.9}]}).passed
    assert gate({"gates": []}).passed and gate().passed


def check_gate_metric() -> None:
    assert not gate({"gates": [{"metric": "f1", "min": 0.9}]}).passed
    assert "auc min: fail" in verdicts(gate({"gates": [{"metric": "auc", "min": 0.0}]}))


def check_gate_min() -> None:
    assert "f1 min: fail" in verdicts(gate({"gates": [{"metric": "f1", "min": 0.81}]}))
    assert "f1 min: pass" in verdicts(gate({"gates": [{"metric": "f1", "min": 0.8}]}))


def check_gate_max() -> None:
    assert "f1 max: fail" in verdicts(gate({"gates": [{"metric": "f1", "max": 0.79}]}))
    assert "f1 max: pass" in verdicts(gate({"gates": [{"metric": "f1", "max": 0.8}]}))


def check_gate_max_regression() -> None:
    rule = {"gates": [{"metric": "f1", "max_regression": 0.01}]}
    assert "f1 regression: fail" in verdicts(gate(rule, cur={"f1": 0.82}))
    assert "f1 regression: pass" in verdicts(gate(rule, cur={"f1": 0.805}))
    relative = {"gates": [{"metric": "f1", "max_regression": "5%"}]}
    assert "f1 regression: pass" in verdicts(gate(relative, cur={"f1": 0.84}))
    assert "f1 regression: fail" in verdicts(gate(relative, cur={"f1": 0.85}))


def check_gate_direction() -> None:
    rule: dict[str, Any] = {"metric": "score", "max_regression": 0}
    worse_if_higher = gate({"gates": [rule]}, cand={"score": 2}, cur={"score": 1})
    assert "score regression: pass" in verdicts(worse_if_higher)
    lower = gate({"gates": [{**rule, "direction": "lower"}]}, cand={"score": 2}, cur={"score": 1})
    assert "score regression: fail" in verdicts(lower)


def check_rollout() -> None:
    assert rollout().action == "advance"
    stage = policy({"from": "staging"}).stage("production")
    assert stage.rollout.strategy == "direct"
    direct = decide(stage.rollout, Rollout("v2", 10), {}, None, NOW, NOW)
    assert (direct.action, direct.weight) == ("complete", 100)


def check_strategy() -> None:
    stage = policy({"rollout": {"strategy": "direct"}}).stage("production")
    assert decide(stage.rollout, Rollout("v2", 10), {}, None, NOW, NOW).action == "complete"
    assert rollout({"strategy": "canary"}).action == "advance"


def check_steps() -> None:
    assert (rollout().action, rollout().weight) == ("advance", 50)
    steps = {"steps": [{"weight": 10}, {"weight": 30}, {"weight": 60}]}
    assert rollout(steps).weight == 30


def check_step_weight() -> None:
    assert rollout({"steps": [{"weight": 10}, {"weight": 25}, {"weight": 100}]}).weight == 25


def check_step_pause() -> None:
    paused = {"steps": [{"weight": 10, "pause": "1h"}, {"weight": 50}, {"weight": 100}]}
    assert rollout(paused, entered=timedelta(minutes=10)).action == "wait"
    assert rollout(paused, entered=timedelta(hours=2)).action == "advance"
    assert rollout(entered=timedelta(minutes=10)).action == "advance"


def _analysis(check: Mapping[str, Any], **kw: Any) -> RolloutDecision:
    return rollout({"analysis": [check]}, **kw)


def check_analysis() -> None:
    assert _analysis({"metric": "error_rate", "max": 0.02}, online={"error_rate": 0.1}).action == (
        "rollback"
    )
    assert rollout(online={"error_rate": 0.1}).action == "advance"


def check_analysis_metric() -> None:
    assert _analysis({"metric": "error_rate", "max": 0.02}, online={"error_rate": 0.01}).action == (
        "advance"
    )
    assert _analysis({"metric": "other", "max": 0.02}, online={"error_rate": 0.01}).action == (
        "rollback"
    )


def check_analysis_min() -> None:
    online = {"acc": 0.8}
    assert _analysis({"metric": "acc", "min": 0.9}, online=online).action == "rollback"
    assert _analysis({"metric": "acc", "min": 0.7}, online=online).action == "advance"


def check_analysis_max() -> None:
    online = {"acc": 0.8}
    assert _analysis({"metric": "acc", "max": 0.7}, online=online).action == "rollback"
    assert _analysis({"metric": "acc", "max": 0.9}, online=online).action == "advance"


def check_analysis_max_regression() -> None:
    check = {"metric": "acc", "max_regression": 0.02}
    assert _analysis(check, online={"acc": 0.8}, stable={"acc": 0.9}).action == "rollback"
    assert _analysis(check, online={"acc": 0.89}, stable={"acc": 0.9}).action == "advance"


def check_analysis_direction() -> None:
    check: dict[str, Any] = {"metric": "score", "max_regression": 0}
    online, stable = {"score": 2.0}, {"score": 1.0}
    assert _analysis(check, online=online, stable=stable).action == "advance"
    lower = {**check, "direction": "lower"}
    assert _analysis(lower, online=online, stable=stable).action == "rollback"


def check_failure_limit() -> None:
    check: dict[str, Any] = {"metric": "acc", "min": 0.9}
    assert _analysis(check, online={"acc": 0.8}).action == "rollback"
    tolerant = {**check, "failure_limit": 2}
    assert _analysis(tolerant, online={"acc": 0.8}, failures=1).action == "wait"
    assert _analysis(tolerant, online={"acc": 0.8}, failures=2).action == "rollback"


def check_min_requests() -> None:
    checks = {"analysis": [{"metric": "error_rate", "max": 0.02}]}
    few = served(150, 0, 0)
    waiting = rollout(checks, **errors_online(few))
    assert waiting.action == "wait" and "canary 150, stable 150 of the 200" in waiting.reason
    assert rollout({**checks, "min_requests": 100}, **errors_online(few)).action == "advance"
    # too few requests is not a failure either: nothing is counted
    bad = served(150, 30, 0)
    assert rollout(checks, **errors_online(bad)).failures == 0
    assert rollout(checks, **errors_online(served(250, 30, 0))).action == "rollback"


def check_rollout_alpha() -> None:
    regress = {"analysis": [{"metric": "error_rate", "max_regression": 0.01}]}
    # 3 % errors against 1 %, on 300 requests each: past the bound, p ≈ 0.04
    ev = served(300, 9, 3)
    assert rollout(regress, **errors_online(ev)).action == "rollback"
    strict = rollout({**regress, "alpha": 0.01}, **errors_online(ev))
    assert strict.action == "advance" and "not significant" in strict.checks[0].detail
    # without counts (a plain metrics file) the bound alone decides
    plain = {"online": ev.candidate.values(), "stable": ev.stable.values()}
    assert rollout({**regress, "alpha": 0.01}, **plain).action == "rollback"


def check_on_failure() -> None:
    failing = {"analysis": [{"metric": "acc", "min": 0.9}]}
    assert rollout(failing, online={"acc": 0.8}).action == "rollback"
    held = rollout({**failing, "on_failure": "hold"}, online={"acc": 0.8})
    assert (held.action, held.weight) == ("hold", 10)


# --------------------------------------------------------------------------- drift keys


def check_drift() -> None:
    shifted = current(shift=0.5)
    assert drift(shifted).verdict != "ok"
    assert drift(shifted, numeric={"threshold": 5.0}).verdict == "ok"


def check_drift_schedule() -> None:
    # A workflow cannot read the policy: the installed drift workflow's cron is the default
    # schedule, and docs/workflows.md says to change both together.
    text = resources.files("modelreg").joinpath("templates/workflows/modelreg-drift.yml")
    cron = re.search(r'cron: "([^"]+)"', text.read_text())
    assert cron is not None and cron.group(1) == DriftRules().schedule == "0 6 * * *"
    assert policy(drift={"schedule": "0 3 * * 1"}).drift.schedule == "0 3 * * 1"
    docs = (TESTS.parent / "docs/workflows.md").read_text()
    assert "change `drift.schedule` in `policies/*.yaml`, change the cron in" in docs


def check_numeric() -> None:
    assert column(drift(current()), "x").method == "wasserstein"
    assert column(drift(current(), numeric={"method": "ks"}), "x").method == "ks"


def check_numeric_method() -> None:
    report = drift(current(), numeric={"method": "psi"})
    assert column(report, "x").method == "psi" and column(report, "x").threshold == 0.2


def check_numeric_threshold() -> None:
    shifted = current(shift=0.5)
    assert column(drift(shifted), "x").drifted
    assert not column(drift(shifted, numeric={"threshold": 1.0}), "x").drifted


def check_categorical() -> None:
    assert column(drift(current()), "plan").method == "jensenshannon"
    assert column(drift(current(), categorical={"method": "chi2"}), "plan").method == "chi2"


def check_categorical_method() -> None:
    report = drift(current(), categorical={"method": "psi"})
    assert column(report, "plan").method == "psi" and column(report, "plan").threshold == 0.2


def check_categorical_threshold() -> None:
    moved = current(plan=(0.2, 0.3, 0.5))
    assert column(drift(moved), "plan").drifted
    assert not column(drift(moved, categorical={"threshold": 0.9}), "plan").drifted


def check_alpha() -> None:
    shifted = current(shift=0.5)
    assert column(drift(shifted), "x").drifted
    assert not column(drift(shifted, alpha=1e-200), "x").drifted


def check_min_effect() -> None:
    shifted = current(shift=0.3, rows=2000)
    assert column(drift(shifted, numeric={"method": "ks"}), "x").drifted
    assert not column(drift(shifted, numeric={"method": "ks"}, min_effect=0.5), "x").drifted


def _with_missing() -> pd.DataFrame:
    frame = current()
    frame.loc[: len(frame) // 5, "y"] = np.nan  # 20% missing, none in the reference
    return frame


def check_missing_rate() -> None:
    assert column(drift(_with_missing()), "y").drifted
    assert not column(drift(_with_missing(), missing_rate={"max_increase": 0.5}), "y").drifted


def _out_of_range() -> pd.DataFrame:
    frame = current()
    frame.loc[: len(frame) // 10, "y"] = 50.0  # 10% far above the reference's max
    return frame


def check_out_of_range() -> None:
    loose: dict[str, Any] = {"numeric": {"threshold": 100.0}}
    assert column(drift(_out_of_range(), **loose), "y").drifted
    wide = drift(_out_of_range(), out_of_range={"max_share": 0.5}, **loose)
    assert not column(wide, "y").drifted


def check_min_rows() -> None:
    assert drift(current(rows=150)).verdict == "ok"
    assert drift(current(rows=150), min_rows=200).verdict == "insufficient"


def check_dataset_share() -> None:
    shifted = current(shift=0.5)  # 1 of 3 columns drifts: 33%
    assert drift(shifted).verdict == "warn"
    assert drift(shifted, dataset_share={"warn": 0.1, "critical": 0.3}).verdict == "critical"


def check_share_warn() -> None:
    # Documented: any drifted column warns; the share only says whether it reached `warn`.
    shifted = current(shift=0.5)
    assert any("at or above drift.dataset_share.warn" in r for r in drift(shifted).reasons)
    high = drift(shifted, dataset_share={"warn": 0.35})
    assert high.verdict == "warn"
    assert any("below drift.dataset_share.warn" in r for r in high.reasons)


def check_share_critical() -> None:
    assert drift(current(shift=0.5), dataset_share={"critical": 0.3}).verdict == "critical"


def check_critical_columns() -> None:
    assert drift(current(shift=0.5)).verdict == "warn"
    assert drift(current(shift=0.5), critical_columns=["x"]).verdict == "critical"


def check_columns() -> None:
    shifted = current(shift=0.5)
    override = drift(shifted, columns={"x": {"method": "psi", "threshold": 5.0}})
    assert column(override, "x").method == "psi" and not column(override, "x").drifted
    assert column(override, "y").method == "wasserstein"


def check_column_method() -> None:
    assert column(drift(current(), columns={"x": {"method": "ks"}}), "x").method == "ks"


def check_column_threshold() -> None:
    shifted = current(shift=0.5)
    assert not column(drift(shifted, columns={"x": {"threshold": 5.0}}), "x").drifted


def _concept(**concept: Any) -> Any:
    truth = [1] * 100 + [0] * 100
    pred = [1] * 100 + [1] * 30 + [0] * 70  # accuracy 0.85, f1 ~0.87
    rules = policy(drift={"concept": concept}).drift if concept else DriftRules()
    return concept_drift(truth, pred, "classification", {"accuracy": 0.9, "f1": 0.95}, rules)


def check_concept() -> None:
    assert _concept().metric == "accuracy"
    assert _concept(metric="f1").metric == "f1"


def check_concept_metric() -> None:
    assert _concept(metric="f1").registered == 0.95
    assert _concept(metric=None).metric == "accuracy"


def check_concept_max_drop() -> None:
    assert _concept().severity == "critical"
    assert _concept(max_drop=0.1).severity == "ok"


# --------------------------------------------------------------------------- retrain keys


def _retrain(**retrain: Any) -> Policy:
    return policy(retrain=retrain)


def check_retrain() -> None:
    given = _retrain(triggers=["drift"], must_beat_current=False).retrain
    assert given.triggers == ("drift",) and not given.must_beat_current
    assert policy().retrain.triggers == () and policy().retrain.must_beat_current


def check_retrain_schedule() -> None:
    # Required with the schedule trigger; no workflow runs it (docs/policies.md says so).
    data = {"stages": [{"name": "s"}], "retrain": {"triggers": ["schedule"]}}
    problems = [e.message for e in validator("policy").iter_errors(data)]
    assert any("'schedule' is a required property" in p for p in problems), problems
    assert _retrain(triggers=["schedule"], schedule="0 3 * * 1").retrain.schedule == "0 3 * * 1"
    docs = (TESTS.parent / "docs/policies.md").read_text()
    assert "modelreg retrain MODEL --trigger schedule" in docs


def check_window() -> None:
    assert _retrain().retrain.window_days is None
    assert _retrain(window="all").retrain.window_days is None
    assert _retrain(window={"last": "90d"}).retrain.window_days == 90


def check_window_last() -> None:
    assert _retrain(window={"last": "12h"}).retrain.window_days == 1  # never "all data"
    assert _retrain(window={"last": "36h"}).retrain.window_days == 2
    with pytest.raises(Exception, match="longer than 366 days"):
        _retrain(window={"last": "400d"})


def check_must_beat_current() -> None:
    cand, cur = record("v2", {"f1": 0.8}), record("v1", {"f1": 0.9})
    assert _retrain().retrain.must_beat_current
    assert _beats("f1", cand, cur, None, True) is not None
    assert not _retrain(must_beat_current=False).retrain.must_beat_current
    assert _beats("f1", cand, cur, None, False) is None


def check_retrain_metric() -> None:
    headline = ["accuracy"]
    assert _retrain().retrain.comparison_metric(headline) == "accuracy"
    chosen = _retrain(metric="f1").retrain.comparison_metric(headline)
    cand = record("v2", {"accuracy": 0.95, "f1": 0.8})
    cur = record("v1", {"accuracy": 0.9, "f1": 0.9})
    assert _beats("accuracy", cand, cur, None, True) is None
    assert chosen == "f1" and _beats(chosen, cand, cur, None, True) is not None


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Covered:
    """A key read by a command: proven by this command-level test (file::function)."""

    test: str


Check = Callable[[], None] | Covered

CHECKS: dict[str, Check] = {
    "stages": check_stages,
    "stages[].name": check_stage_name,
    "stages[].from": check_from,
    "stages[].soak": check_soak,
    "stages[].signature": check_signature,
    "stages[].compare": check_compare,
    "stages[].reviews": check_reviews,
    "stages[].requires": check_requires,
    "stages[].gates": check_gates,
    "stages[].gates[].metric": check_gate_metric,
    "stages[].gates[].min": check_gate_min,
    "stages[].gates[].max": check_gate_max,
    "stages[].gates[].max_regression": check_gate_max_regression,
    "stages[].gates[].direction": check_gate_direction,
    "stages[].rollout": check_rollout,
    "stages[].rollout.strategy": check_strategy,
    "stages[].rollout.steps": check_steps,
    "stages[].rollout.steps[].weight": check_step_weight,
    "stages[].rollout.steps[].pause": check_step_pause,
    "stages[].rollout.analysis": check_analysis,
    "stages[].rollout.analysis[].metric": check_analysis_metric,
    "stages[].rollout.analysis[].min": check_analysis_min,
    "stages[].rollout.analysis[].max": check_analysis_max,
    "stages[].rollout.analysis[].max_regression": check_analysis_max_regression,
    "stages[].rollout.analysis[].direction": check_analysis_direction,
    "stages[].rollout.analysis[].failure_limit": check_failure_limit,
    "stages[].rollout.on_failure": check_on_failure,
    "stages[].rollout.min_requests": check_min_requests,
    "stages[].rollout.alpha": check_rollout_alpha,
    "stages[].rollout.analysis[].query": Covered(
        "test_prometheus.py::test_a_user_query_is_filled_in_per_version_and_judged"
    ),
    "stages[].rollout.exporter": Covered(
        "test_prometheus.py::test_kserve_predictors_are_judged_from_the_queue_proxy_through_"
        "the_shipped_relabelling"
    ),
    "stages[].rollout.auto_advance": Covered(
        "test_canary.py::test_auto_advance_pushes_the_next_weight_without_a_pr"
    ),
    "drift": check_drift,
    "drift.schedule": check_drift_schedule,
    "drift.numeric": check_numeric,
    "drift.numeric.method": check_numeric_method,
    "drift.numeric.threshold": check_numeric_threshold,
    "drift.categorical": check_categorical,
    "drift.categorical.method": check_categorical_method,
    "drift.categorical.threshold": check_categorical_threshold,
    "drift.alpha": check_alpha,
    "drift.min_effect": check_min_effect,
    "drift.missing_rate": check_missing_rate,
    "drift.missing_rate.max_increase": check_missing_rate,
    "drift.out_of_range": check_out_of_range,
    "drift.out_of_range.max_share": check_out_of_range,
    "drift.min_rows": check_min_rows,
    "drift.dataset_share": check_dataset_share,
    "drift.dataset_share.warn": check_share_warn,
    "drift.dataset_share.critical": check_share_critical,
    "drift.critical_columns": check_critical_columns,
    "drift.columns": check_columns,
    "drift.columns.<column>": check_columns,
    "drift.columns.<column>.method": check_column_method,
    "drift.columns.<column>.threshold": check_column_threshold,
    "drift.concept": check_concept,
    "drift.concept.metric": check_concept_metric,
    "drift.concept.max_drop": check_concept_max_drop,
    "drift.action": Covered(
        "test_drift_flow.py::test_drift_action_none_reports_the_verdict_and_does_nothing_else"
    ),
    "retrain": check_retrain,
    "retrain.triggers": Covered(
        "test_drift_flow.py::test_critical_drift_retrains_only_when_drift_is_a_retrain_trigger"
    ),
    "retrain.schedule": check_retrain_schedule,
    "retrain.min_new_rows": Covered(
        "test_drift_flow.py::test_the_data_volume_trigger_waits_for_enough_new_rows"
    ),
    "retrain.window": check_window,
    "retrain.window.last": check_window_last,
    "retrain.must_beat_current": check_must_beat_current,
    "retrain.metric": check_retrain_metric,
}


def table_problems(keys: set[str], table: Mapping[str, Check]) -> list[str]:
    """What CI reports when the schema and the table of checks disagree."""
    problems = []
    if missing := sorted(keys - table.keys()):
        problems.append(
            "policy.schema.json keys without a behaviour check in tests/test_policy_keys.py "
            f"CHECKS: {', '.join(missing)}"
        )
    if stale := sorted(table.keys() - keys):
        problems.append(f"CHECKS names keys the policy schema no longer has: {', '.join(stale)}")
    return problems


def test_every_policy_schema_key_has_a_behaviour_check() -> None:
    assert table_problems(schema_paths(), CHECKS) == []


def test_a_schema_key_without_a_check_is_named() -> None:
    keys = schema_paths() | {"stages[].frobnicate"}
    assert table_problems(keys, CHECKS) == [
        "policy.schema.json keys without a behaviour check in tests/test_policy_keys.py "
        "CHECKS: stages[].frobnicate"
    ]


def test_the_schema_walk_finds_nested_keys() -> None:
    keys = schema_paths()
    for key in ("stages[].rollout.steps[].pause", "drift.numeric.method", "retrain.window.last"):
        assert key in keys


def _test_exists(covered: Covered) -> bool:
    file, name = covered.test.split("::")
    tree = ast.parse((TESTS / file).read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)


@pytest.mark.parametrize("key", sorted(CHECKS))
def test_the_policy_key_does_what_the_docs_say(key: str) -> None:
    check = CHECKS[key]
    if isinstance(check, Covered):
        assert _test_exists(check), f"{key}: {check.test} does not exist"
    else:
        check()
