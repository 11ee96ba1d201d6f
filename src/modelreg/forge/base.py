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
