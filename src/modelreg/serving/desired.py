"""The desired state of serving (every stage file at HEAD) and what a target does with it.

Both targets read the same desired state, fetch artifacts through the one verified
loader, and answer with the same plan types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from modelreg.adapters import artifacts
from modelreg.errors import ModelregError, NotFound, UsageError
from modelreg.registry.names import check_name
from modelreg.registry.records import VersionRecord
from modelreg.registry.snapshot import Snapshot, version_yaml
from modelreg.registry.workspace import Workspace
from modelreg.serving.manifest import Share

Action = Literal["unchanged", "added", "updated", "removed"]
Role = Literal["stable", "candidate"]


@dataclass(frozen=True)
class ModelPlan:
    """What deploy does (or did) to one model in one stage."""

    model: str
    action: Action
    current: tuple[Share, ...]
    desired: tuple[Share, ...]
    note: str | None = None


@dataclass(frozen=True)
class StageResult:
    """One stage reconciled: `changed` is whether anything was (or, planned, would be) written."""

    stage: str
    target: str
    out: str
    commit: str
    changed: bool
    applied: bool
    models: tuple[ModelPlan, ...]

    @property
    def serving(self) -> int:
        """How many models serve in the stage once reconciled."""
        return sum(1 for m in self.models if m.action != "removed")


@dataclass(frozen=True)
class Want:
    """A version the desired state needs in a stage."""

    model: str
    role: Role
    weight: int
    record: VersionRecord

    @property
    def md5(self) -> str:
        return self.record.artifact.md5

    @property
    def rel(self) -> str:
        """Where the artifact lives inside a local deployment folder (versioned)."""
        name = Path(self.record.artifact.path).name
        if name in ("", ".", ".."):
            name = "artifact"
        return f"{self.model}/{self.record.version}/{name}"

    def share(self) -> Share:
        """The manifest row that serves this version."""
        rec = self.record
        sig = rec.signature
        return Share(
            version=rec.version,
            weight=self.weight,
            role=self.role,
            md5=rec.artifact.md5,
            sha256=rec.artifact.sha256,
            artifact=self.rel,
            size=rec.artifact.size,
            format=rec.artifact.format,
            record=version_yaml(rec.model, rec.version),
            inputs=tuple((f.name, f.type) for f in sig.inputs) if sig else None,
        )


Desired = Mapping[str, tuple[Want, ...]]


def stages(snap: Snapshot, only: str | None) -> list[str]:
    """The stages to reconcile, in policy order: named in a policy or in a stage file."""
    known: list[str] = []
    for policy in snap.policies():
        try:
            known += [s for s in snap.policy(policy).stage_names if s not in known]
        except ModelregError:
            continue  # a broken policy is validate's to report; deploy follows the stage files
    for model in snap.models():
        known += sorted(s for s in snap.stages(model).assignments if s not in known)
    if only is None:
        return known
    check_name(only, "--stage")
    if only not in known:
        raise UsageError(f"--stage {only!r} is not a stage (known: {', '.join(known) or 'none'})")
    return [only]


def desired(snap: Snapshot, stage: str) -> dict[str, tuple[Want, ...]]:
    """Model → the versions it must serve in `stage` (stable, plus a canary candidate)."""
    out: dict[str, tuple[Want, ...]] = {}
    for model in snap.models():
        a = snap.stages(model).assignments.get(stage)
        if a is None:
            continue
        stable = _record(snap, model, stage, a.version, "version")
        ro = a.rollout
        if ro is None or ro.candidate == a.version:
            out[model] = (Want(model, "stable", 100, stable),)
            continue
        candidate = _record(snap, model, stage, ro.candidate, "rollout.candidate")
        out[model] = (
            Want(model, "stable", 100 - ro.weight, stable),
            Want(model, "candidate", ro.weight, candidate),
        )
    return out


def _record(snap: Snapshot, model: str, stage: str, version: str, key: str) -> VersionRecord:
    try:
        return snap.record(model, version)
    except NotFound as exc:
        path, where = snap.stage_key(model, stage, key)
        raise exc.within(file=path, key=where) from None


def action(current: Sequence[Share], desired: Sequence[Share]) -> Action:
    if not current:
        return "added"
    if not desired:
        return "removed"
    return "unchanged" if tuple(current) == tuple(desired) else "updated"


def expected(record: VersionRecord) -> artifacts.Expected:
    """What a version record vouches for: its artifact's hashes and format."""
    return artifacts.Expected(
        md5=record.artifact.md5,
        source=f"the record {version_yaml(record.model, record.version)}",
        sha256=record.artifact.sha256,
        format=record.artifact.format,
        name=record.version,
    )


def fetch_verified(ws: Workspace, rev: str, record: VersionRecord) -> bytes:
    """An artifact's bytes at `rev` through DVC (cache, else remote), checked against its record."""
    path = record.artifact.path
    return artifacts.fetch_verified(
        ws.root,
        rev,
        path,
        expected(record),
        pointer=ws.git.show(rev, path + ".dvc"),
        record=version_yaml(record.model, record.version),
        hint="refusing to deploy; re-register or fix the DVC remote",
    )


def fetch_folder_verified(ws: Workspace, rev: str, record: VersionRecord, dest: Path) -> None:
    """A folder artifact (format `mlflow`) at `rev` copied to `dest` through DVC, checked
    against its record."""
    path = record.artifact.path
    artifacts.fetch_folder_verified(
        ws.root,
        rev,
        path,
        expected(record),
        dest,
        pointer=ws.git.show(rev, path + ".dvc"),
        record=version_yaml(record.model, record.version),
        hint="refusing to deploy; re-register or fix the DVC remote",
    )
