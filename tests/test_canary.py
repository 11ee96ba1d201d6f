"""A canary rollout through Git on the local forge: step by step, to completion or rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Prebuilt, Registry, git
from reviewing import approve

CANARY = """\
stages:
  - name: staging
  - name: production
    rollout:
      strategy: canary
      steps: [{weight: 10}, {weight: 50}, {weight: 100}]
      analysis:
        - {metric: error_rate, max: 0.02}
        - {metric: accuracy_online, max_regression: 0.02}
      on_failure: rollback
"""


def _build(reg: Registry) -> None:
    reg.write("policies/default.yaml", CANARY)
    reg.git("commit", "-qam", "canary policy")
    reg.git("push", "-q", "origin", "main")
    for seed in (0, 1, 2):
        reg.register("churn", seed, "--push", accuracy=0.9 + seed / 100)
    _promote(reg, "v1.0.0", "production")


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    return prebuilt.registry(_build)


def _promote(reg: Registry, version: str, stage: str) -> None:
    reg.ok("promote", "churn", version, "--to", stage)
    approve(reg, f"modelreg/promote/churn/{stage}/{version}")
    reg.ok("pr", "merge", f"modelreg/promote/churn/{stage}/{version}")
    reg.git("pull", "-q")


def _merge_only_open_pr(reg: Registry) -> None:
    (pr,) = json.loads(reg.ok("pr", "list", "--json").output)
    approve(reg, pr["head"])
    reg.ok("pr", "merge", pr["head"])
    reg.git("pull", "-q")


def _production(reg: Registry) -> dict[str, object]:
    rows = json.loads(reg.ok("status", "churn", "--json").output)["rows"]
    (row,) = [r for r in rows if r["stage"] == "production"]
    return row


def _metrics(reg: Registry, error_rate: float, acc: float) -> str:
    path = reg.work / f"online-{error_rate}-{acc}.json"
    path.write_text(
        json.dumps(
            {
                "candidate": {"error_rate": error_rate, "accuracy_online": acc},
                "stable": {"error_rate": 0.01, "accuracy_online": 0.9},
            }
        )
    )
    return str(path)


def test_a_canary_advances_through_every_step_to_completion(reg: Registry) -> None:
    _promote(reg, "v1.1.0", "production")
    row = _production(reg)
    assert (row["version"], row["candidate"], row["weight"]) == ("v1.0.0", "v1.1.0", 10)
    status = reg.ok("rollout", "status", "churn").output
    assert "v1.1.0 at 10% (stable v1.0.0), step 1 of 3" in status
    good = _metrics(reg, 0.01, 0.905)
    out = reg.ok("rollout", "advance", "churn", "--metrics", good).output
    assert out.startswith("advance:") and "10% → 50%" in out
    _merge_only_open_pr(reg)
    assert _production(reg)["weight"] == 50
    out = reg.ok("rollout", "advance", "churn", "--metrics", good).output
    assert out.startswith("complete:")
    _merge_only_open_pr(reg)
    row = _production(reg)
    assert (row["version"], row["candidate"]) == ("v1.1.0", None)
    weights = [
        e["weight"]
        for e in json.loads(reg.ok("history", "churn", "--json").output)
        if e["stage"] == "production"
    ]
    assert weights == [None, 10, 50, None]
    assert reg.run("validate").exit_code == 0


def test_a_failing_online_check_opens_the_rollback_pr(reg: Registry) -> None:
    _promote(reg, "v1.1.0", "production")
    bad = _metrics(reg, 0.05, 0.905)
    result = reg.run("rollout", "advance", "churn", "--metrics", bad)
    assert result.exit_code == 1
    assert result.output.startswith("rollback:") and "error_rate" in result.output
    assert "modelreg/rollback/churn/production/v1.0.0" in result.output
    message = git(
        reg.origin, "log", "-1", "--format=%B", "modelreg/rollback/churn/production/v1.0.0"
    )
    assert "This reverts commit" in message  # a real git revert of the canary's start
    _merge_only_open_pr(reg)
    row = _production(reg)
    assert (row["version"], row["candidate"]) == ("v1.0.0", None)


def test_missing_online_metrics_count_as_a_failure(reg: Registry) -> None:
    _promote(reg, "v1.1.0", "production")
    path = reg.work / "partial.json"
    path.write_text(json.dumps({"candidate": {"error_rate": 0.01}}))
    result = reg.run("rollout", "advance", "churn", "--metrics", str(path), "--dry-run")
    assert result.exit_code == 1 and result.output.startswith("rollback:")


def test_no_canary_and_bad_metrics_are_one_line_errors(reg: Registry, tmp_path: Path) -> None:
    result = reg.run("rollout", "status", "churn")
    assert result.exit_code == 2 and "has no canary in progress" in result.stderr
    _promote(reg, "v1.1.0", "production")
    bad = tmp_path / "bad.json"
    bad.write_text('{"candidate": {"error_rate": "low"}}')
    result = reg.run("rollout", "advance", "churn", "--metrics", str(bad))
    assert result.exit_code == 2 and "error_rate: 'low' is not a number" in result.stderr


def test_auto_advance_pushes_the_next_weight_without_a_pr(reg: Registry) -> None:
    policy = CANARY.replace(
        "on_failure: rollback", "on_failure: rollback\n      auto_advance: true"
    )
    reg.write("policies/default.yaml", policy)
    reg.git("commit", "-qam", "let the bot advance")
    reg.git("push", "-q", "origin", "main")
    _promote(reg, "v1.1.0", "production")
    out = reg.ok("rollout", "advance", "churn", "--metrics", _metrics(reg, 0.0, 0.91)).output
    assert "pushed to the default branch" in out
    reg.git("pull", "-q")
    assert _production(reg)["weight"] == 50
    assert reg.ok("pr", "list").output.strip() == "no open pull requests"


def test_a_recorded_failure_does_not_restart_the_steps_pause_clock(reg: Registry) -> None:
    import os
    import subprocess

    policy = CANARY.replace("{weight: 10}", "{weight: 10, pause: 1h}").replace(
        "max_regression: 0.02}", "max_regression: 0.02, failure_limit: 2}"
    )
    reg.write("policies/default.yaml", policy)
    reg.write(
        "models/churn/stages/production.yaml",
        "version: v1.0.0\nrollout: {candidate: v1.1.0, weight: 10, step: 0}\n",
    )
    old = "2026-01-01T10:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_DATE": old, "GIT_COMMITTER_DATE": old}
    subprocess.run(["git", "commit", "-qam", "canary at 10%"], cwd=reg.root, env=env, check=True)
    reg.git("push", "-q", "origin", "main")
    worse = _metrics(reg, 0.01, 0.8)  # accuracy regression: failure 1 of 2 tolerated
    out = reg.ok("rollout", "advance", "churn", "--metrics", worse).output
    assert out.startswith("wait:") and "failure 1" in out
    _merge_only_open_pr(reg)
    state = json.loads(reg.ok("rollout", "status", "churn", "--json").output)
    assert state["rollout"]["failures"] == 1
    assert state["entered_step_at"].startswith("2026-01-01T10:00:00")
    # the hour's pause counts from the weight change, so checks passing now advance at once
    out = reg.ok("rollout", "advance", "churn", "--metrics", _metrics(reg, 0.01, 0.9)).output
    assert out.startswith("advance:"), out
