"""`modelreg site`: render the registry as a static site (no server, no JavaScript)."""

from __future__ import annotations

from pathlib import Path

import click

from modelreg.commands._options import json_option


@click.command()
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the site into (created if missing).",
)
@click.option(
    "--pr-url",
    metavar="TEMPLATE",
    help="Link PR numbers with this URL, e.g. https://github.com/o/r/pull/{number}.",
)
@json_option("what was written")
def site(output: Path, pr_url: str | None, as_json: bool) -> None:
    """Render the registry as a static site: models, stages, timelines, metric charts."""
    from modelreg.output import emit
    from modelreg.registry.site import build_site, summary
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        result = build_site(ws, output, pr_url=pr_url)
    text = (
        f"wrote {result.pages:,} pages ({result.bytes / 1e6:.1f} MB) for {result.models:,} "
        f"models and {result.versions:,} versions to {result.output}/index.html"
    )
    emit(summary(result), as_json, text)
