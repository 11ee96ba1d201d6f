"""`modelreg show`: one version in full."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option, repo_option

if TYPE_CHECKING:
    from modelreg.promotion.inspect import Shown


@click.command()
@click.argument("ref", metavar="MODEL[@VERSION|@STAGE]")
@click.option("--at", default="HEAD", show_default=True, help="Read the registry at this revision.")
@repo_option()
@json_option("the version")
def show(ref: str, at: str, repo: str | None, as_json: bool) -> None:
    """One version in full: record, where it serves and served, next stage's gates."""
    from modelreg.output import to_json
    from modelreg.promotion.inspect import show as run
    from modelreg.registry.source import open_source

    with open_source(repo) as source:
        shown = run(source.ws.snapshot(at), ref)
    click.echo(to_json(shown.to_dict()) if as_json else text(shown))


def text(shown: Shown) -> str:
    """The version for a person to read."""
    from modelreg.promotion.gates import render

    r = shown.record
    a = r.artifact
    lines = [
        f"{r.model} {r.version}"
        + (
            f" (deprecated: {shown.deprecated or 'no reason'})"
            if shown.deprecated is not None
            else ""
        ),
        f"created  {r.created_at} by {r.created_by} (trigger {r.trigger}"
        + (f", parent {r.parent})" if r.parent else ")"),
        f"code     {r.code_commit or '-'}",
        f"artifact {a.path} ({a.format}, {a.size} bytes)",
        f"         sha256 {a.sha256 or '(not recorded: md5 only, weaker)'}  md5 {a.md5}",
    ]
    if r.data:
        lines.append(
            f"data     {r.data.path} md5 {r.data.md5}"
            + (f" ({r.data.rows} rows)" if r.data.rows is not None else "")
        )
    where = f" on {r.dataset}" if r.dataset else ""
    lines.append(f"metrics{where}: " + ", ".join(f"{k}={v:.4g}" for k, v in r.metrics.items()))
    if r.params:
        lines.append("params   " + ", ".join(f"{k}={v}" for k, v in r.params.items()))
    if r.signature:
        lines.append("inputs   " + ", ".join(f"{f.name}:{f.type}" for f in r.signature.inputs))
    if r.lineage.pipeline:
        lines.append(f"pipeline {r.lineage.pipeline}")
    lines.append("serves   " + (", ".join(shown.serving) or "nowhere"))
    for e in shown.served:
        role = "candidate" if e.candidate == r.version and e.version != r.version else "version"
        lines.append(f"  {e.date[:10]} {e.stage} ({role}) {e.commit[:12]} {e.pr or e.subject}")
    if shown.gate is not None:
        lines.append(f"\nnext stage {shown.next_stage}:\n" + render(shown.gate, "text"))
    return "\n".join(lines)
