"""`modelreg validate`: schemas, references, DVC pointers and immutability."""

from __future__ import annotations

import sys

import click

from modelreg.commands._options import json_option
from modelreg.errors import plural


@click.command()
@click.option("--base", metavar="REF", help="Check only what changed since REF (a PR's base).")
@json_option("problems")
def validate(base: str | None, as_json: bool) -> None:
    """Schemas, references, DVC pointers and immutability of version records."""
    from modelreg.output import to_json
    from modelreg.promotion.pr_check import validate_and_gate as run
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        report = run(ws, base=base)
    if as_json:
        click.echo(to_json(report.to_dict()))
    else:
        for problem in report.problems:
            click.echo(str(problem))
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        problems = len(report.problems)
        summary = plural(problems, "problem") if problems else "registry is valid"
        checked = plural(report.files_checked, "file")
        click.echo(f"{summary} ({checked} checked)", err=bool(report.problems))
    sys.exit(report.exit_code)
