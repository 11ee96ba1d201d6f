"""Reviews are enforced on GitHub too (issue 11 §2): `check --pr` counts the PR's
approvals of its head commit, and `protect` sets the branch protection they rely on."""

from __future__ import annotations

import json

import pytest

from conftest import Prebuilt, Registry
from github_api import GitHubAPI
from modelreg.forge.base import ForgeReview
from modelreg.forge.github import GitHubForge, protection_body, tally_reviews

PRODUCTION = "modelreg/promote/churn/production/v1.0.0"
HEAD = "a" * 40
OLD = "b" * 40


def _tally(*reviews: tuple[str, str, str | None], author: str = "ana") -> tuple[object, ...]:
    found = tally_reviews(
        "#7", author, HEAD, [ForgeReview(u, s, c, "COLLABORATOR") for u, s, c in reviews]
    )
    return found.approvers, found.blockers, tuple(u for u, _ in found.ignored)


# --------------------------------------------------------------------------- the tally


def test_an_approval_by_the_author_does_not_count() -> None:
    assert _tally(("ana", "APPROVED", HEAD)) == ((), (), ("ana",))


def test_an_approval_of_an_older_commit_does_not_count() -> None:
    assert _tally(("bo", "APPROVED", OLD)) == ((), (), ("bo",))
    assert _tally(("bo", "APPROVED", None)) == ((), (), ("bo",))  # commit gone (force push)


def test_a_later_change_request_blocks_and_a_later_approval_lifts_it() -> None:
    assert _tally(("bo", "APPROVED", HEAD), ("bo", "CHANGES_REQUESTED", HEAD)) == (
        (),
        ("bo",),
        (),
    )
    assert _tally(("bo", "CHANGES_REQUESTED", OLD), ("bo", "APPROVED", HEAD)) == (
        ("bo",),
        (),
        (),
    )


def test_two_approvals_by_one_user_count_once() -> None:
    assert _tally(("bo", "APPROVED", HEAD), ("Bo", "APPROVED", HEAD)) == (("Bo",), (), ())


def test_comments_and_dismissed_reviews_do_not_change_a_users_state() -> None:
    """GitHub: a comment leaves the state; a dismissed review becomes a comment."""
    assert _tally(("bo", "APPROVED", HEAD), ("bo", "COMMENTED", HEAD)) == (("bo",), (), ())
    assert _tally(("bo", "APPROVED", HEAD), ("bo", "DISMISSED", HEAD)) == (("bo",), (), ())
    assert _tally(("bo", "DISMISSED", HEAD)) == ((), (), ("bo",))
    assert _tally(("bo", "COMMENTED", HEAD)) == ((), (), ("bo",))


def test_only_owners_members_and_collaborators_count() -> None:
    """Branch protection counts write access only; so does the check."""
    outsider = tally_reviews("#7", "ana", HEAD, [ForgeReview("eve", "APPROVED", HEAD, "NONE")])
    assert outsider.approvers == ()
    assert outsider.ignored == (("eve", "not an owner, member or collaborator (NONE)"),)


# --------------------------------------------------------------------------- the forge


def test_the_forge_reads_the_reviews_and_the_head_through_the_api(
    github_api: GitHubAPI,
) -> None:
    pull = github_api.add_pull("feature")
    pull.author, pull.head_sha = "ana", HEAD
    github_api.add_review(pull.number, "ana")
    github_api.add_review(pull.number, "bo", commit=OLD)
    github_api.add_review(pull.number, "cy")
    github_api.add_review(pull.number, "cy", "COMMENTED", body="one more thing")
    github_api.add_review(pull.number, "di", "CHANGES_REQUESTED")
    forge = GitHubForge.from_env(None, github_api.env())
    tally = forge.reviews(pull.number)
    assert (tally.pr, tally.head, tally.author) == (f"#{pull.number}", HEAD, "ana")
    assert tally.approvers == ("cy",)
    assert tally.blockers == ("di",)
    assert dict(tally.ignored) == {
        "ana": "the pull request's author",
        "bo": f"approved {OLD[:12]}, not the head commit {HEAD[:12]}",
    }
    assert github_api.requests_to("GET", rf"/pulls/{pull.number}/reviews$")


# --------------------------------------------------------------------------- check --pr


def _promoted(reg: Registry) -> None:
    """churn v1.0.0 in staging and a PR promoting it to production (reviews: 1)."""
    reg.register("churn", 0, "--push", accuracy=0.90, f1=0.85)
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    reg.ok("pr", "merge", "modelreg/promote/churn/staging/v1.0.0")
    reg.git("pull", "-q", "--ff-only")
    reg.ok("promote", "churn", "v1.0.0", "--to", "production")
    reg.git("fetch", "-q")
    reg.git("checkout", "-q", PRODUCTION)


@pytest.fixture
def pr(
    prebuilt: Prebuilt, github_api: GitHubAPI, monkeypatch: pytest.MonkeyPatch
) -> tuple[Registry, GitHubAPI, int]:
    reg = prebuilt.registry(_promoted)
    pull = github_api.add_pull(PRODUCTION)
    pull.author, pull.head_sha = "ana", reg.git("rev-parse", "HEAD").strip()
    for key, value in github_api.env().items():
        monkeypatch.setenv(key, value)
    return reg, github_api, pull.number


