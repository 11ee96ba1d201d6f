"""`modelreg deploy`: reconcile the desired state at HEAD into a serving target."""

from __future__ import annotations

from pathlib import Path

import click

from modelreg.commands._options import json_option, stage_option


@click.command()
@stage_option("Only this stage (default: every stage).")
@click.option(
    "--target",
    type=click.Choice(["local", "kserve", "mlflow"]),
    default="local",
    show_default=True,
    help="local: a deployment folder with manifest.json; kserve: InferenceService YAML; "
    "mlflow: MLflow registry aliases (models:/MODEL@STAGE).",
)
@click.option("--plan", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Base folder; each stage goes to DIR/STAGE (default .modelreg/deploy or deploy/kserve).",
)
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="MLflow tracking server or store for --target mlflow (default: MLFLOW_TRACKING_URI).",
)
@json_option("the result")
def deploy(
    stage: str | None,
    target: str,
    plan: bool,
    out: Path | None,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Reconcile the desired state at HEAD: fetch with DVC, verify md5, render the target."""
    from modelreg.output import emit
    from modelreg.registry.workspace import Workspace
    from modelreg.serving.deploy import deploy as run
    from modelreg.serving.deploy import describe

    with Workspace.open() as ws:
        result = run(ws, stage=stage, target=target, plan=plan, out=out, tracking_uri=tracking_uri)
    emit(result, as_json, describe(result))
