"""The GitHub forge: pull requests, comments, labels and issues through github3.py.

This is the only module that talks to GitHub. github3 is imported inside the
functions that need it so that importing modelreg stays fast.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from modelreg import __version__
from modelreg.errors import ForgeError, UsageError
from modelreg.forge.base import ForgeReview, PullRequest, ReviewTally, cap_body

__all__ = [
    "DEFAULT_API_URL",
    "MAX_REQUIRED_REVIEWS",
    "TOKEN_VARIABLES",
    "GitHubForge",
    "looks_like_github",
    "parse_github_remote",
    "protection_body",
    "tally_reviews",
]

DEFAULT_API_URL = "https://api.github.com"
TOKEN_VARIABLES = ("MODELREG_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN")
DEFAULT_TIMEOUT = 30.0

_T = TypeVar("_T")

# GitHub logins are letters, digits and hyphens; GHE (managed users) adds "_".
_OWNER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
# scp-like git remotes: [user@]host:owner/name[.git]
_SCP_RE = re.compile(r"(?:[^@/:]+@)?(?P<host>[^@/:]+):(?P<path>(?!/).+)")
_URL_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git")


# --------------------------------------------------------------------------- remotes


def _split_remote(url: str) -> tuple[str, str] | None:
    """(host, path) of a git remote URL in URL or scp-like form, if it has a host."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in _URL_SCHEMES or not parts.hostname:
            return None
        return parts.hostname.lower(), parts.path
    match = _SCP_RE.fullmatch(url)
    if match is None or len(match["host"]) < 2:  # "C:\x" is a Windows path, not a host
        return None
    return match["host"].lower(), match["path"]


def _owner_and_name(path: str) -> tuple[str, str] | None:
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    parts = path.split("/")
    if len(parts) != 2:
        return None
    owner, name = parts
    if not _OWNER_RE.fullmatch(owner) or not _NAME_RE.fullmatch(name) or name in {".", ".."}:
        return None
    return owner, name


def parse_github_remote(url: str) -> tuple[str, str] | None:
    """(owner, name) from a GitHub or GHE remote URL (https, ssh or scp-like), else None."""
    split = _split_remote(url)
    return None if split is None else _owner_and_name(split[1])


def _github_hosts(env: Mapping[str, str]) -> set[str]:
    hosts = {"github.com", "www.github.com", "ssh.github.com"}
    for variable in ("GITHUB_SERVER_URL", "GITHUB_API_URL"):
        host = urlsplit(env.get(variable, "")).hostname
        if host:
            hosts.add(host.lower())
            hosts.add(host.lower().removeprefix("api."))
    return hosts


