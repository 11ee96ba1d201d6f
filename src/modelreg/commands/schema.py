"""`modelreg schema`: print the JSON Schema of a file kind."""

from __future__ import annotations

import click


@click.command()
@click.argument("kind", type=click.Choice(["model", "version", "stage", "stages", "policy"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of a file kind (for editors and CI)."""
    import json

    from modelreg.registry.schemas import schema as load

    click.echo(json.dumps(load(kind), indent=2))
