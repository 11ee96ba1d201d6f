"""Opening a registry: the Git adapter plus the blob cache, found from a directory.

A command opens its workspace once, as a context manager: leaving it saves the blob
cache, the one place it is written (`with Workspace.open() as ws: ...`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from modelreg.adapters.git import Git
from modelreg.errors import NotFound
from modelreg.registry.cache import BlobCache
from modelreg.registry.snapshot import Snapshot


@dataclass
class Workspace:
    git: Git
    cache: BlobCache

    @classmethod
    def open(cls, start: Path | None = None) -> Workspace:
        git = Git.discover(start)
        return cls(git, BlobCache.for_git_dir(git.git_dir))

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Entries are keyed by content, so what a failed command parsed is still right.
        self.cache.save()

    @property
    def root(self) -> Path:
        return self.git.root

    def base(self, ref: str | None = None) -> str:
        """What a branch is compared with: `ref`, else its merge-base with origin's
        default branch, else HEAD."""
        if ref is not None:
            return ref
        default = self.git.default_branch()
        found = self.git.merge_base(f"refs/remotes/origin/{default}", "HEAD") if default else None
        return found or "HEAD"

    def snapshot(self, rev: str | None = "HEAD", *, artifacts: bool = True) -> Snapshot:
        """The registry at `rev` (a revision or date), or on disk when rev is None;
        `artifacts=False`: without the DVC pointers (see Snapshot)."""
        if rev is None:
            return Snapshot(self.git, None, self.cache, artifacts=artifacts)
        if not self.git.has_commits():
            raise NotFound("the repository has no commits yet", hint="run `modelreg init`")
        return Snapshot(self.git, self.git.resolve_at(rev), self.cache, artifacts=artifacts)
