"""What `modelreg protect` asks of GitHub: the branch protection the guarantees rely on.

Planning is pure reading: the policies give the smallest `reviews:` of any stage (each
stage's own count is enforced by the required check), and the PR workflow gives the
name of that check. `forge/github.py` builds the body and sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from modelreg.errors import ModelregError, UsageError
from modelreg.forge.github import MAX_REQUIRED_REVIEWS, protection_body
from modelreg.registry.snapshot import Snapshot
from modelreg.registry.workspace import Workspace
from modelreg.registry.yamlio import parse_yaml

WORKFLOW = ".github/workflows/modelreg-pr.yml"
SHIPPED = "modelreg's shipped workflows/modelreg-pr.yml"


@dataclass(frozen=True)
class StageReviews:
    policy: str
    stage: str
    reviews: int


@dataclass(frozen=True)
class ProtectionPlan:
    """The branch, the check and review count it requires, and where each came from."""

    branch: str
    rev: str  # the revision whose policies and workflow were read
    check: str  # the required status check's context: the check job's name
    check_source: str  # the workflow file the name was read from
    reviews: int  # required_approving_review_count
    stages: tuple[StageReviews, ...]
    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "revision": self.rev,
            "required_check": self.check,
            "required_check_from": self.check_source,
            "required_approving_review_count": self.reviews,
            "stages": [
                {"policy": s.policy, "stage": s.stage, "reviews": s.reviews} for s in self.stages
            ],
            "body": self.body,
        }


def plan(ws: Workspace, *, branch: str | None = None) -> ProtectionPlan:
    """The protection of `branch` (default: origin's default branch), read from that
    branch as origin has it, else from HEAD."""
    name = branch or ws.git.default_branch() or ws.git.current_branch()
    if not name:
        raise UsageError("cannot tell which branch to protect", hint="pass --branch main")
    rev = ws.git.resolve(f"refs/remotes/origin/{name}") or ws.git.resolve("HEAD")
    if rev is None:
        raise UsageError("the repository has no commits yet", hint="run `modelreg init`")
    snap = Snapshot(ws.git, rev, ws.cache)
    stages = stage_reviews(snap)
    fewest = min((s.reviews for s in stages), default=0)
    check, source = check_context(ws.git.show(rev, WORKFLOW), WORKFLOW)
    reviews = min(fewest, MAX_REQUIRED_REVIEWS)
    body = protection_body(check=check, reviews=reviews)
    return ProtectionPlan(name, rev, check, source, reviews, tuple(stages), body)


def stage_reviews(snap: Snapshot) -> list[StageReviews]:
    """Every stage of every policy with the approvals it needs."""
    found = []
    for name in snap.policies():
        try:
            policy = snap.policy(name)
        except ModelregError as exc:
            raise exc.within(file=f"policies/{name}.yaml") from exc
        found += [StageReviews(policy.name, s.name, s.reviews) for s in policy.stages]
    return found


def check_context(text: bytes | None, path: str) -> tuple[str, str]:
    """(status check context, where it was read): the name of the job that runs
    `modelreg check` in the registry's PR workflow, else in the shipped one."""
    source = path
    if text is None:
        shipped = resources.files("modelreg").joinpath("templates/workflows/modelreg-pr.yml")
        text = shipped.read_bytes()
        source = SHIPPED
    flow = parse_yaml(text, source)
    jobs = flow.get("jobs") if isinstance(flow, dict) else None
    for job_id, job in (jobs or {}).items():
        steps = job.get("steps") or [] if isinstance(job, dict) else []
        if any("modelreg check" in str(step.get("run", "")) for step in steps):
            return str(job.get("name") or job_id), source
    raise UsageError(
        f"{source}: no job runs `modelreg check`",
        hint="restore it with `modelreg init`, or pass the check's name",
    )
