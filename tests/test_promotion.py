"""Promotion and rollback as pull requests, on the local forge and against a GitHub-like API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Prebuilt, Registry, git, tree_state
from github_api import GitHubAPI
from reviewing import approve

PROMOTE_V1 = "modelreg/promote/churn/staging/v1.0.0"
PROMOTE_V2 = "modelreg/promote/churn/staging/v1.1.0"


def _build(reg: Registry) -> None:
    """A registry with churn v1.0.0 and v1.1.0 registered and pushed."""
    reg.register("churn", 0, "--push", accuracy=0.90, f1=0.85)
    reg.register("churn", 1, "--push", accuracy=0.93, f1=0.88)


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    """A registry with churn v1.0.0 and v1.1.0 registered and pushed."""
    return prebuilt.registry(_build)


def _merge(reg: Registry, branch: str) -> None:
    approve(reg, branch)  # production needs a review by someone else (issue 11 §2)
    reg.ok("pr", "merge", branch)
    reg.git("pull", "-q", "--ff-only")


def _stage_versions(reg: Registry) -> list[tuple[str, str]]:
    rows = json.loads(reg.ok("status", "churn", "--json").output)["rows"]
    return [(r["stage"], r["version"]) for r in rows if r["stage"]]


def _remote_branches(reg: Registry) -> list[str]:
    out = git(reg.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads/modelreg")
    return out.split()


def _dirty(reg: Registry) -> None:
    """Uncommitted edits, a staged change and untracked files in the user's checkout."""
    (reg.root / "README.local").write_text("untracked\n")
    reg.write(
        "models/churn/model.yaml", (reg.root / "models/churn/model.yaml").read_text() + "# wip\n"
    )
    reg.write("notes/todo.txt", "staged\n")
    reg.git("add", "notes/todo.txt")


def test_promote_then_merge_serves_the_version_with_the_pr_in_history(reg: Registry) -> None:
    out = reg.ok("promote", "churn", "v1.0.0", "--to", "staging").output
    assert f"opened pull request {PROMOTE_V1}" in out
    _merge(reg, PROMOTE_V1)
    assert _stage_versions(reg) == [("staging", "v1.0.0")]
    events = json.loads(reg.ok("history", "churn", "--json").output)
    assert [(e["stage"], e["version"], e["pr"]) for e in events] == [
        ("staging", "v1.0.0", PROMOTE_V1)
    ]
    parents = reg.git("rev-list", "--parents", "-n", "1", "HEAD").split()
    assert len(parents) == 3  # merged with --no-ff
    assert _remote_branches(reg) == []


