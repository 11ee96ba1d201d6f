"""`modelreg add-batch`: add a batch of labelled rows to a model's training data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from modelreg.commands._options import json_option


@click.command("add-batch")
@click.argument("model")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", metavar="NAME", help="The batch's name (default: the next batch-NNNN).")
@click.option("--push/--no-push", default=True, show_default=True, help="Push the rows to DVC.")
@json_option("the batch added")
def add_batch(model: str, file: Path, name: str | None, push: bool, as_json: bool) -> None:
    """Add a batch of labelled rows to a model's training data (DVC), one commit."""
    from modelreg.output import emit
    from modelreg.registry.workspace import Workspace
    from modelreg.training.examples import add_batch_commit

    with Workspace.open() as ws:
        added = add_batch_commit(ws, model, file.resolve(), name, push=push)
    rows = "1 row" if added.rows == 1 else f"{added.rows} rows"
    text = (
        f"added {added.batch} ({rows}) to {added.folder} in commit {added.commit[:8]}\n"
        f"next: modelreg train {model} --register"
    )
    emit(dataclasses.asdict(added), as_json, text)
