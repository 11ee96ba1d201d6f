"""A GitHub-like REST API on 127.0.0.1 for tests, and the `github_api` pytest fixture.

The server keeps repositories' pull requests, issues, comments and labels in
memory, answers with bodies built from GitHub's documented examples in
``tests/fixtures/github/*.json``, records every request it gets, and can be told
to fail (``fail_next``) or to answer late (``delay``) to exercise retries.

Register the fixture with ``pytest_plugins = ["github_api"]`` in tests/conftest.py.
"""

from __future__ import annotations

import copy
import html
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "github"
DOCS = "https://docs.github.com/rest"
# Keys GitHub sends only when a single pull request is fetched, created or updated.
_FULL_PULL_ONLY = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]


@dataclass
class StubIssue:
    """An issue, or a pull request (GitHub numbers both from one sequence)."""

    number: int
    title: str
    body: str | None
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    head: str | None = None  # set for pull requests only
    base: str | None = None
    head_owner: str = ""
    merged: bool = False
    created_at: str = ""
    updated_at: str = ""
    author: str = "octocat"  # the user who opened it (GitHub's `user.login`)
    head_sha: str = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

    @property
    def is_pull(self) -> bool:
        return self.head is not None


@dataclass
class StubComment:
    id: int
    number: int
    body: str
    created_at: str = ""
    updated_at: str = ""


@dataclass
class StubReview:
    """A submitted review of a pull request."""

    id: int
    number: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    commit: str | None
    association: str = "COLLABORATOR"
    body: str = ""
    submitted_at: str = ""


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int | None
    times: int
    delay: float
    body: Any
    headers: dict[str, str]


