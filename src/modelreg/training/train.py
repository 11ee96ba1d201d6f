"""`train`: run a model's DVC pipeline, then register what it produced, with lineage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg.adapters import dvc as dvcio
from modelreg.adapters.lock import writing
from modelreg.adapters.tables import count_rows
from modelreg.errors import CheckFailed, NotFound, UsageError
from modelreg.registry.names import check_name
from modelreg.registry.records import TRIGGERS, Comparison, VersionRecord
from modelreg.registry.snapshot import model_yaml
from modelreg.registry.workspace import Workspace
from modelreg.registry.yamlio import dump_yaml, parse_yaml
from modelreg.training.register import Registered, Registration, read_metrics, register


@dataclass(frozen=True)
class Pipeline:
    """Where a model's pipeline lives and what it writes, from model.yaml."""

    folder: str
    model: str
    metrics: str
    params: str
    data: str | None = None
    sample: str | None = None

    @property
    def dvc_yaml(self) -> str:
        return f"{self.folder}/dvc.yaml"

    @property
    def dvc_lock(self) -> str:
        return f"{self.folder}/dvc.lock"


@dataclass(frozen=True)
class TrainResult:
    model: str
    pipeline: str
    stages_run: tuple[str, ...]
    params_set: tuple[str, ...]
    metrics: Mapping[str, Any]
    dvc_lock_md5: str
    registered: Registered | None
    uncommitted: tuple[str, ...]


def train(
    ws: Workspace,
    *,
    model: str,
    register: bool,
    sets: Mapping[str, str] | Sequence[str] = (),
    trigger: str = "manual",
    window_days: int | None = None,
    message: str | None = None,
    push: bool = False,
    compare_with: VersionRecord | None = None,
) -> TrainResult:
    """`dvc repro` the model's pipeline; with `register`, register its output as a version.

    `sets` is KEY=VALUE strings or a mapping of dotted params.yaml keys to YAML scalars.
    With `compare_with`, that version is scored on the new holdout too and the paired
    evaluation is recorded in the new version's record.
    """
    if trigger not in TRIGGERS:
        raise UsageError(f"trigger '{trigger}' is unknown", hint="one of " + ", ".join(TRIGGERS))
    if push and not register:
        raise UsageError("--push needs --register", hint="only a registered version is pushed")
    root = ws.root
    pipe = read_pipeline(ws, model)
    changes = _parse_sets(sets)
    if window_days is not None:
        if window_days < 0:
            raise UsageError(f"--window {window_days}: must be 0 (all data) or more days")
        changes.append(("prepare.window_days", window_days))
    with writing(ws.git.git_dir):
        params_set = update_params(root / pipe.params, pipe.params, changes)
        stages = reproduce(root, pipe, model)
        metrics = read_metrics(root / pipe.metrics)
        lock_md5 = dvcio.md5_file(root / pipe.dvc_lock)
        paired = _paired(ws, metrics, compare_with) if register and compare_with else ()
        done = (
            _register(ws, model, pipe, trigger, message, push, lock_md5, paired)
            if register
            else None
        )
    return TrainResult(
        model=model,
        pipeline=pipe.folder,
        stages_run=stages,
        params_set=params_set,
        metrics=metrics,
        dvc_lock_md5=lock_md5,
        registered=done,
        uncommitted=_uncommitted(ws, _commit_paths(root, pipe)),
    )


# -- model.yaml -----------------------------------------------------------------------


def read_pipeline(ws: Workspace, model: str) -> Pipeline:
    """The pipeline section of models/MODEL/model.yaml as it is on disk."""
    check_name(model)
    path = model_yaml(model)
    scaffold = f"scaffold one with `modelreg example {model} --data FILE --target COLUMN`"
    if not (ws.root / path).exists():
        raise NotFound(f"unknown model '{model}'", hint=scaffold)
    spec: Mapping[str, Any] = ws.snapshot(None).load("model", path)
    folder = str(spec.get("pipeline") or "").rstrip("/")
    if not folder:
        raise UsageError(f"{path}: pipeline: not set", hint=scaffold)
    if not (ws.root / folder / "dvc.yaml").is_file():
        raise UsageError(f"{path}: pipeline: {folder}/dvc.yaml does not exist", hint=scaffold)
    outputs = spec.get("outputs") or {}
    for key, example in (("model", "out/model.pkl"), ("metrics", "out/metrics.json")):
        if not outputs.get(key):
            raise UsageError(
                f"{path}: outputs.{key}: not set",
                hint=f"name the file the pipeline writes, e.g. {folder}/{example}",
            )
    return Pipeline(
        folder=folder,
        model=outputs["model"],
        metrics=outputs["metrics"],
        params=outputs.get("params") or f"{folder}/params.yaml",
        data=outputs.get("data"),
        sample=outputs.get("sample"),
    )


# -- params.yaml ----------------------------------------------------------------------


def _parse_sets(sets: Mapping[str, str] | Sequence[str]) -> list[tuple[str, Any]]:
    items = list(sets.items()) if isinstance(sets, Mapping) else [_split(s) for s in sets]
    out: list[tuple[str, Any]] = []
    for key, raw in items:
        value = parse_yaml(raw, f"--set {key}") if raw.strip() else ""
        if isinstance(value, (dict, list)):
            raise UsageError(f"--set {key}={raw}: not a single value", hint="e.g. train.C=0.5")
        out.append((key, value))
    return out


def _split(item: str) -> tuple[str, str]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set train.C=0.5")
    return key.strip(), raw


