"""The canary's online evidence: builtin metrics, their PromQL, and the figures behind them.

`modelreg serve` exports `modelreg_requests_total`, `modelreg_request_duration_seconds`
and `modelreg_feedback_total` labelled by model, version, stage and role. The builtin
analysis metrics are defined here once, as PromQL (used by the analysis, the shipped
recording rules and the dashboard) and as the same arithmetic on request counts (used
when the figures come from `serve`'s own stats endpoint or a saved copy of it).
Everything here is pure: fetching lives in `canary.py` and `adapters/prometheus.py`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["errors", "latency", "accuracy"]

# Latency buckets of modelreg serve's request histogram, in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
DEFAULT_INTERVAL = 3600  # seconds judged when the step's start is unknown

_SEL = 'model="{model}",stage="{stage}"'
_REQ = "modelreg_requests_total{" + _SEL + "}"
_ERR = "modelreg_requests_total{" + _SEL + ',code=~"5.."}'
_BUCKET = "modelreg_request_duration_seconds_bucket{" + _SEL + "}"
_FB = "modelreg_feedback_total{" + _SEL + "}"
_FB_OK = "modelreg_feedback_total{" + _SEL + ',outcome="correct"}'


def _ratio(part: str, whole: str) -> str:
    # `or … * 0`: a version without a single error still has an error rate, 0.
    num = f"sum by (version) (rate({part}[{{interval}}]))"
    den = f"sum by (version) (rate({whole}[{{interval}}]))"
    return f"({num} or {den} * 0) / {den}"


def _quantile(q: float) -> str:
    return f"1000 * histogram_quantile({q}, sum by (version, le) (rate({_BUCKET}[{{interval}}])))"


@dataclass(frozen=True)
class Builtin:
    """An analysis metric modelreg knows: its PromQL template and how to judge it."""

    name: str
    kind: Kind
    promql: str
    quantile: float | None = None
    help: str = ""


BUILTINS: Mapping[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("error_rate", "errors", _ratio(_ERR, _REQ), help="share of 5xx answers"),
        Builtin("latency_p95_ms", "latency", _quantile(0.95), 0.95, "95th percentile, ms"),
        Builtin("latency_p99_ms", "latency", _quantile(0.99), 0.99, "99th percentile, ms"),
        Builtin(
            "accuracy_online", "accuracy", _ratio(_FB_OK, _FB), help="share of correct feedback"
        ),
    )
}

# The counts behind the builtins, per version, over the judged interval.
EVIDENCE_PROMQL: Mapping[str, str] = {
    "requests": f"sum by (version) (increase({_REQ}[{{interval}}]))",
    "errors": f"sum by (version) (increase({_ERR}[{{interval}}]))",
    "latency": f"sum by (version, le) (increase({_BUCKET}[{{interval}}]))",
    "feedback": f"sum by (version, outcome) (increase({_FB}[{{interval}}]))",
}

# KServe's serverless predictors: the Knative queue-proxy beside every predictor counts
# requests by response code class and times them (in milliseconds). The labels `model`,
# `stage` and `version` come from the predictor pod's `modelreg.dev/*` labels (set by
# `deploy --target kserve`) through the relabelling in monitoring/prometheus-kubernetes.yml.
# KServe exports no outcomes, so `accuracy_online` needs a query of its own there.
_K_REQ = "revision_app_request_count{" + _SEL + "}"
_K_ERR = "revision_app_request_count{" + _SEL + ',response_code_class="5xx"}'
_K_BUCKET = "revision_app_request_latencies_bucket{" + _SEL + "}"


def _k_quantile(q: float) -> str:
    return f"histogram_quantile({q}, sum by (version, le) (rate({_K_BUCKET}[{{interval}}])))"


@dataclass(frozen=True)
class Exporter:
    """Whose metrics the builtin analysis metrics are computed from (`rollout.exporter`)."""

    name: str
    builtins: Mapping[str, Builtin]
    evidence: Mapping[str, str]
    le_seconds: float = 1.0  # the unit of the latency histogram's `le`, in seconds


EXPORTERS: Mapping[str, Exporter] = {
    "modelreg": Exporter("modelreg", BUILTINS, EVIDENCE_PROMQL),
    "kserve": Exporter(
        "kserve",
        {
            b.name: b
            for b in (
                Builtin("error_rate", "errors", _ratio(_K_ERR, _K_REQ), help="share of 5xx"),
                Builtin("latency_p95_ms", "latency", _k_quantile(0.95), 0.95, "95th pct, ms"),
                Builtin("latency_p99_ms", "latency", _k_quantile(0.99), 0.99, "99th pct, ms"),
            )
        },
        {
            "requests": f"sum by (version) (increase({_K_REQ}[{{interval}}]))",
            "errors": f"sum by (version) (increase({_K_ERR}[{{interval}}]))",
            "latency": f"sum by (version, le) (increase({_K_BUCKET}[{{interval}}]))",
        },
        le_seconds=0.001,
    ),
}

_PLACEHOLDER = re.compile(r"\{(model|version|stage|interval)\}")


def label_value(text: str) -> str:
    """`text` escaped for a double-quoted PromQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def fill(template: str, **values: str) -> str:
    """Replace `{model}`, `{version}`, `{stage}`, `{interval}`; PromQL's own braces stay."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        value = values.get(name)
        if value is None:
            return m.group(0)
        return value if name == "interval" else label_value(value)

    return _PLACEHOLDER.sub(sub, template)


def gauge_query(metric: str) -> str:
    """A plain gauge `metric{model,version}` (a metric name PromQL reads as one)."""
    return metric + '{model="{model}",version="{version}"}'


def interval_text(seconds: float) -> str:
    """A PromQL range of whole seconds, rounded up so it reaches back to the step's start."""
    return f"{max(1, math.ceil(seconds))}s"


