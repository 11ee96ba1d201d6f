"""The MLflow target: registry aliases that follow the stage files, so MLflow serving keeps
working while Git stays the source of truth.

Each stage is an alias (`models:/churn@production`) on the registered model of the same
name; a canary's candidate is the alias `<stage>-candidate`, its weight the registered
model's tag `modelreg.<stage>.candidate_weight`. A version Git serves is found in MLflow by
the tags deploy puts on the model versions it creates (`modelreg.version`,
`modelreg.sha256`, `modelreg.md5`), so a re-run never creates a second one. When none is
there, the artifact is fetched through DVC, verified against its record and deserialised by
the one verified loader, then saved as an MLflow sklearn model and registered: MLflow never
receives bytes the registry did not vouch for. Aliases that deploy did not set (on versions
without its tags) are never removed.

MLflow is imported only here and only when this target runs (it takes seconds).
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from modelreg.adapters import artifacts
from modelreg.adapters.git import first_line
from modelreg.errors import ModelregError, ServiceError, UsageError
from modelreg.registry.records import VersionRecord
from modelreg.registry.snapshot import Snapshot, version_yaml
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
from modelreg.serving.manifest import Share, place

# Tags on the MLflow model versions deploy creates: how a re-run finds them again.
TAG_VERSION = "modelreg.version"
TAG_SHA256 = "modelreg.sha256"
TAG_MD5 = "modelreg.md5"
TAG_MODEL = "modelreg.model"
TAG_COMMIT = "modelreg.commit"  # the commit whose stage files first asked for it
EXPERIMENT = "modelreg-deploy"  # where the runs that hold the wrapped artifacts go
CANDIDATE_SUFFIX = "-candidate"
HINT = "refusing to deploy to MLflow; re-register or fix the DVC remote"


def candidate_alias(stage: str) -> str:
    return stage + CANDIDATE_SUFFIX


def weight_tag(stage: str) -> str:
    """The registered model's tag holding a running canary's weight in `stage`."""
    return f"modelreg.{stage}.candidate_weight"


def shown_uri(uri: str) -> str:
    """A tracking URI without the user name and password it may carry."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def tracking_uri(given: str | None) -> str:
    """`--tracking-uri`, else MLFLOW_TRACKING_URI: never MLflow's default folder, which would
    quietly create a new, empty store in the current directory."""
    uri = given or os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        raise UsageError(
            "--target mlflow needs the MLflow tracking server or store",
            hint="pass --tracking-uri URI (e.g. http://mlflow:5000 or sqlite:///mlflow.db) "
            "or set MLFLOW_TRACKING_URI",
        )
    return uri


@dataclass(frozen=True)
class Found:
    """One MLflow model version as deploy sees it."""

    number: str
    tags: Mapping[str, str]

    def share(self, role: str, weight: int) -> Share:
        version = self.tags.get(TAG_VERSION) or f"mlflow version {self.number}"
        return Share(version=version, weight=weight, role=role, md5=self.tags.get(TAG_MD5, ""))

    def serves(self, record: VersionRecord) -> bool:
        """Whether this MLflow version holds exactly what `record` vouches for."""
        art = record.artifact
        if self.tags.get(TAG_VERSION) != record.version or self.tags.get(TAG_MD5) != art.md5:
            return False
        return not art.sha256 or self.tags.get(TAG_SHA256) == art.sha256


