"""`modelreg check`: a pull request's required check, as text, markdown or JSON."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from modelreg.commands._options import format_option

if TYPE_CHECKING:
    from modelreg.adapters.git import Git
    from modelreg.forge.github import GitHubForge
    from modelreg.promotion.gate_runs import Evaluator
    from modelreg.promotion.pr_check import CheckReport as Report
    from modelreg.registry.records import Comparison, VersionRecord
    from modelreg.registry.workspace import Workspace


@click.command()
@click.option("--base", metavar="REF", help="The PR's base (default: origin's default branch).")
@format_option()
@click.option(
    "--comment",
    "comment",
    type=int,
    metavar="PR",
    help="Post (or update) the report as one comment on this GitHub PR.",
)
@click.option(
    "--pr",
    "pr",
    type=click.IntRange(min=1),
    metavar="PR",
    help="Count this GitHub PR's approvals of its head commit against each changed "
    "stage's `reviews:`; a pending change request fails the check.",
)
def check(base: str | None, fmt: str, comment: int | None, pr: int | None) -> None:
    """A PR's required check: validate against the base and gate every stage change."""
    from modelreg.output import to_json
    from modelreg.promotion.pr_check import check as run
    from modelreg.promotion.pr_check import markdown
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        reviews = None if pr is None else _github(ws.git).reviews(pr)
        report = run(
            ws, base=base, reviews=reviews, evaluator=lambda ref: paired_evaluator(ws, ref)
        )
        text = markdown(report)
        if comment is not None:
            _comment(ws.git, comment, text)
        _record_local(ws.git, report)
    if fmt == "json":
        click.echo(to_json(as_dict(report)))
    elif fmt == "markdown":
        click.echo(text)
    else:
        click.echo(plain(report))
    sys.exit(report.exit_code)


def _record_local(git: Git, report: Report) -> None:
    """On the local forge, record the verdict on the PR whose head is checked out, so
    `pr list` shows it; a registry with no origin, or an origin that cannot be reached,
    only costs the record (said on stderr), never the check itself."""
    from modelreg.errors import ModelregError
    from modelreg.forge import forge_name
    from modelreg.forge.local import LocalForge

    if not git.remote_url("origin") or forge_name(git) != "local":
        return
    head = git.head()
    if head is None:
        return
    summary = "; ".join(str(p) for p in report.problems) or "passed"
    try:
        LocalForge(git).record_if_open(head, report.ok, summary)
    except ModelregError as exc:
        click.echo(f"note: the verdict was not recorded for `pr list`: {exc.message}", err=True)


def _github(git: Git) -> GitHubForge:
    """The GitHub forge: `--pr` and `--comment` name GitHub pull requests."""
    import os

    from modelreg.forge.github import GitHubForge

    return GitHubForge.from_env(git.remote_url("origin"), os.environ)


def paired_evaluator(ws: Workspace, ref: str) -> Evaluator:
    """Scores both versions for `compare: paired` stages; loaded only when one asks
    (`check` and `pr merge` both use it)."""

    def run(candidate: VersionRecord, current: VersionRecord) -> Comparison:
        from modelreg.training.paired import evaluator

        return evaluator(ws, ref)(candidate, current)

    return run


def _comment(git: Git, number: int, text: str) -> None:
    """Post (or update) the report as modelreg's one comment on a GitHub pull request."""
    from modelreg.forge import PullRequest
    from modelreg.promotion.pr_check import MARKER

    pr_ref = PullRequest(
        ref=f"#{number}", title="", head="", base="", body="", state="open", number=number
    )
    _github(git).upsert_comment(pr_ref, marker=MARKER, body=text)


def as_dict(report: Report) -> dict[str, Any]:
    """The check as JSON: verdict, validate's problems, then each gate run."""
    found: dict[str, Any] = {
        "passed": report.ok,
        "base": report.base,
        "problems": [str(p) for p in report.problems],
        "gates": [
            {"model": g.model, "stage": g.stage, "version": g.version, **g.report.to_dict()}
            for g in report.gates
        ],
    }
    if report.reviews is not None:
        found["reviews"] = report.reviews.to_dict()
    return found


def plain(report: Report) -> str:
    """The check as text: problems, one line per gate run, the verdict."""
    from modelreg.promotion.pr_check import review_summary

    lines = [str(p) for p in report.problems]
    if report.reviews is not None:
        lines.append("reviews " + review_summary(report.reviews))
    lines += [
        f"{g.model} {g.version} -> {g.stage}: gates " + ("pass" if g.report.passed else "FAIL")
        for g in report.gates
    ]
    lines.append("check passed" if report.ok else "check failed")
    return "\n".join(lines)
