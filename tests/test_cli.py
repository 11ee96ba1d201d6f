"""The command line as a whole: help on everything, one line for every usage mistake."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from modelreg.cli import cli


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


COMMANDS = list(_commands(cli))


def test_every_command_and_option_has_help_text() -> None:
    missing = []
    for path, command in COMMANDS:
        if not (command.help or "").strip():
            missing.append(" ".join(path))
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{' '.join(path)} {param.opts[0]}")
    assert missing == []
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_command_prints_its_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="modelreg")
    assert result.exit_code == 0 and f"Usage: modelreg {' '.join(path)}" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bogus"], "No such command 'bogus'. (see `modelreg --help`)"),
        (["promote", "churn"], "Missing argument 'VERSION'. (see `modelreg promote --help`)"),
        (["status", "--bogus"], "No such option '--bogus'"),
        (["schema", "nope"], "'nope' is not one of 'model', 'version', 'stage', 'stages'"),
        (["rollout", "advance", "churn"], "Missing option '--metrics'"),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(cli, args, prog_name="modelreg")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("modelreg: error: ")
    assert needle in result.stderr
