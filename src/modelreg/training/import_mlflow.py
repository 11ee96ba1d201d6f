"""MLflow into the registry: `register --from-mlflow URI` and `import mlflow`.

A logged MLflow model is registered as a whole folder (format `mlflow`), tracked by DVC,
with its run's metrics, params and lineage. `import mlflow` walks a model registry: one
commit per version at its creation time and by its user, then one commit per current
alias mapped to a stage ("imported; time approximate": MLflow keeps no history of
aliases). What an import has seen is kept in `models/<model>/mlflow-import.yaml`, so a
re-run imports only new versions and the alias moves since.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.adapters.git import authored, commit_paths, committer, identity
from modelreg.adapters.lock import writing
from modelreg.errors import ModelregError, UsageError
from modelreg.registry import checkpoints
from modelreg.registry.names import check_name
from modelreg.registry.records import StageAssignment
from modelreg.registry.snapshot import stage_yaml
from modelreg.registry.stages import render_stage, require_stage_files
from modelreg.registry.yamlio import dump_yaml, parse_yaml
from modelreg.training.register import FORMATS, Imported, Registered, Registration, register

if TYPE_CHECKING:
    from modelreg.adapters.mlflow_source import ModelVersion, RunInfo, Source
    from modelreg.registry.workspace import Workspace

STATE_FILE = "mlflow-import.yaml"
APPROXIMATE = "imported; time approximate"


def state_path(model: str) -> str:
    """Where an import keeps what it has seen of one MLflow registered model."""
    return f"models/{model}/{STATE_FILE}"


# ---------------------------------------------------------------- register --from-mlflow


@dataclass(frozen=True)
class FromMlflow:
    """`register MODEL --from-mlflow URI`: what the user asked for."""

    model: str
    uri: str
    tracking_uri: str | None = None
    version: str | None = None
    bump: str = "minor"
    message: str | None = None
    trigger: str = "manual"
    task: str | None = None


def register_from_mlflow(ws: Workspace, req: FromMlflow, *, push: bool = False) -> Registered:
    """Download the logged model `req.uri` names and register it with its run's facts."""
    from modelreg.adapters.mlflow_source import Source, model_run_id, parse_uri

    check_name(req.model)
    parsed = parse_uri(req.uri)
    src = Source(req.tracking_uri)
    with tempfile.TemporaryDirectory(prefix="modelreg-mlflow-") as tmp:
        got = src.download(parsed.uri, Path(tmp) / "download")
        run_id = src.run_id_of(parsed) or (model_run_id(got) if got.is_dir() else None)
        run = src.run(run_id) if run_id else None
        number = src.version_of(parsed)
        lineage = _lineage(run, got, uri=parsed.uri, name=parsed.name, version=number)
        reg = Registration(
            model=req.model,
            artifact=got,
            metrics=None,
            version=req.version,
            bump=req.bump,
            message=req.message or f"register {req.model} from {parsed.uri}",
            trigger=req.trigger,
            task=req.task,
            fmt=_format(got),
            code_commit=run.code_commit if run else None,
            code_commit_source="mlflow",
            source=_imported(run, got, lineage),
        )
        return register(ws, reg, push=push)


def _format(path: Path) -> str:
    if path.is_dir():
        return "mlflow"
    return "skops" if path.suffix == ".skops" else FORMATS.get(path.suffix, "file")


def _imported(
    run: RunInfo | None,
    got: Path,
    lineage: Mapping[str, Any],
    *,
    created_at: str | None = None,
    created_by: str | None = None,
) -> Imported:
    from modelreg.adapters.mlflow_source import signature

    return Imported(
        metrics=metric_names(run.metrics) if run else {},
        params={k: param_value(v) for k, v in run.params.items()} if run else {},
        lineage={"mlflow": dict(lineage)},
        signature=signature(got) if got.is_dir() else None,
        created_at=created_at,
        created_by=created_by,
    )


def _lineage(
    run: RunInfo | None, got: Path, *, uri: str, name: str | None, version: str | int | None
) -> dict[str, Any]:
    model_id = _model_id(got)
    out: dict[str, Any] = {
        "uri": uri,
        "run_id": run.run_id if run else None,
        "experiment_id": run.experiment_id if run else None,
        "experiment": run.experiment_name if run else None,
        "model_id": model_id,
        "registered_model": name if version is not None else None,
        "registered_version": int(version) if version is not None else None,
        "start_time": run.start_time if run else None,
        "user": run.user if run else None,
    }
    return {k: v for k, v in out.items() if v is not None}


