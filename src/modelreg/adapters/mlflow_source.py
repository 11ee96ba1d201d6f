"""Reading MLflow: logged models, their runs, and a model registry (mlflow-skinny, lazily).

`import mlflow` costs seconds, so only `register --from-mlflow` and `import mlflow` load
this module's client. Everything returned is plain data: the layers above never see an
MLflow object. Failures to reach the tracking store become `ServiceError` (exit 4);
a URI or name MLflow does not know becomes `NotFound`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelreg.errors import NotFound, ServiceError, UsageError

# MLflow column types → the signature types of a version record.
_TYPES = {
    "double": "float",
    "float": "float",
    "long": "int",
    "integer": "int",
    "boolean": "bool",
    "string": "string",
    "datetime": "datetime",
}
_URI = re.compile(
    r"^(?:runs:/(?P<run>[0-9a-f]{32})/(?P<path>.+)"
    r"|models:/(?P<mid>m-[0-9a-f]{32})/?"
    r"|models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)"
    r"|models:/(?P<vname>[^/@]+)/(?P<version>[0-9]+))$"
)
# The file MLflow's client (3.17 and older) adds to a model folder it downloads.
REGISTERED_MODEL_META = "registered_model_meta"
URI_FORMS = (
    "runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias>, models:/m-<id>"
)


@dataclass(frozen=True)
class RunInfo:
    """What a model version's source run says: metrics, params and lineage."""

    run_id: str
    experiment_id: str
    experiment_name: str | None
    start_time: str | None  # ISO 8601, UTC
    user: str | None
    code_commit: str | None  # the run's `mlflow.source.git.commit` tag
    metrics: dict[str, float]
    params: dict[str, str]


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered MLflow model."""

    name: str
    version: int
    source: str  # where its artifact lives (models:/m-…, runs:/…, a path)
    run_id: str | None
    created_at: str  # ISO 8601, UTC
    updated_at: str
    user: str | None
    stage: str | None  # the pre-alias registry stage (Production, Staging), if any
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    versions: tuple[ModelVersion, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Parsed:
    """A model URI taken apart: which of the four forms, and its parts."""

    uri: str
    run_id: str | None = None
    model_id: str | None = None
    name: str | None = None
    version: str | None = None
    alias: str | None = None


def parse_uri(uri: str) -> Parsed:
    """The parts of a model URI; UsageError naming the accepted forms otherwise."""
    m = _URI.match(uri.strip())
    if m is None:
        raise UsageError(f"--from-mlflow {uri}: not a model URI", hint=f"one of {URI_FORMS}")
    return Parsed(
        uri=uri.strip(),
        run_id=m["run"],
        model_id=m["mid"],
        name=m["name"] or m["vname"],
        version=m["version"],
        alias=m["alias"],
    )


@contextlib.contextmanager
def _mlflow_errors(what: str, tracking_uri: str | None) -> Iterator[None]:
    """MLflow's exceptions as ours: unknown things are NotFound, the rest a service error."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"{what}: MLflow is not installed ({exc.name})",
            hint="pip install 'modelreg[mlflow]'",
        ) from None
    except Exception as exc:
        code = str(getattr(exc, "error_code", ""))
        text = _first_line(exc)
        where = f" at {redact(tracking_uri)}" if tracking_uri else ""
        if code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise NotFound(
                f"{what}{where}: {text}", hint="check the name, version or run id"
            ) from None
        if type(exc).__module__.startswith(("mlflow", "requests", "urllib3", "sqlalchemy")) or (
            isinstance(exc, OSError)
        ):
            raise ServiceError(
                f"{what}{where}: {type(exc).__name__}: {text}",
                hint="check --tracking-uri (or MLFLOW_TRACKING_URI) and that the store is up",
            ) from None
        raise


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def redact(uri: str | None) -> str:
    """A tracking URI without a password in it, fit to print."""
    return re.sub(r"//([^/:@]+):[^/@]*@", r"//\1:***@", uri or "")


