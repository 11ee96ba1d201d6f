"""Policy gates where people meet them: the promotion PR body, `gate`, `validate` and `pr merge`."""

from __future__ import annotations

import json

import pytest

from conftest import Prebuilt, Registry, git
from github_api import GitHubAPI

GATED = """\
stages:
  - name: staging
    gates:
      - {metric: accuracy, min: 0.9}
  - name: production
    from: staging
    gates:
      - {metric: accuracy, min: 0.9}
      - {metric: f1, max_regression: 0.01}
"""


def _build(reg: Registry) -> None:
    reg.write("policies/default.yaml", GATED)
    reg.git("commit", "-qam", "gated policy")
    reg.git("push", "-q", "origin", "main")
    reg.register("churn", 0, "--push", accuracy=0.85, f1=0.80)


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    return prebuilt.registry(_build)


def _main(reg: Registry) -> str:
    return git(reg.origin, "rev-parse", "main")


def test_a_failing_gate_shows_in_the_pr_body_and_blocks_the_merge(reg: Registry) -> None:
    out = reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    assert "policy gates FAILED" in out.output
    body = git(reg.origin, "log", "-1", "--format=%B", "modelreg/promote/churn/staging/v1.0.0")
    assert "❌" in body and "accuracy" in body
    main = _main(reg)
    merged = reg.run("pr", "merge", "modelreg/promote/churn/staging/v1.0.0")
    assert merged.exit_code == 1
    assert "gate failed for v1.0.0: accuracy min" in merged.stderr
    assert _main(reg) == main


def test_the_gate_passes_once_a_better_model_is_registered(reg: Registry) -> None:
    reg.register("churn", 1, "--push", accuracy=0.95, f1=0.9)
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    reg.ok("pr", "merge", "modelreg/promote/churn/staging/v1.1.0")
    reg.git("pull", "-q")
    rows = json.loads(reg.ok("status", "--json").output)["rows"]
    assert ("staging", "v1.1.0") in [(r["stage"], r["version"]) for r in rows]


def test_strict_promote_refuses_before_pushing(reg: Registry) -> None:
    result = reg.run("promote", "churn", "v1.0.0", "--to", "staging", "--strict")
    assert result.exit_code == 1
    assert "fails the staging gates" in result.stderr
    assert git(reg.origin, "branch", "--list", "modelreg/*") == ""


def test_gate_command_exits_1_and_reports_every_rule(reg: Registry) -> None:
    result = reg.run("gate", "churn", "v1.0.0", "--stage", "staging", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert [(r["kind"], r["verdict"]) for r in report["rules"]] == [
        ("min", "fail"),
        ("signature", "skip"),
    ]
    md = reg.run("gate", "churn", "v1.0.0", "--stage", "staging", "--format", "markdown")
    assert md.output.startswith("#") or "❌" in md.output


def test_production_requires_the_version_to_serve_in_staging_first(reg: Registry) -> None:
    reg.register("churn", 1, "--push", accuracy=0.95, f1=0.9)
    result = reg.run("gate", "churn", "v1.1.0", "--stage", "production", "--format", "json")
    assert result.exit_code == 1
    kinds = {r["kind"]: r["verdict"] for r in json.loads(result.output)["rules"]}
    assert kinds["stage_order"] == "fail" and kinds["min"] == "pass"


def test_validate_gates_a_stage_change_made_by_hand(reg: Registry) -> None:
    reg.git("checkout", "-q", "-b", "sneaky")
    reg.write("models/churn/stages/staging.yaml", "version: v1.0.0\n")
    reg.git("add", "-A")
    reg.git("commit", "-qm", "skip the PR")
    result = reg.run("validate", "--base", "origin/main")
    assert result.exit_code == 1
    assert "models/churn/stages/staging.yaml: version: gate failed for v1.0.0" in result.output


def test_a_rollback_to_a_version_that_served_before_is_not_gated(registry: Registry) -> None:
    registry.register("churn", 0, "--push", accuracy=0.95, f1=0.9)
    registry.register("churn", 1, "--push", accuracy=0.96, f1=0.95)
    for version in ("v1.0.0", "v1.1.0"):
        registry.ok("promote", "churn", version, "--to", "staging")
        registry.ok("pr", "merge", f"modelreg/promote/churn/staging/{version}")
    registry.git("pull", "-q")
    registry.write("policies/default.yaml", GATED.replace("min: 0.9}", "min: 0.955}", 1))
    registry.git("commit", "-qam", "tighter")
    registry.git("push", "-q", "origin", "main")
    registry.ok("rollback", "churn", "--stage", "staging")
    registry.ok("pr", "merge", "modelreg/rollback/churn/staging/v1.0.0")


def test_check_is_validate_plus_a_gate_table_for_each_stage_change(
    reg: Registry, github_api: GitHubAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg.git("checkout", "-q", "-b", "feature")
    reg.write("models/churn/stages/staging.yaml", "version: v1.0.0\n")
    reg.git("add", "-A")
    reg.git("commit", "-qm", "stage it")
    md = reg.run("check", "--format", "markdown")
    assert md.exit_code == 1
    assert "**churn v1.0.0 → staging** fails its gates" in md.output
    assert "<!-- modelreg:check -->" in md.output
    pull = github_api.add_pull("feature", title="stage it")
    for key, value in github_api.env().items():
        monkeypatch.setenv(key, value)
    for _ in range(2):
        reg.run("check", "--comment", str(pull.number))
    (comment,) = github_api.comments_on(pull.number)
    assert "fails its gates" in comment.body


def test_a_canary_step_in_the_from_stage_does_not_restart_the_soak_clock(
    registry: Registry,
) -> None:
    import os
    import subprocess

    policy = "stages:\n  - name: staging\n  - name: production\n    from: staging\n    soak: 24h\n"
    registry.write("policies/default.yaml", policy)
    registry.git("commit", "-qam", "soak")
    registry.register("churn", 0)
    registry.register("churn", 1)

    def commit(text: str, date: str) -> None:
        registry.write("models/churn/stages/staging.yaml", text)
        registry.git("add", "-A")
        env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        subprocess.run(["git", "commit", "-qm", "stage"], cwd=registry.root, env=env, check=True)

    commit("version: v1.0.0\n", "2020-01-01T00:00:00")  # entered staging long ago
    canary = "version: v1.0.0\nrollout: {candidate: v1.1.0, weight: 10}\n"
    commit(canary, "2099-01-01T00:00:00")  # a canary step beside it, much later
    registry.git("push", "-q", "origin", "main")  # the gate reads the state on origin's main
    result = registry.run("gate", "churn", "v1.0.0", "--stage", "production", "--format", "json")
    rules = {r["kind"]: r["verdict"] for r in json.loads(result.output)["rules"]}
    assert rules["soak"] == "pass", result.output
