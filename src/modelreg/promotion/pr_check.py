"""The required checks of a pull request: the same ones CI runs and `pr merge` enforces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

from modelreg.adapters.git import Git
from modelreg.errors import ModelregError, plural
from modelreg.forge.base import ReviewTally
from modelreg.forge.local import Review
from modelreg.promotion.gate_runs import Evaluator, GateRun, changed_stage_gates
from modelreg.promotion.gates import markdown_table
from modelreg.registry.cache import BlobCache
from modelreg.registry.schemas import Problem
from modelreg.registry.snapshot import Snapshot, model_roots
from modelreg.registry.validate import Report, validate
from modelreg.registry.workspace import Workspace

MARKER = "<!-- modelreg:check -->"


@dataclass(frozen=True)
class CheckReport(Report):
    """validate's report plus the gate runs of every stage change it saw."""

    gates: tuple[GateRun, ...] = ()
    # The PR's reviews on GitHub, when the check counted them (`check --pr N`).
    reviews: ReviewTally | None = None


def validate_and_gate(
    ws: Workspace,
    *,
    base: str | None = None,
    evaluator: Evaluator | None = None,
    files: Sequence[str] | None = None,
) -> CheckReport:
    """`modelreg validate`: the registry checks, then the policy gates of every version the
    branch newly puts in a stage (a failing gate is one more problem). `evaluator` scores
    both versions for `compare: paired` stages; `files` narrows the checks to those files."""
    report = validate(ws, base=base, files=files)
    head = report.tree or Snapshot(ws.git, None, ws.cache, model_roots(*report.staged))
    runs = _gates(ws, head, report, evaluator)
    found = {f.name: getattr(report, f.name) for f in fields(Report)}
    found["problems"] = (*report.problems, *_gate_problems(head, runs))
    return CheckReport(**found, gates=runs)


def check(
    ws: Workspace,
    *,
    base: str | None = None,
    reviews: ReviewTally | None = None,
    evaluator: Callable[[str], Evaluator] | None = None,
) -> CheckReport:
    """Validate the tree against `base`, gating each version it newly puts in a stage;
    with the PR's `reviews` (GitHub), also count its approvals against each changed
    stage's `reviews:` and let any outstanding change request block.

    `evaluator(base_ref)` makes what scores both versions for `compare: paired` stages.
    """
    ref = ws.base(base)
    paired = evaluator(ref) if evaluator else None
    report = validate_and_gate(ws, base=ref, evaluator=paired)
    if reviews is None:
        return report
    missing = review_problems(ws, report, len(reviews.approvers), fix=_GITHUB_FIX)
    blocked = [
        Problem(
            f"pull request {reviews.pr}",
            "",
            f"{user} requested changes",
            f"{user} approves the head commit, or a maintainer dismisses the review",
        )
        for user in reviews.blockers
    ]
    problems = (*report.problems, *missing, *blocked)
    return replace(report, problems=problems, reviews=reviews)


_LOCAL_FIX = (
    "someone who neither authored nor committed any of the branch's "
    "commits runs `modelreg pr approve BRANCH` on its head commit"
)
_GITHUB_FIX = (
    "a repository owner, member or collaborator other than the PR's author approves "
    "its head commit on GitHub"
)


def _gates(
    ws: Workspace, head: Snapshot, report: Report, evaluator: Evaluator | None
) -> tuple[GateRun, ...]:
    if not report.staged or report.base is None:
        return ()
    base_snap = Snapshot(ws.git, report.base, ws.cache, model_roots(*report.staged))
    runs: list[GateRun] = []
    for model in report.staged:
        try:
            runs.extend(changed_stage_gates(base_snap, head, [model], evaluator))
        except ModelregError:
            continue  # unknown versions, stages or policies are validate's problems
    return tuple(runs)


def _gate_problems(head: Snapshot, runs: tuple[GateRun, ...]) -> list[Problem]:
    return [
        Problem(
            *head.stage_key(run.model, run.stage, "version"),
            f"gate failed for {run.version}: {r.label}: {r.detail}",
            f"see `modelreg gate {run.model} {run.version} --stage {run.stage}`",
        )
        for run in runs
        for r in run.report.failures
    ]