class Registry:
    """The MLflow model registry, read once per deploy and written through one client."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        with _mlflow_errors(uri):
            tracking = importlib.import_module("mlflow.tracking")
            # the registry lives in the tracking store unless MLFLOW_REGISTRY_URI says
            # otherwise: never in whatever registry this process was pointed at before
            registry = os.environ.get("MLFLOW_REGISTRY_URI") or uri
            self.client: Any = tracking.MlflowClient(tracking_uri=uri, registry_uri=registry)
        self._models: dict[str, Any] = {}
        self._versions: dict[str, list[Found]] = {}

    def model(self, name: str) -> Any:
        """The registered model (with its aliases and tags), or None."""
        if name not in self._models:
            with _mlflow_errors(self.uri):
                try:
                    self._models[name] = self.client.get_registered_model(name)
                except Exception as exc:
                    if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
                        raise
                    self._models[name] = None
        return self._models[name]

    def aliases(self, name: str) -> dict[str, str]:
        found = self.model(name)
        return {str(k): str(v) for k, v in (found.aliases if found else {}).items()}

    def tags(self, name: str) -> dict[str, str]:
        found = self.model(name)
        return dict(found.tags) if found else {}

    def versions(self, name: str) -> list[Found]:
        """Every version of a registered model, with its tags (all pages)."""
        if name not in self._versions:
            out: list[Found] = []
            if self.model(name) is not None:
                token = None
                with _mlflow_errors(self.uri):
                    while True:
                        page = self.client.search_model_versions(
                            f"name='{name}'", max_results=1000, page_token=token
                        )
                        out += [Found(str(v.version), dict(v.tags)) for v in page]
                        token = page.token
                        if not token:
                            break
            self._versions[name] = out
        return self._versions[name]

    def by_number(self, name: str, number: str) -> Found | None:
        return next((f for f in self.versions(name) if f.number == number), None)

    def find(self, record: VersionRecord) -> Found | None:
        """The MLflow version deploy made from `record` earlier (the newest, if several)."""
        found = [f for f in self.versions(record.model) if f.serves(record)]
        return max(found, key=lambda f: int(f.number), default=None)

    def forget(self, name: str) -> None:
        self._models.pop(name, None)
        self._versions.pop(name, None)


@contextmanager
def _mlflow_errors(uri: str) -> Iterator[None]:
    """An MLflow client failure as exit 4 (an outside service refused), one line."""
    try:
        yield
    except ModelregError:
        raise
    except Exception as exc:
        if type(exc).__name__ != "MlflowException" and not isinstance(exc, OSError):
            raise
        raise ServiceError(
            f"MLflow at {shown_uri(uri)}: {first_line(exc)}",
            hint="check --tracking-uri and that the tracking server is up; re-run deploy",
        ) from exc


# -- what is there, what should be ----------------------------------------------------


def current(reg: Registry, model: str, stage: str) -> tuple[Share, ...]:
    """The versions MLflow's aliases serve for `model` in `stage`, as deploy would write them."""
    aliases = reg.aliases(model)
    stable = aliases.get(stage)
    if stable is None:
        return ()
    cand = aliases.get(candidate_alias(stage))
    stable_found = reg.by_number(model, stable) or Found(stable, {})
    if cand is None:
        return (stable_found.share("stable", 100),)
    try:
        weight = int(reg.tags(model).get(weight_tag(stage), ""))
    except ValueError:
        weight = 0  # no weight deploy wrote: never equal to a desired share
    cand_found = reg.by_number(model, cand) or Found(cand, {})
    return (stable_found.share("stable", 100 - weight), cand_found.share("candidate", weight))


def _ours(reg: Registry, model: str, stage: str) -> bool:
    """Whether the stage's alias points at a version deploy made (so deploy may move it)."""
    number = reg.aliases(model).get(stage)
    found = reg.by_number(model, number) if number else None
    return found is not None and TAG_VERSION in found.tags


def plans(reg: Registry, snap: Snapshot, stage: str, desired: Desired) -> list[ModelPlan]:
    """One plan per model that serves in `stage` in Git or (by deploy's doing) in MLflow."""
    out = []
    for model in sorted(set(desired) | set(snap.models())):
        wants = desired.get(model, ())
        if not wants and not _ours(reg, model, stage):
            continue
        have, want = current(reg, model, stage), tuple(w.share() for w in wants)
        missing = [w.record.version for w in wants if reg.find(w.record) is None]
        note = f"registers {', '.join(missing)} in MLflow" if missing else None
        out.append(ModelPlan(model, action(have, want), have, want, note))
    return out


def reconcile(
    ws: Workspace, snap: Snapshot, stage: str, desired: Desired, plan: bool, reg: Registry
) -> StageResult:
    """Point `stage`'s aliases at what Git serves (or, with `plan`, only say what moves)."""
    assert snap.rev is not None
    _check_alias(stage)
    todo = plans(reg, snap, stage, desired)
    changed = any(p.action != "unchanged" for p in todo)
    if changed and not plan:
        moving = [p.model for p in todo if p.action != "unchanged"]
        needed = [w for m in moving for w in desired.get(m, ())]
        numbers = register_missing(ws, snap.rev, reg, needed)
        for model in moving:
            _set_aliases(reg, model, stage, desired.get(model, ()), numbers)
    where = shown_uri(reg.uri)
    return StageResult(stage, "mlflow", where, snap.rev, changed, changed and not plan, tuple(todo))


def _check_alias(stage: str) -> None:
    """MLflow refuses `latest` and `v<digits>` as aliases (they name versions there)."""
    import re

    if stage == "latest" or re.fullmatch(r"v\d+", stage):
        raise UsageError(
            f"stage {stage!r} cannot be an MLflow alias (MLflow reserves 'latest' and v<N>)",
            hint="deploy the other stages with --stage, or rename the stage",
        )


# -- writing --------------------------------------------------------------------------


def register_missing(
    ws: Workspace, rev: str, reg: Registry, wants: Sequence[Want]
) -> dict[tuple[str, str], str]:
    """(model, version) → MLflow version number, creating what MLflow lacks.

    Every missing artifact is fetched and verified before anything is written to MLflow.
    """
    numbers: dict[tuple[str, str], str] = {}
    missing: list[VersionRecord] = []
    for w in wants:
        found = reg.find(w.record)
        if found is not None:
            numbers[(w.model, w.record.version)] = found.number
        elif all(r.version != w.record.version or r.model != w.model for r in missing):
            missing.append(w.record)
    if not missing:
        return numbers
    with tempfile.TemporaryDirectory(prefix="modelreg-mlflow-") as tmp:
        folders = [_wrapped(ws, rev, rec, Path(tmp) / str(i)) for i, rec in enumerate(missing)]
        for rec, folder in zip(missing, folders, strict=True):
            numbers[(rec.model, rec.version)] = _create_version(reg, rev, rec, folder)
    return numbers


