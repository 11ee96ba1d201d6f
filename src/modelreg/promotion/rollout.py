"""The pure canary engine: where a rollout stands and its online metrics in, the next move out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from modelreg.errors import UsageError
from modelreg.promotion.gates import (
    FORMATS,
    Baseline,
    RuleResult,
    check_metric,
    markdown_table,
    show,
)
from modelreg.promotion.online import EXPORTERS, Counts, Evidence, pvalue
from modelreg.registry.policy import AnalysisCheck, RolloutPolicy, format_duration
from modelreg.registry.records import Rollout

Action = Literal["advance", "complete", "wait", "rollback", "hold"]

_SOURCE = "the canary's online metrics"


@dataclass(frozen=True)
class RolloutDecision:
    """What to do next with a canary: the step and weight to write, and why."""

    action: Action
    step: int
    weight: int
    checks: tuple[RuleResult, ...]
    failures: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the decision."""
        return {
            "action": self.action,
            "step": self.step,
            "weight": self.weight,
            "failures": self.failures,
            "reason": self.reason,
            "checks": [c.to_dict() for c in self.checks],
        }


def first_step(policy: RolloutPolicy) -> tuple[int, int]:
    """The step index and weight a canary starts at."""
    if policy.strategy != "canary" or not policy.steps:
        raise UsageError("the stage's rollout is direct, so there is no canary to start")
    return 0, policy.steps[0].weight


def analyse(
    policy: RolloutPolicy,
    online: Mapping[str, float],
    stable_online: Mapping[str, float] | None,
    evidence: Evidence | None = None,
) -> list[tuple[AnalysisCheck, list[RuleResult]]]:
    """Each analysis check with its results on the canary's and the stable version's metrics.

    With `evidence`, a regression past its bound fails only when it is also significant
    at the policy's alpha (a builtin metric's counts give the test; a user query has none
    and is judged on its bound alone).
    """
    stable = Baseline(
        name="stable",
        metrics=stable_online,
        absent="no online metrics for the stable version (no data is not a pass)",
        strict=True,
    )
    out = []
    for c in policy.analysis:
        results = check_metric(c, online, stable, _SOURCE)
        if evidence is not None:
            results = [_significance(policy, c, r, evidence) for r in results]
        out.append((c, results))
    return out


def _significance(
    policy: RolloutPolicy, check: AnalysisCheck, result: RuleResult, evidence: Evidence
) -> RuleResult:
    known = EXPORTERS[policy.exporter].builtins
    builtin = known.get(check.metric) if check.query is None else None
    if result.kind != "regression" or builtin is None or not isinstance(result.observed, float):
        return result
    p = pvalue(builtin.kind, evidence.candidate, evidence.stable)
    if p is None:
        return result
    if result.verdict == "fail" and policy.alpha < 1 and p >= policy.alpha:
        detail = (
            f"past the bound but not significant (p={p:.3g} ≥ alpha {policy.alpha:g}): "
            "not counted as a regression"
        )
        return replace(result, verdict="pass", detail=detail)
    return replace(result, detail=f"{result.detail} (p={p:.3g}, alpha {policy.alpha:g})")


def short_of_evidence(policy: RolloutPolicy, state: Rollout, evidence: Evidence) -> str | None:
    """Why the step cannot be judged yet (too few requests), or None when it can."""
    need = policy.min_requests
    versions: list[tuple[str, Counts]] = [("canary", evidence.candidate)]
    if state.weight < 100:  # at 100 % the stable version serves nothing
        versions.append(("stable", evidence.stable))
    short = [f"{name} {c.requests:.0f}" for name, c in versions if c.requests < need]
    if not short:
        return None
    return (
        f"not enough traffic to judge step {state.step + 1} yet: "
        f"{', '.join(short)} of the {need} requests each version needs (rollout.min_requests) "
        f"in the last {evidence.interval_seconds}s"
    )


