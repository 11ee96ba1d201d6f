"""The forge interface that promotion, rollback, drift and the workflows talk to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PullRequest:
    """A pull request as modelreg needs to see it, whichever forge holds it."""

    ref: str  # "#12" on GitHub, the head branch on the local forge
    title: str
    head: str
    base: str
    body: str
    state: str  # "open", "closed" or "merged"
    url: str = ""
    number: int | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForgeReview:
    """One submitted review of a pull request, as the forge lists it (oldest first)."""

    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED (GitHub's words)
    commit: str | None  # the commit reviewed; None once GitHub lost it (force push)
    association: str = ""  # GitHub's author_association: OWNER, MEMBER, COLLABORATOR, ...


@dataclass(frozen=True)
class ReviewTally:
    """Who approved a pull request's head commit, who blocks it, and whose reviews do
    not count and why."""

    pr: str  # "#12"
    head: str  # the head commit's sha
    author: str
    approvers: tuple[str, ...] = ()
    blockers: tuple[str, ...] = ()  # latest review requests changes
    ignored: tuple[tuple[str, str], ...] = ()  # (user, why)

    def to_dict(self) -> dict[str, object]:
        return {
            "pr": self.pr,
            "head": self.head,
            "author": self.author,
            "approved_by": list(self.approvers),
            "changes_requested_by": list(self.blockers),
            "not_counted": [{"user": u, "why": why} for u, why in self.ignored],
        }


class Forge(Protocol):
    """Opens and finds pull requests. Implementations never touch the working tree."""

    name: str

    def find_open(self, head: str) -> PullRequest | None:
        """The open pull request whose head is `head`, if any."""
        ...

    def open_or_update(
        self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> tuple[PullRequest, bool]:
        """Open a PR for an already pushed `head`, or update the open one; True if new."""
        ...

    def list_open(self) -> list[PullRequest]:
        """Every open pull request."""
        ...

    def upsert_comment(self, pr: PullRequest, *, marker: str, body: str) -> None:
        """Create or replace the one comment on `pr` that carries `marker`."""
        ...

    def upsert_issue(self, *, title: str, body: str, labels: Sequence[str]) -> str:
        """Create or update the one open tracking issue titled `title`; returns its ref."""
        ...

    def blob_url(self, sha: str, path: str) -> str:
        """How a PR body links the file `path` as of commit `sha`."""
        ...


# GitHub refuses a body or comment over 65,536 characters; leave room for markers.
BODY_LIMIT = 60_000


def cap_body(text: str, limit: int = BODY_LIMIT) -> str:
    """`text` within `limit` characters: the longest tables lose their last rows, with a
    note saying how many were left out; only if that is not enough is the text cut."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    tables = _tables(lines)
    kept = {start: end for start, end in tables}
    rows = {start: sum(len(x) + 1 for x in lines[start + 2 : end]) for start, end in tables}
    size = len(text) + 120 * len(tables)  # room for one note per table
    while size > limit and rows and max(rows.values()) > 0:
        start = max(rows, key=rows.__getitem__)
        kept[start] -= 1
        cut = len(lines[kept[start]]) + 1
        rows[start] -= cut
        size -= cut
    out: list[str] = []
    i = 0
    for start, end in tables:
        out += lines[i : kept[start]]
        if kept[start] < end:
            left = end - kept[start]
            out += ["", f"_… {left:,} more row(s) left out: a body holds {limit:,} characters._"]
        i = end
    out += lines[i:]
    capped = "\n".join(out)
    if len(capped) <= limit:
        return capped
    note = f"\n\n_… cut here: a body holds {limit:,} characters._"
    return capped[: limit - len(note)] + note


def _tables(lines: list[str]) -> list[tuple[int, int]]:
    """(first line, end) of each markdown table: a header row, a rule, then rows."""
    found: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and lines[i + 1 : i + 2] and lines[i + 1].startswith("|--"):
            end = i + 2
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            found.append((i, end))
            i = end
        else:
            i += 1
    return found
