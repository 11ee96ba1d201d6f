"""Typed policy objects (stages, gates, rollout, retrain, drift), built once from schema-checked
YAML; what the schema cannot see is refused here, naming the file and key path."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from typing import Any, Literal

from modelreg.errors import RuleError, UsageError, ValidationError
from modelreg.registry.drift_rules import DriftRules

Direction = Literal["higher", "lower"]
Strategy = Literal["direct", "canary"]
OnFailure = Literal["rollback", "hold"]
SignatureRule = Literal["strict", "any"]
CompareMode = Literal["recorded", "paired"]

_DURATION_RE = re.compile(r"^(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# Name parts that mark an error-like metric, where a smaller value is better.
_LOWER_TOKENS = frozenset(
    {"rmse", "mae", "mse", "mape", "smape", "loss", "logloss", "error", "errors"}
    | {"latency", "brier", "wer", "cer", "perplexity"}
)
_LOWER_UNITS = frozenset({"ms", "seconds"})
# No wait, soak or window of a registry is longer than a year; a longer one is a typo
# that would block every promotion (and timedelta itself stops at 999,999,999 days).
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """`"90s"`, `"30m"`, `"24h"`, `"7d"` (units combine, largest first: `"1h30m"`)."""
    m = _DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValidationError(
            f"{text!r} is not a duration",
            hint="write a number and a unit, s m h or d: 90s, 30m, 24h, 7d, 1h30m",
        )
    days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION.total_seconds():
        raise ValidationError(
            f"{text!r} is longer than {MAX_DURATION.days} days",
            hint=f"durations are at most {MAX_DURATION.days}d",
        )
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """A timedelta as `parse_duration` reads it, e.g. `36h` or `3d 2h 5m` (whole seconds)."""
    total = int(delta.total_seconds())
    sign, total = ("-", -total) if total < 0 else ("", total)
    parts = []
    # Days only from two on: a `soak: 24h` reads back as 24h, not 1d.
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size and (unit != "d" or total >= 2 * size):
            parts.append(f"{total // size}{unit}")
            total %= size
    return sign + (" ".join(parts) or "0s")


def metric_direction(name: str, explicit: Direction | None = None) -> Direction:
    """Which way is better for a metric: `explicit` if given, else guessed from its name."""
    if explicit is not None:
        return explicit
    tokens = re.split(r"[._-]", name.lower())
    if tokens[0].startswith("latency") or tokens[-1] in _LOWER_UNITS:
        return "lower"
    return "lower" if _LOWER_TOKENS.intersection(tokens) else "higher"


@dataclass(frozen=True)
class Regression:
    """A `max_regression`: an absolute amount, or a percent of the compared value."""

    amount: float
    relative: bool = False

    def allowed(self, baseline: float) -> float:
        """The absolute slack this regression allows from `baseline`."""
        return abs(baseline) * self.amount / 100 if self.relative else self.amount

    def __str__(self) -> str:
        return f"{self.amount:g}%" if self.relative else f"{self.amount:g}"


@dataclass(frozen=True)
class Gate:
    """One metric and the bounds it must meet; every bound given must hold."""

    metric: str
    min: float | None = None
    max: float | None = None
    max_regression: Regression | None = None
    direction: Direction | None = None

    @property
    def better(self) -> Direction:
        """Which way is better for this gate's metric."""
        return metric_direction(self.metric, self.direction)


@dataclass(frozen=True)
class AnalysisCheck(Gate):
    """An online check of a canary; `failure_limit` failed runs are tolerated.

    `query` is the user's PromQL template for a metric modelreg does not know, with
    `{model}`, `{version}`, `{stage}` and `{interval}` filled in per version.
    """

    failure_limit: int = 0
    query: str | None = None


@dataclass(frozen=True)
class Step:
    """A canary step: `weight` percent of traffic, held for `pause` before the next."""

    weight: int
    pause: timedelta | None = None


@dataclass(frozen=True)
class RolloutPolicy:
    """How a promoted version takes traffic in a stage."""

    strategy: Strategy = "direct"
    steps: tuple[Step, ...] = ()
    analysis: tuple[AnalysisCheck, ...] = ()
    on_failure: OnFailure = "rollback"
    auto_advance: bool = False
    min_requests: int = 200
    alpha: float = 0.05
    # Whose metrics the builtin analysis metrics read: `modelreg serve`'s or KServe's.
    exporter: str = "modelreg"


@dataclass(frozen=True)
class StagePolicy:
    """What a version needs to enter one stage, and how it rolls out there."""

    name: str
    from_stage: str | None = None
    soak: timedelta | None = None
    signature: SignatureRule = "strict"
    compare: CompareMode = "recorded"
    reviews: int = 0
    requires: tuple[str, ...] = ()
    gates: tuple[Gate, ...] = ()
    rollout: RolloutPolicy = RolloutPolicy()