def test_promotion_changes_only_its_stage_file(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    _merge(reg, PROMOTE_V1)
    reg.ok("promote", "churn", "v1.0.0", "--to", "production")
    _merge(reg, "modelreg/promote/churn/production/v1.0.0")
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    diff = git(reg.origin, "diff", "main", PROMOTE_V2, "--unified=0")
    changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    assert changed == ["-version: v1.0.0", "+version: v1.1.0"]
    files = git(reg.origin, "diff", "--name-only", "main", PROMOTE_V2).split()
    assert files == ["models/churn/stages/staging.yaml"]


def test_the_pr_body_lets_a_reviewer_decide(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    _merge(reg, PROMOTE_V1)
    body = json.loads(reg.ok("promote", "churn", "v1.1.0", "--to", "staging", "--json").output)[
        "body"
    ]
    assert "| accuracy | 0.93 | 0.9 | +0.03 |" in body
    assert (
        "models/churn/versions/v1.1.0.yaml" in body and "models/churn/versions/v1.0.0.yaml" in body
    )
    assert "`modelreg rollback churn --stage staging`" in body
    assert "**Params:** unchanged." in body


def test_rerunning_promote_finds_the_open_pr_instead_of_opening_another(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    tip = git(reg.origin, "rev-parse", PROMOTE_V1)
    again = reg.ok("promote", "churn", "v1.0.0", "--to", "staging").output
    assert "found open pull request" in again
    assert git(reg.origin, "rev-parse", PROMOTE_V1) == tip
    assert _remote_branches(reg) == [PROMOTE_V1]


def test_rollback_then_merge_restores_exactly_the_state_before_the_promotion(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    _merge(reg, PROMOTE_V1)
    before_versions = _stage_versions(reg)
    before_file = (reg.root / "models/churn/stages/staging.yaml").read_bytes()
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    _merge(reg, PROMOTE_V2)
    assert _stage_versions(reg) == [("staging", "v1.1.0")]
    out = json.loads(reg.ok("rollback", "churn", "--stage", "staging", "--json").output)
    assert out["method"] == "revert" and out["branch"] == "modelreg/rollback/churn/staging/v1.0.0"
    _merge(reg, "modelreg/rollback/churn/staging/v1.0.0")
    assert _stage_versions(reg) == before_versions
    assert (reg.root / "models/churn/stages/staging.yaml").read_bytes() == before_file
    message = reg.git("log", "-1", "--format=%B", "HEAD^2")
    assert "This reverts commit" in message
    assert reg.run("validate").exit_code == 0


def test_a_hand_made_git_revert_of_a_promotion_merge_is_a_valid_registry(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    _merge(reg, PROMOTE_V1)
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    _merge(reg, PROMOTE_V2)
    reg.git("revert", "--no-edit", "-m", "1", "HEAD")
    assert reg.run("validate").exit_code == 0
    assert _stage_versions(reg) == [("staging", "v1.0.0")]


def test_rollback_pins_when_a_revert_would_undo_unrelated_changes(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    _merge(reg, PROMOTE_V1)
    # a hand-made commit that promotes and edits model.yaml at once
    reg.write("models/churn/stages/staging.yaml", "version: v1.1.0\n")
    reg.write(
        "models/churn/model.yaml",
        (reg.root / "models/churn/model.yaml")
        .read_text()
        .replace("task: classification", "task: churn"),
    )
    reg.git("commit", "-qam", "promote and describe")
    reg.git("push", "-q", "origin", "main")
    out = json.loads(reg.ok("rollback", "churn", "--stage", "staging", "--json").output)
    assert out["method"] == "edit"
    body = git(reg.origin, "log", "-1", "--format=%B", "modelreg/rollback/churn/staging/v1.0.0")
    assert "pins the version" in body
    _merge(reg, "modelreg/rollback/churn/staging/v1.0.0")
    assert _stage_versions(reg) == [("staging", "v1.0.0")]
    assert "task: churn" in (reg.root / "models/churn/model.yaml").read_text()


def test_rollback_to_a_named_version_pins_it(reg: Registry) -> None:
    reg.register("churn", 2, "--push", accuracy=0.95)
    for version in ("v1.0.0", "v1.1.0", "v1.2.0"):
        reg.ok("promote", "churn", version, "--to", "staging")
        _merge(reg, f"modelreg/promote/churn/staging/{version}")
    reg.ok("rollback", "churn", "--stage", "staging", "--to", "v1.0.0")
    _merge(reg, "modelreg/rollback/churn/staging/v1.0.0")
    assert _stage_versions(reg) == [("staging", "v1.0.0")]


def test_promote_and_rollback_leave_a_dirty_checkout_untouched(reg: Registry) -> None:
    _dirty(reg)
    before = tree_state(reg.root)
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    reg.ok("pr", "merge", PROMOTE_V1)
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    reg.ok("pr", "merge", PROMOTE_V2)
    reg.ok("rollback", "churn", "--stage", "staging")
    assert tree_state(reg.root) == before
    assert reg.git("worktree", "list").count("\n") == 1


def test_failing_promotions_leave_a_dirty_checkout_untouched(reg: Registry) -> None:
    _dirty(reg)
    before = tree_state(reg.root)
    for args in (
        ["promote", "churn", "v9.9.9", "--to", "staging"],
        ["promote", "churn", "v1.0.0", "--to", "moon"],
        ["promote", "nope", "v1.0.0", "--to", "staging"],
        ["rollback", "churn", "--stage", "staging"],
        ["pr", "merge", "modelreg/promote/nothing"],
    ):
        result = reg.run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("modelreg: error:")
        assert tree_state(reg.root) == before


def test_promoting_a_version_that_is_not_pushed_says_so(churn_pushed: Registry) -> None:
    registry = churn_pushed
    registry.register("churn", 1)
    result = registry.run("promote", "churn", "v1.1.0", "--to", "staging")
    assert result.exit_code == 2
    assert "registered here but not on origin/main" in result.stderr


def test_two_promotions_from_one_base_cannot_both_land(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    _merge(reg, PROMOTE_V1)
    main = git(reg.origin, "rev-parse", "main")
    result = reg.run("pr", "merge", PROMOTE_V2)
    assert result.exit_code == 1
    assert "conflicts with main" in result.stderr
    assert git(reg.origin, "rev-parse", "main") == main
    assert _remote_branches(reg) == [PROMOTE_V2]


def test_pr_merge_refuses_a_branch_that_fails_validate(reg: Registry, tmp_path: Path) -> None:
    side = tmp_path / "side"
    git(tmp_path, "clone", "-q", str(reg.origin), str(side))
    (side / "models/churn/stages").mkdir()
    (side / "models/churn/stages/staging.yaml").write_text("version: v7.0.0\n")
    git(side, "checkout", "-q", "-b", "bad")
    git(side, "add", "-A")
    git(side, "commit", "-qm", "bad stage")
    git(side, "push", "-q", "origin", "bad")
    main = git(reg.origin, "rev-parse", "main")
    result = reg.run("pr", "merge", "bad")
    assert result.exit_code == 1
    assert "'v7.0.0' is not a registered version" in result.stderr
    assert git(reg.origin, "rev-parse", "main") == main


def test_pr_list_show_and_close(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    listed = json.loads(reg.ok("pr", "list", "--json").output)
    assert [p["head"] for p in listed] == [PROMOTE_V1]
    shown = reg.ok("pr", "show", PROMOTE_V1).output
    assert "Promote churn v1.0.0 to staging" in shown and "+version: v1.0.0" in shown
    reg.ok("pr", "close", PROMOTE_V1)
    assert reg.ok("pr", "list").output.strip() == "no open pull requests"


def test_a_rejected_push_is_one_line_and_a_rerun_completes(reg: Registry, tmp_path: Path) -> None:
    """origin moved after our last fetch: fetch from a stale mirror, push to the real origin."""
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    stale = tmp_path / "stale.git"
    git(tmp_path, "clone", "-q", "--mirror", str(reg.origin), str(stale))
    side = tmp_path / "side"
    git(tmp_path, "clone", "-q", str(reg.origin), str(side))
    (side / "NOTES.md").write_text("someone else's change\n")
    git(side, "add", "NOTES.md")
    git(side, "commit", "-qm", "unrelated")
    git(side, "push", "-q", "origin", "main")
    reg.git("remote", "set-url", "origin", str(stale))
    reg.git("remote", "set-url", "--push", "origin", str(reg.origin))
    result = reg.run("pr", "merge", PROMOTE_V1)
    assert result.exit_code == 4, result.stderr
    assert "rejected" in result.stderr and result.stderr.count("\n") == 1
    assert git(reg.origin, "rev-parse", "main") == git(side, "rev-parse", "main")
    reg.git("config", "--unset", "remote.origin.pushurl")
    reg.git("remote", "set-url", "origin", str(reg.origin))
    reg.ok("pr", "merge", PROMOTE_V1)
    reg.git("pull", "-q")
    assert _stage_versions(reg) == [("staging", "v1.0.0")]


# -- GitHub -------------------------------------------------------------------------------


@pytest.fixture
def gh(reg: Registry, github_api: GitHubAPI, monkeypatch: pytest.MonkeyPatch) -> GitHubAPI:
    for key, value in github_api.env().items():
        monkeypatch.setenv(key, value)
    return github_api


def test_promote_opens_a_github_pr_with_title_head_base_body_and_labels(
    reg: Registry, gh: GitHubAPI
) -> None:
    out = reg.ok("promote", "churn", "v1.1.0", "--to", "staging").output
    assert "opened pull request #" in out
    (create,) = gh.requests_to("POST", r"/pulls$")
    assert create.json["title"] == "Promote churn v1.1.0 to staging"
    assert create.json["head"] == PROMOTE_V2 and create.json["base"] == "main"
    assert "| accuracy | 0.93 |" in create.json["body"]
    (pull,) = gh.pulls()
    assert sorted(pull.labels) == ["modelreg", "promotion", "stage:staging"]
    assert git(reg.origin, "rev-parse", "--verify", PROMOTE_V2)


def test_rerunning_on_github_updates_the_one_pr(reg: Registry, gh: GitHubAPI) -> None:
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    again = reg.ok("promote", "churn", "v1.1.0", "--to", "staging").output
    assert "found open pull request" in again
    assert len(gh.pulls()) == 1 and len(gh.requests_to("POST", r"/pulls$")) == 1


def test_github_500_then_201_opens_exactly_one_pr(reg: Registry, gh: GitHubAPI) -> None:
    gh.fail_next("POST", r"/pulls$", status=500)
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    assert len(gh.pulls()) == 1


def test_github_down_leaves_the_branch_and_a_rerun_opens_one_pr(
    reg: Registry, gh: GitHubAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    gh.fail_next("*", r"/pulls", status=502, times=10)
    result = reg.run("promote", "churn", "v1.1.0", "--to", "staging")
    assert result.exit_code == 4
    assert result.stderr.startswith("modelreg: error: ") and result.stderr.count("\n") == 1
    assert "502" in result.stderr
    assert _remote_branches(reg) == [PROMOTE_V2]  # pushed; the PR is what is missing
    assert gh.pulls() == []
    gh.fail_next("*", r"/pulls", status=None, times=0)
    gh._faults.clear()
    reg.ok("promote", "churn", "v1.1.0", "--to", "staging")
    assert len(gh.pulls()) == 1 and _remote_branches(reg) == [PROMOTE_V2]


def test_github_unreachable_is_one_line(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/model-registry")
    monkeypatch.setenv("MODELREG_GITHUB_TOKEN", "t")
    result = reg.run("promote", "churn", "v1.1.0", "--to", "staging")
    assert result.exit_code == 4
    assert "cannot reach GitHub API at http://127.0.0.1:9" in result.stderr


def test_missing_token_is_a_usage_error(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/model-registry")
    result = reg.run("promote", "churn", "v1.1.0", "--to", "staging")
    assert result.exit_code == 2 and "no GitHub token" in result.stderr
    assert _remote_branches(reg) == []
