"""Reviews are enforced, not just printed (issue 11 §2): the local forge's approvals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Prebuilt, Registry, git
from reviewing import REVIEWER, approve, as_identity

STAGING = "modelreg/promote/churn/staging/v1.0.0"
PRODUCTION = "modelreg/promote/churn/production/v1.0.0"


def _staged(reg: Registry) -> None:
    reg.register("churn", 0, "--push", accuracy=0.90, f1=0.85)
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    reg.ok("pr", "merge", STAGING)  # the default policy's staging needs no review
    reg.git("pull", "-q", "--ff-only")


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    """churn v1.0.0 serving staging, and a PR promoting it to production (reviews: 1)."""
    registry = prebuilt.registry(_staged)
    registry.ok("promote", "churn", "v1.0.0", "--to", "production")
    return registry


def _production(reg: Registry) -> str | None:
    rows = json.loads(reg.ok("status", "churn", "--json").output)["rows"]
    return next((r["version"] for r in rows if r["stage"] == "production"), None)


def test_merge_without_an_approval_is_refused_naming_stage_policy_and_counts(
    reg: Registry,
) -> None:
    """§2: `reviews: 1` was printed in the PR body and `pr merge` merged with none."""
    result = reg.run("pr", "merge", PRODUCTION)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "churn → production needs 1 approving review" in lines[0]
    assert "policy default: reviews: 1" in lines[0]
    assert "0 count" in lines[0]
    reg.git("fetch", "-q")
    assert PRODUCTION in reg.git("branch", "-r")  # still open


def test_an_approval_by_the_author_does_not_count(reg: Registry) -> None:
    """§2: the branch's own author approving is no review."""
    reg.ok("pr", "approve", PRODUCTION, "--comment", "looks fine to me")
    shown = reg.ok("pr", "show", PRODUCTION).output
    assert "approved by Test User <test@example.com>" in shown
    assert "(counts)" not in shown
    result = reg.run("pr", "merge", PRODUCTION)
    assert result.exit_code == 1
    assert "0 count" in result.output


def test_an_approval_by_a_committer_of_the_branch_does_not_count(reg: Registry) -> None:
    """§2: someone who committed (not only authored) a commit on the branch cannot approve."""
    work = reg.work / "committer"
    git(reg.work, "clone", "-q", str(reg.origin), str(work))
    git(work, "checkout", "-q", PRODUCTION)
    (work / "NOTES.md").write_text("context\n")
    git(work, "add", "NOTES.md")
    git(work, "-c", f"user.email={REVIEWER}", "commit", "-q", "-m", "Add notes",
        "--author", "Test User <test@example.com>")  # fmt: skip
    git(work, "push", "-q", "origin", PRODUCTION)
    approve(reg, PRODUCTION)
    assert reg.run("pr", "merge", PRODUCTION).exit_code == 1


def test_an_approval_by_another_identity_merges(reg: Registry) -> None:
    approve(reg, PRODUCTION)
    shown = reg.ok("pr", "show", PRODUCTION).output
    assert f"approved (counts) by Reviewer <{REVIEWER}>" in shown
    reg.ok("pr", "merge", PRODUCTION)
    reg.git("pull", "-q", "--ff-only")
    assert _production(reg) == "v1.0.0"


def test_a_new_push_after_the_approval_needs_a_new_approval(reg: Registry) -> None:
    """§2: the approval names the head commit it reviewed, not the branch."""
    approve(reg, PRODUCTION)
    approved = git(reg.origin, "rev-parse", PRODUCTION).strip()
    work = reg.work / "pusher"
    git(reg.work, "clone", "-q", str(reg.origin), str(work))
    git(work, "checkout", "-q", PRODUCTION)
    git(work, "commit", "-q", "--allow-empty", "-m", "One more change")
    git(work, "push", "-q", "origin", PRODUCTION)
    result = reg.run("pr", "merge", PRODUCTION)
    assert result.exit_code == 1
    assert "0 count" in result.output
    shown = reg.ok("pr", "show", PRODUCTION).output
    assert f"approved by Reviewer <{REVIEWER}>" in shown
    assert f"on {approved[:12]}" in shown
    approve(reg, PRODUCTION)
    reg.ok("pr", "merge", PRODUCTION)


def test_reviews_live_in_origin_so_a_fresh_clone_sees_them(reg: Registry, tmp_path: Path) -> None:
    approve(reg, PRODUCTION)
    as_identity(reg, "third@example.com", "pr", "comment", PRODUCTION, "ship it after lunch")
    clone = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(reg.origin), str(clone))
    shown = _show(reg, clone)
    assert f"approved (counts) by Reviewer <{REVIEWER}>" in shown
    assert "commented by Third <third@example.com>" in shown
    assert "ship it after lunch" in shown
    notes = git(reg.origin, "for-each-ref", "--format=%(refname)", "refs/notes/")
    assert "refs/notes/modelreg-reviews" in notes.split()


def _show(reg: Registry, root: Path) -> str:
    result = reg.run("pr", "show", PRODUCTION, cwd=root)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_comment_alone_does_not_approve(reg: Registry) -> None:
    as_identity(reg, REVIEWER, "pr", "comment", PRODUCTION, "why now?")
    assert reg.run("pr", "merge", PRODUCTION).exit_code == 1