def decide(
    policy: RolloutPolicy,
    state: Rollout,
    online: Mapping[str, float],
    stable_online: Mapping[str, float] | None,
    now: datetime,
    entered_step_at: datetime | None,
    evidence: Evidence | None = None,
) -> RolloutDecision:
    """The next move of the canary `state`, from its online checks and the step's pause.

    With `evidence` (request counts), a step with fewer than `min_requests` per version
    waits without a verdict, and regressions must be significant to count.
    """
    if policy.strategy != "canary" or not policy.steps:
        reason = f"the rollout is direct now: send all traffic to {state.candidate}"
        return RolloutDecision("complete", state.step, 100, (), state.failures, reason)
    analysed = analyse(policy, online, stable_online, evidence)
    checks = tuple(r for _, results in analysed for r in results)
    if evidence is not None:
        short = short_of_evidence(policy, state, evidence)
        if short is not None:
            return RolloutDecision("wait", state.step, state.weight, checks, state.failures, short)
    failing = [c for c, results in analysed if _failed(results)]
    if failing:
        return _on_failure(policy, state, checks, failing)
    return _progress(policy, state, checks, now, entered_step_at)


def _failed(results: tuple[RuleResult, ...] | list[RuleResult]) -> bool:
    return any(r.verdict == "fail" for r in results)


def _on_failure(
    policy: RolloutPolicy,
    state: Rollout,
    checks: tuple[RuleResult, ...],
    failing: list[AnalysisCheck],
) -> RolloutDecision:
    failures = state.failures + 1
    limit = min(c.failure_limit for c in failing)
    names = ", ".join(dict.fromkeys(c.metric for c in failing))
    if failures <= limit:
        reason = (
            f"{names} failed (failure {failures}, {limit} tolerated); "
            f"staying at {state.weight}% until the checks pass"
        )
        return RolloutDecision("wait", state.step, state.weight, checks, failures, reason)
    over = f"{names} failed (failure {failures}, {limit} tolerated)"
    if policy.on_failure == "hold":
        reason = f"{over}: holding {state.candidate} at {state.weight}% for a person to decide"
        return RolloutDecision("hold", state.step, state.weight, checks, failures, reason)
    reason = f"{over}: rolling back, all traffic to the stable version"
    return RolloutDecision("rollback", state.step, 0, checks, failures, reason)


def _progress(
    policy: RolloutPolicy,
    state: Rollout,
    checks: tuple[RuleResult, ...],
    now: datetime,
    entered_step_at: datetime | None,
) -> RolloutDecision:
    steps, index = policy.steps, state.step
    passing = "checks pass" if checks else "no analysis checks"
    if index >= len(steps):
        return _complete(policy, state, checks, f"past the last step, {passing}")
    where = f"step {index + 1} of {len(steps)} ({state.weight}%)"
    pause = steps[index].pause
    if pause:
        if entered_step_at is None:
            reason = f"{where}: unknown when the step began, so its {format_duration(pause)} pause"
            reason += " cannot have passed"
            return RolloutDecision("wait", index, state.weight, checks, state.failures, reason)
        elapsed = now - entered_step_at
        if elapsed < pause:
            left = format_duration(pause - elapsed)
            reason = f"{where}: {passing}; pause {format_duration(pause)}, {left} left"
            return RolloutDecision("wait", index, state.weight, checks, state.failures, reason)
    if index + 1 >= len(steps):
        return _complete(policy, state, checks, f"{where} was the last, {passing}")
    nxt = steps[index + 1]
    if nxt.weight == 100 and not nxt.pause:
        return _complete(policy, state, checks, f"{where} done and the next is 100%, {passing}")
    reason = f"{where} done, {passing}: advance to step {index + 2} ({nxt.weight}%)"
    return RolloutDecision("advance", index + 1, nxt.weight, checks, state.failures, reason)


def _complete(
    policy: RolloutPolicy, state: Rollout, checks: tuple[RuleResult, ...], why: str
) -> RolloutDecision:
    last = len(policy.steps) - 1
    reason = f"{why}: promote {state.candidate} fully"
    return RolloutDecision("complete", last, 100, checks, state.failures, reason)


def render(decision: RolloutDecision, fmt: str = "text") -> str:
    """The decision as `text`, `markdown` (rollout PR body) or `json`."""
    if fmt == "json":
        return json.dumps(decision.to_dict(), indent=2, allow_nan=False)
    if fmt == "markdown":
        head = f"### Canary: {decision.action} ({decision.weight}%)\n\n{decision.reason}\n"
        table = "\n".join(markdown_table(decision.checks))
        return head + ("\n" + table + "\n" if decision.checks else "")
    if fmt == "text":
        lines = [f"{decision.action.upper()}  {decision.reason}"]
        for c in decision.checks:
            lines.append(f"  {c.verdict.upper():4}  {c.label}  {show(c.observed)}  {c.bound}")
        return "\n".join(lines)
    raise UsageError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
