"""`modelreg import`: migrate a registry kept by another tool into this repository."""

from __future__ import annotations

import click

from modelreg.commands.import_gto import gto


@click.group("import")
def import_() -> None:
    """Migrate a registry in: gto's tags, one commit per event."""


import_.add_command(gto)
