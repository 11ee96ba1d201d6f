"""The audit trail: every stage change, read from first-parent Git history."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from modelreg.adapters.git import Change, ChangeStream, Commit
from modelreg.errors import GitError
from modelreg.registry import events_file
from modelreg.registry.records import StageAssignment, Stages
from modelreg.registry.snapshot import Snapshot, legacy_stages_yaml, stages_dir

_PR_RE = re.compile(r"^Merge pull request (#\d+|[^\s:]+)|\((#\d+)\)$")


@dataclass(frozen=True)
class StageEvent:
    """One change to one stage of one model, as a commit on the first-parent line made it."""

    model: str
    stage: str
    version: str | None  # None: the stage was emptied
    previous: str | None
    candidate: str | None  # canary candidate after the change, if a rollout runs
    weight: int | None
    commit: str
    author: str
    email: str
    date: str
    subject: str
    pr: str | None
    previous_candidate: str | None = None  # the canary candidate before the change

    __json_extra__ = ("kind",)

    @property
    def kind(self) -> str:
        """assign, unassign; rollout (a canary starts or steps); rollout-complete (the
        candidate became the version); rollout-abort (the canary went, the version stayed)."""
        if self.version != self.previous:
            if self.previous_candidate and self.version == self.previous_candidate:
                return "rollout-complete"
            return "assign" if self.version else "unassign"
        return "rollout" if self.candidate else "rollout-abort"


# Events are cached and built as tuples in StageEvent's field order.
_COMMIT = [f.name for f in fields(StageEvent)].index("commit")


def pr_of(subject: str) -> str | None:
    """The PR a commit subject names: GitHub merges, squash merges and local-forge merges."""
    m = _PR_RE.search(subject)
    if not m:
        return None
    return m.group(1) or m.group(2)


def stage_events(snap: Snapshot, model: str | None = None) -> list[StageEvent]:
    """Stage changes up to the snapshot's revision, in commit order (not by clock)."""
    if snap.rev is None:
        raise ValueError("history needs a revision, not the working tree")
    rows = _rows(snap, snap.rev, model)
    return [StageEvent(*row) for row in rows if model is None or row[0] == model]


# Walking the first-parent history of every stage file costs seconds on a registry of
# tens of thousands of commits, so the events are cached by the commit they end at.
# Commit ids are immutable: the events up to a commit never change, and those up to a
# later commit on the same first-parent line are the cached ones plus the new range.
_ALL = "*"  # the scope of every model's stage files; otherwise a scope is one model
_KEEP = 4  # end commits remembered per scope


def _rows(snap: Snapshot, rev: str, model: str | None) -> list[tuple[Any, ...]]:
    scope = model or _ALL
    rows = _cached_rows(snap, rev, model)
    if rows is None:
        rows = _checkpoint_rows(snap, rev, model)
    if rows is not None:
        return rows
    rows = _walk(snap, rev, scope, since=None)
    _store(snap, scope, rev, rows)
    return rows


# -- checkpoints kept in the registry ----------------------------------------------------


def _checkpoint_rows(snap: Snapshot, rev: str, model: str | None) -> list[tuple[Any, ...]] | None:
    """Every event up to `rev` from the newest usable checkpoint and a walk of the commits
    after it (cached like a walk), or None if no checkpoint is usable."""
    found = usable_checkpoint(snap, rev)
    if found is None:
        return None
    commit, rows = found
    scope = model or _ALL
    if model is not None:
        rows = [r for r in rows if r[0] == model]
    if commit != rev:
        rows = [*rows, *_walk(snap, rev, scope, since=commit)]
    _store(snap, scope, rev, rows)
    return rows


def usable_checkpoint(snap: Snapshot, rev: str) -> tuple[str, list[tuple[Any, ...]]] | None:
    """(C, events up to C) of the newest well-formed checkpoint in `rev`'s tree whose C is
    `rev` or on `rev`'s first-parent line; None if there is none.

    Why this is sound: a commit's events are its stage-file changes against its first
    parent, so the events up to C depend only on C's first-parent line. If C is on
    `rev`'s first-parent line, that line is C's line followed by the first-parent commits
    in C..rev, hence events(rev) = events(C) + the events of those commits, which the
    caller walks. A checkpoint whose C is elsewhere (written on a side branch that was
    merged or squashed, or a commit this clone lacks) says nothing about `rev`'s line and
    is skipped, as is one that is malformed or of another format: each only costs the
    walk it would have saved. A `git revert` of the commit that added a checkpoint
    removes the file, and an older one (or the walk) answers. What a checkpoint cannot
    guard against is a hand edit that stays well-formed: `validate` compares every
    checkpoint with the walk.
    """
    best: tuple[int, str, list[tuple[Any, ...]]] | None = None
    for path, blob in checkpoint_files(snap, rev).items():
        commit = events_file.commit_of(path)
        rows = parsed_checkpoint(snap, blob, commit) if commit else None
        if commit is None or rows is None:
            continue
        distance = 0 if commit == rev else first_parent_distance(snap, commit, rev)
        if distance is not None and (best is None or distance < best[0]):
            best = (distance, commit, rows)
    return (best[1], best[2]) if best else None


