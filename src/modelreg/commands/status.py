"""`modelreg status`: every model × stage → version, as a table or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option

if TYPE_CHECKING:
    from modelreg.registry.status import Status

HEADERS = ["MODEL", "STAGE", "VERSION", "CANARY", "METRICS", "SINCE", "COMMIT", "PR"]


@click.command()
@click.argument("model", required=False)
@click.option(
    "--at",
    default="HEAD",
    show_default=True,
    metavar="REV|DATE",
    help="Show the registry as it was at a revision or date.",
)
@click.option(
    "--all", "all_versions", is_flag=True, help="List every version, not only the latest idle one."
)
@json_option("rows")
def status(model: str | None, at: str, all_versions: bool, as_json: bool) -> None:
    """Every model × stage → version, metrics, since when and through which PR."""
    from modelreg.output import emit
    from modelreg.registry.status import status as run
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        result = run(ws, model=model, at=at, all_versions=all_versions)
        if at != "HEAD":
            as_date = ws.git.resolve(at) is None
            when = ws.git.commit_time(result.rev)
            click.echo(resolved_line(at, result.rev, when, as_date=as_date), err=True)
        emit(result, as_json, text(result))


def text(result: Status) -> str:
    """One aligned row per model × stage."""
    from modelreg.output import day, metrics_text, short, table
    from modelreg.registry.records import version_key

    newest: dict[str, str] = {}
    for r in result.rows:
        if r.model not in newest or version_key(r.version) > version_key(newest[r.model]):
            newest[r.model] = r.version
    rows = [
        [
            r.model,
            r.stage or ("(latest)" if r.version == newest.get(r.model) else "-"),
            r.version + (" (deprecated)" if r.deprecated else ""),
            f"{r.candidate}@{r.weight}%" if r.candidate else "-",
            metrics_text(r.metrics),
            day(r.since),
            short(r.commit),
            r.pr or "-",
        ]
        for r in result.rows
    ]
    return table(HEADERS, rows) if rows else "no models registered yet"


def resolved_line(at: str, rev: str, when: str, *, as_date: bool) -> str:
    """What `--at` resolved to: the commit and its time, and how a date was read."""
    line = f"status at {at}: commit {rev[:12]} of {when}"
    if as_date:
        line += " (the last commit on the first-parent line before that date)"
    return line
