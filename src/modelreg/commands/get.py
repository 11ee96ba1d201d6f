"""`modelreg get`: fetch a version's verified artifact from any registry."""

from __future__ import annotations

from pathlib import Path

import click

from modelreg.commands._options import json_option, repo_option


@click.command()
@click.argument("ref", metavar="MODEL@STAGE|MODEL@VERSION")
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    help="Also copy the verified artifact here (into it, when it is a folder).",
)
@repo_option()
@click.option(
    "--rev",
    default="HEAD",
    show_default=True,
    help="Read the registry at this revision (commit, branch, tag or date).",
)
@click.option(
    "--remote",
    help="The DVC remote to download from (a path or URL), instead of the one the "
    "registry's .dvc/config names.",
)
@json_option("what was fetched")
def get(
    ref: str, out: Path | None, repo: str | None, rev: str, remote: str | None, as_json: bool
) -> None:
    """Fetch a version's artifact into the local cache, verified against its record."""
    from modelreg.output import to_json
    from modelreg.registry.source import open_source
    from modelreg.serving.fetch import export, fetch

    with open_source(repo) as source:
        got = fetch(source, ref, rev=rev, remote=remote)
    if got.replaced:
        click.echo(
            f"warning: the cached artifact of {got.model} {got.version} did not match its "
            "record; it was discarded and fetched again",
            err=True,
        )
    if out is not None:
        got = export(got, out)
    click.echo(to_json(got.to_dict()) if as_json else str(got.path))
