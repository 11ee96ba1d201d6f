"""`modelreg protect`: the GitHub branch protection that modelreg's guarantees rely on."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from modelreg.commands._options import json_option

if TYPE_CHECKING:
    from modelreg.adapters.git import Git
    from modelreg.forge.github import GitHubForge
    from modelreg.promotion.protect import ProtectionPlan

LOCAL_FORGE = (
    "`modelreg protect` sets GitHub branch protection, and this registry uses the local "
    "forge (origin is not on GitHub and GITHUB_API_URL is unset)"
)
LOCAL_ENFORCES = (
    "the local forge enforces the same at `modelreg pr merge`: the required check and "
    "each stage's `reviews:`; to refuse force-pushes and deletions on origin itself run "
    "`git config receive.denyNonFastForwards true` and `git config receive.denyDeletes true` "
    "in it"
)


@click.command()
@click.option(
    "--branch",
    metavar="B",
    help="The branch to protect (default: origin's default branch).",
)
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="Print the exact JSON body it would send to GitHub and change nothing.",
)
@json_option("the plan (and GitHub's answer)")
def protect(branch: str | None, plan_only: bool, as_json: bool) -> None:
    """Apply the GitHub branch protection that modelreg's guarantees rely on."""
    from modelreg.errors import UsageError
    from modelreg.forge import forge_name
    from modelreg.promotion.protect import plan
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        if forge_name(ws.git) != "github":
            raise UsageError(LOCAL_FORGE, hint=LOCAL_ENFORCES)
        found = plan(ws, branch=branch)
        answer = None if plan_only else _github(ws.git).protect(found.branch, found.body)
    if as_json:
        from modelreg.output import to_json

        out: dict[str, Any] = {"applied": answer is not None, **found.to_dict()}
        if answer is not None:
            out["github"] = answer
        click.echo(to_json(out))
    else:
        click.echo(describe(found, applied=answer is not None))


def _github(git: Git) -> GitHubForge:
    import os

    from modelreg.forge.github import GitHubForge

    return GitHubForge.from_env(git.remote_url("origin"), os.environ)


def describe(found: ProtectionPlan, *, applied: bool) -> str:
    """What the protection requires and why, then the exact body."""
    stages = ", ".join(f"{s.policy}/{s.stage} {s.reviews}" for s in found.stages) or "none"
    head = "Protected" if applied else "Would protect"
    lines = [
        f"{head} branch {found.branch} (policies and workflow read at {found.rev[:12]}):",
        f"  required check: {found.check!r} (the check job's name in {found.check_source})",
        f"  approving reviews: {found.reviews} (the fewest any stage needs: {stages}; "
        "`modelreg check` enforces each stage's own count)",
        "  also: CODEOWNERS review, stale approvals dismissed, admins included, "
        "no force-push, no deletion",
        f"PUT /repos/{{owner}}/{{repo}}/branches/{found.branch}/protection",
        json.dumps(found.body, indent=2),
    ]
    if not applied:
        lines.append("(plan only: nothing was sent)")
    return "\n".join(lines)