def looks_like_github(url: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether a remote URL points at github.com, a *.ghe.com tenant or the GHE in `env`."""
    split = _split_remote(url)
    if split is None or _owner_and_name(split[1]) is None:
        return False
    host = split[0]
    return host in _github_hosts(env or {}) or host.endswith(".ghe.com")


def _api_url_for_host(host: str) -> str:
    """The REST root of the GitHub that serves git remotes on `host`."""
    if host in {"github.com", "www.github.com", "ssh.github.com"}:
        return DEFAULT_API_URL
    if host.endswith(".ghe.com"):  # GitHub Enterprise Cloud with data residency
        return f"https://api.{host}"
    return f"https://{host}/api/v3"  # GitHub Enterprise Server


def _token_from(env: Mapping[str, str]) -> str:
    for variable in TOKEN_VARIABLES:
        token = env.get(variable, "").strip()
        if token:
            return token
    raise UsageError(
        "no GitHub token: set MODELREG_GITHUB_TOKEN, GITHUB_TOKEN or GH_TOKEN "
        "(a fine-grained token with pull-requests: write)"
    )


def _repository_from(origin_url: str | None, env: Mapping[str, str]) -> tuple[str, str]:
    configured = env.get("GITHUB_REPOSITORY", "").strip()
    if configured:
        parsed = _owner_and_name(configured)
        if parsed is None:
            raise UsageError(
                f"GITHUB_REPOSITORY={configured!r} is not 'owner/name': set it like octo-org/models"
            )
        return parsed
    if not origin_url:
        raise UsageError(
            "cannot tell which GitHub repository to use: add an 'origin' remote "
            "or set GITHUB_REPOSITORY=owner/name"
        )
    parsed = parse_github_remote(origin_url)
    if parsed is None:
        raise UsageError(
            f"origin URL {origin_url!r} does not name a GitHub repository: "
            "set GITHUB_REPOSITORY=owner/name"
        )
    return parsed


def _api_url_from(origin_url: str | None, env: Mapping[str, str]) -> str:
    configured = env.get("GITHUB_API_URL", "").strip()
    if configured:
        parts = urlsplit(configured)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise UsageError(
                f"GITHUB_API_URL={configured!r} is not an http(s) URL: set it to the API root, "
                "e.g. https://ghe.example.com/api/v3"
            )
        return configured.rstrip("/")
    split = _split_remote(origin_url) if origin_url and not env.get("GITHUB_REPOSITORY") else None
    return DEFAULT_API_URL if split is None else _api_url_for_host(split[0])


# --------------------------------------------------------------------------- reviews

# Branch protection counts only approvals by people with write access; the review's
# author_association is how the reviews list says who they are to the repository.
WRITER_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
# A review's state stays until the same user submits another approval or change request:
# a comment does not change it, and a dismissed review is a comment (GitHub's docs,
# "Dismissing a pull request review").
_OPINIONS = frozenset({"APPROVED", "CHANGES_REQUESTED"})


def tally_reviews(pr: str, author: str, head: str, reviews: Sequence[ForgeReview]) -> ReviewTally:
    """Who approved `head`, who blocks it, and whose reviews do not count (and why).

    `reviews` are oldest first, as GitHub lists them. A user counts once, by their latest
    approval or change request; an approval counts only on the head commit, never by the
    PR's author, and only from an owner, member or collaborator of the repository.
    """
    latest: dict[str, ForgeReview] = {}
    seen: dict[str, list[ForgeReview]] = {}
    for review in reviews:
        key = review.user.lower()
        seen.setdefault(key, []).append(review)
        if review.state in _OPINIONS:
            latest[key] = review
    approvers: list[str] = []
    blockers: list[str] = []
    ignored: list[tuple[str, str]] = []
    for key, mine in seen.items():
        user = mine[-1].user
        opinion = latest.get(key)
        why = _not_counted(opinion, mine, author, head)
        if why:
            ignored.append((user, why))
        elif opinion is not None and opinion.state == "CHANGES_REQUESTED":
            blockers.append(user)
        else:
            approvers.append(user)
    return ReviewTally(
        pr=pr,
        head=head,
        author=author,
        approvers=tuple(sorted(approvers, key=str.lower)),
        blockers=tuple(sorted(blockers, key=str.lower)),
        ignored=tuple(ignored),
    )


def _not_counted(
    review: ForgeReview | None, mine: list[ForgeReview], author: str, head: str
) -> str:
    """Why a user's reviews neither approve nor block ("" when they do)."""
    if review is None:
        dismissed = any(r.state == "DISMISSED" for r in mine)
        return "review dismissed" if dismissed else "commented only"
    if review.user.lower() == author.lower():
        return "the pull request's author"
    if review.association.upper() not in WRITER_ASSOCIATIONS:
        return f"not an owner, member or collaborator ({review.association or 'NONE'})"
    if review.state == "APPROVED" and review.commit != head:
        reviewed = (review.commit or "a commit no longer in the branch")[:12]
        return f"approved {reviewed}, not the head commit {head[:12]}"
    return ""


# --------------------------------------------------------------------------- protection

# GitHub takes 0 to 6 for required_approving_review_count.
MAX_REQUIRED_REVIEWS = 6


def protection_body(*, check: str, reviews: int) -> dict[str, Any]:
    """The body of "Update branch protection" (PUT /repos/{owner}/{repo}/branches/{branch}/
    protection) that modelreg's guarantees rely on. The PUT replaces every setting, so
    what is not here is off."""
    return {
        "required_status_checks": {"strict": True, "checks": [{"context": check}]},
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": True,
            "required_approving_review_count": max(0, min(reviews, MAX_REQUIRED_REVIEWS)),
        },
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
    }


# --------------------------------------------------------------------------- errors


