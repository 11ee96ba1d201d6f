"""Example models: a packaged DVC pipeline plus timestamped batches of bundled data."""

from __future__ import annotations

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
) -> list[Path]:
    """Write pipelines/MODEL, the data batches (DVC-tracked) and models/MODEL/model.yaml.

    The batches go to `data_dir` (a folder relative to `root`, default data/MODEL/batches).
    Returns the files Git should hold (the CSV batches themselves live in DVC's cache).
    """
    data = _data_dir(root, model, data_dir)
    _check_new(root, model, kind, policy, batches, data)
    written: list[Path] = []
    made = [root / pipeline_dir(model), _first_new(root, data), root / "models" / model]
    try:
        written += _copy_template(root, model, kind, data)
        frame = dataset(kind, now=now)
        for i, chunk in enumerate(_chunks(frame, batches), start=1):
            _write_csv(chunk, root / data / f"batch-{i:04d}.csv")
        written += _track(root, data)
        written.append(_write_spec(root, model, kind, owner, policy, data))
    except BaseException:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return written


def add_batch(
    root: Path,
    model: str,
    rows: pd.DataFrame | Path | str,
    name: str,
    *,
    data_dir: str | None = None,
) -> list[Path]:
    """Append one batch of labelled rows to the data pool and re-track the folder.

    The pool is `data_dir` (relative to `root`) or, by default, data/MODEL/batches.
    """
    import pandas as pd

    data = _data_dir(root, model, data_dir)
    folder = root / data
    if not folder.is_dir():
        raise UsageError(
            f"{data}: no such folder",
            hint=f"scaffold the model first: `modelreg example {model} --kind classifier`",
        )
    stem = name[:-4] if name.endswith(".csv") else name
    if not is_readable_name(stem):
        raise UsageError(f"batch name '{name}' is not allowed", hint="e.g. batch-0002")
    target = folder / f"{stem}.csv"
    if target.exists():
        raise UsageError(f"{data}/{stem}.csv: already exists", hint="pick a new name")
    frame = rows if isinstance(rows, pd.DataFrame) else pd.read_csv(rows)
    _write_csv(_conform(frame, _header(folder), f"{data}/{stem}.csv"), target)
    try:
        return _track(root, data)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


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


def _check_new(root: Path, model: str, kind: str, policy: str, batches: int, data: str) -> None:
    check_name(model)
    if kind not in KINDS:
        raise UsageError(f"--kind '{kind}' is unknown", hint="one of " + ", ".join(KINDS))
    if batches < 1:
        raise UsageError(f"--batches {batches}: must be at least 1")
    default = batches_dir(model)
    folder = str(Path(default).parent) if data == default else data
    for rel in (model_yaml(model), pipeline_dir(model), folder):
        if (root / rel).exists():
            raise UsageError(f"{rel}: already exists", hint="pick another model name")
    if not (root / policy_yaml(policy)).exists():
        raise UsageError(f"{policy_yaml(policy)}: no such policy", hint="run `modelreg init`")
    if not dvcio.is_initialised(root):
        raise UsageError(".dvc/config: DVC is not set up here", hint="run `modelreg init`")


def _copy_template(root: Path, model: str, kind: str, data: str) -> list[Path]:
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
        path.write_text(text.replace(DATA_PLACEHOLDER, data_rel).replace(PLACEHOLDER, model))
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
            hint="a batch needs timestamp, the features and target",
        )
    extra = [c for c in frame.columns if c not in need]
    if header and extra:
        raise UsageError(f"{label}: unknown column(s) {', '.join(map(str, extra))}")
    return frame[header] if header else frame


def _write_spec(root: Path, model: str, kind: str, owner: str, policy: str, data: str) -> Path:
    out = f"{pipeline_dir(model)}/out"
    spec = {
        "name": model,
        "description": f"Example {kind} trained by the DVC pipeline in {pipeline_dir(model)}.",
        "owner": owner,
        "task": TASKS[kind],
        "policy": policy,
        "pipeline": pipeline_dir(model),
        "outputs": {
            "model": f"{out}/model.pkl",
            "metrics": f"{out}/metrics.json",
            "params": f"{pipeline_dir(model)}/params.yaml",
            "data": data,
            "sample": f"{out}/sample.csv",
        },
        "headline_metrics": list(HEADLINE[kind]),
    }
    problems = schema_problems("model", spec, model_yaml(model))
    if problems:
        raise UsageError(str(problems[0]))
    path = root / model_yaml(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_yaml(spec))
    return path
