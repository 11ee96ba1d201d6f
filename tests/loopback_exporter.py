"""A stand-in for `modelreg serve`'s metrics on 127.0.0.1, and a real Prometheus scraping it.

The exporter emits exactly the series `modelreg serve` does (names, labels, histogram
buckets) in the text exposition format, answers `GET /v1/stats` in serve's format, and
404s `/api/v1/status/buildinfo` as serve does. Tests set its counters directly.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class Served:
    """What one version of one model in one stage has served so far (counters only grow)."""

    role: str
    ok: int = 0
    errors: int = 0
    latency: dict[float, int] = field(default_factory=dict)  # bucket bound → requests in it
    correct: int = 0
    wrong: int = 0


# Knative's queue-proxy latency buckets (milliseconds), as its Prometheus exporter writes them.
KNATIVE_MS = (5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700)


class Exporter:
    """The loopback exporter; `serve()` adds traffic to a version's counters, `revision()` to
    a KServe predictor revision's queue-proxy counters (at /revisions/<name>/metrics)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.series: dict[tuple[str, str, str], Served] = {}  # (model, stage, version)
        self.drift: dict[tuple[str, str], int] = {}
        self.revisions: dict[str, Served] = {}
        handler = _handler(self)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(
        self,
        model: str,
        stage: str,
        version: str,
        role: str,
        *,
        ok: int = 0,
        errors: int = 0,
        seconds: float = 0.004,
        correct: int = 0,
        wrong: int = 0,
    ) -> None:
        with self.lock:
            s = self.series.setdefault((model, stage, version), Served(role))
            s.ok += ok
            s.errors += errors
            bound = next(b for b in BUCKETS if seconds <= b)
            s.latency[bound] = s.latency.get(bound, 0) + ok + errors
            s.correct += correct
            s.wrong += wrong

    def revision(self, name: str, *, ok: int = 0, errors: int = 0, ms: float = 8) -> None:
        with self.lock:
            s = self.revisions.setdefault(name, Served("kserve"))
            s.ok += ok
            s.errors += errors
            bound = next(b for b in KNATIVE_MS if ms <= b)
            s.latency[bound] = s.latency.get(bound, 0) + ok + errors

    def queue_proxy_text(self, name: str) -> str:
        """One revision's queue-proxy metrics, labelled as Knative labels them (no model,
        stage or version: those come from the pod's labels through relabelling)."""
        service = name.rsplit("-", 1)[0]
        base = (
            f'configuration_name="{service}",namespace_name="models",'
            f'pod_name="{name}-deployment-1",revision_name="{name}",service_name="{service}"'
        )
        with self.lock:
            s = self.revisions.get(name, Served("kserve"))
            lines = ["# TYPE revision_app_request_count counter"]
            for code, cls, n in (("200", "2xx", s.ok), ("500", "5xx", s.errors)):
                lines.append(
                    f'revision_app_request_count{{{base},response_code="{code}",'
                    f'response_code_class="{cls}"}} {n}'
                )
            lines.append("# TYPE revision_app_request_latencies histogram")
            cum = 0
            for b in KNATIVE_MS:
                cum += s.latency.get(b, 0)
                lines.append(f'revision_app_request_latencies_bucket{{{base},le="{b}"}} {cum}')
            lines.append(f'revision_app_request_latencies_bucket{{{base},le="+Inf"}} {cum}')
            lines.append(f"revision_app_request_latencies_count{{{base}}} {cum}")
            lines.append(f"revision_app_request_latencies_sum{{{base}}} {cum * 8}")
        return "\n".join(lines) + "\n"

    def text(self) -> str:
        lines = [
            "# HELP modelreg_requests_total Requests served.",
            "# TYPE modelreg_requests_total counter",
        ]
        hist = [
            "# HELP modelreg_request_duration_seconds Request latency.",
            "# TYPE modelreg_request_duration_seconds histogram",
        ]
        feedback = [
            "# HELP modelreg_feedback_total Feedback received.",
            "# TYPE modelreg_feedback_total counter",
        ]
        with self.lock:
            for (model, stage, version), s in sorted(self.series.items()):
                base = f'model="{model}",version="{version}",stage="{stage}",role="{s.role}"'
                lines.append(f'modelreg_requests_total{{{base},code="200"}} {s.ok}')
                lines.append(f'modelreg_requests_total{{{base},code="500"}} {s.errors}')
                cum = 0
                for b in BUCKETS:
                    cum += s.latency.get(b, 0)
                    hist.append(
                        f'modelreg_request_duration_seconds_bucket{{{base},le="{b}"}} {cum}'
                    )
                hist.append(f'modelreg_request_duration_seconds_bucket{{{base},le="+Inf"}} {cum}')
                hist.append(f"modelreg_request_duration_seconds_count{{{base}}} {cum}")
                hist.append(f"modelreg_request_duration_seconds_sum{{{base}}} {cum * 0.004}")
                for outcome, n in (("correct", s.correct), ("wrong", s.wrong)):
                    feedback.append(f'modelreg_feedback_total{{{base},outcome="{outcome}"}} {n}')
            drift = ["# TYPE modelreg_drift_status gauge"] + [
                f'modelreg_drift_status{{model="{m}",stage="{st}"}} {v}'
                for (m, st), v in sorted(self.drift.items())
            ]
        return "\n".join(lines + hist + feedback + drift) + "\n"

    def stats(self, model: str, stage: str, interval: int) -> dict[str, object]:
        versions = {}
        with self.lock:
            for (m, st, version), s in self.series.items():
                if (m, st) != (model, stage):
                    continue
                cum, buckets = 0, {}
                for b in BUCKETS:
                    cum += s.latency.get(b, 0)
                    buckets[str(b)] = cum
                buckets["+Inf"] = cum
                versions[version] = {
                    "role": s.role,
                    "requests": s.ok + s.errors,
                    "errors": s.errors,
                    "latency_buckets": buckets,
                    "feedback_total": s.correct + s.wrong,
                    "feedback_correct": s.correct,
                }
        return {"model": model, "stage": stage, "interval_seconds": interval, "versions": versions}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlparse(self.path)
            if url.path == "/metrics":
                self._send(200, exporter.text(), "text/plain; version=0.0.4")
            elif url.path.startswith("/revisions/") and url.path.endswith("/metrics"):
                name = url.path.split("/")[2]
                self._send(200, exporter.queue_proxy_text(name), "text/plain; version=0.0.4")
            elif url.path == "/v1/stats":
                q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                body = exporter.stats(q["model"], q["stage"], int(q["interval"]))
                self._send(200, json.dumps(body), "application/json")
            else:
                self._send(404, '{"error": "not found"}', "application/json")

        def _send(self, code: int, body: str, kind: str) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prometheus_binary() -> str | None:
    return shutil.which("prometheus") or next(
        (p for p in ("/usr/bin/prometheus",) if Path(p).exists()), None
    )


