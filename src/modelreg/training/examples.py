"""Example models: a packaged DVC pipeline plus timestamped batches of bundled data."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.adapters import dvc as dvcio
from modelreg.adapters.git import commit_paths, identity
from modelreg.errors import UsageError
from modelreg.registry.names import check_name, is_readable_name
from modelreg.registry.schemas import schema_problems
from modelreg.registry.snapshot import model_yaml, policy_yaml
from modelreg.registry.yamlio import dump_yaml

if TYPE_CHECKING:
    import pandas as pd

    from modelreg.registry.workspace import Workspace

KINDS = ("classifier", "regressor")
TASKS = {"classifier": "classification", "regressor": "regression"}
HEADLINE = {"classifier": ("accuracy", "f1", "roc_auc"), "regressor": ("rmse", "mae", "r2")}
TEMPLATE_FILES = ("dvc.yaml", "params.yaml", "prepare.py", "train.py", "evaluate.py")
PLACEHOLDER = "__MODEL__"
DATA_PLACEHOLDER = "__DATA__"  # the batches folder, relative to the pipeline folder
DAYS = 30


@dataclass(frozen=True)
class Example:
    """A scaffolded example model and the commit that added it."""

    model: str
    kind: str
    paths: tuple[str, ...]
    commit: str
    data: str  # the data pool's folder, relative to the root


def pipeline_dir(model: str) -> str:
    return f"pipelines/{model}"


def batches_dir(model: str) -> str:
    """The default data pool's folder, relative to the root."""
    return f"data/{model}/batches"


def create(
    ws: Workspace,
    *,
    model: str,
    kind: str,
    owner: str | None = None,
    policy: str = "default",
    batches: int = 1,
    now: datetime | None = None,
    data_dir: str | None = None,
) -> Example:
    """Scaffold an example model and commit its pipeline, data pointer and model.yaml."""
    paths = scaffold(
        ws.root,
        model,
        kind,
        owner=owner or identity(ws.git),
        policy=policy,
        batches=batches,
        now=now,
        data_dir=data_dir,
    )
    rels = [str(p.relative_to(ws.root)) for p in paths]
    commit = commit_paths(ws.git, rels, f"example: scaffold {kind} model {model}")
    data = _data_dir(ws.root, model, data_dir)
    if dvcio.is_initialised(ws.root) and dvcio.remote_url(ws.root):
        # The commit names the batches by DVC pointer: once it is pushed, a fresh clone
        # (a CI runner) must find them on the remote.
        dvcio.push(ws.root, [ws.root / f"{data}.dvc"])
    return Example(model, kind, tuple(rels), commit, data)


TASK_KINDS = {"classification": "classifier", "regression": "regressor"}
MAX_CLASSES = 20  # an integer label with more distinct values is read as a regression


def create_from_data(
    ws: Workspace,
    *,
    model: str,
    data: Path,
    target: str,
    task: str | None = None,
    owner: str | None = None,
    policy: str = "default",
    data_dir: str | None = None,
) -> Example:
    """Scaffold a DVC pipeline on the user's own labelled table, one commit.

    A new model gets model.yaml too; a model registered by hand without a pipeline
    gets only the pipeline, its data and `pipeline:`/`outputs:`/`target:` in its
    model.yaml (its other fields are kept).
    """
    check_name(model)
    if task is not None and task not in TASK_KINDS:
        raise UsageError(f"--task '{task}' is unknown", hint="classification or regression")
    frame = user_rows(data, target)
    existing = _existing_spec(ws, model)
    known = existing.get("task") if existing else None
    task = task or known or infer_task(frame[target])
    fits(frame[target], task, f"{data}: {target}")
    if known not in (None, task):
        raise UsageError(
            f"{model_yaml(model)}: task: {known}, but --task is {task}",
            hint=f"pass --task {known}, or leave --task out",
        )
    kind = TASK_KINDS[task]
    paths = scaffold(
        ws.root,
        model,
        kind,
        owner=owner or identity(ws.git),
        policy=existing.get("policy", policy) if existing else policy,
        data_dir=data_dir,
        frame=frame,
        target=target,
        existing=existing,
        description=f"A {kind} of {target} trained on {data.name} by the DVC pipeline in "
        f"{pipeline_dir(model)}.",
    )
    rels = [str(p.relative_to(ws.root)) for p in paths]
    how = "pipeline for registered" if existing is not None else f"{kind} on {data.name} for"
    commit = commit_paths(ws.git, rels, f"example: scaffold {how} model {model}")
    folder = _data_dir(ws.root, model, data_dir)
    if dvcio.is_initialised(ws.root) and dvcio.remote_url(ws.root):
        dvcio.push(ws.root, [ws.root / f"{folder}.dvc"])
    return Example(model, kind, tuple(rels), commit, folder)


