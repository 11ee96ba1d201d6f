"""The embedded forge: a pull request is a branch pushed to `origin`, no server needed.

The PR's title and body are its tip commit's message; comments are a git note on that
commit (refs/notes/modelreg, pushed too). Reviews (approvals and comments) are JSON
lines in a note on the head commit they reviewed (refs/notes/modelreg-reviews, pushed
too), so a new push needs a new approval. `merge` runs the required checks in a
temporary worktree, counts the approvals, merges with --no-ff and pushes, exactly as a
protected branch would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from modelreg.adapters.git import (
    Git,
    add_note,
    committer,
    fast_forward,
    fetch,
    fetch_default_branch,
    merge,
    push,
    remote_branches,
    temp_worktree,
)
from modelreg.errors import CheckFailed, ForgeError, NotFound, UsageError
from modelreg.forge.base import PullRequest, cap_body

NOTES_REF = "refs/notes/modelreg"
REVIEWS_REF = "refs/notes/modelreg-reviews"
CHECKS_REF = "refs/notes/modelreg-checks"
MERGE_PREFIX = "Merge pull request "


@dataclass(frozen=True)
class Merged:
    pr: PullRequest
    commit: str


@dataclass(frozen=True)
class Review:
    """One review of a PR's head commit: an approval or a comment, by a git identity."""

    state: str  # "approved" or "commented"
    name: str
    email: str
    date: str
    commit: str
    comment: str = ""


# The merge checks: the merged tree, the base ref, and the approvals that count.
MergeChecks = Callable[[Git, str, Sequence[Review]], list[str]]