def _folder_store(uri: str | None) -> bool:
    """Whether a tracking URI names MLflow's older folder store (`./mlruns`, file:…)."""
    if not uri or uri.startswith("databricks"):
        return False
    return uri.startswith("file:") or not re.match(r"^[a-z][a-z0-9+.-]*:", uri)


def _client(tracking_uri: str | None) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if _folder_store(tracking_uri):
        # MLflow 3 refuses to open the older `./mlruns` folder store unless asked to;
        # reading one is exactly what an import from it needs.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow

    if tracking_uri:
        # The registry lives in the tracking store: without this, `models:/` URIs would be
        # looked up in MLflow's default registry (a `mlflow.db` in the current folder).
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


class Source:
    """One tracking store (and its model registry), opened once per command."""

    def __init__(self, tracking_uri: str | None) -> None:
        self.tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        with _mlflow_errors("cannot open the MLflow tracking store", self.tracking_uri):
            self._c = _client(self.tracking_uri)
        self._experiments: dict[str, str | None] = {}

    def download(self, uri: str, dst: Path) -> Path:
        """The artifact folder (or file) at `uri`, downloaded below `dst`; ServiceError or
        NotFound when MLflow cannot produce it (a deleted or unreachable artifact)."""
        import mlflow.artifacts

        dst.mkdir(parents=True, exist_ok=True)
        with _mlflow_errors(f"cannot download {uri}", self.tracking_uri):
            got = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(dst), tracking_uri=self.tracking_uri
            )
        path = Path(got)
        if path.is_dir() and (path / "MLmodel").is_file():
            # MLflow up to 3.17 writes this into every model folder it downloads (the name
            # and version the URI named, or nulls): not the logged model's bytes, and it
            # would give one logged model a different hash for each way of naming it.
            (path / REGISTERED_MODEL_META).unlink(missing_ok=True)
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            raise NotFound(f"{uri}: MLflow returned no files", hint="was the artifact deleted?")
        return path

    def run_id_of(self, parsed: Parsed) -> str | None:
        """The run that logged the model a URI names, asked of the registry if needed."""
        if parsed.run_id:
            return parsed.run_id
        with _mlflow_errors(f"cannot resolve {parsed.uri}", self.tracking_uri):
            if parsed.model_id:
                return str(self._c.get_logged_model(parsed.model_id).source_run_id or "") or None
            if parsed.alias:
                mv = self._c.get_model_version_by_alias(parsed.name, parsed.alias)
            else:
                mv = self._c.get_model_version(parsed.name, parsed.version)
        return str(mv.run_id) if mv.run_id else None

    def version_of(self, parsed: Parsed) -> str | None:
        """The registered version number a `models:/<name>@<alias>` URI resolves to now."""
        if parsed.version or not parsed.alias:
            return parsed.version
        with _mlflow_errors(f"cannot resolve {parsed.uri}", self.tracking_uri):
            return str(self._c.get_model_version_by_alias(parsed.name, parsed.alias).version)

    def run(self, run_id: str) -> RunInfo:
        """The run's metrics (latest values), params and lineage."""
        with _mlflow_errors(f"cannot read run {run_id}", self.tracking_uri):
            run = self._c.get_run(run_id)
            exp = run.info.experiment_id
            if exp not in self._experiments:
                found = self._c.get_experiment(exp)
                self._experiments[exp] = found.name if found else None
        tags = run.data.tags
        commit = str(tags.get("mlflow.source.git.commit") or "").lower()
        return RunInfo(
            run_id=run_id,
            experiment_id=str(exp),
            experiment_name=self._experiments[exp],
            start_time=iso(run.info.start_time) if run.info.start_time else None,
            user=run.info.user_id or tags.get("mlflow.user") or None,
            code_commit=commit if re.fullmatch(r"[0-9a-f]{7,40}", commit) else None,
            metrics={str(k): float(v) for k, v in run.data.metrics.items()},
            params={str(k): str(v) for k, v in run.data.params.items()},
        )

    def registered_models(self, names: Sequence[str] = ()) -> list[RegisteredModel]:
        """Every registered model (or the named ones) with every version, oldest first."""
        with _mlflow_errors("cannot list the MLflow model registry", self.tracking_uri):
            wanted = list(names) or sorted(m.name for m in _pages(self._c.search_registered_models))
            return [self._registered(name) for name in wanted]

    def _registered(self, name: str) -> RegisteredModel:
        model = self._c.get_registered_model(name)  # NotFound for a name MLflow lacks
        aliases: dict[int, list[str]] = {}
        for alias, version in (getattr(model, "aliases", None) or {}).items():
            aliases.setdefault(int(version), []).append(str(alias))
        found = _pages(self._c.search_model_versions, filter_string=f"name = '{_quote(name)}'")
        versions = sorted(
            (_version(mv, tuple(sorted(aliases.get(int(mv.version), [])))) for mv in found),
            key=lambda v: v.version,
        )
        return RegisteredModel(name=name, versions=tuple(versions))


