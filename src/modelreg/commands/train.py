"""`modelreg train`: run a model's DVC pipeline, optionally register the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option, trigger_option

if TYPE_CHECKING:
    from modelreg.training.train import TrainResult


@click.command()
@click.argument("model")
@click.option(
    "--register",
    "do_register",
    is_flag=True,
    help="Register the output as a version, committed with the pipeline as it ran.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a value in the pipeline's params.yaml first, e.g. train.C=0.5 (repeatable).",
)
@trigger_option("Why this version was trained (recorded with it).")
@click.option(
    "--window",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Train on the last DAYS days of data (sets prepare.window_days; 0 = all).",
)
@click.option("--message", "-m", help="Commit message and record note.")
@click.option(
    "--push", is_flag=True, help="With --register: push data, outputs, artifact and commit."
)
@json_option("the result")
def train(
    model: str,
    do_register: bool,
    sets: tuple[str, ...],
    trigger: str,
    window: int | None,
    message: str | None,
    push: bool,
    as_json: bool,
) -> None:
    """Run the model's DVC pipeline (cached stages are reused); optionally register it."""
    from modelreg.output import emit
    from modelreg.registry.workspace import Workspace
    from modelreg.training.train import train as run

    with Workspace.open() as ws:
        out = run(
            ws,
            model=model,
            register=do_register,
            sets=sets,
            trigger=trigger,
            window_days=window,
            message=message,
            push=push,
        )
    emit(out, as_json, text(out))


def text(out: TrainResult) -> str:
    """The stages run, the metrics, what was registered and what is left uncommitted."""
    from modelreg.output import metrics_text

    ran = ", ".join(out.stages_run) or "none (every stage was up to date)"
    numbers = {k: v for k, v in out.metrics.items() if k != "dataset"}
    lines = [
        f"stages run: {ran}",
        f"metrics ({out.metrics.get('dataset', '?')}): " + metrics_text(numbers),
    ]
    reg = out.registered
    if reg is not None and reg.already:
        lines.append(f"already registered as {out.model} {reg.record.version} (same model bytes)")
    elif reg is not None:
        rec = reg.record
        pushed = " and pushed" if reg.pushed else ""
        lines.append(
            f"registered {out.model} {rec.version}{pushed} (parent {rec.parent or '-'}, "
            f"commit {reg.commit[:8]})"
        )
    if out.uncommitted:
        lines.append(
            "not committed: "
            + ", ".join(out.uncommitted)
            + (" (commit them, or re-run with --register)" if reg is None else "")
        )
    return "\n".join(lines)
