"""A cache of parsed, schema-checked files keyed by Git blob id.

Content-addressed, so an entry can never be stale: a changed file has a new blob id.
It lives inside the Git directory, so it is never committed and is shared by worktrees.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path
from typing import Any

from modelreg import __version__


class BlobCache:
    """`kind:blob` → (data, problems) for files already parsed and checked."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, Any] | None = None
        self._dirty = False

    @classmethod
    def for_git_dir(cls, git_dir: Path) -> BlobCache:
        if os.environ.get("MODELREG_NO_CACHE"):
            return cls(None)
        return cls(git_dir / "modelreg" / f"cache-{_fingerprint()}.marshal")

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None and self.path.exists():
                try:
                    self._entries = marshal.loads(self.path.read_bytes())
                except (EOFError, ValueError, TypeError):
                    self._entries = {}  # a torn or foreign file is just a cold cache
        return self._entries

    def get(self, key: str) -> Any:
        return self._load().get(key)

    def put(self, key: str, value: Any) -> None:
        self._load()[key] = value
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically; failures only cost speed, never correctness."""
        if not self._dirty or self.path is None or self._entries is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(marshal.dumps(self._entries))
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            pass


def _fingerprint() -> str:
    """Changes whenever the schemas, the package or Python's marshal format change."""
    import json

    from modelreg.loading import KINDS, schema

    h = hashlib.sha1(f"{__version__}:{sys.version_info[:2]}".encode())
    for kind in KINDS:
        h.update(json.dumps(schema(kind), sort_keys=True).encode())
    return h.hexdigest()[:12]
