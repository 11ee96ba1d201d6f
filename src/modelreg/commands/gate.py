"""`modelreg gate`: evaluate a stage's gates for a version; exit 1 if any fails."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from modelreg.commands._options import format_option, stage_option

if TYPE_CHECKING:
    from modelreg.promotion.gate_runs import Evaluator
    from modelreg.registry.records import Comparison, VersionRecord
    from modelreg.registry.workspace import Workspace


@click.command()
@click.argument("model")
@click.argument("version")
@stage_option("Stage the version would enter.", required=True)
@click.option(
    "--base",
    metavar="REF",
    help="Where the current state is read (default: origin's default branch).",
)
@format_option()
def gate(model: str, version: str, stage: str, base: str | None, fmt: str) -> None:
    """Evaluate the policy's gates for VERSION entering a stage; exit 1 if any fails."""
    from modelreg.promotion.gate_runs import gate_version
    from modelreg.promotion.gates import render
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        ref = ws.base(base)
        report = gate_version(
            ws, model=model, version=version, stage=stage, base=ref, evaluator=_paired(ws, ref)
        )
    click.echo(render(report, fmt))
    sys.exit(0 if report.passed else 1)


def _paired(ws: Workspace, ref: str) -> Evaluator:
    """Scores both versions on the candidate's holdout (`compare: paired`), loaded on use."""

    def run(candidate: VersionRecord, current: VersionRecord) -> Comparison:
        from modelreg.training.paired import evaluator

        return evaluator(ws, ref)(candidate, current)

    return run