def checkpoint_files(snap: Snapshot, rev: str) -> dict[str, str]:
    """Path → blob of the files in `models/.stage-events/` at `rev` (from the snapshot's
    own listing when it has them, else one `ls-tree`)."""
    listed = rev == snap.rev and any(
        events_file.EVENTS_DIR.startswith(root + "/") or root == events_file.EVENTS_DIR
        for root in snap.roots
    )
    if listed:
        return snap.events_files()
    files = snap.git.ls_tree(rev, [events_file.EVENTS_DIR])
    prefix = events_file.EVENTS_DIR + "/"
    return {p: b for p, b in files.items() if p.startswith(prefix)}


def parsed_checkpoint(snap: Snapshot, blob: str, commit: str) -> list[tuple[Any, ...]] | None:
    """The rows of a well-formed checkpoint of `commit`, or None (cached by blob id)."""
    key = f"stage-events:{blob}:{commit}"
    hit = snap.cache.get(key)
    if hit is not None:
        return [tuple(r) for r in hit] if isinstance(hit, list) else None
    text = snap.git.read_blobs([blob]).get(blob)
    rows = events_file.parse(text, commit)[0] if text is not None else None
    snap.cache.put(key, rows if rows is not None else 0)
    return rows


def first_parent_distance(snap: Snapshot, old: str, new: str) -> int | None:
    """First-parent commits from `old` to `new`, if `old` is on `new`'s line (an unknown
    commit is not)."""
    try:
        between = _first_parent_range(snap, old, new)
    except GitError:
        return None
    return None if between is None else len(between)


def _cached_rows(snap: Snapshot, rev: str, model: str | None) -> list[tuple[Any, ...]] | None:
    """Every event up to `rev` from the cache, if it has them (or all but a short range)."""
    scopes = [_ALL, model] if model else [_ALL]
    for scope in scopes:
        hit = snap.cache.get(_key(scope, rev))
        if hit is not None:
            return list(hit)
    for scope in scopes:
        rows = _from_cached(snap, scope, rev)
        if rows is not None:
            return rows
    return None


Stage = tuple[str, str]  # (model, stage)


def last_assignments(
    snap: Snapshot, wanted: set[Stage], model: str | None = None
) -> dict[Stage, StageEvent]:
    """The event that last put each wanted stage's version there (not a canary step
    beside it), up to the snapshot's revision; `model` narrows the search to its files."""
    pending = LastAssignments(snap, model)
    try:
        return pending.result(wanted)
    finally:
        pending.close()


class LastAssignments:
    """`last_assignments`, begun before the caller knows which stages it wants.

    `status` shows only these events, so without cached ones it walks history newest
    first and stops once it has found every wanted stage's, rather than reading all of
    it. The walk starts here, so git walks while the caller reads the stage files (a
    second core); `result` then waits for what it needs, and `close` stops git.
    """

    def __init__(self, snap: Snapshot, model: str | None = None) -> None:
        if snap.rev is None:
            raise ValueError("history needs a revision, not the working tree")
        self.snap, self.model, self.rev = snap, model, snap.rev
        self._rows = _cached_rows(snap, self.rev, model)
        self._log: ChangeStream | None = None
        scope = model or _ALL
        scopes = [_ALL, model] if model else [_ALL]
        cached = any(snap.cache.has(_last_key(s, self.rev)) for s in scopes)
        # A checkpoint bounds the walk: newest first down to its commit, the rest from it.
        # Nothing cached to extend: a checkpoint bounds the walk (down to its commit).
        fresh = self._rows is None and not cached and not snap.cache.get(f"last-tips:{scope}")
        self._checkpoint = usable_checkpoint(snap, self.rev) if fresh else None
        if self._checkpoint is not None:
            self._log = _since_checkpoint(snap, self.rev, scope, self._checkpoint[0])
        elif fresh:
            self._log = snap.git.iter_changes(self.rev, _stage_paths(scope))

    def result(self, wanted: set[Stage]) -> dict[Stage, StageEvent]:
        rows = self._rows
        if rows is None and self._checkpoint is not None:
            log, self._log = self._log, None
            rows = _from_checkpoint(self.snap, self.rev, self.model, wanted, self._checkpoint, log)
        if rows is None:
            log, self._log = self._log, None
            rows = _last_rows(self.snap, self.rev, self.model, wanted, log)
        last: dict[Stage, StageEvent] = {}
        for row in rows:
            if row[2] != row[3] and (self.model is None or row[0] == self.model):
                last[(row[0], row[1])] = StageEvent(*row)
        return last

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _since_checkpoint(snap: Snapshot, rev: str, scope: str, since: str) -> ChangeStream | None:
    """The walk newest first from `rev` down to a checkpoint's commit (None: it is `rev`)."""
    if since == rev:
        return None
    return snap.git.iter_changes(f"{since}..{rev}", _stage_paths(scope))


