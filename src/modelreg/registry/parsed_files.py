"""The parsed-files checkpoint: `models/.stage-events/<commit>.files.json`.

It rides with a stage-event checkpoint (same commit, same folder) and holds, keyed by
`<kind>:<blob id>`, the parsed content of the files `status` shows at that commit: every
model's `model.yaml` and stage files, the records of the versions they serve and of
each latest version, and the policies. Only files that parsed and passed their schema
are in it. A fresh clone has no blob cache; with this file `status` reads one blob
instead of parsing thousands of YAML files.

Keyed by blob id, an entry can never be stale: a file changed since has another id and
is parsed as usual. What it cannot guard against is a hand edit, so only read commands
use it (`Snapshot.trust_checkpoint`), and `validate` re-parses every entry's blob and
compares. An entry is JSON, so only data JSON carries exactly is stored, and the file
names the parsing rules it was made under (`semantics`): a modelreg whose YAML reading
or schemas differ ignores it. This module is the format alone and never raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from modelreg.registry.cache import rules_digest
from modelreg.registry.events_file import EVENTS_DIR

FORMAT = 1
SUFFIX = ".files.json"
# A read looks into the checkpoint once it misses the cache for this many files at once:
# below that, parsing them costs less than reading the checkpoint (a few MB of JSON).
MIN_MISSES = 64
_KEY_RE = re.compile(r"(model|version|stage|stages|policy):[0-9a-f]{40}")
_SHA_RE = re.compile(r"[0-9a-f]{40}")
# What an entry depends on: how YAML is read and what the schemas accept.
_SEMANTICS = ("modelreg.registry.yamlio", "modelreg.registry.schemas")

Entries = dict[str, Any]


def files_path(commit: str) -> str:
    """The parsed-files checkpoint of `commit`."""
    return f"{EVENTS_DIR}/{commit}{SUFFIX}"


def commit_of(path: str) -> str | None:
    """The commit a parsed-files checkpoint path names, or None if the path is not one."""
    if not path.startswith(EVENTS_DIR + "/") or not path.endswith(SUFFIX):
        return None
    name = path[len(EVENTS_DIR) + 1 : -len(SUFFIX)]
    return name if _SHA_RE.fullmatch(name) else None


@cache
def semantics() -> str:
    """A digest of the schemas and of the code that reads and checks files: entries made
    under other rules are never used."""
    return rules_digest(f"parsed-files:{FORMAT}", _SEMANTICS)[:16]


def canonical(data: Any) -> str | None:
    """`data` as the checkpoint stores it, or None if JSON cannot carry it exactly (a
    key that is not a string, a NaN, bytes)."""
    try:
        text = json.dumps(data, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == data else None


def render(commit: str, entries: dict[str, str]) -> bytes:
    """The file's bytes from key → canonical entry: one entry per line, in key order."""
    head = json.dumps({"format": FORMAT, "commit": commit, "semantics": semantics()})
    lines = ",\n".join(f"{json.dumps(k)}: {entries[k]}" for k in sorted(entries))
    return (head[:-1] + ', "files": {\n' + lines + ("\n" if entries else "") + "}}\n").encode()


@dataclass(frozen=True)
class Read:
    """A parsed-files checkpoint as read: its entries, or what is wrong with it."""

    entries: Entries | None
    what: str = ""
    syntax: bool = False  # not JSON at all
    stale: bool = False  # well-formed, but made under other rules: skipped, not wrong


def parse(text: bytes, commit: str) -> Read:
    """The entries of a well-formed file of `commit` made under this modelreg's rules."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return Read(None, f"not valid JSON ({exc})", syntax=True)
    if not isinstance(data, dict):
        return Read(None, "not a JSON object")
    if data.get("format") != FORMAT:
        return Read(
            None, f"format {data.get('format')!r} is not one this modelreg reads ({FORMAT})"
        )
    if data.get("commit") != commit:
        return Read(None, f"commit {data.get('commit')!r} differs from the file name")
    files = data.get("files")
    if not isinstance(files, dict):
        return Read(None, "files: not an object")
    bad = next((k for k in files if not _KEY_RE.fullmatch(k)), None)
    if bad is not None:
        return Read(None, f"files: {bad!r} is not <kind>:<blob id>")
    if data.get("semantics") != semantics():
        what = (
            f"semantics {data.get('semantics')!r}: written by a modelreg that reads or "
            f"checks files differently ({semantics()!r}), so reads ignore it"
        )
        return Read(None, what, stale=True)
    return Read(files)