def markdown(report: CheckReport) -> str:
    """One PR comment: the verdict, validate's problems, then each gate's table."""
    mark = "✅" if report.ok else "❌"
    lines = [MARKER, f"### {mark} modelreg check", ""]
    if report.problems:
        lines += (
            ["**Problems**", ""] + [f"- `{p.file}`: {_rest(p)}" for p in report.problems] + [""]
        )
    else:
        lines += [f"Registry valid ({plural(report.files_checked, 'file')} checked).", ""]
    if report.reviews is not None:
        lines += [f"**Reviews** {review_summary(report.reviews, mention='@')}", ""]
    for run in report.gates:
        verdict = "passes" if run.report.passed else "fails"
        lines += [f"**{run.model} {run.version} → {run.stage}** {verdict} its gates", ""]
        lines += [*markdown_table(run.report.results), ""]
    if not report.gates:
        lines.append("No stage changes to gate.")
    return "\n".join(lines).rstrip() + "\n"


def review_summary(tally: ReviewTally, *, mention: str = "") -> str:
    """One line: who approved the head commit, who requested changes, who does not count."""

    def names(users: Sequence[str]) -> str:
        return ", ".join(f"{mention}{u}" for u in users) or "nobody"

    parts = [f"of {tally.pr} at {tally.head[:12]}: approved by {names(tally.approvers)}"]
    if tally.blockers:
        parts.append(f"changes requested by {names(tally.blockers)}")
    if tally.ignored:
        parts.append(
            "not counted: " + ", ".join(f"{mention}{u} ({why})" for u, why in tally.ignored)
        )
    return "; ".join(parts)


def _rest(p: Problem) -> str:
    return str(p)[len(p.file) + 2 :]


def required(tree: Git, base_ref: str) -> list[str]:
    """Problems that block merging the checked-out tree into `base_ref` (empty: mergeable)."""
    with Workspace(tree, BlobCache.for_git_dir(tree.git_dir)) as ws:
        report = validate_and_gate(ws, base=base_ref)
    return [str(p) for p in report.problems]


def mergeable(
    tree: Git,
    base_ref: str,
    approvals: Sequence[Review],
    *,
    evaluator: Callable[[Workspace, str], Evaluator] | None = None,
) -> list[str]:
    """`required`, plus the policy's `reviews:` of every stage the branch changes, counted
    against `approvals` (the local forge's `pr merge`).

    `evaluator(ws, base_ref)` scores both versions for `compare: paired` stages, as in
    `check`: without it, such a stage would be judged on a recorded comparison only.
    """
    with Workspace(tree, BlobCache.for_git_dir(tree.git_dir)) as ws:
        paired = evaluator(ws, base_ref) if evaluator else None
        report = validate_and_gate(ws, base=base_ref, evaluator=paired)
        missing = review_problems(ws, report, len(approvals))
    return [str(p) for p in (*report.problems, *missing)]


def review_problems(
    ws: Workspace, report: Report, approvals: int, *, fix: str = _LOCAL_FIX
) -> list[Problem]:
    """One problem per changed stage whose policy needs more than `approvals` approvals.

    The count is the larger of the base's and the branch's policy, so a branch cannot
    lower the bar it is judged by.
    """
    if not report.staged or report.base is None:
        return []
    roots = model_roots(*report.staged)
    base = Snapshot(ws.git, report.base, ws.cache, roots)
    head = Snapshot(ws.git, None, ws.cache, roots)
    problems = []
    for model in report.staged:
        for stage in _changed_stages(base, head, model):
            needed, policy = max(_reviews(base, model, stage), _reviews(head, model, stage))
            if approvals < needed:
                noun = "review" if needed == 1 else "reviews"
                problems.append(
                    Problem(
                        *head.stage_key(model, stage, "version"),
                        f"{model} → {stage} needs {needed} approving {noun} (policy "
                        f"{policy}: reviews: {needed}); {approvals} count",
                        fix,
                    )
                )
    return problems


def _changed_stages(base: Snapshot, head: Snapshot, model: str) -> list[str]:
    try:
        old = base.stages(model).assignments if base.has_model(model) else {}
        new = head.stages(model).assignments if head.has_model(model) else {}
    except ModelregError:
        return []  # an unreadable stage file is validate's problem, and blocks already
    return sorted(s for s in {*old, *new} if old.get(s) != new.get(s))


def _reviews(snap: Snapshot, model: str, stage: str) -> tuple[int, str]:
    """(approvals needed, policy name) for `stage` of `model` as `snap` has it."""
    try:
        spec = snap.model(model) if snap.has_model(model) else None
        policy = snap.policy(spec.policy if spec else "default")
        return policy.stage(stage).reviews, policy.name
    except ModelregError:
        return 0, ""