def user_rows(path: Path, target: str) -> pd.DataFrame:
    """The user's table with a `timestamp` column first (ingestion time when it has
    none); exit 2 naming the file and column when the label is missing or empty."""
    from modelreg.adapters.tables import read_table

    frame = read_table(path)
    if target not in frame.columns:
        known = ", ".join(map(str, frame.columns[:12]))
        raise UsageError(f"{path}: no column '{target}' (columns: {known})", hint="--target COLUMN")
    labelled = frame[frame[target].notna()]
    if len(labelled) < 10:
        raise UsageError(f"{path}: {target}: {len(labelled)} labelled rows; a pipeline needs 10")
    if "timestamp" not in labelled.columns:
        stamp = _today().strftime("%Y-%m-%dT%H:%M:%SZ")
        labelled = labelled.assign(timestamp=stamp)
    else:
        _check_timestamps(labelled["timestamp"], f"{path}: timestamp")
    rest = [c for c in labelled.columns if c != "timestamp"]
    return labelled[["timestamp", *rest]].reset_index(drop=True)


def infer_task(labels: pd.Series) -> str:
    """classification for text, boolean or few-valued integer labels, else regression."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        return "classification"
    whole = pd.api.types.is_integer_dtype(labels) or bool((labels % 1 == 0).all())
    return "classification" if whole and labels.nunique() <= MAX_CLASSES else "regression"


def fits(labels: pd.Series, task: str, where: str) -> None:
    """UsageError unless `labels` can be learnt as `task`: regression needs numbers,
    classification at least two classes and no fractional numbers."""
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)
    if task == "regression" and not numeric:
        sample = ", ".join(map(repr, labels.drop_duplicates().head(3).tolist()))
        raise UsageError(
            f"{where}: --task regression needs numbers, the labels are text ({sample}, ...)",
            hint="--task classification",
        )
    if task == "classification" and numeric and not bool((labels % 1 == 0).all()):
        raise UsageError(
            f"{where}: --task classification needs class labels, these are fractional "
            f"numbers ({labels.nunique()} distinct values)",
            hint="--task regression",
        )
    if task == "classification" and labels.nunique() < 2:
        raise UsageError(f"{where}: one class only; a classifier needs at least two")


def _check_timestamps(stamps: pd.Series, where: str) -> None:
    import pandas as pd

    try:
        pd.to_datetime(stamps, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        raise UsageError(
            f"{where}: not ISO 8601 times (e.g. {stamps.iloc[0]!r})",
            hint="write times like 2026-11-20T09:12:44Z, or drop the column",
        ) from None


def _existing_spec(ws: Workspace, model: str) -> dict[str, Any] | None:
    """model.yaml of a registered model that has no pipeline yet, else None (new model)."""
    path = ws.root / model_yaml(model)
    if not path.exists():
        return None
    spec = dict(ws.snapshot(None).load("model", model_yaml(model)))
    if spec.get("pipeline"):
        raise UsageError(
            f"{model_yaml(model)}: pipeline: {model} already has one ({spec['pipeline']})",
            hint=f"train it with `modelreg train {model}`, or add data with `modelreg add-batch`",
        )
    return spec


def scaffold(
    root: Path,
    model: str,
    kind: str,
    *,
    owner: str,
    policy: str = "default",
    batches: int = 1,
    now: datetime | None = None,
    data_dir: str | None = None,
    frame: pd.DataFrame | None = None,
    target: str = "target",
    existing: dict[str, Any] | None = None,
    description: str | None = None,
) -> list[Path]:
    """Write pipelines/MODEL, the data batches (DVC-tracked) and models/MODEL/model.yaml.

    The rows are `frame` (labelled by column `target`), else the bundled dataset of
    `kind`. The batches go to `data_dir` (a folder relative to `root`, default
    data/MODEL/batches). `existing` is the model.yaml of a model registered without a
    pipeline: it is kept and completed. Returns the files Git should hold (the CSV
    batches themselves live in DVC's cache).
    """
    data = _data_dir(root, model, data_dir)
    _check_new(root, model, kind, policy, batches, data, existing=existing is not None)
    written: list[Path] = []
    made = [root / pipeline_dir(model), _first_new(root, data)]
    if existing is None:
        made.append(root / "models" / model)
    spec_path = root / model_yaml(model)
    old_spec = spec_path.read_bytes() if existing is not None else None
    try:
        written += _copy_template(root, model, kind, data, target)
        rows = dataset(kind, now=now) if frame is None else frame
        for i, chunk in enumerate(_chunks(rows, batches), start=1):
            _write_csv(chunk, root / data / f"batch-{i:04d}.csv")
        written += _track(root, data)
        written.append(
            _write_spec(root, model, kind, owner, policy, data, target, existing, description)
        )
    except BaseException:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        if old_spec is not None:
            spec_path.write_bytes(old_spec)
        raise
    return written


def add_batch(
    root: Path | str,
    model: str,
    rows: pd.DataFrame | Path | str,
    name: str | None = None,
    *,
    data_dir: str | None = None,
) -> list[Path]:
    """Append one batch of labelled rows to the data pool and re-track the folder.

    The pool is `data_dir` (relative to `root`) or, by default, data/MODEL/batches; the
    batch is named `name`, else the next batch-NNNN. Rows without a `timestamp` column
    are stamped with the current time.
    """
    import pandas as pd

    root = Path(root)
    data = _data_dir(root, model, data_dir)
    folder = root / data
    if not folder.is_dir():
        raise UsageError(
            f"{data}: no such folder",
            hint=f"scaffold its pipeline: `modelreg example {model} --data FILE --target COLUMN`",
        )
    name = name or next_batch_name(folder)
    stem = name[:-4] if name.endswith(".csv") else name
    if not is_readable_name(stem):
        raise UsageError(f"batch name '{name}' is not allowed", hint="e.g. batch-0002")
    target = folder / f"{stem}.csv"
    if target.exists():
        raise UsageError(f"{data}/{stem}.csv: already exists", hint="pick a new name")
    if isinstance(rows, pd.DataFrame):
        frame = rows
    else:
        from modelreg.adapters.tables import read_table

        frame = read_table(rows)
    header = _header(folder)
    if "timestamp" not in frame.columns:  # rows without a time arrive now
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        frame = frame.assign(timestamp=now)
    _write_csv(_conform(frame, header, f"{data}/{stem}.csv"), target)
    try:
        return _track(root, data)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Added:
    """A batch added to a model's data pool and the commit that records it."""

    model: str
    batch: str
    folder: str
    rows: int
    commit: str


def add_batch_commit(
    ws: Workspace, model: str, rows: Path, name: str | None = None, *, push: bool = True
) -> Added:
    """`add_batch` into the pool model.yaml names, committed (and pushed to DVC)."""
    check_name(model)
    path = model_yaml(model)
    if not (ws.root / path).exists():
        raise UsageError(
            f"unknown model '{model}'", hint=f"modelreg example {model} --data FILE --target COLUMN"
        )
    spec = ws.snapshot(None).load("model", path)
    folder = (spec.get("outputs") or {}).get("data")
    if not folder:
        raise UsageError(
            f"{path}: outputs.data: not set (the model has no data pool)",
            hint=f"modelreg example {model} --data FILE --target COLUMN",
        )
    pool = ws.root / folder
    pointer = Path(f"{pool}.dvc")
    before = pointer.read_bytes() if pointer.exists() else None
    name = name or next_batch_name(pool)
    stem = name[:-4] if name.endswith(".csv") else name
    written = add_batch(ws.root, model, rows, stem, data_dir=folder)
    try:
        rels = [str(p.relative_to(ws.root)) for p in written]
        commit = commit_paths(ws.git, rels, f"data: add {stem} to {model}")
    except BaseException:
        (pool / f"{stem}.csv").unlink(missing_ok=True)
        if before is not None:
            pointer.write_bytes(before)
        raise
    if push and dvcio.remote_url(ws.root):
        dvcio.push(ws.root, [pointer])
    count = sum(1 for _ in (pool / f"{stem}.csv").open()) - 1
    return Added(model, stem, folder, count, commit)


def next_batch_name(folder: Path) -> str:
    """batch-NNNN one past the highest numbered batch in `folder`."""
    numbers = [int(p.stem[6:]) for p in folder.glob("batch-*.csv") if p.stem[6:].isdigit()]
    return f"batch-{max(numbers, default=0) + 1:04d}"


def dataset(kind: str, *, now: datetime | None = None, days: int = DAYS) -> pd.DataFrame:
    """The bundled dataset for `kind` with ISO timestamps spread over `days` ending at `now`.

    Rows are shuffled with a fixed seed before they get their timestamps, so any time
    window holds a fair mix of the data.
    """
    import numpy as np
    from sklearn.datasets import load_breast_cancer, load_diabetes

    loader = load_breast_cancer if kind == "classifier" else load_diabetes
    bunch: Any = loader(as_frame=True)
    frame = bunch.frame.rename(columns=_column_name)
    frame = frame.iloc[np.random.default_rng(0).permutation(len(frame))].reset_index(drop=True)
    end = (now or _today()).astimezone(timezone.utc).replace(microsecond=0)
    step = timedelta(days=days) / max(len(frame), 1)
    stamps = [end - step * (len(frame) - 1 - i) for i in range(len(frame))]
    frame.insert(0, "timestamp", [s.strftime("%Y-%m-%dT%H:%M:%SZ") for s in stamps])
    return frame


def recalibrated(frame: pd.DataFrame, factor: float = 1.5) -> pd.DataFrame:
    """Breast-cancer rows from a recalibrated scanner: every radius, perimeter and area
    reads `factor` times larger (the drift the demo and the tests plant)."""
    sizes = [c for c in frame.columns if str(c).endswith(("radius", "perimeter", "area"))]
    return frame.assign(**{c: frame[c] * factor for c in sizes})


def _today() -> datetime:
    return datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def _column_name(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def _data_dir(root: Path, model: str, data_dir: str | None) -> str:
    """`data_dir` (absolute, or relative to `root`) as a relative POSIX path inside `root`.

    The default is data/MODEL/batches.
    """
    if data_dir is None:
        return batches_dir(model)
    raw = Path(data_dir)
    full = raw if raw.is_absolute() else root / raw
    try:
        rel = full.resolve().relative_to(root.resolve())
    except ValueError:
        raise UsageError(
            f"--data-dir {data_dir}: outside the repository", hint="e.g. data/MODEL/batches"
        ) from None
    if not rel.parts or rel.parts[0] in (".git", ".dvc"):
        raise UsageError(
            f"--data-dir {data_dir}: not a folder for data", hint="e.g. data/MODEL/batches"
        )
    return rel.as_posix()


def _first_new(root: Path, rel: str) -> Path:
    """The outermost folder of `rel` that does not exist yet: what a failed scaffold removes."""
    path = root
    for part in Path(rel).parts:
        path = path / part
        if not path.exists():
            return path
    return path


def _check_new(
    root: Path, model: str, kind: str, policy: str, batches: int, data: str, *, existing: bool
) -> None:
    check_name(model)
    if kind not in KINDS:
        raise UsageError(f"--kind '{kind}' is unknown", hint="one of " + ", ".join(KINDS))
    if batches < 1:
        raise UsageError(f"--batches {batches}: must be at least 1")
    default = batches_dir(model)
    folder = str(Path(default).parent) if data == default else data
    news = (
        (pipeline_dir(model), folder)
        if existing
        else (model_yaml(model), pipeline_dir(model), folder)
    )
    for rel in news:
        if (root / rel).exists():
            raise UsageError(f"{rel}: already exists", hint="pick another model name")
    if not (root / policy_yaml(policy)).exists():
        raise UsageError(f"{policy_yaml(policy)}: no such policy", hint="run `modelreg init`")
    if not dvcio.is_initialised(root):
        raise UsageError(".dvc/config: DVC is not set up here", hint="run `modelreg init`")


def _copy_template(
    root: Path, model: str, kind: str, data: str, target: str = "target"
) -> list[Path]:
    templates = resources.files("modelreg").joinpath("templates/pipelines")
    folder = root / pipeline_dir(model)
    folder.mkdir(parents=True)
    # dvc.yaml runs in the pipeline folder, so it names the data relative to it.
    data_rel = Path(os.path.relpath(root / data, folder)).as_posix()
    written = []
    for name in TEMPLATE_FILES:
        path = folder / name
        own = templates.joinpath(f"{kind}/{name}")  # a kind's own file, else the shared one
        text = (own if own.is_file() else templates.joinpath(f"common/{name}")).read_text()
        text = text.replace(DATA_PLACEHOLDER, data_rel).replace(PLACEHOLDER, model)
        if name == "params.yaml":
            text = text.replace("  target: target\n", f"  target: {json.dumps(target)}\n", 1)
        path.write_text(text)
        written.append(path)
    return written


def _chunks(frame: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    size = -(-len(frame) // n)
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def _track(root: Path, data: str) -> list[Path]:
    """`dvc add` the batches folder; return its pointer and the .gitignore DVC keeps."""
    folder = root / data
    dvcio.add(root, folder)
    return [Path(f"{folder}.dvc"), folder.parent / ".gitignore"]


def _header(folder: Path) -> list[str]:
    first = min(folder.glob("*.csv"), default=None)
    if first is None:
        return []
    with first.open() as fh:
        return fh.readline().strip().split(",")


def _conform(frame: pd.DataFrame, header: list[str], label: str) -> pd.DataFrame:
    """The rows with the pool's columns in the pool's order; missing columns are an error."""
    need = header or ["timestamp", "target"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise UsageError(
            f"{label}: missing column(s) {', '.join(missing)}",
            hint="a batch has the pool's columns: " + ", ".join(map(str, need)),
        )
    extra = [c for c in frame.columns if c not in need]
    if header and extra:
        raise UsageError(f"{label}: unknown column(s) {', '.join(map(str, extra))}")
    return frame[header] if header else frame


def _write_spec(
    root: Path,
    model: str,
    kind: str,
    owner: str,
    policy: str,
    data: str,
    target: str = "target",
    existing: dict[str, Any] | None = None,
    description: str | None = None,
) -> Path:
    out = f"{pipeline_dir(model)}/out"
    base = existing or {
        "name": model,
        "description": description
        or f"Example {kind} trained by the DVC pipeline in {pipeline_dir(model)}.",
        "owner": owner,
        "policy": policy,
        "headline_metrics": list(HEADLINE[kind]),
    }
    spec = {
        **base,
        "task": TASKS[kind],
        "pipeline": pipeline_dir(model),
        "outputs": {
            "model": f"{out}/model.pkl",
            "metrics": f"{out}/metrics.json",
            "params": f"{pipeline_dir(model)}/params.yaml",
            "data": data,
            "sample": f"{out}/sample.csv",
        },
    }
    if target != "target":
        spec["target"] = target
    problems = schema_problems("model", spec, model_yaml(model))
    if problems:
        raise UsageError(str(problems[0]))
    path = root / model_yaml(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_yaml(spec))
    return path
