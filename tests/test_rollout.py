"""The canary engine: steps advance while checks pass, pauses hold, failures roll back or hold."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from modelreg.errors import UsageError
from modelreg.promotion.rollout import RolloutDecision, decide, first_step, render
from modelreg.registry.policy import RolloutPolicy, parse_policy
from modelreg.registry.records import Rollout

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
STEPS = [{"weight": 10, "pause": "1h"}, {"weight": 50, "pause": "1h"}, {"weight": 100}]
ERRORS = {"metric": "error_rate", "max": 0.02}
ACCURACY = {"metric": "accuracy_online", "max_regression": 0.02, "failure_limit": 2}
GOOD = {"error_rate": 0.01, "accuracy_online": 0.9}
STABLE = {"error_rate": 0.01, "accuracy_online": 0.9}


def canary(**rollout: Any) -> RolloutPolicy:
    body = {"strategy": "canary", "steps": STEPS, "analysis": [ERRORS, ACCURACY], **rollout}
    data = {"stages": [{"name": "production", "rollout": body}]}
    return parse_policy("default", data).stage("production").rollout


def at(step: int, weight: int, failures: int = 0) -> Rollout:
    return Rollout(candidate="v1.4.0", weight=weight, step=step, failures=failures)


def run(
    policy: RolloutPolicy,
    state: Rollout,
    online: Mapping[str, float] = GOOD,
    stable: Mapping[str, float] | None = STABLE,
    in_step: timedelta | None = 2 * HOUR,
) -> RolloutDecision:
    entered = NOW - in_step if in_step is not None else None
    return decide(policy, state, online, stable, NOW, entered)


@pytest.mark.parametrize(
    ("state", "online", "in_step", "expected"),
    [
        # checks pass and the pause is over: on to the next step
        (at(0, 10), GOOD, 2 * HOUR, ("advance", 1, 50, 0)),
        (at(0, 10), GOOD, HOUR, ("advance", 1, 50, 0)),
        # the step after 50% is a plain 100%: that is completion
        (at(1, 50), GOOD, 2 * HOUR, ("complete", 2, 100, 0)),
        # the pause is not over yet
        (at(0, 10), GOOD, 59 * timedelta(minutes=1), ("wait", 0, 10, 0)),
        (at(1, 50), GOOD, timedelta(0), ("wait", 1, 50, 0)),
        # no idea when the step began: a pause cannot be proven over
        (at(0, 10), GOOD, None, ("wait", 0, 10, 0)),
        # a check with failure_limit 0 aborts at once, whatever the pause
        (at(0, 10), {**GOOD, "error_rate": 0.5}, 2 * HOUR, ("rollback", 0, 0, 1)),
        (at(1, 50), {**GOOD, "error_rate": 0.021}, timedelta(0), ("rollback", 1, 0, 1)),
        # equal to the bound passes
        (at(0, 10), {**GOOD, "error_rate": 0.02}, 2 * HOUR, ("advance", 1, 50, 0)),
        # no data is not a pass
        (at(0, 10), {"accuracy_online": 0.9}, 2 * HOUR, ("rollback", 0, 0, 1)),
        # a check with failure_limit 2 is tolerated twice, then aborts
        (at(0, 10, 0), {**GOOD, "accuracy_online": 0.8}, 2 * HOUR, ("wait", 0, 10, 1)),
        (at(0, 10, 1), {**GOOD, "accuracy_online": 0.8}, 2 * HOUR, ("wait", 0, 10, 2)),
        (at(0, 10, 2), {**GOOD, "accuracy_online": 0.8}, 2 * HOUR, ("rollback", 0, 0, 3)),
        # past failures stay counted once the checks pass again
        (at(0, 10, 2), GOOD, 2 * HOUR, ("advance", 1, 50, 2)),
        # a step index past the end (the policy lost steps): complete
        (at(5, 90), GOOD, 2 * HOUR, ("complete", 2, 100, 0)),
    ],
)
def test_decide(
    state: Rollout,
    online: dict[str, float],
    in_step: timedelta | None,
    expected: tuple[str, int, int, int],
) -> None:
    decision = run(canary(), state, online, in_step=in_step)
    assert (decision.action, decision.step, decision.weight, decision.failures) == expected


def test_a_passing_canary_walks_every_step_to_completion() -> None:
    policy = canary(steps=[{"weight": 5}, {"weight": 25}, {"weight": 60}, {"weight": 90}])
    step, weight = first_step(policy)
    actions = []
    for _ in range(10):
        decision = run(policy, at(step, weight), in_step=None)
        actions.append((decision.action, decision.weight))
        if decision.action == "complete":
            break
        step, weight = decision.step, decision.weight
    assert actions == [("advance", 25), ("advance", 60), ("advance", 90), ("complete", 100)]


def test_a_failing_check_waits_until_its_failure_limit_is_exceeded_then_rolls_back() -> None:
    policy, state = canary(), at(1, 50)
    bad = {**GOOD, "accuracy_online": 0.85}
    actions = []
    while not actions or actions[-1] == "wait":
        decision = run(policy, state, bad)
        actions.append(decision.action)
        state = at(decision.step, decision.weight, decision.failures)
    assert actions == ["wait", "wait", "rollback"]
    assert decision.weight == 0
    assert "accuracy_online failed (failure 3, 2 tolerated): rolling back" in decision.reason


def test_the_strictest_failing_check_decides() -> None:
    bad = {"error_rate": 0.5, "accuracy_online": 0.5}
    assert run(canary(), at(0, 10), bad).action == "rollback"


def test_on_failure_hold_freezes_the_canary_at_its_weight() -> None:
    decision = run(canary(on_failure="hold"), at(1, 50), {**GOOD, "error_rate": 0.5})
    assert (decision.action, decision.step, decision.weight, decision.failures) == (
        "hold",
        1,
        50,
        1,
    )
    assert "holding v1.4.0 at 50% for a person to decide" in decision.reason


def test_a_regression_check_without_stable_data_fails() -> None:
    decision = run(canary(), at(0, 10), GOOD, stable=None)
    (result,) = [c for c in decision.checks if c.metric == "accuracy_online"]
    assert result.verdict == "fail"
    assert "no data is not a pass" in result.detail
    assert decision.action == "wait"


def test_a_missing_online_metric_says_no_data_is_not_a_pass() -> None:
    decision = run(canary(), at(0, 10), {"accuracy_online": 0.9})
    (result,) = [c for c in decision.checks if c.metric == "error_rate"]
    assert result.detail == (
        "metric error_rate missing from the canary's online metrics (no data is not a pass)"
    )


def test_a_relative_regression_check_compares_with_the_stable_version() -> None:
    check = {"metric": "latency_p95_ms", "max_regression": "10%"}
    policy = canary(analysis=[check])
    stable = {"latency_p95_ms": 100.0}
    assert run(policy, at(0, 10), {"latency_p95_ms": 110.0}, stable).action == "advance"
    decision = run(policy, at(0, 10), {"latency_p95_ms": 111.0}, stable)
    assert decision.action == "rollback"
    assert decision.checks[0].bound == "<= 110 (stable 100 + 10%)"


def test_a_step_without_pause_advances_at_once() -> None:
    policy = canary(steps=[{"weight": 10}, {"weight": 50}], analysis=[])
    decision = run(policy, at(0, 10), {}, None, in_step=timedelta(0))
    assert (decision.action, decision.weight) == ("advance", 50)
    assert "no analysis checks" in decision.reason


def test_a_zero_pause_is_no_pause() -> None:
    policy = canary(steps=[{"weight": 10, "pause": "0s"}, {"weight": 50}])
    assert run(policy, at(0, 10), in_step=None).action == "advance"


def test_a_last_step_below_100_completes_after_its_pause() -> None:
    policy = canary(steps=[{"weight": 10}, {"weight": 50, "pause": "1h"}])
    assert run(policy, at(1, 50), in_step=timedelta(minutes=30)).action == "wait"
    assert run(policy, at(1, 50), in_step=HOUR).action == "complete"


def test_a_paused_100_percent_step_is_observed_before_completing() -> None:
    policy = canary(steps=[{"weight": 50}, {"weight": 100, "pause": "30m"}])
    decision = run(policy, at(0, 50), in_step=None)
    assert (decision.action, decision.step, decision.weight) == ("advance", 1, 100)
    assert run(policy, at(1, 100), in_step=timedelta(minutes=10)).action == "wait"
    assert run(policy, at(1, 100), in_step=timedelta(minutes=30)).action == "complete"


def test_a_waiting_reason_says_how_long_is_left() -> None:
    decision = run(canary(), at(0, 10), in_step=timedelta(minutes=20))
    assert decision.reason == "step 1 of 3 (10%): checks pass; pause 1h, 40m left"


def test_a_direct_rollout_has_no_first_step() -> None:
    with pytest.raises(UsageError, match="direct"):
        first_step(RolloutPolicy())


def test_a_canary_starts_at_its_first_weight() -> None:
    assert first_step(canary()) == (0, 10)


def test_a_canary_under_a_policy_now_direct_completes() -> None:
    decision = run(RolloutPolicy(), at(1, 50))
    assert (decision.action, decision.weight) == ("complete", 100)


def test_render_shows_the_action_and_the_checks() -> None:
    decision = run(canary(), at(0, 10), {**GOOD, "error_rate": 0.5})
    text = render(decision, "text")
    assert text.startswith("ROLLBACK  error_rate failed")
    assert "FAIL  error_rate max  0.5  <= 0.02" in text
    markdown = render(decision, "markdown")
    assert markdown.startswith("### Canary: rollback (0%)")
    assert "| error_rate max | 0.5 | ≤ 0.02 | ❌ fail |" in markdown
    data = json.loads(render(decision, "json"))
    assert data["action"] == "rollback"
    assert data["checks"][0]["verdict"] == "fail"
    with pytest.raises(UsageError):
        render(decision, "yaml")
