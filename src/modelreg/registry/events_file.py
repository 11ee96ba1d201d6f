"""The stage-event checkpoint file: `models/.stage-events/<commit>.json`.

A checkpoint holds every stage event of the first-parent history up to and including
one commit (the one its name gives), so a fresh clone reads one blob and walks only
the commits after it instead of the whole history (docs/formats.md, "Stage-event
checkpoints"). This module is the format alone: paths, rendering and a parser that
never raises. history.py reads checkpoints; checkpoints.py writes and verifies them.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

EVENTS_DIR = "models/.stage-events"  # model names cannot start with "." (names.py)
FORMAT = 1
# A registration writes a checkpoint once HEAD is this many first-parent commits past
# the newest usable one (or the root); reads then walk at most about this many commits.
# In a fresh clone (no commit-graph) git walks 100 commits of a 1,000-model registry
# for one model in 0.02 s, 500 in 0.09 s: most of a 0.2 s `history MODEL`.
EVERY = 100

# StageEvent's fields, in order: a row of the file is a list of these.
FIELDS = (
    "model",
    "stage",
    "version",
    "previous",
    "candidate",
    "weight",
    "commit",
    "author",
    "email",
    "date",
    "subject",
    "pr",
    "previous_candidate",
)
_STR = frozenset({"model", "stage", "commit", "author", "email", "date", "subject"})
_SHA_RE = re.compile(r"[0-9a-f]{40}")

Row = tuple[Any, ...]


def events_path(commit: str) -> str:
    """The checkpoint of the events up to `commit`."""
    return f"{EVENTS_DIR}/{commit}.json"


def commit_of(path: str) -> str | None:
    """The commit a checkpoint path names, or None if the path is not one."""
    if not path.startswith(EVENTS_DIR + "/") or not path.endswith(".json"):
        return None
    name = path[len(EVENTS_DIR) + 1 : -len(".json")]
    return name if _SHA_RE.fullmatch(name) else None


def in_events_dir(path: str) -> bool:
    return path.startswith(EVENTS_DIR + "/")


def render(commit: str, rows: list[Row]) -> bytes:
    """The file's bytes: one event per line, so a reader can look at it."""
    head = json.dumps({"format": FORMAT, "commit": commit, "fields": list(FIELDS)})
    lines = ",\n".join(json.dumps(list(r), ensure_ascii=False) for r in rows)
    return (head[:-1] + ', "events": [\n' + lines + ("\n" if rows else "") + "]}\n").encode()


def parse(text: bytes, commit: str) -> tuple[list[Row] | None, str, bool]:
    """(rows, "", False) for a well-formed checkpoint of `commit`; else (None, what is
    wrong, whether it is not JSON at all)."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"not valid JSON ({exc})", True
    if not isinstance(data, dict):
        return None, "not a JSON object", False
    if data.get("format") != FORMAT:
        what = f"format {data.get('format')!r} is not one this modelreg reads ({FORMAT})"
        return None, what, False
    if data.get("commit") != commit:
        return None, f"commit {data.get('commit')!r} differs from the file name", False
    if data.get("fields") != list(FIELDS):
        return None, "fields: not " + ", ".join(FIELDS), False
    events = data.get("events")
    if not isinstance(events, list):
        return None, "events: not a list", False
    rows: list[Row] = []
    for i, row in enumerate(events):
        what = _row_problem(row)
        if what:
            return None, f"events[{i}]: {what}", False
        rows.append(tuple(row))
    return rows, "", False


# Every combination of exact types a row may have (json.loads makes no subclasses; a bool
# is not a weight): one lookup per row, as a fresh clone's read checks thousands of them.
_ROW_TYPES = frozenset(
    itertools.product(
        *(
            (int, type(None)) if name == "weight" else (str,) if name in _STR else (str, type(None))
            for name in FIELDS
        )
    )
)


def _row_problem(row: object) -> str:
    if not isinstance(row, list) or len(row) != len(FIELDS):
        return f"not a list of {len(FIELDS)} values"
    if tuple(map(type, row)) in _ROW_TYPES:
        return ""
    for name, value in zip(FIELDS, row, strict=True):
        if name == "weight":
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
        elif name in _STR:
            ok = isinstance(value, str)
        else:
            ok = value is None or isinstance(value, str)
        if not ok:
            return f"{name}: {value!r} is not a valid value"
    return ""
