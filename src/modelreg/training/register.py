"""`register`: track an artifact with DVC, write its immutable version record, commit."""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelreg.adapters import artifacts
from modelreg.adapters import dvc as dvcio
from modelreg.adapters.files import read_text
from modelreg.adapters.git import commit_paths, identity, push, unstage
from modelreg.adapters.tables import count_rows
from modelreg.errors import ForgeError, UsageError
from modelreg.registry.names import check_name, check_version
from modelreg.registry.records import (
    TRIGGERS,
    VERSION_RE,
    Artifact,
    VersionRecord,
    version_key,
)
from modelreg.registry.schemas import schema_problems
from modelreg.registry.snapshot import Snapshot, model_yaml, version_yaml
from modelreg.registry.workspace import Workspace
from modelreg.registry.yamlio import dump_yaml, read_mapping

FORMATS = {
    ".pkl": "sklearn-pickle",
    ".pickle": "sklearn-pickle",
    ".joblib": "joblib",
    ".onnx": "onnx",
    ".json": "json",
    ".pt": "torch",
}


@dataclass(frozen=True)
class Registration:
    """Inputs of one registration; paths are as the user typed them."""

    model: str
    artifact: Path
    metrics: Path
    params: Path | None = None
    data: Path | None = None
    sample: Path | None = None
    version: str | None = None
    bump: str = "minor"
    message: str | None = None
    trigger: str = "manual"
    parent: str | None = None
    fmt: str | None = None
    pipeline: str | None = None
    dvc_lock_md5: str | None = None
    data_rows: int | None = None  # rows of --data when it cannot be counted (a folder)
    extra_paths: tuple[Path, ...] = ()  # committed with the version, e.g. dvc.lock
    profile_from: Path | None = None  # training table for the drift profile (default: --data)


@dataclass(frozen=True)
class Registered:
    record: VersionRecord
    commit: str
    pushed: bool
    already: bool = False


def register(ws: Workspace, reg: Registration, *, push: bool = False) -> Registered:
    """Register one version; re-running after a failed push finishes the push."""
    _check_inputs(reg)
    root = ws.root
    snap = ws.snapshot(None)
    existing = snap.versions(reg.model) if snap.has_model(reg.model) else []
    same = _same_artifact(snap, reg, existing)
    if same:
        return _already(ws, same, push)
    version = _pick_version(reg, existing)
    if version in existing:
        raise UsageError(
            f"{version_yaml(reg.model, version)}: {reg.model} {version} is already "
            "registered with a different artifact",
            hint="use --bump or a new --version",
        )
    extra = _extra_paths(ws, reg.extra_paths)
    storage = dvcio.remote_in_repo(root) if push else None
    created: list[Path] = []
    try:
        record = _write_version(ws, reg, version, existing, created)
        if storage:
            # The remote is a folder of this repository: its new objects ship in the commit.
            dvcio.push(root, [root / p for p in tracked(record)])
            extra.append(storage)
        commit = commit_paths(
            ws.git,
            [str(p.relative_to(root)) for p in created] + extra,
            reg.message or f"register {reg.model} {version}",
        )
    except BaseException:
        _undo(ws, created)
        if extra:
            unstage(ws.git, extra)
        raise
    if push:
        _push(ws, record)
    return Registered(record, commit, push)


def _check_inputs(reg: Registration) -> None:
    check_name(reg.model)
    for label, path in (
        ("--artifact", reg.artifact),
        ("--metrics", reg.metrics),
        ("--params", reg.params),
        ("--data", reg.data),
        ("--sample", reg.sample),
    ):
        if path is not None and not path.exists():
            raise UsageError(f"{label} {path}: no such file")
    if not reg.artifact.is_file():
        raise UsageError(
            f"--artifact {reg.artifact}: not a file",
            hint="register one file; pack a folder into an archive first",
        )
    if reg.trigger not in TRIGGERS:
        raise UsageError(
            f"trigger '{reg.trigger}' is unknown", hint="one of " + ", ".join(TRIGGERS)
        )


def _extra_paths(ws: Workspace, paths: tuple[Path, ...]) -> list[str]:
    """Repository-relative extra paths that exist now or are tracked (a deletion)."""
    root = ws.root.resolve()
    out: list[str] = []
    for path in paths:
        full = path if path.is_absolute() else Path.cwd() / path
        try:
            rel = str(full.resolve().relative_to(root))
        except ValueError:
            raise UsageError(f"{path}: outside the repository {root}") from None
        if full.exists() or ws.git.ok("ls-files", "--error-unmatch", "--", rel):
            out.append(rel)
    return out


