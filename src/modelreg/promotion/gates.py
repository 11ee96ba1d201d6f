"""The pure gate engine: a policy stage and a candidate version in, one result per rule out."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from modelreg.errors import UsageError, plural
from modelreg.registry.policy import Gate, Policy, StagePolicy, format_duration
from modelreg.registry.records import Comparison, VersionRecord

Verdict = Literal["pass", "fail", "skip"]
RuleKind = Literal["stage_order", "soak", "required", "min", "max", "regression", "signature"]
Format = Literal["text", "markdown", "json"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "json")

_MARK = {"pass": "✅", "fail": "❌", "skip": "➖"}


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome; `skip` means the rule did not apply and counts as passing."""

    kind: RuleKind
    metric: str | None
    observed: float | str | None
    bound: str
    verdict: Verdict
    detail: str

    @property
    def label(self) -> str:
        """A short name for the rule, e.g. `accuracy min` or `soak`."""
        names = {"stage_order": "stage order", "required": "present"}
        kind = names.get(self.kind, self.kind)
        return f"{self.metric} {kind}" if self.metric else kind

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; a non-finite observed number becomes null."""
        observed = self.observed
        if isinstance(observed, float) and not math.isfinite(observed):
            observed = None
        return {
            "kind": self.kind,
            "metric": self.metric,
            "observed": observed,
            "bound": self.bound,
            "verdict": self.verdict,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Baseline:
    """What `max_regression` compares with: the version in the stage, or the stable online."""

    name: str
    metrics: Mapping[str, float] | None
    absent: str
    strict: bool = False


@dataclass(frozen=True)
class GateContext:
    """Everything `evaluate` needs to know about the world, gathered by the caller.

    `paired` is the evaluation of the candidate and the current version on the same rows
    that a runner made for a `compare: paired` stage (None: none was made).
    """

    stage: str
    candidate: VersionRecord
    current: VersionRecord | None
    from_stage_version: str | None
    from_stage_since: datetime | None
    now: datetime
    paired: Comparison | None = None


@dataclass(frozen=True)
class GateReport:
    """The verdict of a stage's gates on one candidate version."""

    model: str
    version: str
    stage: str
    current: str | None
    results: tuple[RuleResult, ...]
    reviews: int = 0
    compared_on: str | None = None  # the data relative rules compared both versions on

    @property
    def passed(self) -> bool:
        """True when no rule failed."""
        return not self.failures

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        """The rules that failed."""
        return tuple(r for r in self.results if r.verdict == "fail")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the whole report."""
        return {
            "model": self.model,
            "version": self.version,
            "stage": self.stage,
            "current": self.current,
            "passed": self.passed,
            "reviews": self.reviews,
            "compared_on": self.compared_on,
            "rules": [r.to_dict() for r in self.results],
        }


def evaluate(policy: Policy, ctx: GateContext) -> GateReport:
    """Every rule of the policy's stage `ctx.stage`, applied to `ctx.candidate`.

    Absolute bounds judge the candidate's registered metrics; relative ones compare it
    with the current version on the same data only (`_relative_basis`).
    """
    stage = policy.stage(ctx.stage)
    current = ctx.current
    metrics = ctx.candidate.metrics
    basis = _relative_basis(stage, ctx)
    results = [
        *_order_rules(stage, ctx),
        *(_required(m, metrics) for m in stage.requires),
        *(r for g in stage.gates for r in _gate_rules(g, metrics, basis)),
        *_signature_rules(stage, ctx),
    ]
    return GateReport(
        model=ctx.candidate.model,
        version=ctx.candidate.version,
        stage=stage.name,
        current=current.version if current else None,
        results=tuple(results),
        reviews=stage.reviews,
        compared_on=basis.dataset if isinstance(basis, _Paired) else None,
    )


@dataclass(frozen=True)
class _Paired:
    """Candidate and baseline metrics measured on the same data."""

    values: Mapping[str, float]
    baseline: Baseline
    dataset: str | None
    source: str


@dataclass(frozen=True)
class _NotComparable:
    against: str
    why: str


def _relative_basis(stage: StagePolicy, ctx: GateContext) -> _Paired | _NotComparable:
    """What `max_regression` compares: the same rows for both versions, or why it cannot.

    paired: the runner's evaluation of both artifacts, else (where no runner scores, as in
    validate) a paired evaluation recorded against the current version. recorded: that
    recorded evaluation, else both registered metrics when both name the same
    `metrics.dataset`.
    """
    cand, cur = ctx.candidate, ctx.current
    if cur is None:
        absent = f"no version in {stage.name} yet"
        return _Paired(cand.metrics, Baseline("", None, absent), None, "version record")
    recorded = cand.comparison(cur.version)
    if stage.compare == "paired":
        run = ctx.paired if ctx.paired and ctx.paired.against == cur.version else None
        if run is not None:
            return _from_comparison(run, cur, "paired evaluation")
        if recorded is not None:  # where no runner scores (validate, pr merge)
            return _from_comparison(recorded, cur, f"{cand.version}'s recorded comparison")
        return _NotComparable(
            cur.version,
            f"not comparable: stage {stage.name} has compare: paired and neither a paired "
            f"evaluation against {cur.version} was run nor one recorded; "
            f"`modelreg gate {cand.model} {cand.version} --stage {stage.name}` runs one",
        )
    if recorded is not None:
        return _from_comparison(recorded, cur, f"{cand.version}'s recorded comparison")
    if cand.dataset is not None and cand.dataset == cur.dataset:
        baseline = Baseline(cur.version, cur.metrics, "")
        return _Paired(cand.metrics, baseline, cand.dataset, "version record")
    return _NotComparable(cur.version, _not_comparable(stage, cand, cur))


def _from_comparison(run: Comparison, cur: VersionRecord, source: str) -> _Paired:
    baseline = Baseline(cur.version, run.baseline_metrics, f"{cur.version} was not scored")
    return _Paired(run.metrics, baseline, run.dataset, source)


def _not_comparable(stage: StagePolicy, cand: VersionRecord, cur: VersionRecord) -> str:
    def named(rec: VersionRecord) -> str:
        return f"'{rec.dataset}'" if rec.dataset else "an unnamed dataset"

    return (
        f"not comparable: {cand.version}'s metrics were measured on {named(cand)} and "
        f"{cur.version}'s on {named(cur)}; set `compare: paired` on stage {stage.name} so "
        "`modelreg gate` scores both on the candidate's holdout, or register both with the "
        "same metrics.dataset"
    )


def _gate_rules(
    gate: Gate, metrics: Mapping[str, float], basis: _Paired | _NotComparable
) -> list[RuleResult]:
    """The gate's absolute bounds on the registered metrics, its relative one on `basis`."""
    if gate.max_regression is None:
        return check_metric(gate, metrics, Baseline("", None, ""), "version record")
    absolute = Gate(gate.metric, gate.min, gate.max, None, gate.direction)
    out = check_metric(absolute, metrics, Baseline("", None, ""), "version record")
    relative = Gate(gate.metric, None, None, gate.max_regression, gate.direction)
    if isinstance(basis, _NotComparable):
        bound = f"max regression {gate.max_regression} vs {basis.against}"
        value = metrics.get(gate.metric)
        out.append(RuleResult("regression", gate.metric, value, bound, "fail", basis.why))
        return out
    results = check_metric(relative, basis.values, basis.baseline, basis.source)
    if basis.dataset is not None:
        results = [_on(r, basis.dataset) for r in results]
    return out + results


