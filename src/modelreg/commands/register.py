"""`modelreg register`: track an artifact with DVC, write its version record, commit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option, trigger_option

if TYPE_CHECKING:
    from modelreg.training.register import Registered


@click.command()
@click.argument("model")
@click.option(
    "--artifact",
    type=click.Path(path_type=Path),
    help="Model file to register (required unless --from-mlflow).",
)
@click.option(
    "--metrics",
    type=click.Path(path_type=Path),
    help="JSON/YAML file of metric name → number (required unless --from-mlflow).",
)
@click.option(
    "--from-mlflow",
    "mlflow_uri",
    metavar="URI",
    help="Register a logged MLflow model with its run's metrics, params and lineage: "
    "runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias> or models:/m-<id>.",
)
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="MLflow tracking store for --from-mlflow (default: MLFLOW_TRACKING_URI).",
)
@click.option(
    "--params", type=click.Path(path_type=Path), help="JSON/YAML file of training parameters."
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="Training data (its DVC pointer or bytes give the digest).",
)
@click.option(
    "--sample",
    type=click.Path(path_type=Path),
    help="CSV sample of inputs; its columns become the signature.",
)
@click.option("--version", "version", help="Exact version, e.g. v1.4.0.")
@click.option(
    "--bump",
    type=click.Choice(["major", "minor", "patch"]),
    default="minor",
    show_default=True,
    help="Bump from the latest version when --version is not given.",
)
@click.option("--message", "-m", help="Commit message and record note.")
@trigger_option("Why this version was trained.")
@click.option("--format", "fmt", help="Artifact format (default from the file extension).")
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    help="What the model does, for a new model.yaml (default: from the estimator).",
)
@click.option(
    "--code-commit",
    metavar="SHA",
    help="Commit of the training code (default: this registry's HEAD, recorded as such).",
)
@click.option(
    "--push",
    is_flag=True,
    help="Also push the commit to origin and the artifact to the DVC remote.",
)
@json_option("the record")
def register(
    model: str,
    artifact: Path | None,
    metrics: Path | None,
    mlflow_uri: str | None,
    tracking_uri: str | None,
    params: Path | None,
    data: Path | None,
    sample: Path | None,
    version: str | None,
    bump: str,
    message: str | None,
    trigger: str,
    fmt: str | None,
    task: str | None,
    code_commit: str | None,
    push: bool,
    as_json: bool,
) -> None:
    """Track an artifact with DVC, write its version record and commit."""
    from modelreg.registry.workspace import Workspace

    if mlflow_uri:
        _only_mlflow_options(
            artifact=artifact, metrics=metrics, params=params, data=data, sample=sample,
            fmt=fmt, code_commit=code_commit,
        )  # fmt: skip
        from modelreg.training.import_mlflow import FromMlflow, register_from_mlflow

        req = FromMlflow(
            model=model,
            uri=mlflow_uri,
            tracking_uri=tracking_uri,
            version=version,
            bump=bump,
            message=message,
            trigger=trigger,
            task=task,
        )
        with Workspace.open() as ws:
            _report(register_from_mlflow(ws, req, push=push), as_json)
        return
    if artifact is None or metrics is None:
        from modelreg.errors import UsageError

        missing = "--artifact" if artifact is None else "--metrics"
        raise UsageError(
            f"{missing} is required", hint="or register from MLflow: --from-mlflow URI"
        )
    if tracking_uri:
        from modelreg.errors import UsageError

        raise UsageError("--tracking-uri goes with --from-mlflow", hint="drop --tracking-uri")
    from modelreg.training.register import Registration
    from modelreg.training.register import register as run

    reg = Registration(
        model=model,
        artifact=artifact,
        metrics=metrics,
        params=params,
        data=data,
        sample=sample,
        version=version,
        bump=bump,
        message=message,
        trigger=trigger,
        fmt=fmt,
        task=task,
        code_commit=code_commit.lower() if code_commit else None,
    )
    with Workspace.open() as ws:
        _report(run(ws, reg, push=push), as_json)


def _only_mlflow_options(**given: object) -> None:
    """--from-mlflow brings the artifact, metrics, params and signature itself."""
    from modelreg.errors import UsageError

    clash = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
    if clash:
        names = ", ".join("--format" if c == "--fmt" else c for c in clash)
        raise UsageError(
            f"{names} cannot be given with --from-mlflow: MLflow's run and model say that",
            hint=f"drop {names}",
        )


def _report(out: Registered, as_json: bool) -> None:
    from modelreg.output import emit

    rec = out.record
    verb = "already registered" if out.already else "registered"
    pushed = " and pushed" if out.pushed else ""
    emit(
        rec,
        as_json,
        f"{verb} {rec.model} {rec.version}{pushed} (md5 {rec.artifact.md5}, "
        f"commit {out.commit[:8]})",
    )
