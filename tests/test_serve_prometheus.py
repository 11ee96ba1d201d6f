"""The whole online loop with real parts: `modelreg serve` serving a canary, a real
Prometheus (Debian's package) scraping its /metrics every second, and `rollout advance`
judging the canary from Prometheus.

The canary is a real model that fails on some real input: a log transform in front of
the classifier, so a negative feature makes its prediction raise (a 500), while the
stable version serves the same rows. Healthy traffic advances the canary one step; the
rows it cannot handle raise its error rate and `advance` opens the rollback PR.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Prebuilt, Registry, git, trained_model
from loopback_exporter import Exporter, Prometheus, start_prometheus
from modelreg.serving.predict import bucket
from test_deploy import sample_csv, set_stages
from test_serve import ROW, Served, start, stop

pytestmark = pytest.mark.slow

POLICY = """\
stages:
  - name: staging
  - name: production
    rollout:
      strategy: canary
      steps: [{weight: 20}, {weight: 50}, {weight: 100}]
      min_requests: 40
      analysis:
        - {metric: error_rate, max: 0.05}
        - {metric: error_rate, max_regression: 0.02}
"""

STAGES = "production:\n  version: v1.0.0\n  rollout:\n    candidate: v1.1.0\n    weight: 20\n"


def fragile_model() -> object:
    """The stable model behind `log`: fine on the positive features it was trained on,
    NaN (and so a ValueError from the classifier) on a negative one."""
    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline([("log", FunctionTransformer(np.log)), ("clf", trained_model(0))])


def canary_that_fails_on_negatives(reg: Registry) -> None:
    """churn v1.0.0 stable, v1.1.0 (the fragile one) its 20 % canary, deployed locally,
    with a canary policy judged on error rates."""
    sample = str(sample_csv(reg.work))
    reg.write("policies/default.yaml", POLICY)
    reg.git("commit", "-qam", "canary policy")
    reg.register("churn", 0, "--sample", sample, "--push")
    fragile = reg.work / "fragile.pkl"
    fragile.write_bytes(pickle.dumps(fragile_model()))
    metrics = reg.metrics("fragile", accuracy=0.9, f1=0.85)
    reg.ok("register", "churn", "--artifact", str(fragile), "--metrics", str(metrics),
           "--sample", sample, "--push")  # fmt: skip
    set_stages(reg, "churn", STAGES)
    reg.ok("deploy", "--stage", "production")


@pytest.fixture(scope="module")
def loop(
    prebuilt: Prebuilt, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Registry, Served, Prometheus]]:
    reg = prebuilt.registry(canary_that_fails_on_negatives)
    served = start(reg, tmp_path_factory.mktemp("serve"))
    exporter = Exporter()  # unused: this Prometheus scrapes the real server
    job = (
        "  - job_name: modelreg-serve\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{served.port}']}}]\n"
    )
    prom = start_prometheus(tmp_path_factory.mktemp("prometheus"), exporter, job)
    try:
        yield reg, served, next(prom)
    finally:
        prom.close()
        exporter.close()
        stop(served)


def keys(canary: bool, n: int, start: int = 0) -> list[str]:
    """`n` request ids that the 20 % split sends to the canary (or to the stable version)."""
    out, i = [], start
    while len(out) < n:
        key = f"req-{i}"
        if (bucket(key) < 20) == canary:
            out.append(key)
        i += 1
    return out


def send(served: Served, ids: list[str], row: list[float]) -> list[int]:
    codes = []
    for rid in ids:
        code, _, _ = served.post("/v1/models/churn:predict", {"instances": [row]}, x_request_id=rid)
        codes.append(code)
    return codes


def _refs(origin: Path) -> str:
    return git(origin, "for-each-ref", "--format=%(refname)")


def test_prometheus_scraping_serve_advances_a_healthy_canary_and_rolls_back_a_failing_one(
    loop: tuple[Registry, Served, Prometheus],
) -> None:
    reg, served, prom = loop
    # Before: a version's series appeared with its first request, so Prometheus's first
    # sample of the canary was already 45 and `increase()` counted 0: it waited forever.
    prom.wait_for('count(modelreg_requests_total{model="churn"})', 4)
    stable_ids, canary_ids = keys(False, 45), keys(True, 45)
    assert set(send(served, stable_ids + canary_ids, ROW)) == {200}
    prom.wait_for('sum by (version) (modelreg_requests_total{model="churn"})', 45)
    status_args = ("rollout", "status", "churn", "--metrics", prom.url, "--json")
    healthy = json.loads(reg.ok(*status_args).output)
    assert healthy["online"]["source"] == "prometheus"
    # Prometheus's increase() extrapolates to the window's edges: at least what was sent
    assert 45 <= healthy["online"]["counts"]["candidate"]["requests"] < 90
    assert healthy["decision"]["action"] == "advance", healthy
    moved = reg.ok("rollout", "advance", "churn", "--metrics", prom.url, "--dry-run")
    assert moved.output.startswith("advance:") and "20% → 50%" in moved.output

    negative = [-1.0, *ROW[1:]]
    assert set(send(served, keys(False, 10, 10_000), negative)) == {200}  # stable copes
    assert set(send(served, keys(True, 10, 10_000), negative)) == {500}  # the canary fails
    prom.wait_for('sum(modelreg_requests_total{model="churn",code="500"})', 10)
    judged = json.loads(reg.ok(*status_args).output)
    assert judged["decision"]["action"] == "rollback", judged
    assert 0.1 < judged["online"]["candidate"]["error_rate"] < 0.3  # 10 of 55
    assert judged["online"]["stable"]["error_rate"] == 0
    failed = reg.run("rollout", "advance", "churn", "--metrics", prom.url, "--json")
    assert failed.exit_code == 1, failed.output
    assert json.loads(failed.stdout)["decision"]["action"] == "rollback"
    assert "refs/heads/modelreg/rollback/churn/production/v1.0.0" in _refs(reg.origin)