def _model_id(got: Path) -> str | None:
    import yaml

    try:
        spec = yaml.safe_load((got / "MLmodel").read_text()) if got.is_dir() else None
    except (OSError, yaml.YAMLError):
        return None
    mid = spec.get("model_id") if isinstance(spec, dict) else None
    return str(mid) if mid else None


_METRIC_BAD = re.compile(r"[^A-Za-z0-9._-]")


def metric_names(metrics: Mapping[str, float]) -> dict[str, float]:
    """MLflow metric names made valid record keys (`val loss` → `val_loss`, `a/b` → `a_b`).

    A metric named `dataset` becomes `mlflow.dataset`: in a record `dataset` names the
    evaluation set.
    """
    out: dict[str, float] = {}
    for name, value in sorted(metrics.items()):
        key = _METRIC_BAD.sub("_", name).lstrip("._-") or "metric"
        out["mlflow.dataset" if key == "dataset" else key] = value
    return out


def param_value(text: str) -> Any:
    """An MLflow param (always a string) as the number or boolean it spells, else as is."""
    if text in ("True", "true", "False", "false"):
        return text in ("True", "true")
    for conv in (int, float):
        try:
            value = conv(text)
        except ValueError:
            continue
        return value if value == value and value not in (float("inf"), float("-inf")) else text
    return text


# ---------------------------------------------------------------------- import mlflow


def model_name(name: str) -> str:
    """An MLflow registered model's name under the registry's name rule (DESIGN.md §6)."""
    out = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
    out = re.sub(r"([-_])[-_]+", r"\1", out).strip("-_")[:40].rstrip("-_")
    return out or "model"


@dataclass(frozen=True)
class Moved:
    model: str
    stage: str
    alias: str
    version: str
    mlflow_version: int


@dataclass(frozen=True)
class ImportReport:
    """What one `import mlflow` did, for the command to print."""

    names: dict[str, str]  # MLflow name → model
    imported: list[tuple[str, int, str]]  # (model, MLflow version, version)
    moved: list[Moved]
    notices: list[str]  # skipped on purpose: unmapped aliases, removed aliases
    failures: list[str]  # not imported: deleted or unreachable artifacts, runs
    already: int  # versions imported by an earlier run


