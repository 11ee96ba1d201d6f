"""`modelreg pr`: the local forge's pull requests (branches on origin)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

import click

from modelreg.commands._options import json_option

if TYPE_CHECKING:
    from pathlib import Path

    from modelreg.forge.local import LocalForge, Review
    from modelreg.promotion.gate_runs import Evaluator
    from modelreg.registry.records import Comparison, VersionRecord
    from modelreg.registry.workspace import Workspace


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
    """Open pull requests: model, stage, version, author, age and check state."""
    from dataclasses import asdict

    from modelreg.output import emit, table

    forge = _local()
    forge.fetch_checks()
    now = datetime.now(timezone.utc)
    items = []
    for p in forge.list_open():
        sha, author, date = forge.tip(p)
        model, stage, version = branch_parts(p.head)
        items.append(
            {
                **asdict(p),
                "model": model,
                "stage": stage,
                "version": version,
                "author": author,
                "opened": date,
                "check": forge.check_state(sha),
            }
        )
    headers = ["BRANCH", "MODEL", "STAGE", "VERSION", "AUTHOR", "AGE", "CHECK", "TITLE"]
    rows = [
        [
            i["head"],
            i["model"] or "-",
            i["stage"] or "-",
            i["version"] or "-",
            i["author"],
            age(now, i["opened"]),
            i["check"],
            i["title"],
        ]
        for i in items
    ]
    emit(items, as_json, table(headers, rows) if rows else "no open pull requests")


def branch_parts(branch: str) -> tuple[str, str, str]:
    """Model, stage and version named by a modelreg branch (`""` where it names none)."""
    parts = branch.split("/")
    if len(parts) < 3 or parts[0] != "modelreg":
        return "", "", ""
    rest = [*parts[2:], "", ""]
    return rest[0], rest[1], rest[2] if rest[2].startswith("v") else ""


def age(now: datetime, iso: str) -> str:
    """'45s', '12m', '3h' or '5d': how long ago `iso` was."""
    seconds = max(0, int((now - datetime.fromisoformat(iso)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@pr.command("show")
@click.argument("branch")
def show(branch: str) -> None:
    """Title, body, reviews, comments and diff of one pull request."""
    forge = _local()
    p = forge.get(branch)
    comments = forge.comments(p)
    reviews = forge.reviews(p)
    click.echo(f"{p.title}\n{p.head} → {p.base}\n\n{p.body}\n")
    if reviews:
        counted = set(forge.counting_approvals(p, forge.head_sha(p.head)))
        lines = [_review_line(r, r in counted) for r in reviews]
        click.echo("--- reviews ---\n" + "\n".join(lines) + "\n")
    if comments:
        click.echo(f"--- comments ---\n{comments}\n")
    click.echo(f"--- diff ---\n{forge.diff(p)}")


def _review_line(r: Review, counts: bool) -> str:
    what = r.state + (" (counts)" if counts else "") if r.state == "approved" else r.state
    line = f"{what} by {r.name} <{r.email}> at {r.date} on {r.commit[:12]}"
    return line + (f": {r.comment}" if r.comment else "")


@pr.command("approve")
@click.argument("branch")
@click.option("--comment", default="", help="A note to go with the approval.")
def approve(branch: str, comment: str) -> None:
    """Approve the PR's head commit as git's identity (a new push needs a new approval)."""
    r = _local().review(branch, approve=True, comment=comment)
    click.echo(f"approved {branch} at {r.commit[:12]} as {r.email}")


@pr.command("comment")
@click.argument("branch")
@click.argument("text")
def comment(branch: str, text: str) -> None:
    """Comment on the PR's head commit as git's identity (does not approve)."""
    r = _local().review(branch, approve=False, comment=text)
    click.echo(f"commented on {branch} at {r.commit[:12]} as {r.email}")


@pr.command("merge")
@click.argument("branch")
def merge(branch: str) -> None:
    """Run the required checks and count approvals, then merge --no-ff and push."""
    import functools

    from modelreg.promotion.pr_check import mergeable

    forge = _local()
    # The same checks as `check`, paired scoring included (in the merged tree).
    evaluator = functools.partial(_paired_in_worktree, forge.git.root)
    merged = forge.merge(branch, functools.partial(mergeable, evaluator=evaluator))
    click.echo(f"merged {branch} into {merged.pr.base} as {merged.commit[:8]}")
    click.echo(forge.update_checkout(merged.pr.base, merged.commit))


def _paired_in_worktree(main: Path, ws: Workspace, ref: str) -> Evaluator:
    """`check`'s paired scoring, in the temporary worktree `pr merge` checks: with the
    DVC remote of the checkout at `main` (a relative one would resolve elsewhere)."""
    from modelreg.commands.check import paired_evaluator

    scores = paired_evaluator(ws, ref)

    def run(candidate: VersionRecord, current: VersionRecord) -> Comparison:
        from modelreg.adapters import dvc as dvcio

        dvcio.borrow_remote(ws.root, main)
        return scores(candidate, current)

    return run


@pr.command("close")
@click.argument("branch")
def close(branch: str) -> None:
    """Close a pull request without merging (deletes its branch on origin)."""
    _local().close(branch)
    click.echo(f"closed {branch}")
