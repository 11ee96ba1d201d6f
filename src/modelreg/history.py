"""The audit trail: every stage change, read from first-parent Git history."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelreg.git import Change, Commit
from modelreg.records import Stages
from modelreg.registry import Snapshot, stages_yaml

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

    @property
    def kind(self) -> str:
        if self.version != self.previous:
            return "assign" if self.version else "unassign"
        return "rollout" if self.candidate else "rollout-end"


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
    paths = [stages_yaml(model)] if model else [":(glob)models/*/stages.yaml"]
    log = snap.git.log_changes(snap.rev, paths)
    blobs = {b for _, changes in log for c in changes for b in (c.old_blob, c.new_blob) if b}
    stages = _parse_stage_blobs(snap, blobs)
    events: list[StageEvent] = []
    for commit, changes in log:
        for change in changes:
            events.extend(_events_of(commit, change, stages))
    return events


def _parse_stage_blobs(snap: Snapshot, blobs: set[str]) -> dict[str, Stages]:
    loaded = snap.check_blobs("stages", {b: b for b in blobs})
    return {
        b: Stages.from_dict(data) if not probs else Stages({})
        for b, (data, probs) in loaded.items()
    }


def _events_of(commit: Commit, change: Change, stages: dict[str, Stages]) -> list[StageEvent]:
    model = change.path.split("/")[1]
    old = stages[change.old_blob] if change.old_blob else Stages({})
    new = stages[change.new_blob] if change.new_blob else Stages({})
    out = []
    for stage in [*new.assignments, *(s for s in old.assignments if s not in new.assignments)]:
        before, after = old.assignments.get(stage), new.assignments.get(stage)
        if before == after:
            continue
        ro = after.rollout if after else None
        out.append(
            StageEvent(
                model=model,
                stage=stage,
                version=after.version if after else None,
                previous=before.version if before else None,
                candidate=ro.candidate if ro else None,
                weight=ro.weight if ro else None,
                commit=commit.sha,
                author=commit.author,
                email=commit.email,
                date=commit.date,
                subject=commit.subject,
                pr=pr_of(commit.subject),
            )
        )
    return out
