"""`modelreg add-batch`: add a batch of labelled rows to a model's training data."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("add-batch")
@click.argument("model")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", metavar="NAME", help="The batch's name (default: the next batch-NNNN).")
@click.option("--push/--no-push", default=True, show_default=True, help="Push the rows to DVC.")
def add_batch(model: str, file: Path, name: str | None, push: bool) -> None:
    """Add a batch of labelled rows to a model's training data (DVC), one commit."""
    from modelreg.registry.workspace import Workspace
    from modelreg.training.examples import add_batch_commit

    with Workspace.open() as ws:
        added = add_batch_commit(ws, model, file.resolve(), name, push=push)
    click.echo(
        f"added {added.batch} ({added.rows} rows) to {added.folder} in commit "
        f"{added.commit[:8]}\nnext: modelreg train {model} --register"
    )
