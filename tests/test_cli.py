"""The command line as a whole: help on everything, one line for every usage mistake."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import Registry
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


def test_the_root_help_summarises_each_command_as_its_docstring_does() -> None:
    from modelreg.cli import COMMANDS

    for name, (_, summary) in COMMANDS.items():
        command = cli.commands[name]
        assert summary == (command.help or "").split("\n\n")[0].strip(), name


# What `--help` and the read-only commands must never load (DESIGN.md §7).
HEAVY = ("git", "dvc", "pandas", "numpy", "sklearn", "scipy", "github3")


def _loaded_by(args: list[str], cwd: Path) -> list[str]:
    code = (
        "import sys\nfrom modelreg.cli import cli\n"
        f"try:\n    cli.main(args={args!r}, prog_name='modelreg')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return list(ast.literal_eval(proc.stderr.strip().splitlines()[-1]))


def test_help_and_the_read_only_commands_load_no_heavy_library(registry: Registry) -> None:
    registry.register("churn")
    for args in (["--help"], ["status"], ["history", "churn"], ["validate"], ["schema", "policy"]):
        assert _loaded_by(args, registry.root) == [], args


def test_a_command_leaves_the_blob_cache_saved(registry: Registry) -> None:
    registry.register("churn")
    cache = registry.root / ".git" / "modelreg"
    shutil.rmtree(cache, ignore_errors=True)
    registry.ok("status")
    assert list(cache.glob("cache-*.marshal"))
