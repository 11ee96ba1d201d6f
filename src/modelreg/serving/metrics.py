"""`serve`'s Prometheus metrics, and the stats endpoint computed from the same counters.

The names are a contract shared with the canary analysis, the shipped recording and alert
rules and the Grafana dashboard: change them only together. With several workers the
values live in prometheus-client's multiprocess files (PROMETHEUS_MULTIPROC_DIR), and
every worker reads every worker's values, for `/metrics` and for `/v1/stats` alike.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LABELS = ("model", "version", "stage", "role")
DRIFT_FILE = "modelreg_drift.prom"
DRIFT_METRIC = "modelreg_drift_status"
HISTORY_SECONDS = 3600  # how far back /v1/stats can look
MAX_UNKNOWN_FEATURES = 50  # distinct unknown field names counted by name; then "(other)"


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """The metric objects of one process, with their label children cached."""

    def __init__(self, drift_files: tuple[Path, ...] = ()) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        try:
            from prometheus_client import disable_created_metrics

            disable_created_metrics()  # type: ignore[no-untyped-call]
        except ImportError:  # older prometheus-client
            pass
        own = None if multiprocess() else CollectorRegistry(auto_describe=True)
        kw: dict[str, Any] = {"registry": own}
        self.requests = Counter(
            "modelreg_requests", "Requests by version and HTTP status.", [*LABELS, "code"], **kw
        )
        self.duration = Histogram(
            "modelreg_request_duration_seconds",
            "Request latency.",
            LABELS,
            buckets=LATENCY_BUCKETS,
            **kw,
        )
        self.predictions = Counter(
            "modelreg_predictions", "Predicted classes.", [*LABELS, "class"], **kw
        )
        self.values = Histogram("modelreg_prediction_value", "Predicted values.", LABELS, **kw)
        self.problems = Counter(
            "modelreg_input_problems",
            "Input problems by feature.",
            ["model", "stage", "problem", "feature"],
            **kw,
        )
        self.feedback = Counter(
            "modelreg_feedback", "Labelled outcomes.", [*LABELS, "outcome"], **kw
        )
        self.abs_error = Histogram(
            "modelreg_feedback_abs_error", "Absolute error of labelled regressions.", LABELS, **kw
        )
        self.ready = Gauge(
            "modelreg_model_ready",
            "1 while a version serves, 0 when it failed to load.",
            ["model", "version", "stage"],
            multiprocess_mode="livemax",
            **kw,
        )
        self.load_failures = Counter(
            "modelreg_model_load_failures",
            "Versions that failed verification or loading.",
            ["model", "version", "stage"],
            **kw,
        )
        self.log_failures = Counter(
            "modelreg_prediction_log_failures",
            "Times a worker found its prediction log writer process dead (rows in its pipe lost).",
            **kw,
        )
        self.scrape = _scrape_registry(own)
        self.scrape.register(DriftCollector(drift_files))
        self._children: dict[tuple[Any, ...], Any] = {}
        self._unknown: set[str] = set()

    def child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def prime(self, model: str, version: str, stage: str, role: str) -> None:
        """Create a served version's series at 0 before its first request. Prometheus's
        `increase()` needs a sample before the first request: a counter that first shows
        up already at 45 counts as 0 requests, and the canary analysis would wait forever."""
        labels = (model, version, stage, role)
        for code in ("200", "500"):
            self.child(self.requests, *labels, code)
        self.child(self.duration, *labels)
        for outcome in ("correct", "wrong"):
            self.child(self.feedback, *labels, outcome)

    def problem(self, model: str, stage: str, problem: str, feature: str) -> None:
        if problem == "unknown" and feature not in self._unknown:
            if len(self._unknown) >= MAX_UNKNOWN_FEATURES:
                feature = "(other)"
            else:
                self._unknown.add(feature)
        self.child(self.problems, model, stage, problem, feature).inc()

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.scrape), CONTENT_TYPE_LATEST


def _scrape_registry(own: Any) -> Any:
    from prometheus_client import CollectorRegistry

    if own is not None:
        return own
    from prometheus_client import multiprocess as mp

    registry = CollectorRegistry()
    mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class DriftCollector:
    """`modelreg_drift_status` re-exported from the textfile `modelreg drift` writes."""

    def __init__(self, files: tuple[Path, ...]) -> None:
        self.files = files

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily
        from prometheus_client.parser import text_string_to_metric_families

        out = GaugeMetricFamily(DRIFT_METRIC, "Latest drift verdict.", labels=["model", "stage"])
        seen = False
        for path in self.files:
            try:
                text = path.read_text()
                families = list(text_string_to_metric_families(text))
            except (OSError, ValueError):
                continue  # absent or half-written: skip this scrape
            for fam in families:
                for s in fam.samples:
                    if s.name == DRIFT_METRIC:
                        labels = [s.labels.get("model", ""), s.labels.get("stage", "")]
                        out.add_metric(labels, s.value)
                        seen = True
        if seen:
            yield out

    def describe(self) -> list[Any]:
        return []


# -- /v1/stats ------------------------------------------------------------------------

Totals = dict[tuple[str, str, str, str], dict[str, Any]]  # (model, stage, version, role)


def totals(registry: Any) -> Totals:
    """Cumulative requests, errors, latency buckets and feedback per served version."""
    out: Totals = {}

    def entry(labels: Mapping[str, str]) -> dict[str, Any]:
        key = (labels["model"], labels["stage"], labels["version"], labels["role"])
        found = out.get(key)
        if found is None:
            found = out[key] = {
                "requests": 0.0,
                "errors": 0.0,
                "latency_buckets": {},
                "feedback_total": 0.0,
                "feedback_correct": 0.0,
            }
        return found

    for fam in registry.collect():
        for s in fam.samples:
            if s.name == "modelreg_requests_total":
                e = entry(s.labels)
                e["requests"] += s.value
                if s.labels.get("code", "").startswith("5"):
                    e["errors"] += s.value
            elif s.name == "modelreg_request_duration_seconds_bucket":
                buckets = entry(s.labels)["latency_buckets"]
                buckets[s.labels["le"]] = buckets.get(s.labels["le"], 0.0) + s.value
            elif s.name == "modelreg_feedback_total":
                e = entry(s.labels)
                e["feedback_total"] += s.value
                if s.labels.get("outcome") == "correct":
                    e["feedback_correct"] += s.value
    return out


class StatsHistory:
    """Per-second snapshots of `totals`, so /v1/stats can answer for the last N seconds.

    Taken by a timer on the server's event loop (`start`), not by a thread: a snapshot
    runs between two requests instead of competing with them for the interpreter.
    """

    def __init__(self, registry: Any, *, period: float = 1.0) -> None:
        self.registry = registry
        self.period = period
        self._ring: deque[tuple[float, Totals]] = deque(maxlen=HISTORY_SECONDS + 2)
        self._ring.append((time.monotonic(), {}))
        self._stopped = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stopped = False
        loop.call_later(self.period, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._stopped:
            return
        # a half-written multiprocess file: try again next second
        with contextlib.suppress(Exception):
            self._ring.append((time.monotonic(), totals(self.registry)))
        loop.call_later(self.period, self._tick, loop)

    def stop(self) -> None:
        self._stopped = True

    def window(self, model: str, stage: str, interval: float) -> dict[str, Any]:
        """Each version's figures over the last `interval` seconds (or since start)."""
        now_t = time.monotonic()
        now = totals(self.registry)
        base: Totals = self._ring[0][1]
        for t, snap in list(self._ring):
            if t <= now_t - interval:
                base = snap
            else:
                break
        versions: dict[str, Any] = {}
        for (m, s, version, role), cur in sorted(now.items()):
            if m != model or s != stage:
                continue
            old = base.get((m, s, version, role), {})
            versions[version] = _difference(role, cur, old)
        return {
            "model": model,
            "stage": stage,
            "interval_seconds": interval,
            "versions": versions,
        }


def _difference(role: str, cur: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    def d(name: str) -> int:
        return round(float(cur.get(name, 0.0)) - float(old.get(name, 0.0)))

    olds = old.get("latency_buckets", {})
    buckets = {
        le: round(v - olds.get(le, 0.0))
        for le, v in sorted(cur["latency_buckets"].items(), key=lambda kv: float(kv[0]))
    }
    return {
        "role": role,
        "requests": d("requests"),
        "errors": d("errors"),
        "latency_buckets": buckets,
        "feedback_total": d("feedback_total"),
        "feedback_correct": d("feedback_correct"),
    }
