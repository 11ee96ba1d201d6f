"""`register`: track an artifact with DVC, write its immutable version record, commit."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelreg.adapters import artifacts
from modelreg.adapters import dvc as dvcio
from modelreg.adapters.files import read_text
from modelreg.adapters.git import (
    commit_paths,
    fast_forward,
    fetch,
    identity,
    push,
    reset_soft,
    unstage,
)
from modelreg.adapters.lock import writing
from modelreg.adapters.tables import count_rows
from modelreg.errors import ForgeError, UsageError
from modelreg.registry import checkpoints
from modelreg.registry.names import check_name, check_version
from modelreg.registry.records import (
    TASKS,
    TRIGGERS,
    VERSION_RE,
    Artifact,
    Comparison,
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
    artifact: Path  # a file, or a folder with fmt "mlflow" (a whole MLflow model)
    metrics: Path | None  # None when `source` brings the metrics
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
    code_commit: str | None = None  # the training code's commit (default: the registry's HEAD)
    code_commit_source: str = "flag"  # where code_commit came from: pipeline or flag
    task: str | None = None  # classification or regression, for a new model.yaml
    comparisons: tuple[Comparison, ...] = ()  # paired evaluations made before registering
    source: Imported | None = None  # what another registry (MLflow) says of this version


@dataclass(frozen=True)
class Imported:
    """A version's facts read from another registry instead of files (MLflow)."""

    metrics: Mapping[str, Any]
    params: Mapping[str, Any]
    lineage: Mapping[str, Any]  # e.g. {"mlflow": {"run_id": ..., "experiment_id": ...}}
    signature: Mapping[str, Any] | None = None
    created_at: str | None = None  # ISO 8601 UTC; default: now
    created_by: str | None = None  # default: the git identity


@dataclass(frozen=True)
class Registered:
    record: VersionRecord
    commit: str
    pushed: bool
    already: bool = False


def register(ws: Workspace, reg: Registration, *, push: bool = False) -> Registered:
    """Register one version; re-running after a failed push finishes the push.

    Holds the repository's write lock throughout. With `push`, origin is fetched first
    and the branch brought up to it, so the version is numbered against what origin
    holds; if another clone pushes first, the commit is taken back and the registration
    redone on top of theirs.
    """
    _check_inputs(reg)
    with writing(ws.git.git_dir):
        branch = _branch_to_push(ws) if push else None
        for _attempt in range(_PUSH_ATTEMPTS - 1):
            try:
                return _register_once(ws, reg, branch)
            except _Raced:
                continue
        return _register_once(ws, reg, branch, last=True)


_PUSH_ATTEMPTS = 5


class _Raced(Exception):
    """origin moved between our fetch and our push; the local commit was taken back."""


def _register_once(
    ws: Workspace, reg: Registration, branch: str | None, *, last: bool = False
) -> Registered:
    if branch:
        _catch_up(ws, branch)
    # Only committed state counts: files a killed run wrote or staged are not a version.
    snap = ws.snapshot("HEAD") if ws.git.has_commits() else None
    existing = snap.versions(reg.model) if snap and snap.has_model(reg.model) else []
    same = _same_artifact(snap, reg, existing) if snap else None
    _check_task(ws, reg)
    if same:
        return _already(ws, same, branch)
    taken = _taken(ws, reg.model, existing, branch)
    version = _pick_version(reg, list(taken))
    if version in taken:
        raise _held(ws, reg, version, taken)
    extra = _extra_paths(ws, reg.extra_paths)
    if (ws.root / model_yaml(reg.model)).exists() and ws.git.show(
        "HEAD", model_yaml(reg.model)
    ) is None:
        extra.append(model_yaml(reg.model))  # written by hand, or by a run that was killed
    storage = dvcio.remote_in_repo(ws.root) if branch else None
    before = ws.git.head()
    created: list[Path] = []
    edited: dict[Path, str] = {}  # files changed in place → their text before
    undo: list[Callable[[], None]] = []  # what else to put back if the commit fails
    try:
        record = _write_version(ws, reg, version, existing, created, edited)
        if storage:
            # The remote is a folder of this repository: its new objects ship in the commit.
            dvcio.push(ws.root, [ws.root / p for p in tracked(record)])
            extra.append(storage)
        extra += [str(p.relative_to(ws.root)) for p in edited]
        extra += _checkpoint(ws, undo)
        commit = commit_paths(
            ws.git,
            [str(p.relative_to(ws.root)) for p in created] + extra,
            reg.message or f"register {reg.model} {version}",
        )
    except BaseException:
        _undo(ws, created)
        for path, text in edited.items():
            path.write_text(text)
        if extra:
            unstage(ws.git, extra)
        for step in undo:
            step()
        raise
    if branch:
        _push_or_take_back(ws, record, branch, before, created, extra, last, undo)
    return Registered(record, commit, branch is not None)


