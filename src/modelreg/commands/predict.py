"""`modelreg predict`: batch-score a CSV from a local deployment and log it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option, stage_option

if TYPE_CHECKING:
    from modelreg.registry.workspace import Workspace


@click.command()
@click.argument("model")
@stage_option("Stage whose local deployment scores the rows.", required=True)
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV of rows to score.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="CSV to write: input + prediction + version (default INPUT.predictions.csv).",
)
@click.option(
    "--log",
    "log_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Folder for the prediction log (default .modelreg/logs/MODEL/STAGE).",
)
@click.option(
    "--key",
    help="Column whose hash routes rows (default: model.yaml's entity_key, else a column id).",
)
@click.option(
    "--deploy-dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Deployment folder, as given to `deploy --out` (default .modelreg/deploy).",
)
@json_option("the result")
def predict(
    model: str,
    stage: str,
    input_path: Path,
    output: Path | None,
    log_dir: Path | None,
    key: str | None,
    deploy_dir: Path | None,
    as_json: bool,
) -> None:
    """Batch-score a CSV from a local deployment, split by canary weight, and log it."""
    from modelreg.errors import UsageError
    from modelreg.output import emit
    from modelreg.registry.workspace import Workspace
    from modelreg.serving.predict import describe
    from modelreg.serving.predict import predict as run

    try:
        ws = Workspace.open()
    except UsageError:  # outside a repository: defaults resolve from here
        root = Path.cwd()
    else:
        root = ws.root
        if deploy_dir is None and ws.git.has_commits():
            _known_stage(ws, stage)
    result = run(
        root,
        model=model,
        stage=stage,
        input=input_path,
        output=output,
        log_dir=log_dir,
        key=key,
        deploy_dir=deploy_dir,
    )
    emit(result, as_json, describe(result))


def _known_stage(ws: Workspace, stage: str) -> None:
    """Refuse a stage the registry does not know before suggesting to deploy it."""
    from modelreg.serving.desired import stages

    with ws:
        stages(ws.snapshot(), stage)
