"""`modelreg history`: the audit trail of a model's stages, from Git."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option, stage_option

if TYPE_CHECKING:
    from modelreg.registry.history import StageEvent

HEADERS = ["DATE", "STAGE", "CHANGE", "FROM", "TO", "CANARY", "COMMIT", "AUTHOR", "PR"]


@click.command()
@click.argument("model")
@stage_option("Only this stage.")
@json_option("events")
def history(model: str, stage: str | None, as_json: bool) -> None:
    """The audit trail from Git: every stage change with commit, author, date and PR."""
    from modelreg.output import emit
    from modelreg.registry.status import history as run
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        events = run(ws, model=model, stage=stage)
        emit(events, as_json, text(events) or f"no stage changes for {model} yet")


def text(events: Sequence[StageEvent]) -> str:
    """One aligned row per stage change (empty when there is none)."""
    from modelreg.output import day, short, table

    rows = [
        [
            day(e.date),
            e.stage,
            e.kind,
            e.previous or "-",
            e.version or "-",
            f"{e.candidate}@{e.weight}%" if e.candidate else "-",
            short(e.commit),
            e.author,
            e.pr or "-",
        ]
        for e in events
    ]
    return table(HEADERS, rows) if rows else ""