def _checkpoint(ws: Workspace, undo: list[Callable[[], None]]) -> list[str]:
    """The stage-event checkpoint this registration carries when one is due (registry/
    checkpoints.py): the paths it adds and deletes; `undo` learns how to put them back."""
    found = checkpoints.due(ws)
    if found is None:
        return []
    paths, removed = checkpoints.write(ws, found)
    undo.append(lambda: checkpoints.restore(ws, found, removed))
    return paths


def _branch_to_push(ws: Workspace) -> str:
    """The branch `--push` sends, checked before anything is written."""
    branch = ws.git.current_branch()
    if branch is None:
        raise UsageError(
            "HEAD is detached: --push needs a branch to push",
            hint="check out a branch (git switch main) and re-run; nothing was written",
        )
    return branch


def _catch_up(ws: Workspace, branch: str) -> None:
    """Fetch origin and bring `branch` up to origin's tip; refuse if the two diverged."""
    fetch(ws.git)
    tip = ws.git.resolve(f"refs/remotes/origin/{branch}")
    if tip is None or ws.git.ok("merge-base", "--is-ancestor", tip, "HEAD"):
        return
    if ws.git.ok("merge-base", "--is-ancestor", "HEAD", tip):
        fast_forward(ws.git, f"origin/{branch}", branch)
        return
    raise UsageError(
        f"{branch} has diverged from origin/{branch}: a registration must be based on "
        "origin's tip; nothing was written",
        hint=f"git pull --rebase origin {branch}, then re-run",
    )


def _taken(ws: Workspace, model: str, existing: list[str], branch: str | None) -> dict[str, str]:
    """Version → where it is registered: this branch, and with --push origin's default branch."""
    taken = dict.fromkeys(existing, "HEAD")
    default = ws.git.default_branch() if branch else None
    ref = f"refs/remotes/origin/{default}" if default and default != branch else None
    sha = ws.git.resolve(ref) if ref else None
    if ref and sha:
        snap = Snapshot(ws.git, sha, ws.cache)
        if snap.has_model(model):
            for v in snap.versions(model):
                taken.setdefault(v, ref)
    return taken


def _held(ws: Workspace, reg: Registration, version: str, taken: dict[str, str]) -> UsageError:
    path = version_yaml(reg.model, version)
    ref = taken[version]
    holder = ws.git.run("log", "-1", "--format=%h", ref, "--", path).strip() or ref
    where = "" if ref == "HEAD" else f" on {ref.removeprefix('refs/remotes/')}"
    free = _pick_version(replace(reg, version=None), list(taken))
    return UsageError(
        f"{path}: {reg.model} {version} is already registered by commit {holder}{where} "
        "with a different artifact",
        hint=f"the next free version is {free}: use --version {free}, or --bump",
    )


def _push_or_take_back(
    ws: Workspace,
    record: VersionRecord,
    branch: str,
    before: str | None,
    created: list[Path],
    extra: list[str],
    last: bool,
    undo: list[Callable[[], None]],
) -> None:
    """Push; if another clone pushed first, undo the local commit and let the caller redo it."""
    try:
        _push(ws, record, branch)
    except ForgeError:
        if last or before is None or not _origin_moved(ws, branch):
            raise
        reset_soft(ws.git, before)
        _undo(ws, created)
        unstage(ws.git, extra)
        for step in undo:
            step()
        raise _Raced from None


