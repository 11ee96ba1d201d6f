"""The README's first command: the whole lifecycle, checked step by step."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modelreg.serving.predict import bucket

pytestmark = pytest.mark.slow


def test_the_demo_walks_the_whole_lifecycle_and_keeps_the_registry(tmp_path: Path) -> None:
    where = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "modelreg", "demo", "--dir", str(where)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = [ln for ln in proc.stdout.splitlines() if ln.lstrip().startswith("✓")]
    titles = [ln.split(".", 1)[1].strip().split("  ")[0] for ln in steps]
    assert titles == [
        "init",
        "train v1 → register",
        "promote to staging",
        "gate → merge",
        "promote to production → merge",
        "deploy",
        "batch predictions",
        "drift appears",
        "scheduled drift check",
        "retrain PR",
        "gate → merge",
        "canary rollout",
        "serve the canary",
        "a failing online check",
        "rollback by git revert",
        "deploy",
    ]
    assert f"The registry is in {where / 'registry'}" in proc.stdout
    _the_canary_was_judged_on_live_traffic(where / "registry", steps)
    status = subprocess.run(
        [sys.executable, "-m", "modelreg", "status", "--json"],
        cwd=where / "registry",
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"version": "v1.0.0"' in status.stdout


def test_the_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("mine")
    proc = subprocess.run(
        [sys.executable, "-m", "modelreg", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "is not empty" in proc.stderr and (tmp_path / "x").read_text() == "mine"


def _the_canary_was_judged_on_live_traffic(registry: Path, steps: list[str]) -> None:
    """The split and the rollback's error rate, recomputed from what the server logged."""
    served = next(ln for ln in steps if "serve the canary" in ln)
    failing = next(ln for ln in steps if "a failing online check" in ln)
    said = re.search(r"(\d+) of (\d+) requests", served)
    assert said, served
    canary, total = int(said[1]), int(said[2])
    assert abs(canary / total - 0.2) <= 0.05, served
    # the server's own prediction log: every answered request, with its version and role
    logs = sorted((registry / ".modelreg/logs/cancer/production").glob("serve-*.jsonl"))
    assert logs, "the server wrote no prediction log"
    lines = [json.loads(x) for f in logs for x in f.read_text().splitlines()]
    for rec in lines:  # the split is predict's stable hash of the request id
        want = "v1.1.0" if bucket(rec["request_id"]) < 20 else "v1.0.0"
        assert (rec["version"], rec["role"]) == (want, "canary" if want == "v1.1.0" else "stable")
    ids = [f"patient-{i:05d}" for i in range(total)]
    assert canary == sum(bucket(r) < 20 for r in ids)
    answered = {rec["request_id"] for rec in lines}
    failed = [r for r in ids if r not in answered]
    # only canary requests failed (the injected errors), and the rollback judged their rate
    assert failed and all(bucket(r) < 20 for r in failed)
    rate = re.search(r"live error_rate ([\d.]+)", failing)
    assert rate, failing
    assert float(rate[1]) == pytest.approx(len(failed) / canary, abs=0.0005), failing
    assert f"live error rate v1.1.0 {len(failed) / canary:.1%}, v1.0.0 0.0%" in served
    merges = subprocess.run(
        ["git", "log", "--merges", "--format=%s"], cwd=registry, capture_output=True, text=True
    ).stdout
    assert "Merge pull request modelreg/rollback/cancer/production/v1.0.0" in merges