class LocalForge:
    """Pull requests as branches on a Git remote (a bare repository on disk will do)."""

    name = "local"

    def __init__(self, git: Git, remote: str = "origin") -> None:
        self.git = git
        self.remote = remote
        if git.remote_url(remote) is None:
            raise UsageError(
                f"the repository has no remote '{remote}'",
                hint="the local forge needs one: git remote add origin PATH_OR_URL",
            )

    # -- the Forge protocol -----------------------------------------------------------

    def blob_url(self, sha: str, path: str) -> str:
        """The path itself: a local PR is read beside the repository."""
        return path

    def base_branch(self) -> str:
        return fetch_default_branch(self.git, self.remote)[0]

    def find_open(self, head: str) -> PullRequest | None:
        base = self.base_branch()
        sha = remote_branches(self.git, head).get(head)
        if sha is None or self._merged(sha, base):
            return None
        return self._pr(head, sha, base)

    def open_or_update(
        self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> tuple[PullRequest, bool]:
        pr = self.find_open(head)
        if pr is None:
            raise ForgeError(f"branch {head} is not on {self.remote}", hint="push it first")
        return pr, False  # on this forge the pushed branch is the pull request

    def list_open(self) -> list[PullRequest]:
        base = self.base_branch()
        return [self._pr(name, sha, base) for name, sha in self._open_heads(base).items()]

    def _open_heads(self, base: str) -> dict[str, str]:
        """Branch → tip of every open PR: the branches on origin not merged into `base`."""
        branches = remote_branches(self.git, "")
        return {
            name: sha
            for name, sha in sorted(branches.items())
            if name not in (base, "HEAD") and not self._merged(sha, base)
        }

    def upsert_comment(self, pr: PullRequest, *, marker: str, body: str) -> None:
        sha = remote_branches(self.git, pr.head).get(pr.head)
        if sha is None:
            raise NotFound(f"no open pull request {pr.head}")
        self._fetch_notes()
        notes = _split_notes(self.git.run("notes", f"--ref={NOTES_REF}", "show", sha, check=False))
        notes[marker] = cap_body(body)
        text = "\n\n".join(f"{m}\n{b.strip()}" for m, b in notes.items())
        add_note(self.git, NOTES_REF, sha, text)
        push(self.git, f"{NOTES_REF}:{NOTES_REF}", self.remote)

    def upsert_issue(self, *, title: str, body: str, labels: Sequence[str]) -> str:
        return ""  # the local forge has no issue tracker; callers print the note instead

    # -- local-only commands ----------------------------------------------------------

    def record_check(self, sha: str, passed: bool, summary: str) -> None:
        """Record a `check` verdict on commit `sha` (the last one wins) and push it."""
        now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        line = json.dumps({"passed": passed, "date": now, "summary": summary}, sort_keys=True)
        self.fetch_checks()
        add_note(self.git, CHECKS_REF, sha, line + "\n")
        push(self.git, f"{CHECKS_REF}:{CHECKS_REF}", self.remote)

    def record_if_open(self, sha: str, passed: bool, summary: str) -> str | None:
        """Record a `check` verdict when `sha` is the head of an open pull request (the
        branch name), so `pr list` shows it; None when no open PR has that head."""
        heads = [h for h, tip in self._open_heads(self.base_branch()).items() if tip == sha]
        if not heads:
            return None
        self.record_check(sha, passed, summary)
        return heads[0]

    def check_state(self, sha: str) -> str:
        """'passed', 'failed' or 'not run': the last `check` recorded for commit `sha`."""
        try:
            data = json.loads(self._note(CHECKS_REF, sha).strip() or "{}")
        except ValueError:
            return "not run"
        if "passed" not in data:
            return "not run"
        return "passed" if data["passed"] else "failed"

    def fetch_checks(self) -> None:
        self._fetch_ref(CHECKS_REF)

    def tip(self, pr: PullRequest) -> tuple[str, str, str]:
        """The head commit of `pr`: its sha, author e-mail and author date (ISO 8601)."""
        sha = self.head_sha(pr.head)
        email, date = self.git.run("log", "-1", "--format=%ae%x00%aI", sha).strip().split("\0")
        return sha, email, date

    def get(self, head: str) -> PullRequest:
        pr = self.find_open(head)
        if pr is None:
            known = ", ".join(p.head for p in self.list_open()) or "none open"
            raise NotFound(f"no open pull request '{head}' on {self.remote}", hint=f"open: {known}")
        return pr

    def comments(self, pr: PullRequest) -> str:
        self._fetch_notes()
        sha = remote_branches(self.git, pr.head)[pr.head]
        return self.git.run("notes", f"--ref={NOTES_REF}", "show", sha, check=False).strip()

    def diff(self, pr: PullRequest) -> str:
        return self.git.run("diff", f"{self.remote}/{pr.base}...{self.remote}/{pr.head}")

    def merge(self, head: str, checks: MergeChecks) -> Merged:
        """Merge `head` into the default branch if it merges cleanly and `checks` pass
        (they are given the approvals that count for the head commit merged)."""
        pr = self.get(head)
        base_ref = f"{self.remote}/{pr.base}"
        sha = self.head_sha(head)
        approvals = self.counting_approvals(pr, sha)
        with temp_worktree(self.git, base_ref) as wt:
            message = f"{MERGE_PREFIX}{pr.head}: {pr.title}\n\n{pr.body}".rstrip() + "\n"
            if not merge(wt, sha, message):
                raise CheckFailed(
                    f"{head} conflicts with {pr.base}: another change to the same "
                    "stage landed first",
                    hint="close it and re-run the command that opened it",
                )
            problems = checks(wt, base_ref, approvals)
            self.record_check(sha, not problems, "; ".join(problems) or "passed")
            if problems:
                raise CheckFailed(f"{head} fails required checks: " + "; ".join(problems))
            sha = wt.run("rev-parse", "HEAD").strip()
            push(wt, f"HEAD:refs/heads/{pr.base}", self.remote)
        self.close(head)
        return Merged(pr, sha)

    def update_checkout(self, base: str, merged: str) -> str:
        """Fast-forward the user's checkout of `base` to `merged` when that is safe, and
        say what happened, or exactly what to run instead (the one change `pr merge`
        makes to a checkout)."""
        branch = self.git.current_branch()
        pull = f"git checkout {base} && git pull --ff-only"
        if branch != base:
            return f"your checkout is on {branch or 'a detached HEAD'}; to see it: {pull}"
        if self.git.run("status", "--porcelain", "--untracked-files=no").strip():
            return "your checkout has uncommitted changes; commit them, then git pull --ff-only"
        head = self.git.head()
        if head is not None and not self.git.ok("merge-base", "--is-ancestor", head, merged):
            return f"your {base} has commits not on {self.remote}; git pull --rebase to combine"
        try:
            fast_forward(self.git, merged, base)
        except UsageError:
            return f"your checkout could not be fast-forwarded; {pull}"
        return f"your checkout of {base} is fast-forwarded to {merged[:8]}"

    def review(self, head: str, *, approve: bool, comment: str = "") -> Review:
        """Record an approval or a comment by git's committer identity on the PR's head
        commit, and push it to the remote."""
        pr = self.get(head)
        sha = self.head_sha(pr.head)
        name, email = committer(self.git)
        state = "approved" if approve else "commented"
        now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        done = Review(state, name, email, now, sha, comment.strip())
        self._fetch_reviews()
        earlier = self._note(REVIEWS_REF, sha).strip()
        line = json.dumps(asdict(done), sort_keys=True)
        add_note(self.git, REVIEWS_REF, sha, f"{earlier}\n{line}".strip() + "\n")
        push(self.git, f"{REVIEWS_REF}:{REVIEWS_REF}", self.remote)
        return done

    def reviews(self, pr: PullRequest) -> list[Review]:
        """Every review of every commit on the PR's branch, oldest commit first."""
        self._fetch_reviews()
        out = self.git.run(
            "log",
            "-z",
            "--reverse",
            "--no-notes",
            f"--notes={REVIEWS_REF}",
            "--format=%N",
            f"{self.remote}/{pr.base}..{self.head_sha(pr.head)}",
        )
        return [_review(line) for note in out.split("\0") for line in note.splitlines() if line]

    def counting_approvals(self, pr: PullRequest, sha: str) -> list[Review]:
        """Approvals of head commit `sha` by someone who is neither author nor committer
        of any commit on the branch; one per e-mail."""
        out = self.git.run("log", "--format=%ae%n%ce", f"{self.remote}/{pr.base}..{sha}")
        involved = {e.strip().lower() for e in out.splitlines()}
        found: dict[str, Review] = {}
        for r in self.reviews(pr):
            key = r.email.strip().lower()
            if r.state == "approved" and r.commit == sha and key and key not in involved:
                found.setdefault(key, r)
        return list(found.values())

    def close(self, head: str) -> None:
        """Delete the PR's branch on the remote."""
        if head not in remote_branches(self.git, head):
            raise NotFound(f"no pull request '{head}' on {self.remote}")
        push(self.git, f":refs/heads/{head}", self.remote)
        fetch(self.git, self.remote)

    # -- helpers ----------------------------------------------------------------------

    def _merged(self, sha: str, base: str) -> bool:
        return self.git.ok("merge-base", "--is-ancestor", sha, f"{self.remote}/{base}")

    def _pr(self, head: str, sha: str, base: str) -> PullRequest:
        message = self.git.run("log", "-1", "--format=%B", sha).strip()
        title, _, body = message.partition("\n")
        return PullRequest(
            ref=head,
            title=title,
            head=head,
            base=base,
            body=body.strip(),
            state="open",
            url=f"{self.remote}/{head}",
        )

    def _fetch_notes(self) -> None:
        self._fetch_ref(NOTES_REF)

    def _fetch_reviews(self) -> None:
        self._fetch_ref(REVIEWS_REF)

    def _fetch_ref(self, ref: str) -> None:
        # Forced: the remote's notes are the record; a local note never pushed is lost.
        self.git.run("fetch", "--quiet", self.remote, f"+{ref}:{ref}", check=False)

    def _note(self, ref: str, sha: str) -> str:
        return self.git.run("notes", f"--ref={ref}", "show", sha, check=False)

    def head_sha(self, head: str) -> str:
        """The commit the PR's branch points at on the remote (as last fetched)."""
        sha = remote_branches(self.git, head).get(head)
        if sha is None:
            raise NotFound(f"no open pull request '{head}' on {self.remote}")
        return sha


def _review(line: str) -> Review:
    """A review from its JSON line; a line that is not one is shown as a comment."""
    try:
        data = json.loads(line)
        return Review(**{k: str(data.get(k, "")) for k in Review.__dataclass_fields__})
    except (ValueError, TypeError, AttributeError):
        return Review("commented", "?", "", "", "", line)


def _split_notes(text: str) -> dict[str, str]:
    notes: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("<!-- modelreg:") and line.endswith("-->"):
            current = line
            notes[current] = ""
        elif current is not None:
            notes[current] += line + "\n"
    return notes