def _origin_moved(ws: Workspace, branch: str) -> bool:
    """Whether origin's branch now holds commits this one lacks (a lost race)."""
    try:
        fetch(ws.git)
    except ForgeError:
        return False
    tip = ws.git.resolve(f"refs/remotes/origin/{branch}")
    return tip is not None and not ws.git.ok("merge-base", "--is-ancestor", tip, "HEAD")


def _check_inputs(reg: Registration) -> None:
    check_name(reg.model)
    if reg.metrics is None and reg.source is None:
        raise UsageError("--metrics is required", hint="give a JSON/YAML file of metrics")
    for label, path in (
        ("--artifact", reg.artifact),
        ("--metrics", reg.metrics),
        ("--params", reg.params),
        ("--data", reg.data),
        ("--sample", reg.sample),
    ):
        if path is not None and not path.exists():
            raise UsageError(f"{label} {path}: no such file")
    if not reg.artifact.is_file() and not (reg.artifact.is_dir() and reg.fmt == "mlflow"):
        raise UsageError(
            f"--artifact {reg.artifact}: not a file",
            hint="register one file; pack a folder into an archive first",
        )
    if reg.trigger not in TRIGGERS:
        raise UsageError(
            f"trigger '{reg.trigger}' is unknown", hint="one of " + ", ".join(TRIGGERS)
        )
    if reg.task is not None and reg.task not in TASKS:
        raise UsageError(f"--task {reg.task}: unknown", hint="one of " + ", ".join(TASKS))
    if reg.code_commit is not None and not _SHA_RE.match(reg.code_commit):
        raise UsageError(
            f"--code-commit {reg.code_commit}: not a commit id",
            hint="give the training code's commit as 7 to 40 hex digits (git rev-parse HEAD)",
        )


_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")


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
    md5 = artifacts.md5_of(reg.artifact) if reg.artifact.is_dir() else dvcio.md5_file(reg.artifact)
    sha256 = artifacts.sha256_of(reg.artifact)
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


def _already(ws: Workspace, record: VersionRecord, branch: str | None) -> Registered:
    """These bytes are registered already: finish the push a failed run left undone."""
    if branch:
        _push(ws, record, branch)
    commit = _registering_commit(ws, record) or ws.git.head() or ""
    return Registered(record, commit, branch is not None, already=True)


def _registering_commit(ws: Workspace, record: VersionRecord) -> str | None:
    """The commit that added the version's record: the one that registered its bytes."""
    path = version_yaml(record.model, record.version)
    out = ws.git.run("log", "-1", "--diff-filter=A", "--format=%H", "HEAD", "--", path)
    return out.strip() or None


def _write_version(
    ws: Workspace,
    reg: Registration,
    version: str,
    existing: list[str],
    created: list[Path],
    edited: dict[Path, str],
) -> VersionRecord:
    root = ws.root
    folder = root / "models" / reg.model / "artifacts" / version
    target = folder / ("model" + _extension(reg.artifact))
    folder.mkdir(parents=True, exist_ok=True)
    created.append(folder)
    if reg.artifact.is_dir():  # an MLflow model folder, tracked by DVC as one directory
        if target.is_dir():  # left by a killed run: the version is not committed
            shutil.rmtree(target)
        shutil.copytree(reg.artifact, target)
    else:
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
        _write_text(spec_path, _model_spec(reg, data, _task(reg, target, data)), created)
    elif _spec_task(spec_path) is None:
        task = _task(reg, target, data)
        if task:
            text = spec_path.read_text()
            edited[spec_path] = text
            spec_path.write_text(text.rstrip("\n") + f"\ntask: {task}\n")
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
    profile = build_profile(
        frame, columns or _feature_columns(frame), source=data_path(root, source)
    )
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
    src = reg.source
    metrics = dict(src.metrics) if src else read_metrics(_given(reg.metrics))
    rec: dict[str, Any] = {
        "model": reg.model,
        "version": version,
        "created_at": (src and src.created_at)
        or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_by": (src and src.created_by) or identity(ws.git),
        **_code_commit(ws, reg),
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
        "params": _params(reg),
        "metrics": metrics,
        "signature": _signature(reg),
        "lineage": _drop_none(
            {
                "pipeline": reg.pipeline,
                "dvc_lock_md5": reg.dvc_lock_md5,
                **(src.lineage if src else {}),
            }
        ),
        "comparisons": [c.to_dict() for c in reg.comparisons] or None,
    }
    # `metrics` is required even when empty: an imported run may have logged none.
    return {k: v for k, v in rec.items() if v not in (None, {}) or k == "metrics"}