def _wrapped(ws: Workspace, rev: str, record: VersionRecord, into: Path) -> Path:
    """The verified artifact of `record`, loaded by the verified loader and saved as an
    MLflow sklearn model folder under `into`."""
    fmt = record.artifact.format
    if fmt in artifacts.MLFLOW_FORMATS:
        return _mlflow_folder(ws, rev, record, into / "model")
    data = fetch_verified(ws, rev, record)
    file = into / "artifact" / (Path(record.artifact.path).name or "artifact")
    place(file, data)
    obj = artifacts.load(file, expected(record), hint=HINT)
    sklearn = importlib.import_module("mlflow.sklearn")
    skops = fmt in artifacts.SKOPS_FORMATS or (not fmt and file.suffix == ".skops")
    options: dict[str, Any] = {
        # pinned, not inferred: inferring runs the model in a subprocess for seconds
        "pip_requirements": sklearn.get_default_pip_requirements(include_skops=skops),
        # a pickle stays a pickle: skops would refuse on load the types it does not know
        "serialization_format": "skops" if skops else "pickle",
        "metadata": {"modelreg_version": record.version, "modelreg_sha256": _sha(record)},
    }
    if skops:
        sio = importlib.import_module("skops.io")
        options["skops_trusted_types"] = sio.get_untrusted_types(data=data)
    out = into / "model"
    try:
        sklearn.save_model(obj, str(out), **options)
    except Exception as exc:  # whatever the object's own serialisation raises
        raise UsageError(
            f"{version_yaml(record.model, record.version)}: cannot save it as an MLflow "
            f"sklearn model: {type(exc).__name__}: {first_line(exc)}",
            hint="MLflow's sklearn flavor takes scikit-learn estimators and pipelines",
        ) from exc
    return out


def _mlflow_folder(ws: Workspace, rev: str, record: VersionRecord, out: Path) -> Path:
    """A version recorded as a whole MLflow model folder: fetched and verified (its `.dir`
    md5 and SHA-256), then logged as it is. It must be one: an `MLmodel` file at its top."""
    if not artifacts.is_folder(expected(record)):
        raise UsageError(
            f"{version_yaml(record.model, record.version)}: artifact.format: 'mlflow' but "
            f"artifact.md5 {record.artifact.md5} is not a folder's",
            hint="an mlflow artifact is the whole model folder; re-register it",
        )
    fetch_folder_verified(ws, rev, record, out)
    if not (out / "MLmodel").is_file():
        raise UsageError(
            f"{record.artifact.path}: no MLmodel file: not an MLflow model folder",
            hint="register the whole folder mlflow's log_model or save_model wrote",
        )
    return out


def _sha(record: VersionRecord) -> str:
    return record.artifact.sha256 or ""


def _create_version(reg: Registry, rev: str, record: VersionRecord, folder: Path) -> str:
    """A run holding the wrapped model, then a model version tagged to be found again."""
    client = reg.client
    with _mlflow_errors(reg.uri):
        exp = client.get_experiment_by_name(EXPERIMENT)
        exp_id = exp.experiment_id if exp else client.create_experiment(EXPERIMENT)
        tags = {
            TAG_MODEL: record.model,
            TAG_VERSION: record.version,
            TAG_MD5: record.artifact.md5,
            TAG_SHA256: _sha(record),
            TAG_COMMIT: rev,
        }
        run = client.create_run(exp_id, run_name=f"{record.model}-{record.version}", tags=tags)
        run_id = run.info.run_id
        client.log_artifacts(run_id, str(folder), "model")
        client.set_terminated(run_id)
        if reg.model(record.model) is None:
            client.create_registered_model(record.model)
        mv = client.create_model_version(
            record.model, f"{run.info.artifact_uri}/model", run_id=run_id, tags=tags
        )
    reg.forget(record.model)
    return str(mv.version)


def _set_aliases(
    reg: Registry,
    model: str,
    stage: str,
    wants: Sequence[Want],
    numbers: Mapping[tuple[str, str], str],
) -> None:
    """Set (or, when the model left the stage, remove) the stage's aliases and weight tag."""
    client, cand = reg.client, candidate_alias(stage)
    have = reg.aliases(model)
    number = [numbers[(model, w.record.version)] for w in wants]
    with _mlflow_errors(reg.uri):
        if not wants:
            for alias in (stage, cand):
                if alias in have:
                    client.delete_registered_model_alias(model, alias)
        else:
            client.set_registered_model_alias(model, stage, number[0])
            if len(wants) > 1:
                client.set_registered_model_tag(model, weight_tag(stage), str(wants[1].weight))
                client.set_registered_model_alias(model, cand, number[1])
            elif cand in have:
                client.delete_registered_model_alias(model, cand)
        if (not wants or len(wants) == 1) and weight_tag(stage) in reg.tags(model):
            client.delete_registered_model_tag(model, weight_tag(stage))
    reg.forget(model)