def _pick_version(reg: Registration, existing: list[str]) -> str:
    if reg.version:
        return check_version(reg.version, "--version")
    if not existing:
        return "v1.0.0"
    latest = max(existing, key=version_key)
    m = VERSION_RE.match(latest)
    major, minor, patch = (int(x) for x in m.groups()[:3]) if m else (0, 0, 0)
    if reg.bump == "major":
        return f"v{major + 1}.0.0"
    if reg.bump == "patch":
        return f"v{major}.{minor}.{patch + 1}"
    return f"v{major}.{minor + 1}.0"


def _same_artifact(snap: Snapshot, reg: Registration, existing: list[str]) -> VersionRecord | None:
    """The version already holding these exact bytes, if any (a re-run after a failure)."""
    if not existing:
        return None
    md5, sha256 = dvcio.md5_file(reg.artifact), artifacts.sha256_of(reg.artifact)
    records = snap.records(reg.model, existing)
    same = [
        r for r in records.values() if r.artifact.md5 == md5 and r.artifact.sha256 in (None, sha256)
    ]
    if not same:
        return None
    if reg.version and reg.version not in [r.version for r in same]:
        raise UsageError(
            f"this artifact is already registered as {reg.model} {same[0].version}",
            hint="register new bytes, or re-run without --version to finish it",
        )
    return same[0]


def _already(ws: Workspace, record: VersionRecord, push: bool) -> Registered:
    """These bytes are registered already: finish the push a failed run left undone."""
    if push:
        _push(ws, record)
    return Registered(record, ws.git.head() or "", push, already=True)


def _write_version(
    ws: Workspace, reg: Registration, version: str, existing: list[str], created: list[Path]
) -> VersionRecord:
    root = ws.root
    folder = root / "models" / reg.model / "artifacts" / version
    target = folder / ("model" + _extension(reg.artifact))
    folder.mkdir(parents=True, exist_ok=True)
    created.append(folder)
    shutil.copyfile(reg.artifact, target)
    md5, size = dvcio.add(root, target)
    data = _record(ws, reg, version, existing, target, md5, size)
    profile = _write_profile(root, reg, folder, data.get("signature"))
    if profile:
        data["profile"] = profile
    problems = schema_problems("version", data, version_yaml(reg.model, version))
    if problems:
        raise UsageError(str(problems[0]))
    spec_path = root / model_yaml(reg.model)
    if not spec_path.exists():
        _write_text(spec_path, _model_spec(reg, data), created)
    _write_text(root / version_yaml(reg.model, version), _record_text(data), created)
    return VersionRecord.from_dict(data)


def _write_profile(
    root: Path, reg: Registration, folder: Path, signature: dict[str, Any] | None
) -> str | None:
    """The drift reference profile of the training data, DVC-tracked beside the artifact.

    Computed once here so that every later drift check reads a few hundred KB of
    quantiles and counts instead of re-scanning the training data.
    """
    from modelreg.adapters.tables import format_of

    source = reg.profile_from or reg.data
    if source is None or not (source.is_dir() or format_of(source)):
        return None

    from modelreg.adapters.tables import read_table
    from modelreg.monitoring.profile import build_profile

    columns = [f["name"] for f in signature["inputs"]] if signature else None
    frame = read_table(source)
    profile = build_profile(frame, columns or _feature_columns(frame), source=str(source))
    path = folder / "profile.json"
    path.write_text(json.dumps(profile.to_dict(), separators=(",", ":")))
    dvcio.add(root, path)
    return str(path.relative_to(root))


def _feature_columns(frame: Any) -> list[str]:
    """Without a signature, every column but timestamps and ids."""
    return [str(c) for c in frame.columns if str(c).lower() not in ("timestamp", "id", "time")]


def _record(
    ws: Workspace,
    reg: Registration,
    version: str,
    existing: list[str],
    target: Path,
    md5: str,
    size: int,
) -> dict[str, Any]:
    root = ws.root
    metrics = read_metrics(reg.metrics)
    rec: dict[str, Any] = {
        "model": reg.model,
        "version": version,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_by": identity(ws.git),
        "code_commit": ws.git.head(),
        "trigger": reg.trigger,
        "parent": reg.parent or (max(existing, key=version_key) if existing else None),
        "message": reg.message,
        "artifact": Artifact(
            path=str(target.relative_to(root)),
            sha256=artifacts.sha256_of(target),
            md5=md5,
            size=size,
            format=reg.fmt or FORMATS.get(target.suffix, "file"),
        ).to_dict(),
        "data": _data_ref(root, reg.data, reg.data_rows) if reg.data else None,
        "params": read_mapping(reg.params, "--params") if reg.params else {},
        "metrics": metrics,
        "signature": infer_signature(reg.sample) if reg.sample else None,
        "lineage": _drop_none({"pipeline": reg.pipeline, "dvc_lock_md5": reg.dvc_lock_md5}),
    }
    return {k: v for k, v in rec.items() if v not in (None, {})}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _extension(path: Path) -> str:
    """'.pkl', or '.tar.gz' for compressed archives, so every artifact is `model<ext>`."""
    if path.suffix in (".gz", ".bz2", ".xz", ".zst") and len(path.suffixes) > 1:
        return "".join(path.suffixes[-2:])
    return path.suffix


