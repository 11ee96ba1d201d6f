"""`modelreg example`: scaffold a model's DVC pipeline on bundled data or your own."""

from __future__ import annotations

import os
from pathlib import Path

import click

from modelreg.errors import UsageError


@click.command()
@click.argument("model")
@click.option(
    "--kind",
    type=click.Choice(["classifier", "regressor"]),
    help="Bundled data: classifier (breast cancer) or regressor (diabetes).",
)
@click.option(
    "--data",
    "data_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Your own labelled table (CSV, JSON Lines or Parquet) instead of bundled data.",
)
@click.option("--target", metavar="COLUMN", help="With --data: the label column.")
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    help="With --data: what to learn (default: read from the label column).",
)
@click.option("--owner", metavar="@HANDLE", help="Owner in model.yaml (default: your git e-mail).")
@click.option("--policy", default="default", show_default=True, help="Policy for the model.")
@click.option(
    "--batches",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Number of timestamped batch files the bundled data is split into.",
)
@click.option(
    "--data-dir",
    metavar="PATH",
    help="Folder inside the repository for the data batches (default: data/MODEL/batches).",
)
def example(
    model: str,
    kind: str | None,
    data_file: Path | None,
    target: str | None,
    task: str | None,
    owner: str | None,
    policy: str,
    batches: int,
    data_dir: str | None,
) -> None:
    """Scaffold a model's DVC pipeline, data batches and model.yaml, one commit."""
    from modelreg.registry.workspace import Workspace
    from modelreg.training import examples

    _check_choice(kind, data_file, target, task)
    # A path as typed: relative to where the user stands, like every path option.
    folder = os.path.abspath(data_dir) if data_dir else None
    with Workspace.open() as ws:
        if data_file is not None and target is not None:
            out = examples.create_from_data(
                ws,
                model=model,
                data=Path(os.path.abspath(data_file)),
                target=target,
                task=task,
                owner=owner,
                policy=policy,
                data_dir=folder,
            )
        else:
            out = examples.create(
                ws,
                model=model,
                kind=kind or "",
                owner=owner,
                policy=policy,
                batches=batches,
                data_dir=folder,
            )
    click.echo(
        f"scaffolded {out.kind} {model} in commit {out.commit[:8]}: pipelines/{model}, "
        f"{out.data} (DVC), models/{model}/model.yaml\n"
        f"next: modelreg train {model} --register"
    )


def _check_choice(
    kind: str | None, data_file: Path | None, target: str | None, task: str | None
) -> None:
    if kind is not None and data_file is not None:
        raise UsageError("--kind and --data exclude each other", hint="bundled data or yours")
    if data_file is not None and target is None:
        raise UsageError(f"--data {data_file}: which column is the label?", hint="--target COLUMN")
    if data_file is None and (target is not None or task is not None):
        raise UsageError("--target and --task go with --data FILE")
    if kind is None and data_file is None:
        raise UsageError(
            "what data?", hint="--data FILE --target COLUMN, or --kind classifier|regressor"
        )
