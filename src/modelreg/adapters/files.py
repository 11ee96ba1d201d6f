"""Reading and writing the files a user names on the command line, with errors that say
which file and what to do instead of a traceback."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from modelreg.errors import UsageError


def read_text(path: Path, label: str) -> str:
    """The file's text as UTF-8; `label` names the option it came from (`--metrics`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{label} {path}: cannot be read: {exc.strerror or exc}",
            hint="check the path and its permissions",
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(
            f"{label} {path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
            hint="save the file as UTF-8",
        ) from None


@contextmanager
def writable(path: Path, label: str) -> Iterator[Path]:
    """Create `path`'s folder; turn an OSError while writing it into one clear line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield path
    except OSError as exc:
        raise UsageError(
            f"{label} {path}: cannot write: {exc.strerror or exc}",
            hint="choose a writable path",
        ) from None


def replace_atomically(
    path: Path, write: Callable[[Path], object], *, durable: bool = False
) -> None:
    """`write(tmp)` to a temporary file beside `path`, then rename it over `path`, so a
    reader never sees half a file; `durable` also fsyncs the bytes before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        if durable:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, label: str, write: Callable[[Path], object]) -> None:
    """replace_atomically for a file a user named, with a one-line error on failure."""
    with writable(path, label):
        replace_atomically(path, write)


def write_text(path: Path, label: str, text: str) -> None:
    """Write `text` to `path` atomically, with a one-line error on failure."""
    write_atomic(path, label, lambda tmp: tmp.write_text(text, encoding="utf-8"))
