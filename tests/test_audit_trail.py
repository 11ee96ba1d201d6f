"""Issue 11 §6: the PR and the audit trail say what happened."""

from __future__ import annotations

import json

import pytest

from conftest import Prebuilt, Registry, git
from github_api import GitHubAPI
from modelreg.registry.records import Rollout, StageAssignment
from modelreg.registry.stages import render_stage

ROLLBACK = "modelreg/rollback/churn/staging/v1.0.0"


def _build(reg: Registry) -> None:
    """A registry with churn v1.0.0 and v1.1.0 registered and pushed."""
    reg.register("churn", 0, "--push", accuracy=0.90, f1=0.85)
    reg.register("churn", 1, "--push", accuracy=0.93, f1=0.88)


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    """A registry with churn v1.0.0 and v1.1.0 registered and pushed."""
    return prebuilt.registry(_build)


def _merge(reg: Registry, branch: str) -> None:
    reg.ok("pr", "merge", branch)
    reg.git("pull", "-q", "--ff-only")


def _promote(reg: Registry, version: str) -> None:
    reg.ok("promote", "churn", version, "--to", "staging")
    _merge(reg, f"modelreg/promote/churn/staging/{version}")


def _dry_run_and_real_bodies(reg: Registry) -> tuple[dict[str, str], str]:
    dry = json.loads(
        reg.ok("rollback", "churn", "--stage", "staging", "--dry-run", "--json").output
    )
    reg.ok("rollback", "churn", "--stage", "staging")
    (pr,) = json.loads(reg.ok("pr", "list", "--json").output)
    return dry, pr["body"]


def test_rollback_dry_run_prints_the_body_of_a_pin_the_real_pr_gets(reg: Registry) -> None:
    """§6: when a revert would also undo unrelated changes, the dry run says "pins", as
    the PR then opened does (it used to say "Reverts …")."""
    _promote(reg, "v1.0.0")
    reg.write("models/churn/stages/staging.yaml", "version: v1.1.0\n")
    model_yaml = reg.root / "models/churn/model.yaml"
    model_yaml.write_text(model_yaml.read_text() + "# described by hand\n")
    reg.git("commit", "-qam", "promote and describe")
    reg.git("push", "-q", "origin", "main")
    dry, body = _dry_run_and_real_bodies(reg)
    assert dry["method"] == "edit"
    assert dry["body"].strip() == body
    assert "pins the version" in body and "Reverts" not in body


def test_rollback_dry_run_prints_the_body_of_a_revert_the_real_pr_gets(reg: Registry) -> None:
    """§6: a clean revert's dry-run body is the PR's body, "This reverts commit" included."""
    _promote(reg, "v1.0.0")
    _promote(reg, "v1.1.0")
    dry, body = _dry_run_and_real_bodies(reg)
    assert dry["method"] == "revert"
    assert dry["body"].strip() == body
    assert body.startswith("Reverts ") and "This reverts commit " in body


def _commit_stage(reg: Registry, assignment: StageAssignment, message: str) -> None:
    reg.write("models/churn/stages/staging.yaml", render_stage("churn", "staging", assignment))
    reg.git("add", "models/churn/stages/staging.yaml")
    reg.git("commit", "-qm", message)


def test_history_tells_a_completed_canary_from_an_aborted_one(reg: Registry) -> None:
    """§6: a canary that completed (the candidate became the version) and one that was
    aborted (the rollout went, the version stayed) are different events, in text and
    JSON (an abort used to read "rollout-end", a completion a plain "assign")."""
    stable, canary = StageAssignment("v1.0.0"), "v1.1.0"
    _commit_stage(reg, stable, "assign")
    _commit_stage(reg, StageAssignment("v1.0.0", Rollout(canary, 10, 0)), "canary 10%")
    _commit_stage(reg, StageAssignment("v1.0.0", Rollout(canary, 50, 1)), "canary 50%")
    _commit_stage(reg, stable, "abort the canary")
    _commit_stage(reg, StageAssignment("v1.0.0", Rollout(canary, 10, 0)), "canary again")
    _commit_stage(reg, StageAssignment(canary), "complete the canary")
    kinds = [e["kind"] for e in json.loads(reg.ok("history", "churn", "--json").output)]
    assert kinds == [
        "assign",
        "rollout",
        "rollout",
        "rollout-abort",
        "rollout",
        "rollout-complete",
    ]
    rows = reg.ok("history", "churn").output.splitlines()[1:]
    assert [row.split()[3] for row in rows] == kinds


def test_a_github_pr_body_links_version_records_absolutely_at_its_head_commit(
    reg: Registry, github_api: GitHubAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§6: a relative link in a GitHub PR body resolves against the PR's URL and breaks,
    so records are linked as `<repository html_url>/blob/<head sha>/models/…`."""
    for key, value in github_api.env().items():
        monkeypatch.setenv(key, value)
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    (create,) = github_api.requests_to("POST", r"/pulls$")
    head = git(reg.origin, "rev-parse", "modelreg/promote/churn/staging/v1.1.0").strip()
    web = f"{github_api.origin}/{github_api.full_name}/blob/{head}"
    record = "models/churn/versions/v1.1.0.yaml"
    assert f"[`{record}`]({web}/{record})" in create.json["body"]
    assert f"]({record})" not in create.json["body"]


def test_a_local_pr_body_links_version_records_by_repository_path(reg: Registry) -> None:
    """§6: the local forge's PRs are read beside the repository: paths stay relative."""
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    (pr,) = json.loads(reg.ok("pr", "list", "--json").output)
    record = "models/churn/versions/v1.1.0.yaml"
    assert f"[`{record}`]({record})" in pr["body"]