def _on(result: RuleResult, dataset: str) -> RuleResult:
    if result.verdict == "skip":
        return result
    detail = f"{result.detail} (both on {dataset})"
    return RuleResult(
        result.kind, result.metric, result.observed, result.bound, result.verdict, detail
    )


def check_metric(
    gate: Gate, values: Mapping[str, float], baseline: Baseline, source: str
) -> list[RuleResult]:
    """One result per bound of `gate` on `values[gate.metric]`; `source` names `values`."""
    value = values.get(gate.metric)
    problem = _problem(gate.metric, value, source, baseline.strict)
    out = []
    if gate.min is not None:
        out.append(_absolute(gate.metric, "min", value, gate.min, problem))
    if gate.max is not None:
        out.append(_absolute(gate.metric, "max", value, gate.max, problem))
    if gate.max_regression is not None:
        out.append(_regression(gate, value, problem, baseline))
    return out


def _problem(metric: str, value: float | None, source: str, strict: bool) -> str | None:
    if value is None:
        tail = " (no data is not a pass)" if strict else ""
        return f"metric {metric} missing from {source}{tail}"
    if not math.isfinite(value):
        return f"metric {metric} is {value} in {source}, not a finite number"
    return None


def _absolute(
    metric: str, kind: Literal["min", "max"], value: float | None, limit: float, problem: str | None
) -> RuleResult:
    bound = f"{'>=' if kind == 'min' else '<='} {_num(limit)}"
    if problem is not None or value is None:
        return RuleResult(kind, metric, value, bound, "fail", problem or "")
    if kind == "min" and not _at_least(value, limit):
        return RuleResult(
            kind, metric, value, bound, "fail", f"{metric} {_num(value)} is below {_num(limit)}"
        )
    if kind == "max" and not _at_most(value, limit):
        return RuleResult(
            kind, metric, value, bound, "fail", f"{metric} {_num(value)} is above {_num(limit)}"
        )
    return RuleResult(kind, metric, value, bound, "pass", f"{metric} {_num(value)} {bound}")