def _record_text(data: Mapping[str, Any]) -> str:
    head = (
        f"# {data['model']} {data['version']}: written once by `modelreg register`.\n"
        "# Immutable once merged; retire it with `deprecated:` in model.yaml.\n"
    )
    return head + dump_yaml(dict(data))


def _model_spec(reg: Registration, rec: Mapping[str, Any]) -> str:
    spec = {
        "name": reg.model,
        "owner": rec["created_by"],
        "description": "",
        "policy": "default",
        "headline_metrics": [k for k in rec["metrics"] if k != "dataset"][:3],
    }
    return dump_yaml(spec)


def _write_text(path: Path, text: str, created: list[Path]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    created.append(path)


def _undo(ws: Workspace, created: list[Path]) -> None:
    rels = [str(p.relative_to(ws.root)) for p in created]
    if rels:
        unstage(ws.git, rels)
    for path in reversed(created):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def tracked(record: VersionRecord) -> list[str]:
    """What a version keeps in DVC: the artifact, and the drift profile a fresh clone reads."""
    return [record.artifact.path, *([record.profile] if record.profile else [])]


def _push(ws: Workspace, record: VersionRecord) -> None:
    root = ws.root
    branch = ws.git.current_branch()
    # Everything the pushed commits name by DVC pointer, not only this version's files.
    since = f"refs/remotes/origin/{branch}" if branch else None
    dvcio.push(root, [root / p for p in tracked(record)] + dvcio.changed_pointers(ws.git, since))
    if branch is None:
        raise UsageError("HEAD is detached", hint="check out a branch before --push")
    try:
        push(ws.git, f"HEAD:refs/heads/{branch}")
    except ForgeError as exc:
        raise ForgeError(
            f"registered {record.model} {record.version} locally, but {exc.message}",
            hint="pull, then re-run the same command to push",
        ) from None


def read_metrics(path: Path) -> dict[str, Any]:
    """Metrics as name → number (nested mappings flattened with '.'); `dataset` may be a name."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif prefix == "dataset" and isinstance(value, str):
            flat[prefix] = value
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"--metrics {path}: {prefix}: {value!r} is not a number")
        else:
            flat[prefix] = float(value) if isinstance(value, float) else value

    walk("", read_mapping(path, "--metrics"))
    if not any(k != "dataset" for k in flat):
        raise UsageError(f"--metrics {path}: holds no metrics", hint='e.g. {"accuracy": 0.91}')
    return flat


def _data_ref(root: Path, data: Path, rows: int | None = None) -> dict[str, Any]:
    pointer = dvcio.read_pointer(Path(str(data) + ".dvc"))
    md5 = pointer[0] if pointer else (dvcio.md5_file(data) if data.is_file() else None)
    if md5 is None:
        raise UsageError(f"--data {data}: a folder must be tracked by DVC", hint=f"dvc add {data}")
    try:
        rel = str(data.resolve().relative_to(root))
    except ValueError:
        rel = str(data.resolve())
    return {"path": rel, "md5": md5, "rows": count_rows(data) if rows is None else rows}


def infer_signature(sample: Path) -> dict[str, Any]:
    """Input feature names and types from the header and first rows of a CSV sample."""
    reader = csv.reader(io.StringIO(read_text(sample, "--sample"), newline=""))
    header = next(reader, None)
    if not header:
        raise UsageError(f"--sample {sample}: empty file", hint="give a CSV with a header row")
    rows = list(itertools.islice(reader, 1000))
    return {
        "inputs": [
            {"name": n, "type": _column_type([r[i] for r in rows if i < len(r)])}
            for i, n in enumerate(header)
        ]
    }


def _column_type(values: list[str]) -> str:
    present = [v for v in values if v.strip() != ""]
    if not present:
        return "float"
    if all(v.lower() in ("true", "false") for v in present):
        return "bool"
    for kind, conv in (("int", int), ("float", float)):
        try:
            for v in present:
                conv(v)
            return kind
        except ValueError:
            continue
    return "category"
