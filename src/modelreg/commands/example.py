"""`modelreg example`: scaffold an example model with its pipeline and data."""

from __future__ import annotations

import os

import click


@click.command()
@click.argument("model")
@click.option(
    "--kind",
    type=click.Choice(["classifier", "regressor"]),
    required=True,
    help="classifier: breast-cancer data; regressor: diabetes data (both bundled).",
)
@click.option("--owner", metavar="@HANDLE", help="Owner in model.yaml (default: your git e-mail).")
@click.option("--policy", default="default", show_default=True, help="Policy for the model.")
@click.option(
    "--batches",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Number of timestamped batch files the data is split into.",
)
@click.option(
    "--data-dir",
    metavar="PATH",
    help="Folder inside the repository for the data batches (default: data/MODEL/batches).",
)
def example(
    model: str, kind: str, owner: str | None, policy: str, batches: int, data_dir: str | None
) -> None:
    """Scaffold an example model: DVC pipeline, data batches and model.yaml, one commit."""
    from modelreg.registry.workspace import Workspace
    from modelreg.training.examples import create

    with Workspace.open() as ws:
        out = create(
            ws,
            model=model,
            kind=kind,
            owner=owner,
            policy=policy,
            batches=batches,
            # A path as typed: relative to where the user stands, like every path option.
            data_dir=os.path.abspath(data_dir) if data_dir else None,
        )
    click.echo(
        f"scaffolded {kind} {model} in commit {out.commit[:8]}: pipelines/{model}, "
        f"{out.data} (DVC), models/{model}/model.yaml\n"
        f"next: modelreg train {model} --register"
    )
