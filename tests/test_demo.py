"""The README's first command: the whole lifecycle, checked step by step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
        "a failing online check",
        "rollback by git revert",
        "deploy",
    ]
    assert f"The registry is in {where / 'registry'}" in proc.stdout
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
