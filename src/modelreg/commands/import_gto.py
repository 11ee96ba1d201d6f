"""`modelreg import gto`: gto's tags replayed as version records and stage files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option

if TYPE_CHECKING:
    from modelreg.training.import_gto import GtoImport


@click.command("gto")
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The Git repository holding gto's tags and this registry (default: the current one).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be imported; write nothing.")
@json_option("the name mapping, the imported tags, ties and problems")
def gto(repo: Path | None, dry_run: bool, as_json: bool) -> None:
    """Import gto's tags: one commit per registration, assignment and deprecation."""
    from modelreg.output import emit
    from modelreg.registry.workspace import Workspace
    from modelreg.training.import_gto import import_gto

    with Workspace.open(repo) as ws:
        result = import_gto(ws, dry_run=dry_run)
    emit(result, as_json, text(result))
    if result.problems:
        raise click.exceptions.Exit(1)


def text(r: GtoImport) -> str:
    """The mapping, what was imported, ties and the order chosen, and problems."""
    lines = []
    renamed = [
        *(f"  model {k} -> {v}" for k, v in r.models.items() if k != v),
        *(f"  stage {k} -> {v}" for k, v in r.stages.items() if k != v),
        *(f"  version {k} -> {v}" for k, v in r.versions.items()),
    ]
    if renamed:
        lines += ["gto names mapped to modelreg's name rule:", *renamed]
    verb = "would import" if r.dry_run else "imported"
    lines.append(f"{verb} {len(r.imported)} gto tags ({r.already} imported before)")
    for i in r.imported:
        lines.append(f"  {i.commit[:12] if i.commit else '-':12}  {i.tag}: {i.summary}")
    if r.ties:
        lines.append(f"{len(r.ties)} groups of tags share a second; order chosen: {r.order}")
        lines += [f"  {t.artifact}: {', '.join(t.tags)}" for t in r.ties]
    if r.problems:
        lines.append(f"{len(r.problems)} tags not imported:")
        lines += [f"  {p}" for p in r.problems]
    if not r.dry_run and r.imported:
        lines.append("next: `dvc push` sends the imported artifacts to the DVC remote")
    return "\n".join(lines)
