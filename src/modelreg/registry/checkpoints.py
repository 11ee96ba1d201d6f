"""Writing and checking the stage-event checkpoints (`models/.stage-events/<C>.json`).

Only commits that change no stage write one (`register`, the imports, `migrate
--stage-events`), so a stage change stays a commit whose one effect is its stage file
and `git revert` (rollback) keeps working. A checkpoint is named by its commit and
never edited; adding one deletes the older ones in the same commit, so two branches
that add different ones merge without a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg.registry import events_file, parsed_files
from modelreg.registry.events_file import EVENTS_DIR, events_path
from modelreg.registry.history import (
    PendingWalk,
    checkpoint_files,
    first_parent_distance,
    stage_events,
    usable_checkpoint,
    walked_rows,
)
from modelreg.registry.schemas import Problem
from modelreg.registry.snapshot import Snapshot, legacy_stages_yaml, model_yaml, policy_yaml
from modelreg.registry.workspace import Workspace

_FIX = "delete the file; modelreg writes a new one at a later registration"


@dataclass(frozen=True)
class Due:
    """A checkpoint to add at `commit` (the stage events and the parsed files, path →
    bytes) and the older checkpoint files it replaces."""

    commit: str
    files: tuple[tuple[str, bytes], ...]
    removed: tuple[str, ...]


def due(ws: Workspace, *, force: bool = False) -> Due | None:
    """The checkpoint the next non-stage commit should carry: one at HEAD once HEAD is
    `events_file.EVERY` or more first-parent commits past the newest usable checkpoint
    (or the root); with `force`, unless the newest is HEAD's or its parent's (HEAD then
    being, usually, the commit that added it). None when not due."""
    if not ws.git.has_commits():
        return None
    head = ws.git.head()
    assert head is not None
    snap = Snapshot(ws.git, head, ws.cache, (EVENTS_DIR,))
    found = usable_checkpoint(snap, head)
    if found is None:
        distance = int(ws.git.run("rev-list", "--first-parent", "--count", head).strip())
    else:
        distance = first_parent_distance(snap, found[0], head) or 0
    if distance < (2 if force else events_file.EVERY):
        return None
    rows = [tuple(_row(e)) for e in stage_events(snap)]
    removed = tuple(sorted(checkpoint_files(snap, head)))
    full = Snapshot(ws.git, head, ws.cache)
    # The files unchanged since the last checkpoint come from it rather than from YAML (a
    # fresh clone would parse thousands): a hand edit it carried, validate reports in both.
    full.trust_checkpoint = True
    files = (
        (events_path(head), events_file.render(head, rows)),
        (parsed_files.files_path(head), parsed_files.render(head, shown_files(full))),
    )
    return Due(head, files, removed)


def shown_files(snap: Snapshot) -> dict[str, str]:
    """`kind:blob` → canonical JSON of the valid files `status` reads in `snap` (a whole
    revision): the policies, every model's spec and stage files, and the records it
    shows."""
    from modelreg.registry.status import shown_records

    models = snap.models()
    wanted: dict[str, list[str]] = {
        "policy": [policy_yaml(p) for p in snap.policies()],
        "model": [p for p in map(model_yaml, models) if p in snap.files],
        "stage": [p for m in models for p in snap.stage_files(m).values()],
        "stages": [p for p in map(legacy_stages_yaml, models) if p in snap.files],
    }
    stages = snap.preload_stages(models)
    wanted["version"] = [p for m in models for p in shown_records(snap, m, stages.get(m))]
    out: dict[str, str] = {}
    for kind, paths in wanted.items():
        for path, (data, problems) in snap.checked_many(kind, paths).items():
            text = None if problems else parsed_files.canonical(data)
            if text is not None:
                out[f"{kind}:{snap.files[path]}"] = text
    return out


def _row(event: Any) -> list[Any]:
    return [getattr(event, name) for name in events_file.FIELDS]


def write(ws: Workspace, found: Due) -> tuple[list[str], dict[Path, bytes]]:
    """Write the checkpoint and delete the ones it replaces in the working tree; return
    the paths to commit and the deleted files' bytes (to put back if the commit fails)."""
    for path, text in found.files:
        target = ws.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text)
    removed: dict[Path, bytes] = {}
    for path in found.removed:
        old = ws.root / path
        if old.is_file():
            removed[old] = old.read_bytes()
            old.unlink()
    return [*(p for p, _ in found.files), *found.removed], removed


def restore(ws: Workspace, found: Due, removed: dict[Path, bytes]) -> None:
    """Undo `write`: the new file goes, the old ones come back."""
    for new, _ in found.files:
        (ws.root / new).unlink(missing_ok=True)
    for old, data in removed.items():
        old.parent.mkdir(parents=True, exist_ok=True)
        old.write_bytes(data)


