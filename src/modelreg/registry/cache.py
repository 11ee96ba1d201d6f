"""A cache of parsed, schema-checked files keyed by Git blob id.

Content-addressed, so an entry can never be stale: a changed file has a new blob id.
It lives inside the Git directory, so it is never committed and is shared by worktrees.
`history` keeps its stage events here too, keyed by the (immutable) commit they end at.

The file maps each key to its value's own marshal bytes, so opening the cache costs one
small load however many records it holds, and a command decodes only the entries it
reads (`status` needs a few thousand of the twenty thousand `validate` stored).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelreg import __version__

_FORMAT = 2  # bump when the layout of the file or of its values changes
_BAD = (EOFError, ValueError, TypeError)
# What a cached value depends on besides the schemas: parsing and checking files, the
# policy and drift rules, and the stage events history derives from stages. Only
# registry modules: an edit of the drift engine must not invalidate users' caches.
_SEMANTICS = (
    "modelreg.registry.yamlio",
    "modelreg.registry.schemas",
    "modelreg.registry.policy",
    "modelreg.registry.drift_rules",
    "modelreg.registry.records",
    "modelreg.registry.history",
    "modelreg.registry.events_file",
)


class BlobCache:
    """`kind:blob` → (data, problems) for files already parsed and checked, and other
    values keyed by immutable Git ids."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._raw: dict[str, bytes] | None = None  # key → the value's marshal bytes
        self._dirty = False

    @classmethod
    def for_git_dir(cls, git_dir: Path) -> BlobCache:
        if os.environ.get("MODELREG_NO_CACHE"):
            return cls(None)  # still remembers within one command, never on disk
        return cls(git_dir / "modelreg" / f"cache-{_fingerprint()}.marshal")

    def _load(self) -> dict[str, bytes]:
        if self._raw is None:
            self._raw = {}
            if self.path is not None and self.path.exists():
                try:
                    raw = marshal.loads(self.path.read_bytes())
                except _BAD:
                    raw = None  # a torn or foreign file is just a cold cache
                if isinstance(raw, dict):
                    self._raw = raw
        return self._raw

    def has(self, key: str) -> bool:
        return key in self._load()

    def get(self, key: str) -> Any:
        """A fresh copy of the value (decoding is cheap; holding every value is not)."""
        stored = self._load().get(key)
        if not isinstance(stored, bytes):
            return None
        try:
            return marshal.loads(stored)
        except _BAD:
            return None

    def put(self, key: str, value: Any) -> None:
        encoded = encode(value)
        if encoded is not None:  # else (a date from an explicit YAML tag) left uncached
            self.put_encoded(key, encoded)

    def put_encoded(self, key: str, encoded: bytes) -> None:
        """Store a value already encoded with `encode`."""
        self._load()[key] = encoded
        self._dirty = True

    def delete(self, key: str) -> None:
        if self._load().pop(key, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Write the cache atomically; failures only cost speed, never correctness."""
        if not self._dirty or self.path is None or self._raw is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(marshal.dumps(self._raw))
            os.replace(tmp, self.path)
            self._dirty = False
            for old in self.path.parent.glob("cache-*.marshal"):
                if old != self.path:  # written by another version: never read again
                    old.unlink(missing_ok=True)
        except OSError:
            pass


def encode(value: Any) -> bytes | None:
    """A value as the cache stores it, or None if marshal cannot hold it."""
    try:
        return marshal.dumps(value)
    except ValueError:
        return None


def _fingerprint() -> str:
    """Changes whenever the schemas, the code that parses and checks files, the cache
    format or Python's marshal change."""
    return rules_digest(f"{__version__}:{_FORMAT}:{sys.version_info[:2]}", _SEMANTICS)[:12]


def rules_digest(salt: str, modules: Sequence[str]) -> str:
    """SHA-1 (hex) of `salt`, every shipped schema and the source of `modules`: what a
    parsed and checked file means, for caches that must never outlive it.

    It hashes those files' bytes rather than importing the modules, which would cost
    more than a warm `status` spends on everything else.
    """
    from importlib import resources, util

    from modelreg.registry.schemas import KINDS

    h = hashlib.sha1(salt.encode())
    schemas = resources.files("modelreg").joinpath("schemas")
    for kind in KINDS:
        h.update(schemas.joinpath(f"{kind}.schema.json").read_bytes())
    for module in modules:
        spec = util.find_spec(module)
        if spec is not None and spec.origin and os.path.isfile(spec.origin):
            h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()
