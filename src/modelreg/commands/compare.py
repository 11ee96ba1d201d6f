"""`modelreg compare`: two versions of a model side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option, repo_option

if TYPE_CHECKING:
    from modelreg.promotion.inspect import Compared


@click.command()
@click.argument("model")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--at", default="HEAD", show_default=True, help="Read the registry at this revision.")
@repo_option()
@json_option("the comparison")
def compare(model: str, a: str, b: str, at: str, repo: str | None, as_json: bool) -> None:
    """Two versions (or stages) side by side: metric deltas, params, signature, data."""
    from modelreg.output import to_json
    from modelreg.promotion.inspect import compare as run
    from modelreg.registry.source import open_source

    with open_source(repo) as source:
        result = run(source.ws.snapshot(at), model, a, b)
    click.echo(to_json(result.to_dict()) if as_json else text(result))


def text(c: Compared) -> str:
    """The comparison for a person to read."""
    from modelreg.output import table

    va, vb = c.a.version, c.b.version
    rows = [
        [
            m.name,
            "-" if m.a is None else f"{m.a:.4g}",
            "-" if m.b is None else f"{m.b:.4g}",
            "-" if m.delta is None else f"{m.delta:+.4g}",
            f"{m.better} is better",
            {"a": va, "b": vb}.get(m.winner or "", "="),
        ]
        for m in c.metrics
    ]
    out = [table(["METRIC", va, vb, "DELTA", "", "BETTER"], rows)]
    if c.params:
        out.append("params changed:")
        out += [f"  {k}: {x} → {y}" for k, (x, y) in c.params.items()]
    else:
        out.append("params: unchanged")
    out.append("signature: " + ("; ".join(c.signature) or "unchanged"))
    da, db = c.data
    same = "unchanged" if da == db else "changed"
    out.append(f"data: {same} ({da or 'not recorded'} → {db or 'not recorded'})")
    return "\n".join(out)