def _from_checkpoint(
    snap: Snapshot,
    rev: str,
    model: str | None,
    wanted: set[Stage],
    checkpoint: tuple[str, list[tuple[Any, ...]]],
    log: ChangeStream | None,
) -> list[tuple[Any, ...]]:
    """The wanted stages' last assignments: found walking back from `rev` to the
    checkpoint's commit (stopping once all are found), else the checkpoint's."""
    scope = model or _ALL
    newer = _walk_back(snap, rev, scope, wanted, log) if log else []
    todo = wanted - {(r[0], r[1]) for r in newer}
    older = [r for r in _latest(checkpoint[1]) if (r[0], r[1]) in todo]
    out = [*older, *newer]
    _store_last(snap, scope, rev, wanted, out)
    return out


def _last_rows(
    snap: Snapshot,
    rev: str,
    model: str | None,
    wanted: set[Stage],
    started_log: ChangeStream | None,
) -> list[tuple[Any, ...]]:
    """The last assignment rows of (at least) the wanted stages, oldest first: cached
    for `rev`, extended from a cached earlier commit on its line, or walked for."""
    scopes = [_ALL, model] if model else [_ALL]
    scope = model or _ALL
    if started_log is None:  # else nothing was cached when the walk started
        for s in scopes:
            hit = snap.cache.get(_last_key(s, rev))
            if hit is not None and wanted <= {tuple(w) for w in hit[0]}:
                return list(hit[1])
        for tip in snap.cache.get(f"last-tips:{scope}") or []:
            cached = snap.cache.get(_last_key(scope, tip))
            if cached is None or _first_parent_range(snap, tip, rev) is None:
                continue
            newer = _walk(snap, rev, scope, since=tip)
            had = {tuple(w) for w in cached[0]} | {(r[0], r[1]) for r in newer if r[2] != r[3]}
            if wanted <= had:
                rows = _latest([*cached[1], *newer])
                _store_last(snap, scope, rev, had, rows)
                return rows
        found = usable_checkpoint(snap, rev)  # the cached ones were not on rev's line
        if found is not None:
            log = _since_checkpoint(snap, rev, scope, found[0])
            return _from_checkpoint(snap, rev, model, wanted, found, log)
    rows = _walk_back(snap, rev, scope, wanted, started_log)
    _store_last(snap, scope, rev, wanted, rows)
    return rows


def _walk_back(
    snap: Snapshot,
    rev: str,
    scope: str,
    wanted: set[Stage],
    started_log: ChangeStream | None = None,
) -> list[tuple[Any, ...]]:
    """Walk newest first until every wanted stage's last assignment is found (a stage
    set in the first commit is found there; one never assigned by a valid file makes the
    walk read everything). Batches are parsed as git pauses, so a walk whose answers are
    recent stops without waiting for git to go deeper."""
    todo = set(wanted)
    found: dict[Stage, tuple[Any, ...]] = {}
    log = started_log or snap.git.iter_changes(rev, _stage_paths(scope))
    batches = iter(log)
    try:
        while todo:
            batch = next(batches, None)
            if batch is None:
                break
            stage_changes = [(c, [x for x in ch if _is_stage_path(x.path)]) for c, ch in batch]
            _note_last(snap, stage_changes, found, todo)
    finally:
        log.close()
    _after_walk(snap, log.seconds or 0.0)
    return list(found.values())


def _note_last(
    snap: Snapshot,
    batch: list[tuple[Commit, list[Change]]],
    found: dict[Stage, tuple[Any, ...]],
    todo: set[Stage],
) -> None:
    """Record, from a newest-first batch of commits, each stage's newest assignment."""
    per_commit: dict[str, list[tuple[Any, ...]]] = {}
    for row in _events(snap, batch):
        per_commit.setdefault(row[_COMMIT], []).append(row)
    for commit, _changes in batch:
        for row in per_commit.get(commit.sha, []):
            pair = (row[0], row[1])
            if row[2] != row[3] and pair not in found:
                found[pair] = row
                todo.discard(pair)


