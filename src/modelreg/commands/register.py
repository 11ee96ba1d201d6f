"""`modelreg register`: track an artifact with DVC, write its version record, commit."""

from __future__ import annotations

from pathlib import Path

import click

from modelreg.commands._options import json_option, trigger_option


@click.command()
@click.argument("model")
@click.option(
    "--artifact", required=True, type=click.Path(path_type=Path), help="Model file to register."
)
@click.option(
    "--metrics",
    required=True,
    type=click.Path(path_type=Path),
    help="JSON/YAML file of metric name → number.",
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
    artifact: Path,
    metrics: Path,
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
    from modelreg.output import emit
    from modelreg.registry.workspace import Workspace
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
        out = run(ws, reg, push=push)
    rec = out.record
    verb = "already registered" if out.already else "registered"
    pushed = " and pushed" if out.pushed else ""
    emit(
        rec,
        as_json,
        f"{verb} {rec.model} {rec.version}{pushed} (md5 {rec.artifact.md5}, "
        f"commit {out.commit[:8]})",
    )
