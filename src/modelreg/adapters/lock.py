"""One writer at a time per repository: an OS lock under `.git/modelreg/`.

Every command that commits, pushes or writes the DVC cache holds it for its whole
read-decide-write sequence, so two `register` runs in one checkout never pick the same
version or write the same artifact path at once. It is `flock`, so the kernel drops it
when the holder dies, even by `kill -9`: a lock is never stale. Readers never lock.

The lock is re-entrant within one process (`train --register` takes it, then
`register` does), because a second `flock` on a fresh file description would wait
on itself.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from modelreg.errors import LockTimeout

DEFAULT_TIMEOUT = 30.0
TIMEOUT_ENV = "MODELREG_LOCK_TIMEOUT"
_POLL = 0.05
_held: dict[Path, int] = {}  # lock file → how deep this process holds it


def lock_path(git_dir: Path) -> Path:
    return git_dir / "modelreg" / "write.lock"


@contextlib.contextmanager
def writing(git_dir: Path, command: str | None = None) -> Iterator[None]:
    """Hold the repository's write lock; wait for another writer, up to the timeout."""
    path = lock_path(git_dir.resolve())
    if _held.get(path):
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    fd = _acquire(path, _timeout())
    _held[path] = 1
    try:
        _describe(fd, command)
        yield
    finally:
        _held.pop(path, None)
        os.close(fd)  # closing the last descriptor releases the flock


def _timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT


def _acquire(path: Path, timeout: float) -> int:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(fd)
                os.close(fd)
                raise LockTimeout(
                    f"another modelreg is writing to this repository ({holder}); "
                    f"waited {timeout:g} s",
                    hint=f"let it finish and re-run; the lock is {path.name} in .git/modelreg",
                ) from None
            time.sleep(_POLL)


def _describe(fd: int, command: str | None) -> None:
    """Write who holds the lock, for the message a waiting writer gives up with."""
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    what = command or shlex.join(["modelreg", *sys.argv[1:]])
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n{started}\n{what}\n".encode(), 0)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace")
    except OSError:
        text = ""
    pid, started, command = ([*text.splitlines(), "", "", ""])[:3]
    if not pid:
        return "holder unknown"
    return f"pid {pid}, `{command}`, since {started}"


def git_dir_of(root: Path) -> Path | None:
    """The common .git directory of the checkout at `root` (shared by its worktrees)."""
    import subprocess

    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git.resolve()
    out = subprocess.run(
        ["git", "rev-parse", "--git-common-dir"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    return (root / out).resolve() if out else None


def writing_in(root: Path) -> contextlib.AbstractContextManager[None]:
    """The write lock of the repository holding `root` (none outside a repository)."""
    git_dir = git_dir_of(root)
    return writing(git_dir) if git_dir else contextlib.nullcontext()
