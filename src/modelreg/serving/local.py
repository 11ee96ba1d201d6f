"""The local target: a deployment folder per stage that `predict` serves from.

It holds the verified artifacts at versioned paths plus a `manifest.json` swapped in
atomically last, so an interrupted or refused deploy leaves the previous deployment serving.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from modelreg.adapters import artifacts
from modelreg.registry.snapshot import Snapshot
from modelreg.registry.workspace import Workspace
from modelreg.serving.desired import (
    Desired,
    ModelPlan,
    StageResult,
    Want,
    action,
    expected,
    fetch_folder_verified,
    fetch_verified,
)
from modelreg.serving.manifest import (
    Deployed,
    Manifest,
    Share,
    place,
    place_folder,
    read_manifest,
    write_manifest,
)


def reconcile(
    ws: Workspace, snap: Snapshot, stage: str, folder: Path, desired: Desired, plan: bool
) -> StageResult:
    """Make `folder` serve `desired` (or, with `plan`, only say what that would change)."""
    assert snap.rev is not None
    old = read_manifest(folder)
    valid = {w.rel for ws_ in desired.values() for w in ws_ if _valid(folder / w.rel, w)}
    plans = _plans(desired, old.shares() if old else {}, valid)
    changed = any(p.action != "unchanged" for p in plans)
    if changed and not plan:
        needed = [w for ws_ in desired.values() for w in ws_ if w.rel not in valid]
        _apply(ws, snap.rev, stage, folder, (desired, needed), plans, old)
    return StageResult(
        stage, "local", str(folder), snap.rev, changed, changed and not plan, tuple(plans)
    )


def _valid(path: Path, want: Want) -> bool:
    return artifacts.matches(path, expected(want.record))


def _plans(
    desired: Desired, current: Mapping[str, tuple[Share, ...]], valid: set[str]
) -> list[ModelPlan]:
    plans = []
    for model in sorted(set(desired) | set(current)):
        wants = desired.get(model, ())
        want = tuple(w.share() for w in wants)
        have = current.get(model, ())
        act, note = action(have, want), None
        broken = [w.record.version for w in wants if w.rel not in valid]
        if act == "unchanged" and broken:
            act = "updated"
            note = f"deployed file of {', '.join(broken)} is missing or altered; fetching again"
        plans.append(ModelPlan(model, act, have, want, note))
    return plans


def _apply(
    ws: Workspace,
    rev: str,
    stage: str,
    folder: Path,
    wanted: tuple[Desired, Sequence[Want]],
    plans: Sequence[ModelPlan],
    old: Manifest | None,
) -> None:
    """Verify every missing artifact, put them in place, then swap the manifest in."""
    desired, needed = wanted
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetching-", dir=folder) as tmp:
        # every artifact fetched and verified before any is put in place
        got = {w.rel: _fetch(ws, rev, w, Path(tmp) / str(i)) for i, w in enumerate(needed)}
        for rel, item in got.items():
            if isinstance(item, bytes):
                place(folder / rel, item)
            else:
                place_folder(folder / rel, item)
    manifest = _manifest(stage, rev, desired, plans, old)
    write_manifest(folder, manifest)
    _prune(folder, old, manifest)


def _fetch(ws: Workspace, rev: str, want: Want, scratch: Path) -> bytes | Path:
    """A file artifact's verified bytes, or a folder artifact (format `mlflow`) verified
    in `scratch`."""
    if not artifacts.is_folder(expected(want.record)):
        return fetch_verified(ws, rev, want.record)
    fetch_folder_verified(ws, rev, want.record, scratch)
    return scratch


def _manifest(
    stage: str, rev: str, desired: Desired, plans: Sequence[ModelPlan], old: Manifest | None
) -> Manifest:
    now = _now()
    old_models = old.models if old else {}
    actions = {p.model: p.action for p in plans}
    models: dict[str, Deployed] = {}
    for model in sorted(desired):
        was = old_models.get(model) if actions.get(model) == "unchanged" else None
        models[model] = Deployed(
            commit=(was.commit or rev) if was else rev,
            deployed_at=(was.deployed_at or now) if was else now,
            versions=tuple(w.share() for w in desired[model]),
        )
    return Manifest(stage=stage, commit=rev, deployed_at=now, models=models)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prune(folder: Path, old: Manifest | None, new: Manifest) -> None:
    """Remove files only the replaced manifest used (never anything deploy did not write)."""
    keep = new.artifact_paths()
    for rel in sorted((old.artifact_paths() if old else set()) - keep):
        path = folder / rel
        if ".." in Path(rel).parts or path.is_symlink():
            continue
        if path.is_dir():  # a folder artifact deploy put there
            shutil.rmtree(path)
        elif path.is_file():
            path.unlink()
        else:
            continue
        for parent in (path.parent, path.parent.parent):
            if parent != folder and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
