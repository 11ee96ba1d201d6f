"""The canary judged from a real Prometheus (Debian's package) scraping serve's metrics every 1 s.

One Prometheus for the session; a loopback exporter (tests/loopback_exporter.py) emits the
metric names `modelreg serve` does. Each test uses its own model, so series never mix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Registry, git
from loopback_exporter import Exporter, Prometheus, free_port, start_prometheus
from test_monitoring_files import kserve_job

pytestmark = pytest.mark.slow

POLICY = """\
stages:
  - name: staging
  - name: production
    rollout:
      strategy: canary
      steps: [{weight: 10}, {weight: 50}, {weight: 100}]
      min_requests: 200
      analysis:
        - {metric: error_rate, max: 0.05}
        - {metric: error_rate, max_regression: 0.01}
        - {metric: latency_p95_ms, max_regression: "50%"}
"""


# Two revisions of a KServe predictor: the stable version's and the canary's.
REVISIONS = {
    "kchurn-production-predictor-00001": "v1.0.0",
    "kchurn-production-predictor-00002": "v1.1.0",
}


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    exporter = Exporter()
    base = tmp_path_factory.mktemp("prometheus")
    try:
        yield from start_prometheus(base, exporter, kserve_job(exporter.port, REVISIONS))
    finally:
        exporter.close()


def _canary(reg: Registry, prom: Prometheus, model: str, policy: str = POLICY) -> None:
    """v1.0.0 serves production, v1.1.0 is its canary at 10 %; both seen at zero by Prometheus."""
    reg.write("policies/default.yaml", policy)
    reg.git("commit", "-qam", "canary policy")
    reg.register(model, 0, "--push")
    reg.register(model, 1, "--push")
    stage = f"models/{model}/stages/production.yaml"
    reg.write(stage, "version: v1.0.0\n")
    reg.git("add", "-A")
    reg.git("commit", "-qm", "v1.0.0 serves")
    reg.write(stage, "version: v1.0.0\nrollout: {candidate: v1.1.0, weight: 10, step: 0}\n")
    reg.git("commit", "-qam", "canary v1.1.0 at 10%")
    reg.git("push", "-q", "origin", "main")
    prom.exporter.serve(model, "production", "v1.0.0", "stable")
    prom.exporter.serve(model, "production", "v1.1.0", "canary")
    prom.wait_for(f'count(modelreg_requests_total{{model="{model}"}})', 4)


def _traffic(prom: Prometheus, model: str, canary_errors: int) -> None:
    prom.exporter.serve(model, "production", "v1.0.0", "stable", ok=597, errors=3)
    prom.exporter.serve(
        model, "production", "v1.1.0", "canary", ok=300 - canary_errors, errors=canary_errors
    )
    prom.wait_for(f'sum by (version) (modelreg_requests_total{{model="{model}"}})', 300)


def _refs(origin: Path) -> str:
    return git(origin, "for-each-ref", "--format=%(refname) %(objectname)")


def test_healthy_traffic_advances_the_canary_one_step(
    registry: Registry, prometheus: Prometheus
) -> None:
    _canary(registry, prometheus, "churn")
    before = _refs(registry.origin)
    # Prometheus down: exit 4, a decision object with the error, nothing pushed
    dead = f"http://127.0.0.1:{free_port()}"
    down = registry.run("rollout", "advance", "churn", "--metrics", dead, "--json")
    assert down.exit_code == 4, down.output
    assert "cannot reach the metrics server" in down.stderr
    out = json.loads(down.stdout)
    assert out["decision"]["action"] == "error" and out["error"]["exit_code"] == 4
    assert _refs(registry.origin) == before
    # no traffic yet: not enough evidence, so no verdict either way
    idle = registry.ok("rollout", "advance", "churn", "--metrics", prometheus.url, "--dry-run")
    assert idle.output.startswith("wait: not enough traffic"), idle.output
    _traffic(prometheus, "churn", canary_errors=1)
    shown = registry.ok("rollout", "status", "churn", "--metrics", prometheus.url, "--json")
    status = json.loads(shown.output)
    assert status["online"]["source"] == "prometheus"
    assert status["decision"]["action"] == "advance", status
    assert status["online"]["counts"]["candidate"]["requests"] >= 200
    # the same figures straight from the server, no Prometheus
    url = prometheus.exporter.url
    served = json.loads(
        registry.ok("rollout", "status", "churn", "--metrics", url, "--json").output
    )
    assert served["online"]["source"] == "serve"
    assert served["decision"]["action"] == "advance"
    assert served["online"]["candidate"]["error_rate"] == pytest.approx(1 / 300)
    moved = registry.ok("rollout", "advance", "churn", "--metrics", prometheus.url)
    assert moved.output.startswith("advance:") and "10% → 50%" in moved.output
    assert "modelreg/rollout/churn/production/v1.1.0/50" in _refs(registry.origin)


def test_an_injected_error_rate_opens_the_rollback_pr(
    registry: Registry, prometheus: Prometheus
) -> None:
    _canary(registry, prometheus, "fraud")
    _traffic(prometheus, "fraud", canary_errors=60)
    result = registry.run("rollout", "advance", "fraud", "--metrics", prometheus.url, "--json")
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert out["decision"]["action"] == "rollback" and out["error"] is None
    assert "refs/heads/modelreg/rollback/fraud/production/v1.0.0" in _refs(registry.origin)


def _policy_with(reg: Registry, check: str) -> None:
    reg.write("policies/default.yaml", POLICY + f"        - {check}\n")
    reg.git("commit", "-qam", "another check")
    reg.git("push", "-q", "origin", "main")


def test_a_user_query_is_filled_in_per_version_and_judged(
    registry: Registry, prometheus: Prometheus
) -> None:
    _canary(registry, prometheus, "churn-q")
    _traffic(prometheus, "churn-q", canary_errors=1)
    sel = 'model="{model}",version="{version}",stage="{stage}"'
    good = f'sum(increase(modelreg_requests_total{{{sel},code="500"}}[{{interval}}]))'
    _policy_with(registry, f"{{metric: errors_5xx, max: 10, query: '{good}'}}")
    out = registry.ok("rollout", "advance", "churn-q", "--metrics", prometheus.url, "--dry-run")
    assert out.output.startswith("advance:"), out.output
    assert "errors_5xx" in out.output
    before = _refs(registry.origin)
    # without sum(): one series per status code, so which to judge is ambiguous
    ambiguous = f"increase(modelreg_requests_total{{{sel}}}[{{interval}}])"
    _policy_with(registry, f"{{metric: requests, max: 10, query: '{ambiguous}'}}")
    refused = registry.run("rollout", "advance", "churn-q", "--metrics", prometheus.url)
    assert refused.exit_code == 2, refused.output
    assert "returned 2 series for version v1.1.0" in refused.stderr
    assert 'code="200"' in refused.stderr and 'code="500"' in refused.stderr
    # Prometheus's own parse error reaches the user
    _policy_with(registry, "{metric: broken, max: 1, query: 'sum(rate(x[{interval}])'}")
    broken = registry.run("rollout", "advance", "churn-q", "--metrics", prometheus.url)
    assert broken.exit_code == 2 and "parse error" in broken.stderr, broken.stderr
    # a name PromQL would read as a subtraction is refused, not turned into a rollback
    _policy_with(registry, "{metric: p95-latency, max: 100}")
    dashed = registry.run("rollout", "advance", "churn-q", "--metrics", prometheus.url)
    assert dashed.exit_code == 2 and "not a Prometheus metric name" in dashed.stderr
    heads = [r for r in _refs(registry.origin).splitlines() if "refs/heads/main" not in r]
    assert heads == [r for r in before.splitlines() if "refs/heads/main" not in r]


def test_kserve_predictors_are_judged_from_the_queue_proxy_through_the_shipped_relabelling(
    registry: Registry, prometheus: Prometheus
) -> None:
    """`rollout.exporter: kserve`: the builtins read Knative's queue-proxy series, which carry
    model, stage and version only through monitoring/prometheus-kubernetes.yml."""
    at = "      min_requests: 200\n"
    policy = POLICY.replace(at, at + "      exporter: kserve\n")
    _canary(registry, prometheus, "kchurn", policy)
    stable, canary = REVISIONS
    prometheus.exporter.revision(stable, ok=597, errors=3, ms=8)
    prometheus.exporter.revision(canary, ok=299, errors=1, ms=9)
    prometheus.wait_for('sum by (version) (revision_app_request_count{model="kchurn"})', 300)
    args = ("rollout", "status", "kchurn", "--metrics", prometheus.url, "--json")
    healthy = json.loads(registry.ok(*args).output)
    assert healthy["decision"]["action"] == "advance", healthy
    assert healthy["online"]["counts"]["candidate"]["requests"] >= 300
    assert all("revision_app_request" in q for q in healthy["online"]["queries"])
    assert healthy["online"]["candidate"]["latency_p95_ms"] <= 10  # already milliseconds
    prometheus.exporter.revision(canary, ok=240, errors=60, ms=9)
    prometheus.wait_for('sum(revision_app_request_count{version="v1.1.0"})', 600)
    # Under load a scrape can land late; the verdict may wait one evaluation, never advance.
    deadline = time.monotonic() + 20
    while True:
        failing = json.loads(registry.ok(*args).output)
        if failing["decision"]["action"] != "wait" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert failing["decision"]["action"] == "rollback", (failing["decision"], failing["online"])


def test_every_dashboard_panel_query_runs_on_prometheus(prometheus: Prometheus) -> None:
    from modelreg.adapters.prometheus import instant_query
    from test_monitoring_files import dashboard_queries

    prometheus.exporter.drift[("churn", "production")] = 0
    for promql in dashboard_queries():
        instant_query(prometheus.url, promql)  # a UsageError here names Prometheus's complaint
