"""The embedded forge: a pull request is a branch pushed to `origin`, no server needed.

The PR's title and body are its tip commit's message; comments are a git note on that
commit (refs/notes/modelreg, pushed too). `merge` runs the required checks in a
temporary worktree, merges with --no-ff and pushes, exactly as a protected branch would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelreg.adapters.git import (
    Git,
    add_note,
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
MERGE_PREFIX = "Merge pull request "


@dataclass(frozen=True)
class Merged:
    pr: PullRequest
    commit: str


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
        branches = remote_branches(self.git, "")
        return [
            self._pr(name, sha, base)
            for name, sha in sorted(branches.items())
            if name not in (base, "HEAD") and not self._merged(sha, base)
        ]

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

    def merge(self, head: str, checks: Callable[[Git, str], list[str]]) -> Merged:
        """Merge `head` into the default branch if it merges cleanly and `checks` pass."""
        pr = self.get(head)
        base_ref = f"{self.remote}/{pr.base}"
        with temp_worktree(self.git, base_ref) as wt:
            message = f"{MERGE_PREFIX}{pr.head}: {pr.title}\n\n{pr.body}".rstrip() + "\n"
            if not merge(wt, f"{self.remote}/{head}", message):
                raise CheckFailed(
                    f"{head} conflicts with {pr.base}: another change to the same "
                    "stage landed first",
                    hint="close it and re-run the command that opened it",
                )
            problems = checks(wt, base_ref)
            if problems:
                raise CheckFailed(f"{head} fails required checks: " + "; ".join(problems))
            sha = wt.run("rev-parse", "HEAD").strip()
            push(wt, f"HEAD:refs/heads/{pr.base}", self.remote)
        self.close(head)
        return Merged(pr, sha)

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
        self.git.run("fetch", "--quiet", self.remote, f"+{NOTES_REF}:{NOTES_REF}", check=False)


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
