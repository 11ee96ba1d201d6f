"""The GitHub forge against a local GitHub-like API: what it sends, and how it fails."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from github_api import GitHubAPI
from modelreg.errors import ForgeError, UsageError
from modelreg.forge.base import Forge, PullRequest
from modelreg.forge.github import GitHubForge, looks_like_github, parse_github_remote

PR_LABELS = ["modelreg", "promotion", "stage:production"]


class Sleeps(list[float]):
    """Records the back-off delays instead of sleeping through them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_forge(api: GitHubAPI, sleeps: Sleeps, **env: str) -> GitHubForge:
    return GitHubForge.from_env(None, api.env(**env), sleep=sleeps)


def promote(forge: GitHubForge, **overrides: object) -> tuple[PullRequest, bool]:
    args: dict[str, object] = {
        "head": "modelreg/promote-churn-v2-production",
        "base": "main",
        "title": "Promote churn v2.0.0 to production",
        "body": "| metric | v1 | v2 |\n|---|---|---|\n| auc | 0.81 | 0.84 |",
        "labels": PR_LABELS,
    }
    args.update(overrides)
    return forge.open_or_update(**args)  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------- pull requests


def test_open_or_update_sends_title_head_base_and_body(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    pr, created = promote(make_forge(github_api, sleeps))

    assert created
    (post,) = github_api.requests_to("POST", r"/repos/octo-org/model-registry/pulls$")
    assert post.json == {
        "title": "Promote churn v2.0.0 to production",
        "head": "modelreg/promote-churn-v2-production",
        "base": "main",
        "body": "| metric | v1 | v2 |\n|---|---|---|\n| auc | 0.81 | 0.84 |",
    }
    assert post.headers["Authorization"] == "token stub-token"
    assert post.headers["User-Agent"].startswith("modelreg/")
    assert pr == PullRequest(
        ref="#1",
        title="Promote churn v2.0.0 to production",
        head="modelreg/promote-churn-v2-production",
        base="main",
        body="| metric | v1 | v2 |\n|---|---|---|\n| auc | 0.81 | 0.84 |",
        state="open",
        url=f"{github_api.origin}/octo-org/model-registry/pull/1",
        number=1,
        labels=tuple(PR_LABELS),
    )


def test_a_new_pull_request_gets_the_labels_and_github_creates_unknown_ones(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    promote(make_forge(github_api, sleeps))

    (add,) = github_api.requests_to("POST", r"/issues/1/labels$")
    assert add.json == PR_LABELS
    assert github_api.pulls()[0].labels == PR_LABELS
    assert github_api.labels == dict.fromkeys(PR_LABELS, "ededed")


def test_rerunning_updates_the_open_pull_request_instead_of_opening_another(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    forge = make_forge(github_api, sleeps)
    first, _ = promote(forge, labels=["modelreg", "promotion"])

    second, created = promote(forge, title="Promote churn v2.0.1", body="new body")

    assert not created
    assert second.ref == first.ref == "#1"
    assert (second.title, second.body) == ("Promote churn v2.0.1", "new body")
    assert second.labels == tuple(PR_LABELS)
    assert len(github_api.pulls()) == 1
    assert len(github_api.requests_to("POST", r"/pulls$")) == 1
    (patch,) = github_api.requests_to("PATCH", r"/pulls/1$")
    assert patch.json == {"title": "Promote churn v2.0.1", "body": "new body"}
    # Only the label the pull request lacked is added the second time.
    assert github_api.requests_to("POST", r"/issues/1/labels$")[-1].json == ["stage:production"]


def test_rerunning_with_nothing_changed_writes_nothing(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    forge = make_forge(github_api, sleeps)
    promote(forge)
    writes_before = [r for r in github_api.requests if r.method != "GET"]

    pr, created = promote(forge)

    assert not created and pr.number == 1
    assert [r for r in github_api.requests if r.method != "GET"] == writes_before


def test_find_open_asks_github_for_the_owner_qualified_head(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    github_api.add_pull("modelreg/rollback-churn", state="closed")
    forge = make_forge(github_api, sleeps)

    assert forge.find_open("modelreg/rollback-churn") is None
    github_api.add_pull("modelreg/rollback-churn", title="Roll back churn", labels=["rollback"])
    found = forge.find_open("modelreg/rollback-churn")

    assert found is not None
    assert (found.ref, found.title, found.labels) == ("#2", "Roll back churn", ("rollback",))
    query = github_api.requests_to("GET", r"/pulls$")[-1].query
    assert query["state"] == "open"
    assert query["head"] == "octo-org:modelreg/rollback-churn"


def test_list_open_follows_pagination_and_skips_closed_ones(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    for n in range(105):
        github_api.add_pull(f"branch-{n}", state="closed" if n == 3 else "open")

    pulls = make_forge(github_api, sleeps).list_open()

    assert [p.head for p in pulls] == [f"branch-{n}" for n in range(105) if n != 3]
    assert len(github_api.requests_to("GET", r"/pulls$")) == 2


def test_a_create_that_github_already_carried_out_is_adopted_not_repeated(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    # The PR exists, but the first listing (e.g. a stale replica) does not show it yet:
    # GitHub answers the create with 422 "already exists", and modelreg adopts that PR.
    github_api.add_pull("modelreg/promote-churn-v2-production", title="old")
    github_api.fail_next("GET", r"/pulls$", status=200, body=[])

    pr, created = promote(make_forge(github_api, sleeps))

    assert not created and pr.ref == "#1" and pr.title == "Promote churn v2.0.0 to production"
    assert len(github_api.pulls()) == 1


# --------------------------------------------------------------------------- retries


def test_a_500_is_retried_and_exactly_one_pull_request_is_created(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    github_api.fail_next("POST", r"/pulls$", status=500)

    pr, created = promote(make_forge(github_api, sleeps))

    assert created and pr.ref == "#1"
    assert len(github_api.pulls()) == 1
    assert [r.json is not None for r in github_api.requests_to("POST", r"/pulls$")] == [True, True]
    assert sleeps == [0.5]


def test_a_500_after_the_pull_request_was_opened_is_completed_by_the_retry(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    github_api.fail_next("POST", r"/issues/1/labels$", status=500)

    pr, created = promote(make_forge(github_api, sleeps))

    assert created  # opened by this call, even though the retry found it open
    assert pr.labels == tuple(PR_LABELS)
    assert len(github_api.pulls()) == 1 and github_api.pulls()[0].labels == PR_LABELS


def test_persistent_server_errors_fail_after_three_attempts_with_backoff(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    github_api.fail_next("POST", r"/pulls$", status=502, times=10)

    with pytest.raises(ForgeError) as caught:
        promote(make_forge(github_api, sleeps))

    assert str(caught.value) == (
        "GitHub failed to create the pull request (502 Bad Gateway, tried 3 times): "
        "GitHub is having trouble; re-run the command later"
    )
    assert sleeps == [0.5, 1.0]
    assert len(github_api.requests_to("POST", r"/pulls$")) == 3
    assert github_api.pulls() == []


def test_a_timeout_is_retried(github_api: GitHubAPI, sleeps: Sleeps) -> None:
    github_api.fail_next("GET", r"/pulls$", status=None, delay=1.0)

    started = time.monotonic()
    pr, created = promote(make_forge(github_api, sleeps, MODELREG_GITHUB_TIMEOUT="0.2"))

    assert created and pr.ref == "#1"
    assert time.monotonic() - started < 1.0  # the client gave up on the slow answer
    assert sleeps == [0.5]
    assert len(github_api.pulls()) == 1


def test_a_timeout_every_time_is_one_clear_line(github_api: GitHubAPI, sleeps: Sleeps) -> None:
    github_api.fail_next("GET", r"/repos/octo-org/model-registry$", status=None, delay=0.5, times=3)

    with pytest.raises(ForgeError) as caught:
        make_forge(github_api, sleeps, MODELREG_GITHUB_TIMEOUT="0.1").list_open()

    assert str(caught.value) == (
        f"GitHub API at {github_api.url} did not answer while trying to read repository "
        "octo-org/model-registry (no answer within 0.1 s, tried 3 times): "
        "re-run later or raise MODELREG_GITHUB_TIMEOUT"
    )


def test_an_unreachable_server_is_one_clear_line(sleeps: Sleeps) -> None:
    api_url = f"http://127.0.0.1:{closed_port()}"
    env = {"GITHUB_API_URL": api_url, "GITHUB_REPOSITORY": "octo-org/models", "GH_TOKEN": "t"}
    forge = GitHubForge.from_env(None, env, sleep=sleeps)

    with pytest.raises(ForgeError) as caught:
        promote(forge)

    assert str(caught.value) == (
        f"cannot reach GitHub API at {api_url} (connection refused, tried 3 times): "
        "check GITHUB_API_URL or your network"
    )
    assert caught.value.exit_code == 4
    assert sleeps == [0.5, 1.0]


# --------------------------------------------------------------------------- refusals


def test_a_bad_token_fails_at_once_naming_the_token_variables(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    with pytest.raises(ForgeError) as caught:
        promote(make_forge(github_api, sleeps, MODELREG_GITHUB_TOKEN="expired"))

    assert str(caught.value) == (
        "GitHub rejected the token while trying to read repository octo-org/model-registry "
        "(401 Unauthorized: Bad credentials): set MODELREG_GITHUB_TOKEN, GITHUB_TOKEN or "
        "GH_TOKEN to a valid, unexpired token"
    )
    assert sleeps == [] and len(github_api.requests) == 1


def test_a_token_without_permission_fails_naming_the_permission(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    message = {"message": "Resource not accessible by personal access token"}
    github_api.fail_next("POST", r"/pulls$", status=403, body=message)

    with pytest.raises(ForgeError) as caught:
        promote(make_forge(github_api, sleeps))

    assert str(caught.value) == (
        "GitHub refused to create the pull request (403 Forbidden: Resource not accessible "
        "by personal access token): the token lacks pull-requests: write on "
        "octo-org/model-registry"
    )
    assert sleeps == [] and len(github_api.requests_to("POST", r"/pulls$")) == 1


def test_a_rejected_pull_request_names_the_branches(github_api: GitHubAPI, sleeps: Sleeps) -> None:
    with pytest.raises(ForgeError) as caught:
        promote(make_forge(github_api, sleeps), head="main")

    assert str(caught.value) == (
        "GitHub rejected the request to create the pull request (422 Unprocessable Entity: "
        "No commits between main and main): check that branch main was pushed and differs "
        "from main"
    )
    assert sleeps == []


def test_an_unknown_repository_says_where_the_name_came_from(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    with pytest.raises(ForgeError) as caught:
        make_forge(github_api, sleeps, GITHUB_REPOSITORY="octo-org/typo").list_open()

    assert str(caught.value) == (
        "GitHub found nothing when trying to read repository octo-org/typo (404 Not Found): "
        "check that octo-org/typo exists (GITHUB_REPOSITORY or origin) and the token can "
        "access it"
    )


def test_an_exhausted_rate_limit_says_when_to_rerun(github_api: GitHubAPI, sleeps: Sleeps) -> None:
    reset = int(time.time()) + 600
    github_api.fail_next(
        "GET",
        r"/pulls$",
        status=403,
        body={"message": "API rate limit exceeded for user ID 1."},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )

    with pytest.raises(ForgeError) as caught:
        make_forge(github_api, sleeps).find_open("anything")

    when = time.strftime("%H:%M UTC", time.gmtime(reset))
    assert str(caught.value) == (
        "GitHub rate limit hit while trying to list pull requests (403 Forbidden: API rate "
        f"limit exceeded for user ID 1.): re-run after {when}"
    )


def test_a_secondary_rate_limit_says_how_long_to_wait(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    message = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
    github_api.fail_next(
        "POST", r"/pulls$", status=403, body=message, headers={"Retry-After": "60"}
    )

    with pytest.raises(ForgeError) as caught:
        promote(make_forge(github_api, sleeps))

    assert str(caught.value).startswith("GitHub rate limit hit while trying to create the pull")
    assert str(caught.value).endswith("re-run in 60 s")


def test_a_web_page_instead_of_the_api_points_at_github_api_url(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    github_api.fail_next("GET", r"/repos/", status=200, body="<html>sign in</html>")

    with pytest.raises(ForgeError, match=r"check that GITHUB_API_URL is a GitHub API root"):
        make_forge(github_api, sleeps).list_open()


# --------------------------------------------------------------------------- comments, issues


def test_upsert_comment_edits_its_own_comment_on_the_second_call(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    forge = make_forge(github_api, sleeps)
    pr, _ = promote(forge)
    github_api.add_comment(1, "LGTM")
    marker = "<!-- modelreg:gate -->"

    forge.upsert_comment(pr, marker=marker, body=f"{marker}\nGates: 2 failed")
    forge.upsert_comment(pr, marker=marker, body=f"{marker}\nGates: all passed")

    assert [c.body for c in github_api.comments_on(1)] == [
        "LGTM",
        f"{marker}\nGates: all passed",
    ]
    (create,) = github_api.requests_to("POST", r"/issues/1/comments$")
    assert create.json == {"body": f"{marker}\nGates: 2 failed"}
    (edit,) = github_api.requests_to("PATCH", r"/issues/comments/\d+$")
    assert edit.json == {"body": f"{marker}\nGates: all passed"}


def test_upsert_comment_finds_its_comment_past_the_first_page_and_adds_a_missing_marker(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    github_api.add_pull("feature")
    for n in range(130):
        github_api.add_comment(1, "<!-- modelreg:drift -->\nold" if n == 120 else f"chat {n}")
    pr = PullRequest(ref="#1", title="", head="feature", base="main", body="", state="open")

    make_forge(github_api, sleeps).upsert_comment(
        pr, marker="<!-- modelreg:drift -->", body="fresh report"
    )

    comments = github_api.comments_on(1)
    assert len(comments) == 130
    assert comments[120].body == "<!-- modelreg:drift -->\nfresh report"


def test_upsert_comment_needs_a_github_pull_request(github_api: GitHubAPI, sleeps: Sleeps) -> None:
    local = PullRequest(
        ref="promote/x", title="", head="promote/x", base="main", body="", state="open"
    )

    with pytest.raises(UsageError, match="is not a GitHub pull request"):
        make_forge(github_api, sleeps).upsert_comment(local, marker="<!-- m -->", body="x")


def test_upsert_issue_creates_then_updates_the_one_open_issue_with_that_title(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    forge = make_forge(github_api, sleeps)
    github_api.add_issue("Drift in churn", state="closed")
    github_api.add_pull("drift-branch", title="Drift in churn")  # a PR is never the issue

    ref = forge.upsert_issue(title="Drift in churn", body="psi 0.31", labels=["modelreg", "drift"])
    again = forge.upsert_issue(
        title="Drift in churn", body="psi 0.44", labels=["modelreg", "drift"]
    )

    assert ref == again == "#3"
    (issue,) = github_api.plain_issues("open")
    assert (issue.title, issue.body, issue.labels) == (
        "Drift in churn",
        "psi 0.44",
        ["modelreg", "drift"],
    )
    (create,) = github_api.requests_to("POST", r"/issues$")
    assert create.json == {
        "title": "Drift in churn",
        "body": "psi 0.31",
        "labels": ["modelreg", "drift"],
    }
    (edit,) = github_api.requests_to("PATCH", r"/issues/3$")
    assert edit.json == {"body": "psi 0.44"}


def test_an_issue_create_retried_after_a_500_makes_one_issue(
    github_api: GitHubAPI, sleeps: Sleeps
) -> None:
    github_api.fail_next("POST", r"/issues$", status=503)

    ref = make_forge(github_api, sleeps).upsert_issue(title="Drift", body="b", labels=[])

    assert ref == "#1" and len(github_api.plain_issues()) == 1
    assert github_api.requests_to("POST", r"/issues$")[-1].json == {"title": "Drift", "body": "b"}


# --------------------------------------------------------------------------- configuration


def test_the_forge_satisfies_the_protocol(github_api: GitHubAPI, sleeps: Sleeps) -> None:
    forge: Forge = make_forge(github_api, sleeps)
    assert forge.name == "github"


@pytest.mark.parametrize(
    ("tokens", "used"),
    [
        ({"MODELREG_GITHUB_TOKEN": "m", "GITHUB_TOKEN": "g", "GH_TOKEN": "h"}, "m"),
        ({"GITHUB_TOKEN": "g", "GH_TOKEN": "h"}, "g"),
        ({"GH_TOKEN": "h"}, "h"),
        ({"MODELREG_GITHUB_TOKEN": "  ", "GITHUB_TOKEN": "", "GH_TOKEN": "h\n"}, "h"),
    ],
)
def test_token_precedence(tokens: dict[str, str], used: str, sleeps: Sleeps) -> None:
    with GitHubAPI(token=used) as api:
        env = {"GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": api.full_name, **tokens}

        GitHubForge.from_env(None, env, sleep=sleeps).list_open()

        assert {r.headers["Authorization"] for r in api.requests} == {f"token {used}"}


def test_a_missing_token_is_a_usage_error_naming_the_variables() -> None:
    with pytest.raises(UsageError) as caught:
        GitHubForge.from_env("git@github.com:octo-org/models.git", {"GITHUB_TOKEN": " "})

    assert str(caught.value) == (
        "no GitHub token: set MODELREG_GITHUB_TOKEN, GITHUB_TOKEN or GH_TOKEN "
        "(a fine-grained token with pull-requests: write)"
    )
    assert caught.value.exit_code == 2


def test_the_repository_comes_from_github_repository_before_origin() -> None:
    env = {"GH_TOKEN": "t", "GITHUB_REPOSITORY": "octo-org/registry"}

    forge = GitHubForge.from_env("git@github.com:someone/fork.git", env)

    assert (forge.owner, forge.repo, forge.api_url) == (
        "octo-org",
        "registry",
        "https://api.github.com",
    )


@pytest.mark.parametrize(
    ("origin", "owner", "repo", "api_url"),
    [
        ("git@github.com:octo-org/models.git", "octo-org", "models", "https://api.github.com"),
        ("https://github.com/octo-org/models", "octo-org", "models", "https://api.github.com"),
        ("git@ghe.example.com:ml/models.git", "ml", "models", "https://ghe.example.com/api/v3"),
        ("https://acme.ghe.com/ml/models.git", "ml", "models", "https://api.acme.ghe.com"),
    ],
)
def test_the_repository_and_api_come_from_origin(
    origin: str, owner: str, repo: str, api_url: str
) -> None:
    forge = GitHubForge.from_env(origin, {"GH_TOKEN": "t"})

    assert (forge.owner, forge.repo, forge.api_url) == (owner, repo, api_url)


@pytest.mark.parametrize(
    ("origin", "env", "message"),
    [
        (
            None,
            {},
            "cannot tell which GitHub repository to use: add an 'origin' remote "
            "or set GITHUB_REPOSITORY=owner/name",
        ),
        (
            "/srv/git/models.git",
            {},
            "origin URL '/srv/git/models.git' does not name a GitHub repository: "
            "set GITHUB_REPOSITORY=owner/name",
        ),
        (
            None,
            {"GITHUB_REPOSITORY": "models"},
            "GITHUB_REPOSITORY='models' is not 'owner/name': set it like octo-org/models",
        ),
        (
            "git@github.com:o/r.git",
            {"GITHUB_API_URL": "ghe.example.com"},
            "GITHUB_API_URL='ghe.example.com' is not an http(s) URL: set it to the API root, "
            "e.g. https://ghe.example.com/api/v3",
        ),
        (
            "git@github.com:o/r.git",
            {"MODELREG_GITHUB_TIMEOUT": "soon"},
            "MODELREG_GITHUB_TIMEOUT='soon' is not a positive number of seconds: set it like 30",
        ),
    ],
)
def test_configuration_mistakes_are_usage_errors(
    origin: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        GitHubForge.from_env(origin, {"GH_TOKEN": "t", **env})

    assert str(caught.value) == message


def test_an_enterprise_api_root_is_used_as_given(sleeps: Sleeps) -> None:
    # github3's GitHubEnterprise would append /api/v3 to it a second time.
    with GitHubAPI(prefix="/api/v3") as api:
        assert api.url.endswith("/api/v3")

        promote(GitHubForge.from_env(None, api.env(), sleep=sleeps))

        assert {r.path.split("/repos/")[0] for r in api.requests} == {"/api/v3"}
        assert len(api.pulls()) == 1


def test_importing_the_module_does_not_import_github3() -> None:
    code = "import sys, modelreg.forge.github; print('github3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------- remote URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/octo-org/models.git", ("octo-org", "models")),
        ("https://github.com/octo-org/models", ("octo-org", "models")),
        ("https://github.com/octo-org/models/", ("octo-org", "models")),
        ("https://ci-bot@github.com/octo-org/models.git", ("octo-org", "models")),
        ("https://x-access-token:ghs_abc@github.com/octo-org/models", ("octo-org", "models")),
        ("http://github.com/octo-org/models.git", ("octo-org", "models")),
        ("git@github.com:octo-org/models.git", ("octo-org", "models")),
        ("git@github.com:octo-org/models", ("octo-org", "models")),
        ("github.com:octo-org/models.git", ("octo-org", "models")),
        ("ssh://git@github.com/octo-org/models", ("octo-org", "models")),
        ("ssh://git@ssh.github.com:443/octo-org/models.git", ("octo-org", "models")),
        ("git+ssh://git@github.com/octo-org/models.git", ("octo-org", "models")),
        ("https://ghe.example.com/ml-team/churn.model.git", ("ml-team", "churn.model")),
        ("git@ghe.example.com:ml_team/churn_model.git", ("ml_team", "churn_model")),
        ("  git@github.com:octo-org/models.git\n", ("octo-org", "models")),
        ("/srv/git/models.git", None),
        ("../origin.git", None),
        ("file:///srv/git/octo-org/models.git", None),
        ("C:\\repos\\models", None),
        ("https://github.com/octo-org", None),
        ("https://gitlab.example.com/group/sub/models.git", None),
        ("git@github.com:/octo-org/models.git", None),
        ("https://github.com/-bad/models", None),
        ("https://github.com/octo-org/..", None),
        ("", None),
    ],
)
def test_parse_github_remote(url: str, expected: tuple[str, str] | None) -> None:
    assert parse_github_remote(url) == expected


owners = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", fullmatch=True)
names = st.from_regex(r"[A-Za-z0-9._-]{1,100}", fullmatch=True).filter(
    lambda n: n not in {".", ".."} and not n.endswith(".git")
)
templates = st.sampled_from(
    [
        "https://{host}/{owner}/{name}",
        "https://{host}/{owner}/{name}.git",
        "https://bot@{host}/{owner}/{name}.git",
        "git@{host}:{owner}/{name}.git",
        "git@{host}:{owner}/{name}",
        "ssh://git@{host}/{owner}/{name}",
        "ssh://git@{host}:2222/{owner}/{name}.git",
    ]
)


@given(
    owner=owners,
    name=names,
    template=templates,
    host=st.sampled_from(["github.com", "ghe.example.com"]),
)
def test_owner_and_name_survive_every_remote_form(
    owner: str, name: str, template: str, host: str
) -> None:
    url = template.format(host=host, owner=owner, name=name)
    assert parse_github_remote(url) == (owner, name)


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("git@github.com:octo-org/models.git", {}, True),
        ("https://github.com/octo-org/models", {}, True),
        ("https://acme.ghe.com/ml/models", {}, True),
        ("git@ghe.example.com:ml/models.git", {}, False),
        (
            "git@ghe.example.com:ml/models.git",
            {"GITHUB_SERVER_URL": "https://ghe.example.com"},
            True,
        ),
        (
            "git@ghe.example.com:ml/models.git",
            {"GITHUB_API_URL": "https://ghe.example.com/api/v3"},
            True,
        ),
        ("https://gitlab.com/group/models.git", {}, False),
        ("/srv/git/models.git", {}, False),
        ("https://github.com/octo-org", {}, False),
    ],
)
def test_looks_like_github(url: str, env: dict[str, str], expected: bool) -> None:
    assert looks_like_github(url, env) is expected