class _Reply(Exception):
    """Raised by a route to answer with an error status."""

    def __init__(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body if body is not None else _error_body(status)
        self.headers = dict(headers or {})


def _error_body(status: int, message: str | None = None, errors: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message or HTTPStatus(status).phrase}
    if errors is not None:
        body["errors"] = errors
    body["documentation_url"] = DOCS
    body["status"] = str(status)
    return body


def _validation(*errors: dict[str, str]) -> _Reply:
    return _Reply(422, _error_body(422, "Validation Failed", list(errors)))


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _replace_all(value: Any, replacements: Sequence[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace_all(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _replace_all(v, replacements) for k, v in value.items()}
    return value


class GitHubAPI:
    """An in-memory GitHub REST API served on 127.0.0.1 at an ephemeral port."""

    def __init__(
        self,
        owner: str = "octo-org",
        repo: str = "model-registry",
        *,
        token: str | None = "stub-token",
        default_branch: str = "main",
        prefix: str = "",
    ) -> None:
        self.owner, self.repo = owner, repo
        self.prefix = prefix.rstrip("/")  # e.g. "/api/v3", as GitHub Enterprise Server serves it
        self.token = token  # None accepts any (or no) credentials
        self.default_branch = default_branch
        self.branches: set[str] | None = None  # None: every head branch "exists"
        self.requests: list[Recorded] = []
        self.issues: dict[int, StubIssue] = {}
        self.comments: dict[int, StubComment] = {}
        self.labels: dict[str, str] = {}  # name -> colour
        self.reviews: list[StubReview] = []
        self.protection: dict[str, dict[str, Any]] = {}  # branch -> the body PUT there
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._next_comment = 1000
        self._server: ThreadingHTTPServer | None = None
        self._origin = ""
        self._thread: threading.Thread | None = None
        self._templates = {
            name: _fixture(name)
            for name in (
                "repository",
                "pull-request",
                "issue",
                "comment",
                "label",
                "pull-request-review",
                "branch-protection",
            )
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> GitHubAPI:
        api = self

        class Handler(_Handler):
            stub = api

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        host, port = server.server_address[:2]
        self._origin = f"http://{host!s}:{port}"
        # A short poll interval keeps shutdown (and so every test's teardown) quick.
        self._thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHubAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API root, e.g. http://127.0.0.1:40123 (what GITHUB_API_URL should be)."""
        return self.origin + self.prefix

    @property
    def origin(self) -> str:
        """Scheme, host and port: the root of the stub's web (html_url) pages."""
        assert self._origin, "the stub was never started"
        return self._origin

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment variables that point modelreg at this server."""
        env = {
            "GITHUB_API_URL": self.url,
            "GITHUB_REPOSITORY": self.full_name,
            "MODELREG_GITHUB_TOKEN": self.token or "any-token",
        }
        env.update(overrides)
        return env

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int | None = 500,
        times: int = 1,
        delay: float = 0.0,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests matching `method` ("*": any) and the `path`
        regex (searched in the URL path) with `status`, after sleeping `delay` seconds.

        `status=None` with a `delay` answers normally, only late: a timeout if the
        delay exceeds the client's timeout (the request still takes effect).
        """
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    re.compile(path),
                    status,
                    times,
                    delay,
                    body,
                    dict(headers or {}),
                )
            )

    def add_pull(
        self,
        head: str,
        *,
        base: str | None = None,
        title: str = "A pull request",
        body: str = "",
        labels: Sequence[str] = (),
        state: str = "open",
    ) -> StubIssue:
        """Seed a pull request as if someone had opened it."""
        with self._lock:
            pull = self._new_issue(title, body, labels)
            pull.head, pull.base, pull.state = head, base or self.default_branch, state
            pull.head_owner = self.owner
            return pull

    def add_review(
        self,
        number: int,
        user: str,
        state: str = "APPROVED",
        *,
        commit: str | None = "",
        association: str = "COLLABORATOR",
        body: str = "",
    ) -> StubReview:
        """`user` submits a review of pull request `number` (by default of its head)."""
        with self._lock:
            pull = self._issue_or_404(number, pull=True)
            review = StubReview(
                80 + len(self.reviews),
                number,
                user,
                state,
                pull.head_sha if commit == "" else commit,
                association,
                body,
                _now(),
            )
            self.reviews.append(review)
            return review

    def add_issue(
        self, title: str, *, body: str = "", labels: Sequence[str] = (), state: str = "open"
    ) -> StubIssue:
        with self._lock:
            issue = self._new_issue(title, body, labels)
            issue.state = state
            return issue

    def add_comment(self, number: int, body: str) -> StubComment:
        with self._lock:
            return self._new_comment(number, body)

    def pulls(self, state: str | None = None) -> list[StubIssue]:
        """Pull requests, oldest first, optionally only those in `state`."""
        return [i for i in self.issues.values() if i.is_pull and state in (None, i.state)]

    def plain_issues(self, state: str | None = None) -> list[StubIssue]:
        return [i for i in self.issues.values() if not i.is_pull and state in (None, i.state)]

    def comments_on(self, number: int) -> list[StubComment]:
        return [c for c in self.comments.values() if c.number == number]

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        """Recorded requests with this method whose path matches the `path` regex."""
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    # ------------------------------------------------------------------ state helpers

    def _new_issue(self, title: str, body: str | None, labels: Sequence[str]) -> StubIssue:
        number = max(self.issues, default=0) + 1
        stamp = _now()
        issue = StubIssue(number, title, body, created_at=stamp, updated_at=stamp)
        self._apply_labels(issue, labels)
        self.issues[number] = issue
        return issue

    def _new_comment(self, number: int, body: str) -> StubComment:
        self._next_comment += 1
        stamp = _now()
        comment = StubComment(self._next_comment, number, body, stamp, stamp)
        self.comments[comment.id] = comment
        return comment

    def _apply_labels(self, issue: StubIssue, names: Sequence[str]) -> None:
        for name in names:
            # Like GitHub, a label the repository lacks is created (colour ededed).
            self.labels.setdefault(name, "ededed")
            if name not in issue.labels:
                issue.labels.append(name)

    # ------------------------------------------------------------------ rendering

    def _replacements(self) -> list[tuple[str, str]]:
        api, web = self.url, self.origin
        return [
            ("https://api.github.com/repos/octocat/Hello-World", f"{api}/repos/{self.full_name}"),
            ("https://api.github.com", api),
            ("https://github.com/octocat/Hello-World", f"{web}/{self.full_name}"),
            ("octocat/Hello-World", self.full_name),
        ]

    def _render(self, template: str, extra: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        data = copy.deepcopy(self._templates[template])
        rendered: dict[str, Any] = _replace_all(data, [*self._replacements(), *extra])
        return rendered

    def _with_bodies(self, data: dict[str, Any], body: str | None, accept: str) -> None:
        data["body"] = body
        if "full" in accept or "html" in accept:
            data["body_html"] = f"<p>{html.escape(body)}</p>" if body else None
        if "full" in accept or "text" in accept:
            data["body_text"] = body

    def _repository(self) -> dict[str, Any]:
        data = self._render("repository")
        data["name"], data["full_name"] = self.repo, self.full_name
        data["owner"]["login"] = self.owner
        data["default_branch"] = self.default_branch
        data["open_issues_count"] = data["open_issues"] = sum(
            1 for i in self.issues.values() if i.state == "open"
        )
        return data

    def _label(self, name: str) -> dict[str, Any]:
        data = self._render("label")
        data["name"], data["color"] = name, self.labels.get(name, "ededed")
        data["url"] = f"{self.url}/repos/{self.full_name}/labels/{quote(name)}"
        data["description"], data["default"] = None, False
        data["id"] = 208045946 + sorted(self.labels).index(name) if name in self.labels else 0
        return data

    def _issue(self, issue: StubIssue, accept: str) -> dict[str, Any]:
        data = self._render("issue", [("/1347", f"/{issue.number}")])
        data["id"] = data["number"] = issue.number
        data["title"], data["state"] = issue.title, issue.state
        self._with_bodies(data, issue.body, accept)
        data["labels"] = [self._label(name) for name in issue.labels]
        data["comments"] = len(self.comments_on(issue.number))
        data["created_at"], data["updated_at"] = issue.created_at, issue.updated_at
        data["closed_at"] = issue.updated_at if issue.state == "closed" else None
        if issue.is_pull:
            base = f"{self.url}/repos/{self.full_name}/pulls/{issue.number}"
            web = f"{self.origin}/{self.full_name}/pull/{issue.number}"
            data["pull_request"] = {
                "url": base,
                "html_url": web,
                "diff_url": f"{web}.diff",
                "patch_url": f"{web}.patch",
                "merged_at": issue.updated_at if issue.merged else None,
            }
        return data

    def _pull(self, pull: StubIssue, accept: str, *, full: bool) -> dict[str, Any]:
        data = self._render("pull-request", [("/1347", f"/{pull.number}")])
        data["id"] = data["number"] = pull.number
        data["title"], data["state"] = pull.title, pull.state
        self._with_bodies(data, pull.body, accept)
        data["labels"] = [self._label(name) for name in pull.labels]
        data["created_at"], data["updated_at"] = pull.created_at, pull.updated_at
        data["closed_at"] = pull.updated_at if pull.state == "closed" else None
        data["merged_at"] = pull.updated_at if pull.merged else None
        data["user"] = _replace_all(data["user"], [("octocat", pull.author)])
        repository = self._repository()
        for side, ref in (("head", pull.head), ("base", pull.base)):
            data[side]["ref"] = ref
            data[side]["label"] = f"{self.owner}:{ref}"
            data[side]["user"]["login"] = self.owner
            data[side]["repo"] = repository
        data["head"]["sha"] = pull.head_sha
        if full:
            data["merged"] = pull.merged
            data["comments"] = len(self.comments_on(pull.number))
        else:
            for key in _FULL_PULL_ONLY:
                data.pop(key, None)
        return data

    def _review(self, review: StubReview, accept: str) -> dict[str, Any]:
        data = self._render(
            "pull-request-review",
            [("pulls/12", f"pulls/{review.number}"), ("pull/12#", f"pull/{review.number}#")],
        )
        data["id"] = review.id
        data["user"] = _replace_all(data["user"], [("octocat", review.user)])
        data["state"], data["commit_id"] = review.state, review.commit
        data["author_association"] = review.association
        data["submitted_at"] = review.submitted_at
        self._with_bodies(data, review.body, accept)
        return data

    def _protection(self, branch: str, body: dict[str, Any]) -> dict[str, Any]:
        """The protection GitHub answers after a PUT of `body`, from its example."""
        data = self._render("branch-protection", [("/branches/master/", f"/branches/{branch}/")])
        data["url"] = data["url"].replace("/branches/master/", f"/branches/{branch}/")
        checks = body["required_status_checks"]
        if checks is None:
            data["required_status_checks"] = None
        else:
            listed = checks.get("checks") or [{"context": c} for c in checks.get("contexts", [])]
            data["required_status_checks"].update(
                strict=bool(checks.get("strict")),
                contexts=[c["context"] for c in listed],
                checks=[{"context": c["context"], "app_id": c.get("app_id")} for c in listed],
            )
        reviews = body["required_pull_request_reviews"]
        if reviews is None:
            data["required_pull_request_reviews"] = None
        else:
            data["required_pull_request_reviews"].update(
                dismiss_stale_reviews=bool(reviews.get("dismiss_stale_reviews")),
                require_code_owner_reviews=bool(reviews.get("require_code_owner_reviews")),
                required_approving_review_count=int(
                    reviews.get("required_approving_review_count", 0)
                ),
                require_last_push_approval=bool(reviews.get("require_last_push_approval")),
            )
        data["enforce_admins"]["enabled"] = bool(body["enforce_admins"])
        data["restrictions"] = body["restrictions"]
        for key in (
            "required_linear_history",
            "allow_force_pushes",
            "allow_deletions",
            "block_creations",
            "required_conversation_resolution",
            "lock_branch",
            "allow_fork_syncing",
        ):
            data[key] = {"enabled": bool(body.get(key))}
        return data

    def _comment(self, comment: StubComment, accept: str) -> dict[str, Any]:
        data = self._render("comment", [("/1347", f"/{comment.number}")])
        data["id"] = comment.id
        data["url"] = f"{self.url}/repos/{self.full_name}/issues/comments/{comment.id}"
        data["html_url"] = (
            f"{self.origin}/{self.full_name}/issues/{comment.number}#issuecomment-{comment.id}"
        )
        self._with_bodies(data, comment.body, accept)
        data["created_at"], data["updated_at"] = comment.created_at, comment.updated_at
        return data

    # ------------------------------------------------------------------ dispatch

    def _handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        method = handler.command
        with self._lock:
            self.requests.append(Recorded(method, path, query, payload, dict(handler.headers)))
            fault = self._take_fault(method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
            if self._server is None:
                return  # stopped while this late answer was pending
        if fault is not None and fault.status is not None:
            body = fault.body if fault.body is not None else _error_body(fault.status)
            handler.reply(fault.status, body, fault.headers)
            return
        try:
            with self._lock:
                self._check_auth(handler.headers.get("Authorization", ""))
                status, body, headers = self._route(method, path, query, payload, handler)
        except _Reply as reply:
            status, body, headers = reply.status, reply.body, reply.headers
        handler.reply(status, body, headers)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method in ("*", method) and fault.path.search(path):
                fault.times -= 1
                return fault
        return None

    def _check_auth(self, authorization: str) -> None:
        if self.token is None:
            return
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() not in ("token", "bearer") or credential != self.token:
            raise _Reply(401, _error_body(401, "Bad credentials"))

    def _route(
        self, method: str, path: str, query: dict[str, str], payload: Any, handler: _Handler
    ) -> tuple[int, Any, dict[str, str]]:
        accept = handler.headers.get("Accept", "")
        if not path.startswith(self.prefix + "/"):
            raise _Reply(404)
        path = path[len(self.prefix) :]
        if method == "GET" and path == "/rate_limit":
            core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600, "used": 1}
            return 200, {"resources": {"core": core}, "rate": core}, {}
        if method == "GET" and path == "/meta":
            return 200, {"verifiable_password_authentication": True}, {}
        prefix = f"/repos/{self.owner}/{self.repo}"
        if not (path == prefix or path.startswith(prefix + "/")):
            raise _Reply(404)
        rest = path[len(prefix) :]
        for route_method, pattern, action in self._routes():
            match = re.fullmatch(pattern, rest)
            if match and route_method == method:
                args = {k: int(v) if v.isdigit() else v for k, v in match.groupdict().items()}
                return action(query=query, payload=payload, accept=accept, **args)
        raise _Reply(404)

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"", self._get_repository),
            ("GET", r"/pulls", self._list_pulls),
            ("POST", r"/pulls", self._create_pull),
            ("GET", r"/pulls/(?P<number>\d+)", self._get_pull),
            ("PATCH", r"/pulls/(?P<number>\d+)", self._update_pull),
            ("GET", r"/issues", self._list_issues),
            ("POST", r"/issues", self._create_issue),
            ("GET", r"/issues/comments/(?P<comment_id>\d+)", self._get_comment),
            ("PATCH", r"/issues/comments/(?P<comment_id>\d+)", self._update_comment),
            ("GET", r"/issues/(?P<number>\d+)", self._get_issue),
            ("PATCH", r"/issues/(?P<number>\d+)", self._update_issue),
            ("GET", r"/issues/(?P<number>\d+)/comments", self._list_comments),
            ("POST", r"/issues/(?P<number>\d+)/comments", self._create_comment),
            ("GET", r"/issues/(?P<number>\d+)/labels", self._list_issue_labels),
            ("POST", r"/issues/(?P<number>\d+)/labels", self._add_labels),
            ("PUT", r"/issues/(?P<number>\d+)/labels", self._set_labels),
            ("GET", r"/labels", self._list_labels),
            ("GET", r"/pulls/(?P<number>\d+)/reviews", self._list_reviews),
            ("PUT", r"/branches/(?P<branch>.+)/protection", self._update_protection),
        ]

    def _page(
        self, items: list[Any], query: dict[str, str], path: str
    ) -> tuple[int, list[Any], dict[str, str]]:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = max(int(query.get("page", 1)), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers: dict[str, str] = {}
        last = max((len(items) + per_page - 1) // per_page, 1)
        if page < last:
            base = f"{self.url}/repos/{self.full_name}{path}"
            link = lambda n: f"<{base}?{urlencode({**query, 'page': n})}>"  # noqa: E731
            headers["Link"] = f'{link(page + 1)}; rel="next", {link(last)}; rel="last"'
        return 200, chunk, headers

    def _issue_or_404(self, number: int, *, pull: bool | None = None) -> StubIssue:
        issue = self.issues.get(number)
        if issue is None or (pull is not None and issue.is_pull != pull):
            raise _Reply(404)
        return issue

    @staticmethod
    def _object(payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise _Reply(400, _error_body(400, "Problems parsing JSON"))
        return payload

    # ------------------------------------------------------------------ routes

    def _get_repository(self, **_: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, self._repository(), {}

    def _list_pulls(self, *, query: dict[str, str], accept: str, **_: Any) -> Any:
        state = query.get("state", "open")
        pulls = [p for p in self.pulls() if state == "all" or p.state == state]
        if "head" in query:
            owner, _sep, ref = query["head"].rpartition(":")
            pulls = [p for p in pulls if p.head == ref and owner in ("", p.head_owner)]
        if "base" in query:
            pulls = [p for p in pulls if p.base == query["base"]]
        if query.get("direction", "desc") == "desc":
            pulls.reverse()
        return self._page([self._pull(p, accept, full=False) for p in pulls], query, "/pulls")

    def _create_pull(self, *, payload: Any, accept: str, **_: Any) -> Any:
        data = self._object(payload)
        for key in ("title", "head", "base"):
            if not data.get(key):
                raise _validation(
                    {"resource": "PullRequest", "field": key, "code": "missing_field"}
                )
        owner, _sep, head = str(data["head"]).rpartition(":")
        base = str(data["base"])
        if owner not in ("", self.owner) or (
            self.branches is not None and head not in self.branches
        ):
            raise _validation({"resource": "PullRequest", "field": "head", "code": "invalid"})
        if head == base:
            raise _validation(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head}",
                }
            )
        if any(p.head == head and p.base == base for p in self.pulls("open")):
            message = f"A pull request already exists for {self.owner}:{head}."
            raise _validation({"resource": "PullRequest", "code": "custom", "message": message})
        pull = self.add_pull(head, base=base, title=str(data["title"]), body=data.get("body"))
        location = f"{self.url}/repos/{self.full_name}/pulls/{pull.number}"
        return 201, self._pull(pull, accept, full=True), {"Location": location}

    def _get_pull(self, *, number: int, accept: str, **_: Any) -> Any:
        return 200, self._pull(self._issue_or_404(number, pull=True), accept, full=True), {}

    def _update_pull(self, *, number: int, payload: Any, accept: str, **_: Any) -> Any:
        pull, data = self._issue_or_404(number, pull=True), self._object(payload)
        if "state" in data and data["state"] not in ("open", "closed"):
            raise _validation({"resource": "PullRequest", "field": "state", "code": "invalid"})
        pull.title = data.get("title", pull.title)
        pull.body = data.get("body", pull.body)
        pull.state = data.get("state", pull.state)
        pull.base = data.get("base", pull.base)
        pull.updated_at = _now()
        return 200, self._pull(pull, accept, full=True), {}

    def _list_issues(self, *, query: dict[str, str], accept: str, **_: Any) -> Any:
        state = query.get("state", "open")
        issues = [i for i in self.issues.values() if state == "all" or i.state == state]
        wanted = [name for name in query.get("labels", "").split(",") if name]
        issues = [i for i in issues if all(name in i.labels for name in wanted)]
        if query.get("direction", "desc") == "desc":
            issues.reverse()
        return self._page([self._issue(i, accept) for i in issues], query, "/issues")

    def _create_issue(self, *, payload: Any, accept: str, **_: Any) -> Any:
        data = self._object(payload)
        if not data.get("title"):
            raise _validation({"resource": "Issue", "field": "title", "code": "missing_field"})
        labels = [str(label) for label in data.get("labels") or []]
        issue = self.add_issue(str(data["title"]), body=data.get("body"), labels=labels)
        location = f"{self.url}/repos/{self.full_name}/issues/{issue.number}"
        return 201, self._issue(issue, accept), {"Location": location}

    def _get_issue(self, *, number: int, accept: str, **_: Any) -> Any:
        return 200, self._issue(self._issue_or_404(number), accept), {}

    def _update_issue(self, *, number: int, payload: Any, accept: str, **_: Any) -> Any:
        issue, data = self._issue_or_404(number), self._object(payload)
        issue.title = data.get("title", issue.title)
        issue.body = data.get("body", issue.body)
        issue.state = data.get("state", issue.state)
        if "labels" in data:
            issue.labels = []
            self._apply_labels(issue, [str(label) for label in data["labels"] or []])
        issue.updated_at = _now()
        return 200, self._issue(issue, accept), {}

    def _list_comments(self, *, number: int, query: dict[str, str], accept: str, **_: Any) -> Any:
        self._issue_or_404(number)
        comments = [self._comment(c, accept) for c in self.comments_on(number)]
        return self._page(comments, query, f"/issues/{number}/comments")

    def _create_comment(self, *, number: int, payload: Any, accept: str, **_: Any) -> Any:
        self._issue_or_404(number)
        data = self._object(payload)
        if not data.get("body"):
            raise _validation(
                {"resource": "IssueComment", "field": "body", "code": "missing_field"}
            )
        comment = self._new_comment(number, str(data["body"]))
        return 201, self._comment(comment, accept), {"Location": self._comment(comment, "")["url"]}

    def _get_comment(self, *, comment_id: int, accept: str, **_: Any) -> Any:
        comment = self.comments.get(comment_id)
        if comment is None:
            raise _Reply(404)
        return 200, self._comment(comment, accept), {}

    def _update_comment(self, *, comment_id: int, payload: Any, accept: str, **_: Any) -> Any:
        comment, data = self.comments.get(comment_id), self._object(payload)
        if comment is None:
            raise _Reply(404)
        if not data.get("body"):
            raise _validation(
                {"resource": "IssueComment", "field": "body", "code": "missing_field"}
            )
        comment.body, comment.updated_at = str(data["body"]), _now()
        return 200, self._comment(comment, accept), {}

    @staticmethod
    def _label_names(payload: Any) -> list[str]:
        # GitHub takes ["a", "b"], {"labels": ["a", "b"]} or {"labels": [{"name": "a"}]}.
        items = payload.get("labels", []) if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise _Reply(400, _error_body(400, "Problems parsing JSON"))
        return [str(i["name"]) if isinstance(i, dict) else str(i) for i in items]

    def _list_issue_labels(self, *, number: int, **_: Any) -> Any:
        issue = self._issue_or_404(number)
        return 200, [self._label(name) for name in issue.labels], {}

    def _add_labels(self, *, number: int, payload: Any, **_: Any) -> Any:
        issue = self._issue_or_404(number)
        self._apply_labels(issue, self._label_names(payload))
        return 200, [self._label(name) for name in issue.labels], {}

    def _set_labels(self, *, number: int, payload: Any, **_: Any) -> Any:
        issue = self._issue_or_404(number)
        issue.labels = []
        self._apply_labels(issue, self._label_names(payload))
        return 200, [self._label(name) for name in issue.labels], {}

    def _list_reviews(self, *, number: int, query: dict[str, str], accept: str, **_: Any) -> Any:
        self._issue_or_404(number, pull=True)
        reviews = [self._review(r, accept) for r in self.reviews if r.number == number]
        return self._page(reviews, query, f"/pulls/{number}/reviews")

    def _update_protection(self, *, branch: Any, payload: Any, **_: Any) -> Any:
        data = self._object(payload)
        required = (
            "required_status_checks",
            "enforce_admins",
            "required_pull_request_reviews",
            "restrictions",
        )
        for key in required:
            if key not in data:
                raise _validation(
                    {"resource": "ProtectedBranch", "field": key, "code": "missing_field"}
                )
        count = (data["required_pull_request_reviews"] or {}).get(
            "required_approving_review_count", 0
        )
        if not isinstance(count, int) or not 0 <= count <= 6:
            raise _validation(
                {
                    "resource": "ProtectedBranch",
                    "code": "custom",
                    "message": "required_approving_review_count must be between 0 and 6",
                }
            )
        if self.branches is not None and str(branch) not in self.branches | {self.default_branch}:
            raise _Reply(404, _error_body(404, "Branch not found"))
        self.protection[str(branch)] = data
        return 200, self._protection(str(branch), data), {}

    def _list_labels(self, *, query: dict[str, str], **_: Any) -> Any:
        return self._page([self._label(name) for name in sorted(self.labels)], query, "/labels")


class _Handler(BaseHTTPRequestHandler):
    stub: GitHubAPI
    server_version = "GitHub.com-stub"

    def do_GET(self) -> None:
        self.stub._handle(self)

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def reply(self, status: int, body: Any, headers: Mapping[str, str]) -> None:
        data = b"" if status == 204 else json.dumps(body).encode()
        sent = {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(data)),
            "X-GitHub-Media-Type": "github.v3; param=full; format=json",
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            **headers,
        }
        try:
            self.send_response(status)
            for name, value in sent.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a simulated timeout)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def github_api() -> Iterator[GitHubAPI]:
    """A running GitHub-like API for octo-org/model-registry with token "stub-token"."""
    with GitHubAPI() as api:
        yield api