def _regression(
    gate: Gate, value: float | None, problem: str | None, baseline: Baseline
) -> RuleResult:
    reg, metric = gate.max_regression, gate.metric
    assert reg is not None
    base = None if baseline.metrics is None else baseline.metrics.get(metric)
    missing = _baseline_problem(metric, base, baseline)
    if missing is not None:
        verdict: Verdict = "fail" if baseline.strict or problem else "skip"
        bound = f"max regression {reg} vs {baseline.name or 'current'}"
        return RuleResult("regression", metric, value, bound, verdict, problem or missing)
    assert base is not None
    higher = gate.better == "higher"
    limit = base - reg.allowed(base) if higher else base + reg.allowed(base)
    sign = "-" if higher else "+"
    bound = f"{'>=' if higher else '<='} {_num(limit)} ({baseline.name} {_num(base)} {sign} {reg})"
    if problem is not None or value is None:
        return RuleResult("regression", metric, value, bound, "fail", problem or "")
    ok = _at_least(value, limit) if higher else _at_most(value, limit)
    change = _change(value, base, reg.relative)
    if ok:
        detail = f"{metric} {_num(value)} vs {baseline.name} {_num(base)} ({change})"
        return RuleResult("regression", metric, value, bound, "pass", detail)
    worse = "dropped" if higher else "rose"
    detail = (
        f"{metric} {worse} {change.lstrip('+-')} from {baseline.name} "
        f"({_num(base)} -> {_num(value)}); at most {reg} allowed"
    )
    return RuleResult("regression", metric, value, bound, "fail", detail)


def _baseline_problem(metric: str, base: float | None, baseline: Baseline) -> str | None:
    if baseline.metrics is None:
        return baseline.absent
    if base is None:
        return f"{baseline.name} has no {metric} to compare with"
    if not math.isfinite(base):
        return f"{baseline.name} has {metric} {base}, nothing to compare with"
    return None


def _change(value: float, base: float, relative: bool) -> str:
    delta = value - base
    if relative and base != 0:
        return f"{delta / abs(base) * 100:+.3g}%"
    return f"{delta:+.6g}"


def _required(metric: str, values: Mapping[str, float]) -> RuleResult:
    value = values.get(metric)
    problem = _problem(metric, value, "version record", strict=False)
    if problem is not None:
        return RuleResult("required", metric, value, "present", "fail", problem)
    return RuleResult("required", metric, value, "present", "pass", f"{metric} is recorded")


def _order_rules(stage: StagePolicy, ctx: GateContext) -> list[RuleResult]:
    src = stage.from_stage
    if src is None:
        return []
    version, serving = ctx.candidate.version, ctx.from_stage_version
    observed, bound = f"{src}: {serving or 'none'}", f"{src}: {version}"
    if serving == version:
        detail = f"{version} serves in {src}"
        rules = [RuleResult("stage_order", None, observed, bound, "pass", detail)]
    else:
        now = f"{src} serves {serving}" if serving else f"nothing serves in {src}"
        detail = f"{version} must serve in {src} first ({now}); promote it to {src}"
        rules = [RuleResult("stage_order", None, observed, bound, "fail", detail)]
    if stage.soak is not None:
        rules.append(_soak(stage, ctx, in_source=serving == version))
    return rules


def _soak(stage: StagePolicy, ctx: GateContext, *, in_source: bool) -> RuleResult:
    assert stage.soak is not None
    src, version, since = stage.from_stage, ctx.candidate.version, ctx.from_stage_since
    bound = f">= {format_duration(stage.soak)} in {src}"
    if not in_source:
        return RuleResult("soak", None, None, bound, "fail", f"{version} does not serve in {src}")
    if since is None:
        detail = f"unknown since when {version} serves in {src}; no data is not a pass"
        return RuleResult("soak", None, None, bound, "fail", detail)
    elapsed = ctx.now - since
    served = format_duration(elapsed)
    if elapsed >= stage.soak:
        detail = f"{version} has served in {src} for {served}, since {_when(since)}"
        return RuleResult("soak", None, served, bound, "pass", detail)
    left = format_duration(stage.soak - elapsed)
    eligible = _when(since + stage.soak)
    detail = f"{version} has served in {src} for {served}; {left} to go, eligible at {eligible}"
    return RuleResult("soak", None, served, bound, "fail", detail)