class _Transient(Exception):
    """A failure worth another attempt: HTTP 5xx, a timeout, a refused connection."""

    def __init__(self, head: str, reason: str, fix: str) -> None:
        super().__init__(f"{head} ({reason}): {fix}")
        self.head, self.reason, self.fix = head, reason, fix

    def message(self, attempts: int) -> str:
        tried = f", tried {attempts} times" if attempts > 1 else ""
        return f"{self.head} ({self.reason}{tried}): {self.fix}"


def _one_line(text: object, limit: int = 200) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _status(exc: Any) -> str:
    """'403 Forbidden: Resource not accessible by integration' from a github3 error."""
    code = int(exc.code)
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    message = _one_line(exc.msg or "")
    details = "; ".join(_one_line(_error_text(e)) for e in (exc.errors or []))
    if details and details not in message:
        # GitHub's 422 message is a bare "Validation Failed"; the details say what failed.
        generic = not message or message == "Validation Failed"
        message = details if generic else f"{message}: {details}"
    if not message or message == phrase:
        return f"{code} {phrase}".strip()
    return f"{code} {phrase}: {message}" if phrase else f"{code} {message}"


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        if error.get("message"):
            return str(error["message"])
        return " ".join(str(error[k]) for k in ("resource", "field", "code") if error.get(k))
    return str(error)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """exc and every exception it wraps (cause, context, args, urllib3's .reason)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        nested += list(current.args)
        todo.extend(e for e in nested if isinstance(e, BaseException))


def _network_reason(exc: BaseException, timeout: float) -> str:
    import socket

    import requests

    causes = list(_causes(exc))
    if any(isinstance(e, requests.exceptions.ConnectTimeout) for e in causes):
        return f"no connection within {timeout:g} s"
    if any(isinstance(e, requests.exceptions.ReadTimeout) for e in causes):
        return f"no answer within {timeout:g} s"
    if any(isinstance(e, ConnectionRefusedError) for e in causes):
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in causes):
        return "host name not found"
    if any(isinstance(e, requests.exceptions.SSLError) for e in causes):
        return "TLS error"
    text = " ".join(str(e) for e in causes).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "host name not found"
    return "connection failed"


# --------------------------------------------------------------------------- the forge


class GitHubForge:
    """Pull requests, comments, labels and tracking issues on one GitHub repository."""

    name = "github"

    def __init__(
        self,
        *,
        owner: str,
        repo: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.owner = owner
        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._sleep = sleep
        self._client: Any = None
        self._repository: Any = None

    @classmethod
    def from_env(
        cls,
        origin_url: str | None,
        env: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> GitHubForge:
        """A forge configured from the environment and the `origin` URL (see DESIGN §3)."""
        token = _token_from(env)
        owner, repo = _repository_from(origin_url, env)
        timeout_text = env.get("MODELREG_GITHUB_TIMEOUT", "").strip()
        try:
            timeout = float(timeout_text) if timeout_text else DEFAULT_TIMEOUT
        except ValueError:
            timeout = -1.0
        if timeout <= 0:
            raise UsageError(
                f"MODELREG_GITHUB_TIMEOUT={timeout_text!r} is not a positive number of seconds: "
                "set it like 30"
            )
        return cls(
            owner=owner,
            repo=repo,
            token=token,
            api_url=_api_url_from(origin_url, env),
            timeout=timeout,
            sleep=sleep,
        )

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def __repr__(self) -> str:
        return f"GitHubForge({self.full_name!r}, api_url={self.api_url!r})"

    # ------------------------------------------------------------------ protocol

    def find_open(self, head: str) -> PullRequest | None:
        """The open pull request whose head is the branch `head`, if any."""

        def run() -> PullRequest | None:
            found = self._find_open(head)
            return None if found is None else self._pull(found, _label_names(found))

        return self._run(run)

    def open_or_update(
        self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> tuple[PullRequest, bool]:
        """Open a PR for an already pushed `head`, or update the open one; True if new."""
        created: set[int] = set()  # filled by an attempt that opened the PR

        def run() -> tuple[PullRequest, bool]:
            pr = self._open_or_update(head, base, title, cap_body(body), list(labels), created)
            return pr, pr.number in created

        return self._run(run)

    def list_open(self) -> list[PullRequest]:
        """Every open pull request, oldest first."""

        def run() -> list[PullRequest]:
            repo = self._repo()
            with self._step("list pull requests", "pull-requests: read"):
                pulls = list(repo.pull_requests(state="open", direction="asc"))
            return [self._pull(p, _label_names(p)) for p in pulls]

        return self._run(run)

    def upsert_comment(self, pr: PullRequest, *, marker: str, body: str) -> None:
        """Create or replace the one comment on `pr` that carries `marker`.

        The marker (an HTML comment such as ``<!-- modelreg:gate -->``) is prepended
        to `body` when missing, so that the next call finds the comment again.
        """
        number = _number_of(pr)
        text = cap_body(body if marker in body else f"{marker}\n{body}")
        self._run(lambda: self._upsert_comment(number, marker, text))

    def upsert_issue(self, *, title: str, body: str, labels: Sequence[str]) -> str:
        """Create or update the one open issue titled `title`; returns "#N"."""
        return self._run(lambda: self._upsert_issue(title, cap_body(body), list(labels)))

    def blob_url(self, sha: str, path: str) -> str:
        """An absolute URL of `path` at commit `sha`: a relative link in a PR body
        resolves against the PR's own URL (…/pull/12/models/…) and breaks."""
        web = str(self._run(self._repo).html_url).rstrip("/")
        return f"{web}/blob/{sha}/{path}"

    def reviews(self, number: int) -> ReviewTally:
        """The reviews of pull request `number`, tallied against its head commit."""

        def run() -> ReviewTally:
            repo = self._repo()
            with self._step(f"read pull request #{number}", "pull-requests: read"):
                pull = repo.pull_request(number)
            with self._step(f"list the reviews of pull request #{number}", "pull-requests: read"):
                reviews = [
                    ForgeReview(
                        user=str(r.user.login),
                        state=str(r.state).upper(),
                        commit=r.commit_id,
                        association=str(r.author_association or ""),
                    )
                    for r in pull.reviews()
                ]
            head = str(pull.head.sha)
            return tally_reviews(f"#{number}", str(pull.user.login), head, reviews)

        return self._run(run)

    def protect(self, branch: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT `body` as `branch`'s protection; returns the protection GitHub now has."""

        def run() -> dict[str, Any]:
            repo = self._repo()
            segment = quote(branch, safe="")
            url = repo._build_url("branches", segment, "protection", base_url=repo._api)
            need = "administration: write (admin on the repository)"
            with self._step(f"protect branch {branch}", need):
                answer = repo._json(repo._put(url, data=json.dumps(body)), 200)
            return dict(answer or {})

        return self._run(run)

    # ------------------------------------------------------------------ operations

    def _open_or_update(
        self, head: str, base: str, title: str, body: str, labels: list[str], created: set[int]
    ) -> PullRequest:
        """The open PR for `head`, created or brought up to date; adds new numbers to `created`."""
        import github3

        existing = self._find_open(head)
        if existing is None:
            repo = self._repo()
            unpushed = f"check that branch {head} was pushed and differs from {base}"
            with self._step("create the pull request", "pull-requests: write", unpushed):
                try:
                    new = repo.create_pull(title=title, base=base, head=head, body=body)
                except github3.exceptions.UnprocessableEntity as exc:
                    # A retried POST that GitHub had already carried out: adopt that PR.
                    if "already exists" not in str(exc.errors) + str(exc.msg):
                        raise
                    existing = self._find_open(head)
                    if existing is None:
                        raise
            if existing is None:
                created.add(int(new.number))
                return self._pull(new, self._ensure_labels(new, labels, []))
        number = existing.number
        changes: dict[str, str] = {}
        if existing.title != title:
            changes["title"] = title
        if (existing.body or "") != body:
            changes["body"] = body
        if existing.base.ref != base:
            changes["base"] = base
        if changes:
            with self._step(f"update pull request #{number}", "pull-requests: write"):
                existing.update(**changes)
        return self._pull(existing, self._ensure_labels(existing, labels, _label_names(existing)))

    def _upsert_comment(self, number: int, marker: str, body: str) -> None:
        repo = self._repo()
        with self._step(f"read pull request #{number}", "pull-requests: read"):
            issue = repo.issue(number)
        with self._step(f"list comments on pull request #{number}", "pull-requests: read"):
            comment = next((c for c in issue.comments() if marker in (c.body or "")), None)
        if comment is None:
            with self._step(f"comment on pull request #{number}", "pull-requests: write"):
                issue.create_comment(body)
        elif comment.body != body:
            with self._step(
                f"edit comment {comment.id} on pull request #{number}", "pull-requests: write"
            ):
                comment.edit(body)

    def _upsert_issue(self, title: str, body: str, labels: list[str]) -> str:
        repo = self._repo()
        with self._step("list issues", "issues: read"):
            # The issues list includes pull requests; a tracking issue is never one.
            issue = next(
                (
                    i
                    for i in repo.issues(state="open", direction="asc")
                    if i.title == title and not i.pull_request_urls
                ),
                None,
            )
        if issue is None:
            with self._step("create the issue", "issues: write"):
                issue = repo.create_issue(title=title, body=body, labels=labels or None)
            return f"#{int(issue.number)}"
        if (issue.body or "") != body:
            with self._step(f"update issue #{issue.number}", "issues: write"):
                issue.edit(body=body)
        current = [str(label.name) for label in issue.original_labels or []]
        missing = [label for label in labels if label not in current]
        if missing:
            with self._step(f"add labels to issue #{issue.number}", "issues: write"):
                issue.add_labels(*missing)
        return f"#{int(issue.number)}"

    def _find_open(self, head: str) -> Any:
        repo = self._repo()
        qualified = head if ":" in head else f"{self.owner}:{head}"
        branch = qualified.split(":", 1)[1]
        with self._step("list pull requests", "pull-requests: read"):
            pulls = list(repo.pull_requests(state="open", head=qualified))
        return next((p for p in pulls if p.head.ref == branch), None)

    def _ensure_labels(self, pull: Any, wanted: list[str], current: list[str]) -> list[str]:
        """Add the labels in `wanted` that `pull` lacks; GitHub creates unknown ones."""
        missing = [label for label in dict.fromkeys(wanted) if label not in current]
        if not missing:
            return current
        number = int(pull.number)
        with self._step(f"read pull request #{number}", "pull-requests: read"):
            issue = pull.issue()
        with self._step(
            f"add labels {', '.join(missing)} to pull request #{number}",
            "issues: write or pull-requests: write",
        ):
            added = issue.add_labels(*missing)
        return [str(label.name) for label in added] or current + missing

    def _pull(self, pull: Any, labels: Sequence[str]) -> PullRequest:
        number = int(pull.number)
        state = "merged" if pull.merged_at else str(pull.state)
        return PullRequest(
            ref=f"#{number}",
            title=str(pull.title),
            head=str(pull.head.ref),
            base=str(pull.base.ref),
            body=str(pull.body or ""),
            state=state,
            url=str(pull.html_url),
            number=number,
            labels=tuple(labels),
        )

    # ------------------------------------------------------------------ plumbing

    def _github(self) -> Any:
        if self._client is None:
            import github3
            from github3.session import GitHubSession

            session = GitHubSession(
                default_connect_timeout=self.timeout, default_read_timeout=self.timeout
            )
            agent = session.headers["User-Agent"]
            session.headers["User-Agent"] = f"modelreg/{__version__} {agent}"
            if self.api_url == DEFAULT_API_URL:
                client = github3.GitHub(token=self._token, session=session)
            else:
                client = github3.GitHubEnterprise(self.api_url, token=self._token, session=session)
            # GitHubEnterprise appends /api/v3 to the URL it is given; GITHUB_API_URL
            # already is the API root (https://ghe.example.com/api/v3, a test stub, ...).
            client.session.base_url = self.api_url
            self._client = client
        return self._client

    def _repo(self) -> Any:
        if self._repository is None:
            gh = self._github()
            with self._step(f"read repository {self.full_name}", "metadata: read"):
                self._repository = gh.repository(self.owner, self.repo)
        return self._repository

    def _run(self, operation: Callable[[], _T]) -> _T:
        """Run a whole idempotent operation, again after a transient failure."""
        for attempt in range(1, self._attempts + 1):
            try:
                return operation()
            except _Transient as exc:
                if attempt == self._attempts:
                    raise ForgeError(exc.message(attempt)) from exc
                self._sleep(self._backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _step(
        self, action: str, need: str, fix422: str = "check the values modelreg sent"
    ) -> Iterator[None]:
        """Turn github3's exceptions raised while doing `action` into modelreg errors."""
        import github3

        try:
            yield
        except github3.exceptions.ConnectionError as exc:
            reason = _network_reason(exc, self.timeout)
            if reason.startswith("no answer"):
                raise _Transient(
                    f"GitHub API at {self.api_url} did not answer while trying to {action}",
                    reason,
                    "re-run later or raise MODELREG_GITHUB_TIMEOUT",
                ) from exc
            raise _Transient(
                f"cannot reach GitHub API at {self.api_url}",
                reason,
                "check GITHUB_API_URL or your network",
            ) from exc
        except github3.exceptions.ServerError as exc:
            raise _Transient(
                f"GitHub failed to {action}",
                _status(exc),
                "GitHub is having trouble; re-run the command later",
            ) from exc
        except github3.exceptions.GitHubError as exc:
            response = getattr(exc, "response", None)
            if response is None or response.status_code < 400:  # 2xx but not GitHub's JSON
                raise self._not_an_api(action, exc) from exc
            raise ForgeError(self._refusal(action, need, fix422, exc)) from exc
        except github3.exceptions.GitHubException as exc:
            raise self._not_an_api(action, exc) from exc

    def _not_an_api(self, action: str, exc: Exception) -> ForgeError:
        return ForgeError(
            f"unexpected reply from {self.api_url} while trying to {action} "
            f"({_one_line(exc, 120)}): check that GITHUB_API_URL is a GitHub API root, "
            "e.g. https://ghe.example.com/api/v3"
        )

    def _refusal(self, action: str, need: str, fix422: str, exc: Any) -> str:
        code, status = int(exc.code), _status(exc)
        headers = exc.response.headers
        limited = headers.get("X-RateLimit-Remaining") == "0" or "rate limit" in status.lower()
        if code == 429 or (code == 403 and limited):
            return (
                f"GitHub rate limit hit while trying to {action} ({status}): "
                f"re-run {_when_limit_resets(headers)}"
            )
        if code == 401:
            return (
                f"GitHub rejected the token while trying to {action} ({status}): set "
                "MODELREG_GITHUB_TOKEN, GITHUB_TOKEN or GH_TOKEN to a valid, unexpired token"
            )
        if code == 403:
            lacks = f"the token lacks {need} on {self.full_name}"
            return f"GitHub refused to {action} ({status}): {lacks}"
        if code == 404:
            return (
                f"GitHub found nothing when trying to {action} ({status}): check that "
                f"{self.full_name} exists (GITHUB_REPOSITORY or origin) and the token can access it"
            )
        if code == 422:
            return f"GitHub rejected the request to {action} ({status}): {fix422}"
        if code == 410:
            return (
                f"GitHub refused to {action} ({status}): enable it in {self.full_name}'s settings"
            )
        return f"GitHub refused to {action} ({status}): check the token and GITHUB_API_URL"


def _when_limit_resets(headers: Mapping[str, str]) -> str:
    """'in 60 s' (secondary limits send Retry-After) or 'after 14:05 UTC'."""
    retry_after = headers.get("Retry-After", "")
    if retry_after.isdigit():
        return f"in {int(retry_after)} s"
    reset = headers.get("X-RateLimit-Reset", "")
    if reset.isdigit():
        return time.strftime("after %H:%M UTC", time.gmtime(int(reset)))
    return "later"


def _label_names(pull: Any) -> list[str]:
    """Label names from a pull request as GitHub listed it."""
    return [str(label["name"]) for label in pull.as_dict().get("labels") or []]


def _number_of(pr: PullRequest) -> int:
    if pr.number is not None:
        return pr.number
    if re.fullmatch(r"#\d+", pr.ref):
        return int(pr.ref[1:])
    raise UsageError(f"pull request {pr.ref!r} is not a GitHub pull request: pass one from GitHub")