def update_params(path: Path, label: str, changes: Sequence[tuple[str, Any]]) -> tuple[str, ...]:
    """Set dotted keys that already exist in params.yaml; write it only if something changed."""
    if not changes:
        return ()
    if not path.is_file():
        raise UsageError(f"{label}: no such file", hint="the pipeline's parameters live there")
    data = parse_yaml(path.read_text(), label)
    if not isinstance(data, dict):
        raise UsageError(f"{label}: expected a mapping of parameters")
    before = dump_yaml(data)
    for key, value in changes:
        _set(data, key, value, label)
    if dump_yaml(data) != before:
        path.write_text(dump_yaml(data))
    return tuple(f"{k}={v}" for k, v in changes)


def _set(data: dict[str, Any], key: str, value: Any, label: str) -> None:
    node: Any = data
    parts = key.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if not isinstance(node, dict) or part not in node:
            known = ", ".join(_leaves(data)) or "none"
            raise UsageError(f"{label}: {key}: no such parameter", hint=f"known: {known}")
        if last and isinstance(node[part], dict):
            inside = ", ".join(_leaves(node[part], key + "."))
            raise UsageError(f"{label}: {key}: is a group, not one value", hint=f"set {inside}")
        if last:
            node[part] = value
        node = node[part]


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in data.items():
        name = f"{prefix}{k}"
        out += _leaves(v, name + ".") if isinstance(v, dict) else [name]
    return out


# -- dvc repro ------------------------------------------------------------------------


def reproduce(root: Path, pipe: Pipeline, model: str) -> tuple[str, ...]:
    """`dvc repro` the pipeline; the names of the stages that ran (not cached).

    Whatever happens, every output ends up git-ignored (a run killed earlier may have
    left some that are not), so no later commit of the pipeline folder takes them in.
    """
    dvc_yaml = root / pipe.dvc_yaml
    dvcio.ignore_outputs(root, dvc_yaml)
    try:
        return dvcio.reproduce(root, dvc_yaml)
    except dvcio.StageFailed as exc:
        dvcio.ignore_outputs(root, dvc_yaml)
        raise CheckFailed(
            f"{pipe.dvc_yaml}: stage '{exc.stage}' failed: {exc.cause}",
            hint=f"nothing was registered; fix it and re-run `modelreg train {model}`",
        ) from None


# -- register -------------------------------------------------------------------------


def _register(
    ws: Workspace,
    model: str,
    pipe: Pipeline,
    trigger: str,
    message: str | None,
    push: bool,
    lock_md5: str,
    comparisons: tuple[Comparison, ...] = (),
) -> Registered:
    root = ws.root
    if push:
        # The data and every stage output, so a clone can `dvc pull` and reproduce.
        dvcio.push(root, [root / p for p in (pipe.data, pipe.dvc_yaml) if p])
    reg = Registration(
        model=model,
        artifact=root / pipe.model,
        metrics=root / pipe.metrics,
        params=root / pipe.params if (root / pipe.params).is_file() else None,
        data=root / pipe.data if pipe.data else None,
        sample=root / pipe.sample if pipe.sample else None,
        message=message,
        trigger=trigger,
        pipeline=pipe.folder,
        dvc_lock_md5=lock_md5,
        data_rows=count_rows(root / pipe.data) if pipe.data else None,
        extra_paths=tuple(root / p for p in _commit_paths(root, pipe)),
        profile_from=_training_table(root, pipe),
        code_commit=pipeline_commit(ws, pipe.folder),
        code_commit_source="pipeline",
        comparisons=comparisons,
    )
    return register(ws, reg, push=push)


def _paired(
    ws: Workspace, metrics: Mapping[str, Any], serving: VersionRecord
) -> tuple[Comparison, ...]:
    from modelreg.training.paired import recorded

    numbers = {k: float(v) for k, v in metrics.items() if k != "dataset"}
    found = recorded(ws, numbers, serving)
    return (found,) if found else ()


def pipeline_commit(ws: Workspace, folder: str) -> str | None:
    """The training code's commit: HEAD of the repository holding the pipeline when that is
    not the registry (a submodule, a checkout of its own), else the last commit that
    changed the pipeline folder; None when the folder was never committed."""
    path = ws.root / folder
    top = ws.git.run("rev-parse", "--show-toplevel", cwd=path, check=False).strip()
    if top and Path(top).resolve() != ws.root.resolve():
        return (
            ws.git.run("rev-parse", "--verify", "-q", "HEAD", cwd=path, check=False).strip() or None
        )
    if not ws.git.has_commits():
        return None
    out = ws.git.run("log", "-1", "--format=%H", "HEAD", "--", folder)
    return out.strip() or None


def _training_table(root: Path, pipe: Pipeline) -> Path | None:
    """The rows the model was fitted on (the prepare stage's output), for the drift profile."""
    path = root / pipe.folder / "out" / "train.csv"
    return path if path.is_file() else None


def _commit_paths(root: Path, pipe: Pipeline) -> list[str]:
    """What a registration commits besides the record: the pipeline as run, the data pointer."""
    paths = [pipe.folder]
    if pipe.data:
        data = Path(pipe.data)
        paths += [f"{pipe.data}.dvc", str(data.parent / ".gitignore")]
    return [p for p in paths if (root / p).exists()]


def _uncommitted(ws: Workspace, paths: list[str]) -> tuple[str, ...]:
    if not paths:
        return ()
    out = ws.git.run("status", "--porcelain=v1", "--untracked-files=all", "--", *paths)
    return tuple(line[3:] for line in out.splitlines() if line.strip())