@dataclass
class Prometheus:
    url: str
    exporter: Exporter
    config: Path

    def query(self, promql: str) -> list[dict[str, object]]:
        full = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(full, timeout=10) as resp:
            result: list[dict[str, object]] = json.load(resp)["data"]["result"]
        return result

    def wait_for(self, promql: str, at_least: float, timeout: float = 20) -> None:
        """Until `promql` returns series all of which are at least `at_least`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.query(promql)
            if found and all(float(r["value"][1]) >= at_least for r in found):  # type: ignore[index]
                return
            time.sleep(0.25)
        raise AssertionError(f"Prometheus never saw {promql} >= {at_least}: {found}")


def start_prometheus(base: Path, exporter: Exporter, extra_jobs: str = "") -> Iterator[Prometheus]:
    """A real Prometheus on a free loopback port scraping `exporter` every second
    (`extra_jobs`: more scrape_configs entries, as YAML list items)."""
    binary = prometheus_binary()
    assert binary, "prometheus is missing: apt-get install prometheus (.ci/run does)"
    port = free_port()
    config = base / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: modelreg\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n" + extra_jobs
    )
    log = (base / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={base / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(proc, url + "/-/ready", 30, base / "prometheus.log")
        yield Prometheus(url, exporter, config)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def wait_until_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    """Poll `url` until it answers 200; fail with the end of the server's log if the
    process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").splitlines()[-40:]
            raise AssertionError(f"{url} never answered 200:\n" + "\n".join(tail))
        time.sleep(0.1)