def _signature_rules(stage: StagePolicy, ctx: GateContext) -> list[RuleResult]:
    if stage.signature == "any":
        return []
    cand, cur = ctx.candidate, ctx.current
    bound = f"no dropped or retyped inputs vs {cur.version if cur else 'current'}"
    skip = None
    if cur is None:
        skip = f"no version in {stage.name} yet"
    elif cur.signature is None:
        skip = f"{cur.version} records no signature"
    elif cand.signature is None:
        skip = f"{cand.version} records no signature"
    if skip is not None or cur is None or cur.signature is None or cand.signature is None:
        return [RuleResult("signature", None, None, bound, "skip", skip or "")]
    old, new = cur.signature.types(), cand.signature.types()
    problems = [f"drops input {n}" for n in old if n not in new]
    retyped = [n for n in old if new.get(n, old[n]) != old[n]]
    problems += [f"retypes input {n} {old[n]} -> {new[n]}" for n in retyped]
    added = [n for n in new if n not in old]
    observed = f"{len(new)} input{'' if len(new) == 1 else 's'}"
    if problems:
        return [RuleResult("signature", None, observed, bound, "fail", "; ".join(problems))]
    detail = f"adds input {', '.join(added)}" if added else "same inputs"
    return [RuleResult("signature", None, observed, bound, "pass", detail)]


def _when(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="minutes")


def _at_least(value: float, limit: float) -> bool:
    # Equal passes, and so does "equal but for float rounding" (0.8 - 0.1 vs 0.7).
    return value >= limit or math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)


def _at_most(value: float, limit: float) -> bool:
    return value <= limit or math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)


def _num(value: float) -> str:
    return f"{value:.6g}"


def show(value: float | str | None) -> str:
    """An observed value as a table cell."""
    if value is None:
        return "—"
    return _num(value) if isinstance(value, float | int) else value


def render(report: GateReport, fmt: str = "text") -> str:
    """The report as `text` (terminal), `markdown` (PR body/comment) or `json`."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, allow_nan=False)
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "text":
        return _text(report)
    raise UsageError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


def _summary(report: GateReport) -> str:
    total, failed = len(report.results), len(report.failures)
    target = f"{report.model} {report.version} -> {report.stage}"
    if not total:
        return f"{target}: no rules to check"
    if failed:
        return f"{target}: {failed} of {plural(total, 'rule')} failed"
    return f"{target}: the one rule passes" if total == 1 else f"{target}: all {total} rules pass"


def _compared(report: GateReport) -> str:
    if report.current is None:
        return f"No version serves in {report.stage} yet."
    text = f"Compared with {report.current}, now serving in {report.stage}"
    return text + (f", both on {report.compared_on}." if report.compared_on else ".")


def _text(report: GateReport) -> str:
    head = f"{'PASSED' if report.passed else 'FAILED'}  {_summary(report)}"
    results = report.results
    lines = [head, f"  {_compared(report)}"]
    rows = [(r.verdict.upper(), r.label, show(r.observed), r.bound, r.detail) for r in results]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        lines.append("  " + "  ".join([*cells, row[4]]).rstrip())
    return "\n".join(lines)


def _markdown(report: GateReport) -> str:
    mark = _MARK["pass"] if report.passed else _MARK["fail"]
    lines = [f"### {mark} Gates: {_summary(report).replace('->', '→')}", "", _compared(report)]
    if report.reviews:
        noun = "review" if report.reviews == 1 else "reviews"
        lines[-1] += f" Needs {report.reviews} approving {noun} (branch protection enforces it)."
    lines += ["", *markdown_table(report.results)]
    notes = [r for r in report.results if r.verdict != "pass"]
    if notes:
        lines.append("")
        lines += [f"- {_MARK[r.verdict]} **{_cell(r.label)}**: {_cell(r.detail)}" for r in notes]
    return "\n".join(lines) + "\n"


def markdown_table(results: Sequence[RuleResult]) -> list[str]:
    """Rule results as the lines of a markdown table: rule | observed | bound | verdict."""
    lines = ["| rule | observed | bound | verdict |", "| --- | --- | --- | --- |"]
    for r in results:
        cells = (_cell(r.label), _cell(show(r.observed)), _cell(r.bound))
        lines.append(f"| {' | '.join(cells)} | {_MARK[r.verdict]} {r.verdict} |")
    return lines


def _cell(text: str) -> str:
    text = text.replace(">=", "≥").replace("<=", "≤").replace("->", "→")
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")
