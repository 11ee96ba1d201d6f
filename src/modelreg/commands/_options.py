"""Options that several commands share, each defined once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from modelreg.registry.records import TRIGGERS

F = TypeVar("F", bound=Callable[..., Any])

REPORT_FORMATS = ("text", "markdown", "json")
FORGES = ("github", "local")
# The triggers a scheduled job fires (`modelreg retrain`); drift fires from `drift --open-pr`.
SCHEDULED_TRIGGERS = tuple(t for t in TRIGGERS if t in ("schedule", "data-volume"))


def json_option(what: str) -> Callable[[F], F]:
    """`--json`: print `what` as JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")


def format_option(choices: Sequence[str] = REPORT_FORMATS) -> Callable[[F], F]:
    """`--format`: which form a report takes."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default="text",
        show_default=True,
        help="Report format.",
    )


def stage_option(help: str, *, required: bool = False) -> Callable[[F], F]:
    """`--stage`: the stage a command works on."""
    return click.option("--stage", required=required, help=help)


def dry_run_option(help: str = "Show the change and PR body; push nothing.") -> Callable[[F], F]:
    """`--dry-run`: decide and show, push nothing."""
    return click.option("--dry-run", is_flag=True, help=help)


def forge_option() -> Callable[[F], F]:
    """`--forge`: where pull requests live."""
    return click.option(
        "--forge",
        type=click.Choice(FORGES),
        help="Where PRs live (default: github for a GitHub origin or GITHUB_API_URL, else local).",
    )


def trigger_option(
    help: str, *, choices: Sequence[str] = TRIGGERS, required: bool = False
) -> Callable[[F], F]:
    """`--trigger`: why a version is trained, one of the registry's triggers."""
    extra: dict[str, Any] = {} if required else {"default": "manual", "show_default": True}
    return click.option(
        "--trigger", type=click.Choice(choices), required=required, help=help, **extra
    )


def repo_option() -> Callable[[F], F]:
    """`--repo`: read a registry without a checkout."""
    return click.option(
        "--repo",
        metavar="URL|PATH",
        help="Read the registry from this Git repository instead of the current checkout: "
        "a path (a checkout or a bare repository) or any Git URL (file://, https://, ssh).",
    )