def _check(reg: Registry, number: int, *extra: str) -> tuple[int, str]:
    result = reg.run("check", "--base", "origin/main", "--pr", str(number), *extra)
    return result.exit_code, result.output


def test_check_fails_without_an_approval_and_says_what_is_missing(
    pr: tuple[Registry, GitHubAPI, int],
) -> None:
    reg, api, number = pr
    api.add_review(number, "ana")  # the author
    api.add_review(number, "bo", commit=OLD)  # stale
    code, out = _check(reg, number)
    assert code == 1, out
    assert (
        "churn → production needs 1 approving review (policy default: reviews: 1); 0 count" in out
    )
    assert "approved by nobody" in out
    assert "ana (the pull request's author)" in out
    assert f"bo (approved {OLD[:12]}, not the head commit" in out


def test_check_passes_with_one_approval_of_the_head_and_names_the_approver(
    pr: tuple[Registry, GitHubAPI, int],
) -> None:
    reg, api, number = pr
    api.add_review(number, "bo")
    api.add_review(number, "bo")
    code, out = _check(reg, number, "--format", "json")
    assert code == 0, out
    reviews = json.loads(out)["reviews"]
    assert reviews["approved_by"] == ["bo"]
    assert reviews["head"] == reg.git("rev-parse", "HEAD").strip()


def test_a_later_change_request_fails_the_check(pr: tuple[Registry, GitHubAPI, int]) -> None:
    reg, api, number = pr
    api.add_review(number, "bo")
    api.add_review(number, "cy")
    api.add_review(number, "cy", "CHANGES_REQUESTED")
    code, out = _check(reg, number, "--format", "markdown")
    assert code == 1, out
    assert f"pull request #{number}`: cy requested changes" in out
    assert "approved by @bo; changes requested by @cy" in out


# --------------------------------------------------------------------------- protect

POLICY = """\
stages:
  - name: staging
    reviews: 2
  - name: production
    from: staging
    reviews: 3
"""


def _protectable(reg: Registry) -> None:
    reg.write("policies/default.yaml", POLICY)
    reg.write("policies/strict.yaml", POLICY.replace("reviews: 2", "reviews: 4"))
    reg.git("add", "-A")
    reg.git("commit", "-qm", "policies that need reviews")
    reg.git("push", "-q", "origin", "main")


@pytest.fixture
def protectable(
    prebuilt: Prebuilt, github_api: GitHubAPI, monkeypatch: pytest.MonkeyPatch
) -> tuple[Registry, GitHubAPI]:
    reg = prebuilt.registry(_protectable)
    for key, value in github_api.env().items():
        monkeypatch.setenv(key, value)
    return reg, github_api


EXPECTED = protection_body(check="modelreg check", reviews=2)


def test_protect_plan_prints_the_exact_body_and_sends_nothing(
    protectable: tuple[Registry, GitHubAPI],
) -> None:
    reg, api = protectable
    result = reg.run("protect", "--plan", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["applied"] is False
    assert plan["body"] == EXPECTED
    assert plan["required_check"] == "modelreg check"
    assert plan["required_approving_review_count"] == 2
    assert EXPECTED == {
        "required_status_checks": {"strict": True, "checks": [{"context": "modelreg check"}]},
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": True,
            "required_approving_review_count": 2,
        },
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
    }
    text = reg.run("protect", "--plan")
    assert text.exit_code == 0, text.output
    assert json.dumps(EXPECTED, indent=2) in text.output
    assert "nothing was sent" in text.output
    assert not [r for r in api.requests if r.method != "GET"]
    assert api.protection == {}


def test_protect_sends_exactly_the_planned_body(protectable: tuple[Registry, GitHubAPI]) -> None:
    reg, api = protectable
    result = reg.run("protect", "--json")
    assert result.exit_code == 0, result.output
    (put,) = api.requests_to("PUT", r"/branches/main/protection$")
    assert put.json == EXPECTED
    answer = json.loads(result.output)["github"]
    assert answer["required_pull_request_reviews"]["required_approving_review_count"] == 2
    assert answer["allow_force_pushes"] == {"enabled": False}
    assert answer["required_status_checks"]["contexts"] == ["modelreg check"]


def test_protect_without_admin_rights_exits_4_with_githubs_message(
    protectable: tuple[Registry, GitHubAPI],
) -> None:
    reg, api = protectable
    message = "Resource not accessible by integration"
    body = {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": "403",
    }
    api.fail_next("PUT", r"/protection$", status=403, body=body)
    result = reg.run("protect")
    assert result.exit_code == 4, result.output
    assert message in result.output
    assert "administration: write" in result.output


def test_protect_on_the_local_forge_exits_2_saying_what_it_enforces_instead(
    protectable: tuple[Registry, GitHubAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, _ = protectable
    monkeypatch.delenv("GITHUB_API_URL")
    result = reg.run("protect", "--plan")
    assert result.exit_code == 2, result.output
    assert "local forge" in result.output and "pr merge" in result.output
