"""`modelreg pr`: the local forge's pull requests (branches on origin)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option

if TYPE_CHECKING:
    from modelreg.forge.local import LocalForge


@click.group()
def pr() -> None:
    """The local forge's pull requests: branches on origin."""


def _local() -> LocalForge:
    from modelreg.forge.local import LocalForge
    from modelreg.registry.workspace import Workspace

    return LocalForge(Workspace.open().git)


@pr.command("list")
@json_option("PRs")
def list_(as_json: bool) -> None:
    """Open pull requests (branches on origin not yet merged)."""
    from modelreg.output import emit, table

    prs = _local().list_open()
    rows = [[p.head, p.title] for p in prs]
    emit(prs, as_json, table(["BRANCH", "TITLE"], rows) if rows else "no open pull requests")


@pr.command("show")
@click.argument("branch")
def show(branch: str) -> None:
    """Title, body, comments and diff of one pull request."""
    forge = _local()
    p = forge.get(branch)
    comments = forge.comments(p)
    click.echo(f"{p.title}\n{p.head} → {p.base}\n\n{p.body}\n")
    if comments:
        click.echo(f"--- comments ---\n{comments}\n")
    click.echo(f"--- diff ---\n{forge.diff(p)}")


@pr.command("merge")
@click.argument("branch")
def merge(branch: str) -> None:
    """Run the required checks, then merge --no-ff into the default branch and push."""
    from modelreg.promotion.pr_check import required

    merged = _local().merge(branch, required)
    click.echo(
        f"merged {branch} into {merged.pr.base} as {merged.commit[:8]} "
        "(git pull to update your checkout)"
    )


@pr.command("close")
@click.argument("branch")
def close(branch: str) -> None:
    """Close a pull request without merging (deletes its branch on origin)."""
    _local().close(branch)
    click.echo(f"closed {branch}")