@dataclass
class _State:
    """`models/<model>/mlflow-import.yaml`: MLflow versions and aliases last seen."""

    registered_model: str
    versions: dict[int, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        head = (
            "# Written by `modelreg import mlflow`: which MLflow version each version came\n"
            "# from and where each alias pointed at the last import. Edit it only to re-import.\n"
        )
        return head + dump_yaml(
            {
                "registered_model": self.registered_model,
                "versions": {str(k): v for k, v in sorted(self.versions.items())},
                "aliases": dict(sorted(self.aliases.items())),
            }
        )


def import_mlflow(
    ws: Workspace,
    *,
    tracking_uri: str | None,
    models: Sequence[str] = (),
    alias_map: Mapping[str, str] | None = None,
) -> ImportReport:
    """Import every version of every registered model (or `models`), then current aliases."""
    from modelreg.adapters.mlflow_source import Source

    src = Source(tracking_uri)
    registered = src.registered_models(models)
    names = _names(ws, [m.name for m in registered])
    states = {m.name: _read_state(ws, names[m.name], m.name) for m in registered}
    pending = [
        (mv, names[m.name])
        for m in registered
        for mv in m.versions
        if mv.version not in states[m.name].versions
    ]
    already = sum(len(m.versions) for m in registered) - len(pending)
    report = ImportReport(names, [], [], [], [], already)
    with tempfile.TemporaryDirectory(prefix="modelreg-mlflow-") as tmp:
        for mv, model in sorted(pending, key=lambda p: (p[0].created_at, p[0].name, p[0].version)):
            _import_version(ws, src, mv, model, states[mv.name], Path(tmp), report)
    for m in registered:
        _import_aliases(
            ws, m.name, m.versions, names[m.name], states[m.name], alias_map or {}, report
        )
    with writing(ws.git.git_dir):
        checkpoints.commit_due(ws)  # a stage-event checkpoint, when one is due
    return report


def _names(ws: Workspace, mlflow_names: list[str]) -> dict[str, str]:
    """MLflow name → model: as an earlier import mapped it, else by the name rule; two
    names meeting in one get `-2`, `-3`."""
    earlier: dict[str, str] = {}
    for model in ws.snapshot("HEAD").models() if ws.git.has_commits() else []:
        text = ws.git.show("HEAD", state_path(model))
        data = parse_yaml(text, state_path(model)) if text is not None else None
        name = data.get("registered_model") if isinstance(data, dict) else None
        if isinstance(name, str):
            earlier[name] = model
    taken = set(earlier.values())
    out: dict[str, str] = {}
    for name in mlflow_names:
        if name in earlier:
            out[name] = earlier[name]
            continue
        base = candidate = model_name(name)
        n = 2
        while candidate in taken:
            suffix = f"-{n}"
            candidate = base[: 40 - len(suffix)] + suffix
            n += 1
        taken.add(candidate)
        out[name] = check_name(candidate)
    return out


def _read_state(ws: Workspace, model: str, mlflow_name: str) -> _State:
    # Only committed state counts: a killed import may have left the file edited.
    text = ws.git.show("HEAD", state_path(model)) if ws.git.has_commits() else None
    if text is None:
        return _State(mlflow_name)
    data = parse_yaml(text, state_path(model))
    try:
        return _State(
            registered_model=str(data.get("registered_model") or mlflow_name),
            versions={int(k): str(v) for k, v in (data.get("versions") or {}).items()},
            aliases={str(k): int(v) for k, v in (data.get("aliases") or {}).items()},
        )
    except (TypeError, ValueError, AttributeError):
        raise UsageError(
            f"{state_path(model)}: not an import state (versions: number → version, "
            "aliases: name → number)",
            hint=f"restore it from Git: git checkout HEAD -- {state_path(model)}",
        ) from None


def _import_version(
    ws: Workspace,
    src: Source,
    mv: ModelVersion,
    model: str,
    state: _State,
    tmp: Path,
    report: ImportReport,
) -> None:
    """One MLflow version → one commit, authored by its user at its creation time."""
    from modelreg.adapters.mlflow_source import model_run_id

    uri = f"models:/{mv.name}/{mv.version}"
    try:
        got = src.download(uri, tmp / f"{model}-{mv.version}")
        run_id = mv.run_id or (model_run_id(got) if got.is_dir() else None)
        run = src.run(run_id) if run_id else None
    except ModelregError as exc:
        report.failures.append(f"{mv.name} version {mv.version}: {exc.message}")
        return
    user = mv.user or (run.user if run else None) or identity(ws.git)
    same = _same_bytes(ws, model, state, got)
    if same:  # MLflow registered the same model twice: only the mapping is new
        _map_only(ws, mv, model, state, same, user)
        report.imported.append((model, mv.version, same))
        return
    version = f"v{mv.version}.0.0"
    path = ws.root / state_path(model)
    before = path.read_text() if path.exists() else None
    state.versions[mv.version] = version
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(state.text())
    reg = Registration(
        model=model,
        artifact=got,
        metrics=None,
        version=version,
        message=f"import mlflow: {mv.name} version {mv.version} as {model} {version}",
        fmt=_format(got),
        code_commit=run.code_commit if run else None,
        code_commit_source="mlflow",
        extra_paths=(path,),
        source=_imported(
            run,
            got,
            _lineage(run, got, uri=uri, name=mv.name, version=mv.version),
            created_at=mv.created_at,
            created_by=user,
        ),
    )
    try:
        with authored(ws.git, user, user if "@" in user else "", mv.created_at):
            out = register(ws, reg)
    except ModelregError as exc:
        _restore(path, before)
        del state.versions[mv.version]
        report.failures.append(f"{mv.name} version {mv.version}: {exc.message}")
        return
    report.imported.append((model, mv.version, out.record.version))
    shutil.rmtree(got, ignore_errors=True)


def _same_bytes(ws: Workspace, model: str, state: _State, got: Path) -> str | None:
    """The imported version holding exactly these bytes, if any."""
    from modelreg.adapters.artifacts import md5_of

    if not state.versions:
        return None
    snap = ws.snapshot("HEAD")
    md5 = md5_of(got)
    records = snap.records(model, sorted(set(state.versions.values())))
    return next((v for v, r in sorted(records.items()) if r.artifact.md5 == md5), None)


def _map_only(
    ws: Workspace, mv: ModelVersion, model: str, state: _State, version: str, user: str
) -> None:
    state.versions[mv.version] = version
    (ws.root / state_path(model)).write_text(state.text())
    email = user if "@" in user else ""
    with writing(ws.git.git_dir), authored(ws.git, user, email, mv.created_at):
        commit_paths(
            ws.git,
            [state_path(model)],
            f"import mlflow: {mv.name} version {mv.version} is {model} {version} "
            "(the same artifact)",
        )


def _restore(path: Path, text: str | None) -> None:
    if text is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(text)


def _current_aliases(versions: Sequence[ModelVersion]) -> dict[str, ModelVersion]:
    """alias → version now; a pre-alias registry stage (Production) counts as the alias
    `production` unless a real alias holds that name."""
    out: dict[str, ModelVersion] = {}
    for mv in versions:
        if mv.stage and mv.stage.lower() not in out:
            out[mv.stage.lower()] = mv
    for mv in versions:
        for alias in mv.aliases:
            out[alias] = mv
    return out


def _import_aliases(
    ws: Workspace,
    mlflow_name: str,
    versions: Sequence[ModelVersion],
    model: str,
    state: _State,
    alias_map: Mapping[str, str],
    report: ImportReport,
) -> None:
    """One commit per alias that points elsewhere than at the last import."""
    current = _current_aliases(versions)
    for alias in sorted(set(state.aliases) - set(current)):
        report.notices.append(
            f"{mlflow_name}: alias {alias} was removed in MLflow; the stage it set is kept"
        )
    if not any(state.aliases.get(a) != mv.version for a, mv in current.items()):
        return
    snap = ws.snapshot("HEAD")
    if not snap.has_model(model):
        return
    stages = set(snap.policy(snap.model(model).policy).stage_names)
    for alias, mv in sorted(current.items()):
        if state.aliases.get(alias) == mv.version:
            continue
        stage = alias_map.get(alias) or (alias if alias in stages else None)
        if stage is None:
            report.notices.append(
                f"{mlflow_name}: alias {alias} (version {mv.version}) maps to no stage of "
                f"{model}: skipped (map it with --alias-map {alias}=STAGE)"
            )
            continue
        version = state.versions.get(mv.version)
        if version is None:
            report.failures.append(
                f"{mlflow_name}: alias {alias} points at version {mv.version}, "
                "which was not imported"
            )
            continue
        if stage not in stages:
            raise UsageError(
                f"--alias-map {alias}={stage}: {model}'s policy has no stage {stage}",
                hint="stages: " + ", ".join(sorted(stages)),
            )
        require_stage_files(snap, model)
        _move(ws, model, stage, alias, mv, version, state)
        report.moved.append(Moved(model, stage, alias, version, mv.version))


def _move(
    ws: Workspace,
    model: str,
    stage: str,
    alias: str,
    mv: ModelVersion,
    version: str,
    state: _State,
) -> None:
    """Put `version` in `stage` and note the alias, one commit "imported; time approximate"."""
    state.aliases[alias] = mv.version
    stage_file = ws.root / stage_yaml(model, stage)
    text = render_stage(model, stage, StageAssignment(version))
    paths = [state_path(model)]
    if not stage_file.exists() or stage_file.read_text() != text:
        stage_file.parent.mkdir(parents=True, exist_ok=True)
        stage_file.write_text(text)
        paths.insert(0, stage_yaml(model, stage))
    (ws.root / state_path(model)).write_text(state.text())
    name, email = committer(ws.git)
    when = max(mv.updated_at, _head_date(ws))
    with writing(ws.git.git_dir), authored(ws.git, name, email, when):
        commit_paths(
            ws.git,
            paths,
            f"import mlflow: {model} {stage} → {version} (alias {alias}; {APPROXIMATE})",
        )


def _head_date(ws: Workspace) -> str:
    """HEAD's author date in UTC, so an approximate time never goes back past it."""
    raw = ws.git.run("log", "-1", "--format=%at", "HEAD").strip()
    when = datetime.fromtimestamp(int(raw or 0), tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
