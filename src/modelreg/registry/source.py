"""A registry read from where the user names it: the current checkout, or `--repo` — a
local path (a checkout or a bare repository) or any Git URL, no checkout needed.

A `--repo` is cloned bare into a temporary directory (hard links for a local path) and
read from Git objects exactly as a checkout is; the clone is removed on leaving.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from modelreg.adapters.git import clone_bare
from modelreg.errors import UsageError
from modelreg.registry.cache import BlobCache
from modelreg.registry.workspace import Workspace

_SCP = re.compile(r"^[\w.-]+@[\w.-]+:")  # git's scp-like `user@host:path`


@dataclass(frozen=True)
class Source:
    """An opened registry and where it came from."""

    ws: Workspace
    repo: str | None  # `--repo` as given; None for the current checkout
    local: Path | None  # the directory it lives in, when it is on this machine by path
    scratch: Path | None  # a temporary directory removed on leaving (a `--repo` only)

    @property
    def name(self) -> str:
        """How messages name the registry."""
        return f"--repo {self.repo}" if self.repo else str(self.ws.root)


@contextmanager
def open_source(repo: str | None, start: Path | None = None) -> Iterator[Source]:
    """The registry `repo` names (a path or URL), else the checkout containing `start`."""
    if repo is None:
        with Workspace.open(start) as ws:
            yield Source(ws, None, ws.root, None)
        return
    local = _local_path(repo)
    with tempfile.TemporaryDirectory(prefix="modelreg-repo-") as tmp:
        scratch = Path(tmp)
        git = clone_bare(str(local) if local else repo, scratch / "registry.git")
        yield Source(Workspace(git, BlobCache(None)), repo, local, scratch)


def _local_path(repo: str) -> Path | None:
    """The directory a `--repo` names by path; None for a URL (`file://` included)."""
    if "://" in repo or _SCP.match(repo):
        return None
    path = Path(repo).expanduser()
    if not path.is_dir():
        raise UsageError(
            f"--repo {repo}: no such directory",
            hint="name a registry's Git repository: a path, a bare repository or a URL",
        )
    return path.resolve()


def relative_remote_base(source: Source) -> Path | None:
    """What a relative DVC remote in `.dvc/config` is read against: the `.dvc` folder of
    the repository's directory (a bare repository's own directory stands for its work
    tree); None for a repository reached by URL, where no such directory exists here."""
    return source.local / ".dvc" if source.local is not None else None
