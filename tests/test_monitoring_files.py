"""The monitoring/ folder `init` writes: promtool accepts it, the repo dogfoods the same files."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from conftest import Registry

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(str(resources.files("modelreg").joinpath("templates/monitoring")))
FILES = (
    "prometheus.yml",
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