def _pages(search: Any, **kwargs: Any) -> list[Any]:
    """Every result of a paged MLflow search."""
    out: list[Any] = []
    token = None
    while True:
        page = search(
            max_results=1000 if "filter_string" not in kwargs else 10000, page_token=token, **kwargs
        )
        out += list(page)
        token = getattr(page, "token", None)
        if not token:
            return out


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


def _version(mv: Any, aliases: tuple[str, ...]) -> ModelVersion:
    stage = str(mv.current_stage or "")
    return ModelVersion(
        name=str(mv.name),
        version=int(mv.version),
        source=str(mv.source),
        run_id=str(mv.run_id) if mv.run_id else None,
        created_at=iso(mv.creation_timestamp),
        updated_at=iso(mv.last_updated_timestamp or mv.creation_timestamp),
        user=str(mv.user_id) if mv.user_id else None,
        stage=stage if stage and stage not in ("None", "Archived") else None,
        aliases=aliases,
    )


def iso(millis: int) -> str:
    """MLflow's epoch milliseconds as ISO 8601 UTC, to the second."""
    when = datetime.fromtimestamp(int(millis) / 1000, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def signature(folder: Path) -> dict[str, Any] | None:
    """A version record's signature from the `MLmodel` file's column-based signature.

    Tensor signatures and column types without a counterpart (binary) give none: a
    partial signature would claim features the model does not have.
    """
    import yaml

    try:
        spec = yaml.safe_load((folder / "MLmodel").read_text())
        sig = spec.get("signature") if isinstance(spec, dict) else None
        inputs = json.loads(sig["inputs"]) if isinstance(sig, dict) and sig.get("inputs") else None
        outputs = json.loads(sig["outputs"]) if sig and sig.get("outputs") else None
    except (OSError, yaml.YAMLError, ValueError, TypeError):
        return None
    cols = _columns(inputs)
    if not cols:
        return None
    out: dict[str, Any] = {"inputs": cols}
    outs = _columns(outputs)
    if outs and len(outs) == 1:
        out["output"] = outs[0]
    return out


def _columns(spec: Any) -> list[dict[str, str]] | None:
    if not isinstance(spec, list) or not spec:
        return None
    cols = []
    for i, col in enumerate(spec):
        kind = _TYPES.get(str(col.get("type"))) if isinstance(col, Mapping) else None
        if kind is None:
            return None
        cols.append({"name": str(col.get("name") or f"input_{i}"), "type": kind})
    return cols


def model_run_id(folder: Path) -> str | None:
    """The `run_id` an MLmodel file names, if any."""
    import yaml

    try:
        spec = yaml.safe_load((folder / "MLmodel").read_text())
    except (OSError, yaml.YAMLError):
        return None
    run = spec.get("run_id") if isinstance(spec, dict) else None
    return str(run) if run else None