@dataclass(frozen=True)
class RetrainPolicy:
    """When a candidate is retrained and on which window of data (`window=None`: all)."""

    triggers: tuple[str, ...] = ()
    schedule: str | None = None
    min_new_rows: int | None = None
    window: timedelta | None = None
    must_beat_current: bool = True
    metric: str | None = None

    @property
    def window_days(self) -> int | None:
        """The window in whole days, rounded up (`{last: 12h}` is 1 day, not all data)."""
        if self.window is None:
            return None
        return max(1, math.ceil(self.window.total_seconds() / 86400))

    def comparison_metric(self, headline_metrics: Sequence[str]) -> str | None:
        """The metric `must_beat_current` compares: `metric`, else the first headline metric."""
        return self.metric or next(iter(headline_metrics), None)


@dataclass(frozen=True)
class Policy:
    """A whole `policies/<name>.yaml`."""

    name: str
    stages: tuple[StagePolicy, ...]
    retrain: RetrainPolicy = RetrainPolicy()
    drift: DriftRules = field(default_factory=DriftRules)

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The stage names in promotion order."""
        return tuple(s.name for s in self.stages)

    def stage(self, name: str) -> StagePolicy:
        """The stage called `name`; UsageError naming the known stages if there is none."""
        for s in self.stages:
            if s.name == name:
                return s
        known = ", ".join(self.stage_names)
        raise UsageError(f"stage {name!r} is not in policy {self.name!r} (known: {known})")


def parse_policy(name: str, data: Mapping[str, Any]) -> Policy:
    """Typed Policy from a policy file's data, already checked against policy.schema.json.

    RuleError naming the file and key path for what the schema cannot see.
    """
    path = f"policies/{name}.yaml"
    try:
        stages = tuple(_stage(s, f"stages[{i}]") for i, s in enumerate(data["stages"]))
        _check_stage_order(stages)
        retrain = data.get("retrain")
        return Policy(
            name=name,
            stages=stages,
            retrain=_retrain(retrain, "retrain") if retrain else RetrainPolicy(),
            drift=DriftRules.from_dict(data.get("drift"), source=path),
        )
    except RuleError as exc:
        raise exc.in_file(path) from None


def _stage(d: Mapping[str, Any], where: str) -> StagePolicy:
    soak = d.get("soak")
    rollout = d.get("rollout")
    return StagePolicy(
        name=d["name"],
        from_stage=d.get("from"),
        soak=_duration(soak, f"{where}.soak") if soak is not None else None,
        signature=d.get("signature", "strict"),
        compare=d.get("compare", "recorded"),
        reviews=int(d.get("reviews", 0)),
        requires=tuple(d.get("requires") or ()),
        gates=tuple(_gate(g, f"{where}.gates[{i}]") for i, g in enumerate(d.get("gates") or ())),
        rollout=_rollout(rollout, f"{where}.rollout") if rollout else RolloutPolicy(),
    )


def _gate(d: Mapping[str, Any], where: str) -> Gate:
    return Gate(**_gate_fields(d, where))


def _check(d: Mapping[str, Any], where: str) -> AnalysisCheck:
    return AnalysisCheck(
        **_gate_fields(d, where),
        failure_limit=int(d.get("failure_limit", 0)),
        query=d.get("query"),
    )


def _gate_fields(d: Mapping[str, Any], where: str) -> dict[str, Any]:
    low, high = _bound(d, "min", where), _bound(d, "max", where)
    if low is not None and high is not None and low > high:
        raise RuleError(where, f"min {low:g} is above max {high:g}", fix="swap them")
    reg = d.get("max_regression")
    return {
        "metric": d["metric"],
        "min": low,
        "max": high,
        "max_regression": _regression(reg, f"{where}.max_regression") if reg is not None else None,
        "direction": d.get("direction"),
    }


def _bound(d: Mapping[str, Any], key: str, where: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise RuleError(f"{where}.{key}", f"{value!r} is not a finite number")
    return number


def _regression(value: float | str, where: str) -> Regression:
    relative = isinstance(value, str)
    number = float(value.rstrip("%")) if isinstance(value, str) else float(value)
    if not math.isfinite(number) or number < 0:
        raise RuleError(
            where,
            f"{value!r} is not an allowed regression",
            fix="use a non-negative number (0.01) or a percent string ('5%')",
        )
    return Regression(number, relative)


def _rollout(d: Mapping[str, Any], where: str) -> RolloutPolicy:
    raw_steps = d.get("steps") or ()
    steps = tuple(_step(s, f"{where}.steps[{i}]") for i, s in enumerate(raw_steps))
    for i, (before, after) in enumerate(pairwise(steps)):
        if after.weight <= before.weight:
            raise RuleError(
                f"{where}.steps[{i + 1}].weight",
                f"{after.weight} is not above {before.weight}",
                fix="canary weights must grow step by step",
            )
    checks = d.get("analysis") or ()
    return RolloutPolicy(
        strategy=d.get("strategy", "direct"),
        steps=steps,
        analysis=tuple(_check(c, f"{where}.analysis[{i}]") for i, c in enumerate(checks)),
        on_failure=d.get("on_failure", "rollback"),
        auto_advance=bool(d.get("auto_advance", False)),
        min_requests=int(d.get("min_requests", 200)),
        alpha=float(d.get("alpha", 0.05)),
        exporter=str(d.get("exporter", "modelreg")),
    )


def _step(d: Mapping[str, Any], where: str) -> Step:
    pause = d.get("pause")
    return Step(int(d["weight"]), _duration(pause, f"{where}.pause") if pause else None)


def _retrain(d: Mapping[str, Any], where: str) -> RetrainPolicy:
    window = d.get("window", "all")
    rows = d.get("min_new_rows")
    return RetrainPolicy(
        triggers=tuple(d.get("triggers") or ()),
        schedule=d.get("schedule"),
        min_new_rows=int(rows) if rows is not None else None,
        window=None if window == "all" else _duration(window["last"], f"{where}.window.last"),
        must_beat_current=bool(d.get("must_beat_current", True)),
        metric=d.get("metric"),
    )


def _duration(text: str, where: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValidationError as e:
        raise RuleError(where, e.message, fix=e.hint) from None


def _check_stage_order(stages: Sequence[StagePolicy]) -> None:
    seen: list[str] = []
    for i, s in enumerate(stages):
        if s.name in seen:
            raise RuleError(f"stages[{i}].name", f"stage {s.name!r} is listed twice")
        if s.from_stage is not None and s.from_stage not in seen:
            earlier = ", ".join(seen) or "none"
            raise RuleError(
                f"stages[{i}].from",
                f"{s.from_stage!r} is not an earlier stage",
                fix=f"earlier stages: {earlier}",
            )
        seen.append(s.name)


DEFAULT_POLICY_YAML = """\
# The default promotion policy. A model uses it unless its model.yaml names another
# (`policy: <name>` reads policies/<name>.yaml). Change it through a pull request like
# any other registry file; `modelreg validate` checks it and docs/policies.md explains
# every key. Nothing here is ever executed: gates are plain data.