def _latest(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The newest assignment row per stage (rows in commit order), in commit order."""
    last: dict[Stage, tuple[Any, ...]] = {}
    for row in rows:
        if row[2] != row[3]:
            last.pop((row[0], row[1]), None)
            last[(row[0], row[1])] = row
    return list(last.values())


def _store_last(
    snap: Snapshot, scope: str, rev: str, wanted: set[Stage], rows: list[tuple[Any, ...]]
) -> None:
    tips = [rev, *(t for t in snap.cache.get(f"last-tips:{scope}") or [] if t != rev)]
    for old in tips[_KEEP:]:
        snap.cache.delete(_last_key(scope, old))
    snap.cache.put(f"last-tips:{scope}", tips[:_KEEP])
    snap.cache.put(_last_key(scope, rev), [sorted(wanted), rows])


def _last_key(scope: str, rev: str) -> str:
    return f"last:{scope}:{rev}"


def _from_cached(snap: Snapshot, scope: str, rev: str) -> list[tuple[Any, ...]] | None:
    """Events at `rev` from those cached for a commit on the same first-parent line."""
    for tip in snap.cache.get(f"events-tips:{scope}") or []:
        cached = snap.cache.get(_key(scope, tip))
        if cached is None:
            continue
        if _first_parent_range(snap, tip, rev) is not None:
            rows = [*cached, *_walk(snap, rev, scope, since=tip)]
            _store(snap, scope, rev, rows)
            return rows
        newer = _first_parent_range(snap, rev, tip)  # `rev` is earlier on tip's line
        if newer is not None:
            drop = set(newer)
            return [row for row in cached if row[_COMMIT] not in drop]
    return None


def _first_parent_range(snap: Snapshot, old: str, new: str) -> list[str] | None:
    """The commits on `new`'s first-parent line after `old`, if `old` is on that line."""
    out = snap.git.run("rev-list", "--first-parent", "--parents", f"{old}..{new}")
    lines = out.splitlines()
    if not lines:
        return None
    oldest = lines[-1].split()
    if len(oldest) < 2 or oldest[1] != old:
        return None  # `old` is not on the line (a side branch, or unrelated)
    return [line.split(" ", 1)[0] for line in lines]


def walked_rows(snap: Snapshot, rev: str) -> list[tuple[Any, ...]]:
    """Every event up to `rev` from the walk alone: no cache, no checkpoint."""
    return _walk(snap, rev, _ALL, since=None)


class PendingWalk:
    """`walked_rows`, with git started now and walking in the background (into a file)
    while the caller does other work; `rows` waits for it, `close` stops it."""

    def __init__(self, snap: Snapshot, rev: str) -> None:
        self.snap = snap
        self._log = snap.git.iter_changes(rev, _stage_paths(_ALL))

    def rows(self) -> list[tuple[Any, ...]]:
        try:
            newest_first = [entry for batch in self._log for entry in batch]
        finally:
            self.close()
        log = [(c, [x for x in ch if _is_stage_path(x.path)]) for c, ch in newest_first[::-1]]
        return _events(self.snap, log)

    def close(self) -> None:
        self._log.close()


def _walk(snap: Snapshot, rev: str, scope: str, since: str | None) -> list[tuple[Any, ...]]:
    started = time.perf_counter()
    log = snap.git.log_changes(rev, _stage_paths(scope), since=since)
    _after_walk(snap, time.perf_counter() - started)
    return _events(snap, [(c, [x for x in ch if _is_stage_path(x.path)]) for c, ch in log])


# A walk reads two trees per commit; past a few thousand commits that takes longer than
# this, and a commit-graph with changed-path filters (which a fresh clone lacks) would
# answer later walks of one model without reading trees: ~1 s → ~0.05 s at 23,000.
SLOW_WALK = 0.25  # seconds


def _after_walk(snap: Snapshot, seconds: float) -> None:
    """After a slow walk, have git write the changed-path filters for the next one."""
    if seconds > SLOW_WALK and not snap.git.has_changed_path_filters():
        snap.git.write_commit_graph_in_background()


def _events(snap: Snapshot, log: list[tuple[Commit, list[Change]]]) -> list[tuple[Any, ...]]:
    """Event rows of these commits' stage-file changes, in the order of `log`."""
    blobs = {
        (b, _kind(c.path))
        for _, changes in log
        for c in changes
        for b in (c.old_blob, c.new_blob)
        if b
    }
    parsed = _parse_stage_blobs(snap, blobs)
    rows: list[tuple[Any, ...]] = []
    for commit, changes in log:
        for model, (old, new) in _states(changes, parsed).items():
            rows.extend(_events_of(commit, model, old, new))
    return rows


def _stage_paths(scope: str) -> list[str]:
    """Pathspecs holding both layouts: per-stage files, and the one `stages.yaml` of
    older revisions. One model's is its folder, one literal path, which a commit-graph's
    changed-path filters answer without reading trees (git uses them only for a single
    pathspec without magic); the changes are then filtered with `_is_stage_path`."""
    if scope != _ALL:
        return [f"models/{scope}"]
    return [f":(glob){legacy_stages_yaml('*')}", f":(glob){stages_dir('*')}/*.yaml"]


def _is_stage_path(path: str) -> bool:
    parts = path.split("/")
    if len(parts) == 3:
        return parts[2] == "stages.yaml"
    return len(parts) == 4 and parts[2] == "stages" and parts[3].endswith(".yaml")


def _kind(path: str) -> str:
    return "stages" if path.endswith("/stages.yaml") else "stage"


def _store(snap: Snapshot, scope: str, rev: str, rows: list[tuple[Any, ...]]) -> None:
    tips = [rev, *(t for t in snap.cache.get(f"events-tips:{scope}") or [] if t != rev)]
    for old in tips[_KEEP:]:
        snap.cache.delete(_key(scope, old))
    snap.cache.put(f"events-tips:{scope}", tips[:_KEEP])
    snap.cache.put(_key(scope, rev), rows)


def _key(scope: str, rev: str) -> str:
    return f"events:{scope}:{rev}"


_State = dict[str, StageAssignment]  # stage → assignment, as one commit's files say
_Parsed = dict[tuple[str, str], _State]  # (blob, kind) → what that file assigns


def _parse_stage_blobs(snap: Snapshot, blobs: set[tuple[str, str]]) -> _Parsed:
    """What each file assigns: a stage file its one stage (keyed ""), the old file every
    stage; a file with problems assigns nothing."""
    out: _Parsed = {}
    for kind in ("stage", "stages"):
        wanted = {b: b for b, k in blobs if k == kind}
        for blob, (data, probs) in snap.check_blobs(kind, wanted).items():
            if probs:
                out[(blob, kind)] = {}
            elif kind == "stage":
                out[(blob, kind)] = {"": StageAssignment.from_dict(data)}
            else:
                out[(blob, kind)] = dict(Stages.from_dict(data).assignments)
    return out


def _states(changes: list[Change], parsed: _Parsed) -> dict[str, tuple[_State, _State]]:
    """Model → (before, after) of the stages one commit's changes touch.

    A commit may touch both layouts: the migration deletes `stages.yaml` and adds the
    per-stage files with the same assignments, so it changes no stage and makes no event.
    A stage file that exists wins over the old file for its stage, as in a snapshot.
    """
    out: dict[str, tuple[_State, _State]] = {}
    for change in sorted(changes, key=lambda c: _kind(c.path) == "stage"):
        parts = change.path.split("/")
        kind = _kind(change.path)
        old, new = out.setdefault(parts[1], ({}, {}))
        for blob, state in ((change.old_blob, old), (change.new_blob, new)):
            if blob is None:
                continue
            found = parsed.get((blob, kind), {})
            if kind == "stages":
                state.update(found)
                continue
            stage = parts[3][: -len(".yaml")]
            state.pop(stage, None)
            if "" in found:
                state[stage] = found[""]
    return out


def _events_of(commit: Commit, model: str, old: _State, new: _State) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for stage in [*new, *(s for s in old if s not in new)]:
        before, after = old.get(stage), new.get(stage)
        if before == after:
            continue
        ro = after.rollout if after else None
        was = before.rollout if before else None
        out.append(
            (
                model,
                stage,
                after.version if after else None,
                before.version if before else None,
                ro.candidate if ro else None,
                ro.weight if ro else None,
                commit.sha,
                commit.author,
                commit.email,
                commit.date,
                commit.subject,
                pr_of(commit.subject),
                was.candidate if was else None,
            )
        )
    return out


def assignment(events: list[StageEvent], stage: str, version: str) -> StageEvent | None:
    """The last event that put `version` into `stage` (not a later canary step beside it)."""
    found = None
    for ev in events:
        if ev.stage == stage and ev.version == version and ev.previous != version:
            found = ev
    return found
