"""The monitoring/ folder `init` writes: promtool accepts it, the repo dogfoods the same files."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest
import yaml

from conftest import Registry

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(str(resources.files("modelreg").joinpath("templates/monitoring")))
FILES = (
    "prometheus.yml",
    "prometheus-kubernetes.yml",
    "rules/modelreg-recording.yml",
    "rules/modelreg-alerts.yml",
    "grafana/modelreg-dashboard.json",
)


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (.ci/run does)"
    return found


def test_init_writes_the_monitoring_folder_and_the_repo_has_the_same(registry: Registry) -> None:
    for rel in FILES:
        shipped = (TEMPLATES / rel).read_bytes()
        assert (registry.root / "monitoring" / rel).read_bytes() == shipped, rel
        assert (ROOT / "monitoring" / rel).read_bytes() == shipped, rel


@pytest.mark.parametrize("what", ["config", "rules"])
def test_promtool_accepts_the_shipped_config_and_rules(what: str) -> None:
    files = ["prometheus.yml"] if what == "config" else [f for f in FILES if f.startswith("rules")]
    out = subprocess.run(
        [_promtool(), "check", what, *files], cwd=TEMPLATES, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def kserve_job(port: int, revisions: dict[str, str]) -> str:
    """The shipped Kubernetes scrape job, its pod discovery swapped for static targets that
    carry the meta labels Kubernetes discovery would (Debian's Prometheus is built without
    Kubernetes discovery): so the relabelling tested is the shipped one."""
    shipped = yaml.safe_load((TEMPLATES / "prometheus-kubernetes.yml").read_text())
    job = shipped["scrape_configs"][0]
    del job["kubernetes_sd_configs"]
    meta = "__meta_kubernetes_pod_label_modelreg_dev_"
    job["static_configs"] = [
        {
            "targets": [f"127.0.0.1:{port}"],
            "labels": {
                "__metrics_path__": f"/revisions/{rev}/metrics",
                f"{meta}model": revisions_model(rev),
                f"{meta}stage": "production",
                f"{meta}version": version,
                "__meta_kubernetes_pod_container_port_name": "http-usermetric",
                "__meta_kubernetes_namespace": "models",
                "__meta_kubernetes_pod_name": f"{rev}-deployment-1",
            },
        }
        for rev, version in revisions.items()
    ]
    return "".join(f"  {line}\n" for line in yaml.safe_dump([job]).splitlines())


def revisions_model(revision: str) -> str:
    """The model of a KServe predictor revision named `<model>-<stage>-predictor-0000N`."""
    return revision.split("-", 1)[0]


def test_promtool_accepts_the_kubernetes_config_with_its_discovery_swapped(
    tmp_path: Path,
) -> None:
    """Debian's promtool has no Kubernetes discovery, so the job is checked with static
    targets in its place; everything else (relabelling, rule files) is the shipped file."""
    shipped = yaml.safe_load((TEMPLATES / "prometheus-kubernetes.yml").read_text())
    assert shipped["scrape_configs"][0]["kubernetes_sd_configs"] == [{"role": "pod"}]
    del shipped["scrape_configs"]
    body = yaml.safe_dump(shipped) + "scrape_configs:\n"
    body += kserve_job(9091, {"churn-production-predictor-00001": "v1.0.0"})
    shutil.copytree(TEMPLATES / "rules", tmp_path / "rules")
    (tmp_path / "k8s.yml").write_text(body)
    out = subprocess.run(
        [_promtool(), "check", "config", "k8s.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def dashboard_queries() -> list[str]:
    """Every panel's PromQL with Grafana's variables filled in as a dashboard would."""
    dash = json.loads((TEMPLATES / "grafana/modelreg-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    fill = {"$model": "churn", "$stage": "production", "$__rate_interval": "1m"}
    out = []
    for e in exprs:
        for k, v in sorted(fill.items(), key=lambda kv: -len(kv[0])):
            e = e.replace(k, v)
        out.append(e)
    return out


def test_the_dashboard_shows_red_per_version_the_canary_weight_and_drift() -> None:
    text = " ".join(dashboard_queries())
    for needle in ("modelreg_requests_total", "modelreg_request_duration_seconds_bucket"):
        assert needle in text
    assert 'role="canary"' in text and "modelreg_drift_status" in text