def _given(path: Path | None) -> Path:
    assert path is not None  # _check_inputs: --metrics is required without a source
    return path


def _params(reg: Registration) -> dict[str, Any]:
    if reg.source is not None:
        return dict(reg.source.params)
    return read_mapping(reg.params, "--params") if reg.params else {}


def _signature(reg: Registration) -> dict[str, Any] | None:
    if reg.sample:
        return infer_signature(reg.sample)
    sig = reg.source.signature if reg.source else None
    return dict(sig) if sig else None


def _code_commit(ws: Workspace, reg: Registration) -> dict[str, Any]:
    """The training code's commit and where it came from; the registry's HEAD at worst."""
    if reg.code_commit:
        return {"code_commit": reg.code_commit, "code_commit_source": reg.code_commit_source}
    if reg.source is not None:
        return {}  # the source knew no commit: none is better than the registry's HEAD
    return {"code_commit": ws.git.head(), "code_commit_source": "registry-head"}


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


def _model_spec(reg: Registration, rec: Mapping[str, Any], task: str | None) -> str:
    spec = {
        "name": reg.model,
        "owner": rec["created_by"],
        "description": "",
        "task": task,
        "policy": "default",
        "headline_metrics": [k for k in rec["metrics"] if k != "dataset"][:3],
    }
    return dump_yaml({k: v for k, v in spec.items() if v is not None})


def _check_task(ws: Workspace, reg: Registration) -> None:
    """--task must agree with the task model.yaml already names: it is never overwritten."""
    path = ws.root / model_yaml(reg.model)
    if reg.task is None or not path.exists():
        return
    task = _spec_task(path)
    if task is not None and task != reg.task:
        raise UsageError(
            f"{model_yaml(reg.model)}: task: is {task}, but --task says {reg.task}",
            hint=f"drop --task, or change task: in {model_yaml(reg.model)} by hand first",
        )


def _spec_task(path: Path) -> str | None:
    task = read_mapping(path, "model.yaml").get("task")
    return str(task) if task else None


def _task(reg: Registration, target: Path, rec: Mapping[str, Any]) -> str | None:
    """The task a new model gets: --task or the pipeline's, else what the estimator is."""
    if reg.task:
        return reg.task
    art = rec["artifact"]
    if art["format"] not in artifacts.LOADABLE:
        return None
    expected = artifacts.Expected(
        md5=art["md5"],
        source="the record being written",
        sha256=art.get("sha256"),
        format=art["format"],
        name=f"{reg.model} {rec['version']}",
    )
    try:
        estimator = artifacts.load(target, expected, hint="re-run register")
    except UsageError:
        return None  # not loadable here (a missing package): the task stays unset
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(estimator):
        return "classification"
    return "regression" if is_regressor(estimator) else None


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


def _push(ws: Workspace, record: VersionRecord, branch: str) -> None:
    """The artifact to the DVC remote first, then the commit that points at it."""
    root = ws.root
    # Everything the pushed commits name by DVC pointer, not only this version's files.
    since = f"refs/remotes/origin/{branch}"
    dvcio.push(root, [root / p for p in tracked(record)] + dvcio.changed_pointers(ws.git, since))
    try:
        push(ws.git, f"HEAD:refs/heads/{branch}")
    except ForgeError as exc:
        raise ForgeError(
            f"registered {record.model} {record.version} locally, but {exc.message}",
            hint=f"git pull --rebase origin {branch}, then re-run the same command to push",
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
    return {
        "path": data_path(root, data),
        "md5": md5,
        "rows": count_rows(data) if rows is None else rows,
    }


def data_path(root: Path, data: Path) -> str:
    """How a record names training data: repository-relative inside it, else the file's name.

    Never a path of the machine that registered (a temp folder elsewhere means nothing);
    outside the repository the digest beside it says which bytes they were.
    """
    try:
        return data.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return data.name


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