@dataclass(frozen=True)
class Counts:
    """What one version served over the judged interval."""

    requests: float = 0
    errors: float = 0
    latency: tuple[tuple[float, float], ...] = ()  # (upper bound s, cumulative count), sorted
    feedback_total: float = 0
    feedback_correct: float = 0

    def bins(self) -> list[float]:
        """Requests per latency bucket (not cumulative)."""
        out, before = [], 0.0
        for _, cum in self.latency:
            out.append(max(cum - before, 0.0))
            before = max(cum, before)
        return out

    def values(self) -> dict[str, float]:
        """The builtin metrics computed from these counts (those that have data)."""
        out: dict[str, float] = {}
        if self.requests > 0:
            out["error_rate"] = self.errors / self.requests
            for b in BUILTINS.values():
                if b.quantile is not None:
                    q = histogram_quantile(b.quantile, self.latency)
                    if q is not None:
                        out[b.name] = 1000 * q
        if self.feedback_total > 0:
            out["accuracy_online"] = self.feedback_correct / self.feedback_total
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe counts."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "feedback_total": self.feedback_total,
            "feedback_correct": self.feedback_correct,
        }


@dataclass(frozen=True)
class Evidence:
    """Request counts of both versions: what `min_requests` and the significance tests use."""

    candidate: Counts
    stable: Counts
    interval_seconds: int = DEFAULT_INTERVAL


@dataclass(frozen=True)
class Online:
    """The canary's and the stable version's online metrics, and the counts behind them."""

    candidate: dict[str, float]
    stable: dict[str, float] | None
    evidence: Evidence | None = None
    source: str = "file"  # file | serve | prometheus
    queries: tuple[str, ...] = field(default=())


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus's `histogram_quantile` on cumulative buckets: linear within a bucket."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower, before = 0.0, 0.0
    for upper, cum in buckets:
        if cum >= rank:
            if math.isinf(upper):
                return lower  # the +Inf bucket: the highest finite bound, as Prometheus
            width = cum - before
            return lower + (upper - lower) * ((rank - before) / width if width else 1.0)
        lower, before = upper, cum
    return lower


def pvalue(kind: Kind, candidate: Counts, stable: Counts) -> float | None:
    """One-sided p-value that the canary is worse than stable; None without the counts."""
    from modelreg.stats.tests import mann_whitney_binned, two_proportion_pvalue

    if kind == "errors":
        if candidate.requests <= 0 or stable.requests <= 0:
            return None
        return two_proportion_pvalue(
            round(candidate.errors),
            round(candidate.requests),
            round(stable.errors),
            round(stable.requests),
        )
    if kind == "accuracy":
        if candidate.feedback_total <= 0 or stable.feedback_total <= 0:
            return None
        return two_proportion_pvalue(
            round(candidate.feedback_correct),
            round(candidate.feedback_total),
            round(stable.feedback_correct),
            round(stable.feedback_total),
            alternative="less",
        )
    a, b = _aligned(candidate, stable)
    if not a or sum(a) <= 0 or sum(b) <= 0:
        return None
    return mann_whitney_binned([round(x) for x in a], [round(x) for x in b])


def _aligned(a: Counts, b: Counts) -> tuple[list[float], list[float]]:
    """Both histograms over the bucket bounds they share."""
    common = sorted({le for le, _ in a.latency} & {le for le, _ in b.latency})
    pick_a = Counts(latency=tuple((le, c) for le, c in a.latency if le in common))
    pick_b = Counts(latency=tuple((le, c) for le, c in b.latency if le in common))
    return pick_a.bins(), pick_b.bins()


def parse_le(text: str) -> float:
    """A bucket bound as Prometheus writes it: `0.005`, `+Inf`."""
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)


def counts_from_stats(entry: Mapping[str, Any], where: str) -> Counts:
    """One version of `GET /v1/stats` (or a saved copy of it) as Counts."""
    from modelreg.errors import UsageError

    try:
        buckets = sorted(
            (parse_le(str(k)), float(v)) for k, v in (entry.get("latency_buckets") or {}).items()
        )
        return Counts(
            requests=float(entry.get("requests", 0)),
            errors=float(entry.get("errors", 0)),
            latency=tuple(buckets),
            feedback_total=float(entry.get("feedback_total", 0)),
            feedback_correct=float(entry.get("feedback_correct", 0)),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"{where}: not serve's stats format ({exc})") from None