stages:
  # Any registered version may enter staging.
  - name: staging
    gates: []
    # Examples: require a metric, or bound it.
    # requires: [accuracy]
    # gates:
    #   - {metric: accuracy, min: 0.85}

  - name: production
    from: staging          # the candidate must be the version now serving in staging
    # soak: 24h            # ...and have served there at least this long
    signature: strict      # it may not drop or retype an input the current version takes
    compare: recorded      # max_regression compares metrics measured on the same data;
                           # paired: `gate` scores both versions on the candidate's holdout
    reviews: 1             # approvals the promotion PR needs (enforce with branch protection)
    gates: []
    # Examples (a missing or NaN metric fails its gate; equal to a bound passes):
    # gates:
    #   - {metric: accuracy, min: 0.90}             # absolute floor
    #   - {metric: f1, max_regression: 0.01}        # at most 0.01 below the current version
    #   - {metric: rmse, max_regression: 5%}        # at most 5% worse; rmse: lower is better
    #   - {metric: latency_ms, max: 50}             # absolute ceiling
    rollout:
      strategy: direct     # all traffic moves when the promotion PR merges
      # A canary instead: step the traffic up while online checks pass, roll back if not.
      # strategy: canary
      # steps: [{weight: 10, pause: 1h}, {weight: 50, pause: 1h}, {weight: 100}]
      # analysis:
      #   - {metric: error_rate, max: 0.02}
      #   - {metric: accuracy_online, max_regression: 0.02, failure_limit: 2}
      # on_failure: rollback    # or hold: freeze the canary for a person to decide
      # auto_advance: false     # true: push weight changes directly instead of opening PRs
      # min_requests: 200       # judge a step only once each version served this many
      # alpha: 0.05             # a regression vs stable must also be significant at this level

drift:
  schedule: "0 6 * * *"
  numeric: {method: wasserstein, threshold: 0.1}
  categorical: {method: jensenshannon, threshold: 0.1}
  dataset_share: {warn: 0.2, critical: 0.4}
  action: retrain_pr       # what drift --open-pr does: retrain_pr | issue | none

retrain:
  triggers: [drift]        # drift | schedule | data-volume; drift lets drift --open-pr retrain
  # schedule: "0 3 * * 1"  # needed with the schedule trigger (cron, UTC)
  # min_new_rows: 50000    # needed with the data-volume trigger
  window: {last: 90d}      # train on the last 90 days of data, or: all
  must_beat_current: true  # open the retrain PR only if the candidate is at least as good
  # metric: accuracy       # ...on this metric (default: the model's first headline metric)
"""
