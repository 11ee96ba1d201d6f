"""`modelreg import`: migrate another registry in; one subcommand per source.

Each source's subcommand lives in its own module and is imported only when it is looked
up, so `modelreg import --help` loads none of them. A new source is one line in `SOURCES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import click

# subcommand → ("module:attribute" of its click command, its one-line summary)
SOURCES: dict[str, tuple[str, str]] = {
    "mlflow": (
        "modelreg.commands.import_mlflow:mlflow",
        "Import an MLflow model registry: every version, then the current aliases.",
    ),
    "gto": (
        "modelreg.commands.import_gto:gto",
        "Import gto's tags: one commit per registration, assignment and deprecation.",
    ),
}


class _Lazy(MutableMapping[str, click.Command]):
    """The group's subcommands: all listed, each module imported on first look-up."""

    def __init__(self) -> None:
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, _, attr = SOURCES[name][0].partition(":")
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command), SOURCES[name]
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*SOURCES, *self._loaded}))

    def __len__(self) -> int:
        return len({*SOURCES, *self._loaded})


class _Sources(click.Group):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Lazy()

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of sources from the table: no subcommand module is imported."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, SOURCES[name][1]) for name in sorted(SOURCES)])


@click.group("import", cls=_Sources)
def import_() -> None:
    """Migrate another registry in: MLflow's model registry, or gto's Git tags."""