def commit_due(ws: Workspace, *, force: bool = False) -> str | None:
    """Add a due checkpoint in a commit of its own (after an import); its commit, or None."""
    from modelreg.adapters.git import commit_paths, unstage

    found = due(ws, force=force)
    if found is None:
        return None
    paths, removed = write(ws, found)
    try:
        message = f"modelreg: stage-event checkpoint at {found.commit[:12]}"
        return commit_paths(ws.git, paths, message)
    except BaseException:
        unstage(ws.git, paths)
        restore(ws, found, removed)
        raise


# -- validate ------------------------------------------------------------------------------


def start_walks(snap: Snapshot, paths: list[str], rev: str | None) -> dict[str, PendingWalk]:
    """The walks `check` will compare these checkpoints with, started now so git walks
    while `validate` parses the registry (a second core); only for checkpoints whose
    verdict is not cached and whose commit is on `rev`'s line."""
    out: dict[str, PendingWalk] = {}
    for path in paths:
        commit = events_file.commit_of(path)
        if rev is None or commit is None or snap.cache.has(_verdict_key(snap, path, commit)):
            continue
        if commit == rev or first_parent_distance(snap, commit, rev) is not None:
            out[path] = PendingWalk(snap, commit)
    return out


def _verdict_key(snap: Snapshot, path: str, commit: str) -> str:
    return f"stage-events-ok:{snap.files[path]}:{commit}"


def check(
    snap: Snapshot, path: str, rev: str | None, walk: PendingWalk | None = None
) -> tuple[list[Problem], list[str]]:
    """(problems, warnings) of one checkpoint file in `snap` (the working tree or a
    revision), whose history is `rev`'s (HEAD for the working tree).

    Problems: not a checkpoint file name, not well-formed, or rows that differ from the
    walk of history up to its commit (a hand edit). A checkpoint whose commit is not on
    the line (written on a branch merged or squashed since) is only a warning: reads
    skip it, and a registry whose PRs are merged that way gets them in normal use.
    """
    parsed_commit = parsed_files.commit_of(path)
    if parsed_commit is not None:
        return _check_parsed(snap, path, parsed_commit)
    commit = events_file.commit_of(path)
    if commit is None:
        what = "not a checkpoint (<commit>.json or <commit>.files.json)"
        return [Problem(path, "", what, _FIX)], []
    text = snap.raw(path)
    rows, what, syntax = events_file.parse(text, commit)
    if rows is None:
        return [Problem(path, "", what, _FIX, syntax=syntax)], []
    if rev is None:
        return [], [f"{path}: the repository has no commits; the checkpoint is ignored"]
    if commit != rev and first_parent_distance(snap, commit, rev) is None:
        return [], [
            f"{path}: commit {commit[:12]} is not on the first-parent line of "
            f"{rev[:12]}, so reads ignore it ({_FIX})"
        ]
    key = _verdict_key(snap, path, commit)
    verdict = snap.cache.get(key)
    if verdict is None:
        verdict = _compare(rows, walk.rows() if walk else walked_rows(snap, commit))
        snap.cache.put(key, verdict)
    return ([Problem(path, "", verdict, _FIX)] if verdict else []), []


def _compare(rows: list[tuple[Any, ...]], walked: list[tuple[Any, ...]]) -> str:
    """ "" when equal, else one line naming the first difference."""
    for i, (have, want) in enumerate(zip(rows, walked, strict=False)):
        if have != want:
            diff = [
                f"{name} {a!r} (history says {b!r})"
                for name, a, b in zip(events_file.FIELDS, have, want, strict=True)
                if a != b
            ]
            return f"events[{i}] differs from history: " + ", ".join(diff[:3])
    if len(rows) != len(walked):
        return f"{len(rows)} events, but history up to the commit has {len(walked)}"
    return ""


def _check_parsed(snap: Snapshot, path: str, commit: str) -> tuple[list[Problem], list[str]]:
    """A parsed-files checkpoint: well-formed, and every entry what its blob parses to
    (a stale one, made under other parsing rules, is only a warning: reads skip it)."""
    read = parsed_files.parse(snap.raw(path), commit)
    if read.stale:
        return [], [f"{path}: {read.what}"]
    if read.entries is None:
        return [Problem(path, "", read.what, _FIX, syntax=read.syntax)], []
    key = f"parsed-files-ok:{snap.files[path]}"
    verdict = snap.cache.get(key)
    if verdict is None:
        verdict = _verify(snap, read.entries)
        snap.cache.put(key, verdict)
    return ([Problem(path, "", verdict, _FIX)] if verdict else []), []


def _verify(snap: Snapshot, entries: dict[str, Any]) -> str:
    """ "" when every entry is what its blob parses to, else the first that is not."""
    blobs = {key: key.split(":", 1)[1] for key in entries}
    present = snap.git.read_blobs(blobs.values())
    for key in sorted(entries):
        kind, blob = key.split(":", 1)
        if blob not in present:
            return f"files[{key!r}]: no such blob in this repository"
        data, problems = snap.check_blobs(kind, {key: blob})[key]
        if problems:
            return f"files[{key!r}]: the file does not pass the {kind} schema"
        if parsed_files.canonical(data) != parsed_files.canonical(entries[key]):
            return f"files[{key!r}]: differs from what the file parses to"
    return ""
