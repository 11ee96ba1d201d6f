"""A `--depth 1` clone (actions/checkout's default) never gives a wrong audit answer.

"Shallow clones give wrong audit answers, silently": the oldest commit of a shallow
clone looked like the start of history, so `status` and `history` attributed every
stage change to it, invented `assign` events, and `rollback` took the serving version
for the first one ever served.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import Prebuilt, Registry, git
from runner import BIN, checkout, run_job, schedule_context

WORKFLOWS = Path(__file__).resolve().parents[1] / "src" / "modelreg" / "templates" / "workflows"


def two_promotions(reg: Registry) -> None:
    """churn v1.0.0 then v1.1.0 in staging, with unrelated commits after them."""
    reg.register("churn", 0, "--push")
    reg.register("churn", 1, "--push")
    for version in ("v1.0.0", "v1.1.0"):
        reg.write("models/churn/stages/staging.yaml", f"version: {version}\n")
        reg.git("add", "-A")
        reg.git("commit", "-qm", f"churn {version} to staging")
    for n in range(2):
        reg.write(f"notes-{n}.md", "unrelated\n")
        reg.git("add", "-A")
        reg.git("commit", "-qm", f"unrelated {n}")
    reg.git("push", "-q", "origin", "main")


@pytest.fixture
def promoted(prebuilt: Prebuilt) -> Registry:
    return prebuilt.registry(two_promotions)


def _shallow(reg: Registry, name: str) -> Path:
    where = reg.work / name
    checkout(reg.origin, where, depth=1, ref="main")
    assert git(where, "rev-parse", "--is-shallow-repository").strip() == "true"
    return where


def _modelreg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "modelreg"), *args], cwd=cwd, capture_output=True, text=True)


def test_history_in_a_shallow_clone_deepens_it_and_matches_the_full_clone(
    promoted: Registry,
) -> None:
    """Shallow clones give wrong audit answers, silently: history reads the whole line."""
    full = json.loads(_modelreg(promoted.root, "history", "churn", "--json").stdout)
    clone = _shallow(promoted, "shallow")
    out = _modelreg(clone, "history", "churn", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == full
    assert [e["version"] for e in full] == ["v1.0.0", "v1.1.0"]
    assert "shallow" in out.stderr and "fetch-depth: 0" in out.stderr
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "false"
    again = _modelreg(clone, "status", "churn", "--json")  # deepened once, quietly after
    assert again.returncode == 0 and "shallow" not in again.stderr


def test_rollback_in_a_shallow_clone_names_the_version_served_before(promoted: Registry) -> None:
    """Shallow clones give wrong audit answers, silently: rollback saw "the first version"."""
    clone = _shallow(promoted, "shallow")
    out = _modelreg(clone, "rollback", "churn", "--stage", "staging", "--dry-run")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "v1.0.0" in out.stdout and "first version" not in out.stdout


def test_a_shallow_clone_that_cannot_reach_origin_exits_2_naming_the_fix(
    promoted: Registry,
) -> None:
    """Shallow clones give wrong audit answers, silently: without origin, refuse instead."""
    clone = _shallow(promoted, "offline")
    git(clone, "remote", "set-url", "origin", str(promoted.work / "gone.git"))
    for args in (("status", "churn"), ("history", "churn")):
        out = _modelreg(clone, *args)
        assert out.returncode == 2, out.stdout + out.stderr
        (line,) = [ln for ln in out.stderr.splitlines() if ln.startswith("modelreg: error")]
        assert "shallow" in line and "fetch-depth: 0" in out.stderr
        assert out.stdout == ""


@pytest.mark.slow
def test_a_workflow_job_checked_out_at_the_default_depth_still_reads_whole_history(
    promoted: Registry,
) -> None:
    """Shallow clones give wrong audit answers, silently: a job left at actions/checkout's
    default `fetch-depth: 1` deepens its clone before `status` reads history."""
    run = run_job(
        WORKFLOWS / "modelreg-drift.yml",
        "models",
        origin=promoted.origin,
        base=promoted.work / "runs",
        context=schedule_context(),
        fetch_depth=1,
    )
    assert run.ok, run.log
    assert json.loads(run.outputs["models"]) == ["churn"]
    assert "(fetch-depth 1)" in run.log and "this clone is shallow" in run.log


def test_status_at_a_date_in_a_shallow_clone_reads_the_whole_line(promoted: Registry) -> None:
    """Shallow clones give wrong audit answers, silently: `status --at DATE` resolved the
    date against the clone's boundary commit before anything was deepened."""
    tomorrow = "2030-01-01"
    full = json.loads(_modelreg(promoted.root, "status", "--at", tomorrow, "--json").stdout)
    clone = _shallow(promoted, "dated")
    out = _modelreg(clone, "status", "--at", tomorrow, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == full
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "false"
