"""The compiled schema checks answer exactly as jsonschema does, valid or not."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from modelreg.registry.schemas import _fast_check, validator
from modelreg.registry.yamlio import parse_yaml

RECORD = """\
model: churn
version: v1.4.0
created_at: '2026-11-20T09:12:44Z'
created_by: ana@example.com
code_commit: 3f2c9e1
trigger: drift
parent: v1.3.0
message: null
artifact: {path: models/churn/artifacts/v1.4.0/model.pkl, md5: 9b1e4c0a9b1e4c0a9b1e4c0a9b1e4c0a,
           size: 48213, format: sklearn-pickle}
data: {path: data/churn/train.parquet, md5: 77aa, rows: 182000}
params: {C: 0.5, max_iter: 2000}
metrics: {dataset: holdout-2026-11, accuracy: 0.912, f1: 0.874, roc_auc: 0.951}
signature:
  inputs: [{name: tenure, type: float}, {name: plan, type: category}]
  output: {name: churn, type: int}
profile: models/churn/artifacts/v1.4.0/profile.json
lineage: {pipeline: pipelines/churn, dvc_lock_md5: null}
"""
MODEL = """\
name: churn
description: churn in 30 days
owner: [ana, '@ml-team']
task: classification
policy: default
pipeline: pipelines/churn
outputs: {model: out/model.pkl, metrics: out/metrics.json}
headline_metrics: [accuracy, f1]
deprecated: {v1.0.0: leaks labels, v1.1.0: null}
"""
STAGES = """\
staging: {version: v1.4.0}
production:
  version: v1.3.0
  rollout: {candidate: v1.4.0, weight: 20, step: 1, started_at: '2026-11-20', failures: 0}
"""
STAGE = """\
version: v1.3.0
rollout: {candidate: v1.4.0, weight: 20, step: 1, started_at: '2026-11-20', failures: 0}
"""
POLICY = """\
stages:
  - name: staging
    requires: [rmse, mae]
    gates: [{metric: rmse, max: 65}, {metric: r2, min: 0.3}]
  - name: production
    from: staging
    soak: 24h
    signature: strict
    reviews: 1
    gates: [{metric: rmse, max: 60, max_regression: 5%}]
    rollout:
      strategy: canary
      steps: [{weight: 10, pause: 1h}, {weight: 100}]
      analysis:
        - {metric: error_rate, max: 0.02}
        - {metric: latency_p95_ms, max_regression: 10%, failure_limit: 1}
      on_failure: rollback
      auto_advance: false
drift:
  schedule: "0 6 * * *"
  numeric: {method: psi, threshold: 0.2}
  categorical: {method: jensenshannon, threshold: 0.1}
  columns: {age: {method: ks, threshold: 0.05}}
  dataset_share: {warn: 0.2, critical: 0.4}
  concept: {metric: null, max_drop: 5}
  action: retrain_pr
retrain:
  triggers: [drift, schedule, data-volume]
  schedule: "0 3 * * 1"
  min_new_rows: 200
  window: {last: 90d}
  must_beat_current: true
  metric: rmse
"""
EXAMPLES = {
    "version": RECORD,
    "model": MODEL,
    "stage": STAGE,
    "stages": STAGES,
    "policy": POLICY,
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "v1.2.0",
            "v01.2",
            "churn",
            "Churn!",
            "9b1e4c0a9b1e4c0a9b1e4c0a9b1e4c0a",
            "float",
            "manual",
            "drift",
            "category",
            "x" * 40,
            "canary",
            "direct",
            "schedule",
            "data-volume",
            "staging",
            "24h",
            "5%",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["name", "type", "version", "md5", "x", "strategy", "from"]),
                st.integers(0, 2),
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(sorted(EXAMPLES)))
    data = copy.deepcopy(parse_yaml(EXAMPLES[kind], "example"))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(data)))
        if not path:
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace" or isinstance(parent, list):
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        else:
            key = ["extra", 1, "v2.0.0", "weight", "steps", "schedule", "triggers", "soak"]
            parent[draw(st.sampled_from(key))] = draw(values)
    return kind, data


def test_the_examples_are_valid_and_take_the_fast_path() -> None:
    for kind, text in EXAMPLES.items():
        check = _fast_check(kind)
        assert check is not None
        assert check(parse_yaml(text, kind)) and validator(kind).is_valid(parse_yaml(text, kind))


def test_policy_rules_the_fast_path_must_get_right() -> None:
    """The policy keywords the other kinds lack: if/then/else, contains, uniqueItems,
    dependentRequired, exclusiveMinimum and an enum holding null."""
    check, jsonschema_valid = _fast_check("policy"), validator("policy").is_valid
    assert check is not None
    base = parse_yaml(POLICY, "policy")
    cases = []
    for edit in (
        lambda p: p["stages"][1]["rollout"].update(strategy="direct"),  # else: no steps
        lambda p: p["stages"][1]["rollout"].pop("steps"),  # then: canary needs steps
        lambda p: p["retrain"].pop("schedule"),  # contains "schedule" -> required
        lambda p: p["retrain"].update(triggers=["drift", "drift"]),  # unique items
        lambda p: p["stages"][1].pop("from"),  # soak needs from
        lambda p: p["drift"].update(alpha=0),  # exclusiveMinimum 0
        lambda p: p["drift"]["concept"].update(metric="rmse"),  # an enum string
        lambda p: p["drift"]["concept"].update(metric=0),  # not in the enum
        lambda p: p["stages"][0].update(requires=[1, 1.0]),  # equal JSON numbers
        lambda p: p["stages"][0].update(requires=[1, True]),  # a bool is not a number
    ):
        policy = copy.deepcopy(base)
        edit(policy)
        cases.append(policy)
    verdicts = [(check(p), jsonschema_valid(p)) for p in cases]
    assert all(fast == slow for fast, slow in verdicts), verdicts
    assert [slow for _, slow in verdicts] == [False] * 6 + [True] + [False] * 3


@given(mutated())
def test_the_fast_path_agrees_with_jsonschema(case: tuple[str, Any]) -> None:
    kind, data = case
    check = _fast_check(kind)
    assert check is not None
    assert check(data) == validator(kind).is_valid(data), data
