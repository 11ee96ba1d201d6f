"""`modelreg validate`: schemas, references, DVC pointers and immutability."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelreg.commands._options import json_option
from modelreg.errors import UsageError, plural


@click.command()
@click.option("--base", metavar="REF", help="Check only what changed since REF (a PR's base).")
@json_option("problems")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), metavar="[FILE]...")
def validate(base: str | None, as_json: bool, files: tuple[Path, ...]) -> None:
    """Schemas, references, DVC pointers and immutability of version records.

    With FILE arguments (as pre-commit passes them) only those registry files and what they
    refer to are checked: the records named are the only ones parsed.
    """
    from modelreg.output import to_json
    from modelreg.promotion.pr_check import validate_and_gate as run
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        named = [_in_repo(ws.root, f) for f in files] if files else None
        report = run(ws, base=base, files=named)
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


def _in_repo(root: Path, path: Path) -> str:
    """A FILE argument as a repository-relative POSIX path."""
    try:
        return (Path.cwd() / path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(
            f"{path}: is not inside the repository {root}", hint="name files of this registry"
        ) from None
