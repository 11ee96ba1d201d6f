"""`promote` and `rollback`: pull requests that change one stage, made off to the side.

Both work in a temporary worktree at the remote default branch, push a branch and open
(or find) its pull request. The user's checkout, index and branch are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any

from modelreg.adapters.git import (
    Git,
    commit,
    fetch_default_branch,
    push,
    remote_branches,
    temp_worktree,
)
from modelreg.errors import GateFailed, NotFound, UsageError
from modelreg.forge.base import Forge, PullRequest, cap_body
from modelreg.promotion.gate_runs import run_gate
from modelreg.promotion.gates import render
from modelreg.promotion.pr_body import comparison
from modelreg.registry.history import StageEvent, assignment, stage_events
from modelreg.registry.names import check_name, check_version
from modelreg.registry.records import ModelSpec, Rollout, StageAssignment, VersionRecord
from modelreg.registry.snapshot import Snapshot, stage_yaml, version_yaml
from modelreg.registry.stages import render_stage, require_stage_files
from modelreg.registry.workspace import Workspace


@dataclass(frozen=True)
class Change:
    """One proposed change to one stage's file, ready to become a commit and a PR."""

    model: str
    stage: str
    kind: str  # "promotion" or "rollback"
    branch: str
    base: str
    title: str
    body: str
    stage_text: str  # the stage file after the change
    revert: str | None = None  # commit to `git revert` instead of editing the file
    revert_mainline: bool = False
    gate_passed: bool | None = None
    pin_body: str | None = None  # the body if `revert` no longer applies when pushed
    file: str | None = None  # the file written when it is not a stage's (e.g. model.yaml)

    @property
    def path(self) -> str:
        """The one file the change writes."""
        return self.file or stage_yaml(self.model, self.stage)

    @property
    def labels(self) -> list[str]:
        return ["modelreg", self.kind] + ([f"stage:{self.stage}"] if self.stage else [])


@dataclass(frozen=True)
class Proposal:
    change: Change | None
    pr: PullRequest | None
    created: bool
    note: str
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: the branch, title, body and method of the change, and its PR."""
        change = self.change
        assert change is not None  # every proposal a command prints as JSON has one
        return {
            "branch": change.branch,
            "title": change.title,
            "body": change.body,
            "method": "revert" if change.revert else "edit",
            "pr": asdict(self.pr) if self.pr else None,
            "created": self.created,
            "dry_run": self.dry_run,
        }


def describe(proposal: Proposal) -> str:
    """What a proposal did (or, dry, would do), for a person to read."""
    change, pr = proposal.change, proposal.pr
    if proposal.dry_run and change is not None:
        return (
            f"would push {change.branch} and open: {change.title}\n\n{change.body}\n\n"
            f"--- {change.path} after the change ---\n{change.stage_text}"
        )
    if pr is None:
        return proposal.note
    verb = "opened" if proposal.created else "found open"
    lines = [f"{verb} pull request {pr.ref}: {pr.title}" + (f"\n{pr.url}" if pr.url else "")]
    if change is not None and change.gate_passed is False:
        lines.append(
            "policy gates FAILED: the pull request cannot merge until they pass "
            "(details in its body)"
        )
    return "\n".join(lines)


# -- promote ----------------------------------------------------------------------------


def plan_promotion(
    ws: Workspace, *, model: str, version: str, stage: str, strict: bool = False
) -> Change | None:
    """The change that puts `version` in `stage`, or None if it already serves there.

    The policy's gates run here and their report goes in the PR body; with `strict`, a
    failing gate refuses before anything is pushed.
    """
    check_name(model)
    check_version(version)
    check_name(stage, "--to stage")
    base, sha = fetch_default_branch(ws.git)
    snap = Snapshot(ws.git, sha, ws.cache)
    spec = _model_in_stage(snap, model, stage)
    require_stage_files(snap, model)
    candidate = _record_on_base(ws, snap, model, version, base)
    stages = snap.stages(model)
    current = stages.assignments.get(stage)
    if current and current.version == version and current.rollout is None:
        return None
    new = _promoted(snap, spec, stage, version, current)
    text = render_stage(model, stage, new)
    cur_rec = snap.record(model, current.version) if current else None
    canary = f" (canary at {new.rollout.weight}%)" if new.rollout else ""
    title = f"Promote {model} {version} to {stage}{canary}"
    report = run_gate(snap, candidate, stage)
    if strict and not report.passed:
        raise GateFailed(
            f"{model} {version} fails the {stage} gates: "
            + "; ".join(f"{r.label}: {r.detail}" for r in report.failures)
        )
    body = _promotion_body(
        spec,
        stage,
        candidate_text=comparison(candidate, cur_rec) + "\n\n" + render(report, "markdown"),
        current=current.version if current else None,
        new=new,
    )
    return Change(
        model,
        stage,
        "promotion",
        f"modelreg/promote/{model}/{stage}/{version}",
        base,
        title,
        body,
        text,
        gate_passed=report.passed,
    )


def _model_in_stage(snap: Snapshot, model: str, stage: str) -> ModelSpec:
    """The model's spec, once its policy is known to have `stage`."""
    snap.require_model(model)
    spec = snap.model(model)
    order = [s.name for s in snap.policy(spec.policy).stages]
    if stage not in order:
        raise UsageError(
            f"policy '{spec.policy}' has no stage '{stage}'", hint="stages: " + ", ".join(order)
        )
    return spec


def _record_on_base(
    ws: Workspace, snap: Snapshot, model: str, version: str, base: str
) -> VersionRecord:
    if version_yaml(model, version) not in snap.files:
        local = ws.snapshot(None)
        if local.has_model(model) and version in local.versions(model):
            raise NotFound(
                f"{model} {version} is registered here but not on origin/{base}",
                hint="push it first: git push (or register --push)",
            )
    rec = snap.record(model, version)
    if version in snap.model(model).deprecated:
        raise UsageError(f"{model} {version} is deprecated and cannot be promoted")
    return rec


def _promoted(
    snap: Snapshot, spec: ModelSpec, stage: str, version: str, current: StageAssignment | None
) -> StageAssignment:
    """Direct replacement, or a canary's first step when the policy says canary."""
    rollout = snap.policy(spec.policy).stage(stage).rollout
    if current is None or rollout is None or rollout.strategy != "canary":
        return StageAssignment(version)
    from modelreg.promotion.rollout import first_step

    step, weight = first_step(rollout)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return StageAssignment(current.version, Rollout(version, weight, step, now))


def _promotion_body(
    spec: ModelSpec, stage: str, *, candidate_text: str, current: str | None, new: StageAssignment
) -> str:
    if new.rollout:
        what = (
            f"Starts a canary in **{stage}**: `{new.rollout.candidate}` takes "
            f"{new.rollout.weight}% of traffic while `{new.version}` stays stable. "
            f"`modelreg rollout advance {spec.name}` moves it through the policy's steps."
        )
    else:
        what = f"Serves `{new.version}` in **{stage}**" + (
            f" instead of `{current}`." if current else "."
        )
    undo = f"modelreg rollback {spec.name} --stage {stage}"
    return (
        f"{what}\n\n{candidate_text}\n\nTo undo after merging: `{undo}` "
        "(a pull request that reverts this merge)."
    )


# -- rollback ---------------------------------------------------------------------------


def plan_rollback(ws: Workspace, *, model: str, stage: str, to: str | None = None) -> Change:
    """A revert of the change that brought the current version, or a pin when it can't be."""
    check_name(model)
    check_name(stage, "--stage")
    if to is not None:
        check_version(to, "--to")
    base, sha = fetch_default_branch(ws.git)
    snap = Snapshot(ws.git, sha, ws.cache)
    spec = _model_in_stage(snap, model, stage)
    require_stage_files(snap, model)
    current = snap.stages(model).assignments.get(stage)
    if current is None:
        raise UsageError(f"nothing serves {model} in {stage}; there is nothing to roll back")
    if current.rollout and to is None:
        return _abort_canary(snap, spec, stage, current, base)
    brought = assignment(stage_events(snap, model), stage, current.version)
    target = to or (brought.previous if brought else None)
    if target is None:
        raise UsageError(
            f"{current.version} is the first version {model} served in {stage}",
            hint="name one with --to VERSION",
        )
    if target == current.version:
        raise UsageError(f"{model} {target} already serves in {stage}")
    snap.record(model, target)
    if target in spec.deprecated:
        raise UsageError(f"{model} {target} is deprecated", hint="roll back --to another version")
    pinned = render_stage(model, stage, StageAssignment(target))
    title = f"Roll back {model} in {stage} to {target}"
    compare = comparison(snap.record(model, target), snap.record(model, current.version))
    wanted = brought if brought and target == brought.previous else None
    revert = (
        wanted
        if wanted and _reverts_cleanly(snap, wanted, stage_yaml(model, stage), pinned)
        else None
    )

    def body(ev: StageEvent | None) -> str:
        return _rollback_body(stage, current.version, target, compare, ev, wanted)

    return _rollback(snap, model, stage, target, base, title, body, pinned, revert)


def _rollback(
    snap: Snapshot,
    model: str,
    stage: str,
    target: str,
    base: str,
    title: str,
    body: Callable[[StageEvent | None], str],
    pinned: str,
    revert: StageEvent | None,
) -> Change:
    """A rollback to `target`: a revert of `revert` when given, else the pinned text.

    `body(event)` words the PR for a revert of `event`, or (None) for a pin.
    """
    return Change(
        model,
        stage,
        "rollback",
        f"modelreg/rollback/{model}/{stage}/{target}",
        base,
        title,
        body(revert) + (f"\n\nThis reverts commit {revert.commit}." if revert else ""),
        pinned,
        revert=revert.commit if revert else None,
        revert_mainline=_is_merge(snap.git, revert.commit) if revert else False,
        pin_body=body(None),
    )


def _reverts_cleanly(snap: Snapshot, ev: StageEvent, path: str, pinned: str) -> bool:
    """Whether `git revert` of `ev`'s commit at the snapshot applies cleanly and leaves
    exactly `pinned`: the commit changed only `path` (against its first parent), the file
    is still byte for byte as the commit left it, and before it the file said `pinned`."""
    git, sha = snap.git, ev.commit
    touched = git.run("diff-tree", "--no-commit-id", "--name-only", "-r", f"{sha}^1", sha)
    if touched.split() != [path]:
        return False
    if git.ls_tree(sha, [path]) != git.ls_tree(snap.rev or "HEAD", [path]):
        return False
    before = git.show(f"{sha}^1", path)
    return before is not None and _same_stage(before.decode("utf-8", "replace"), pinned)


def _abort_canary(
    snap: Snapshot,
    spec: ModelSpec,
    stage: str,
    current: StageAssignment,
    base: str,
) -> Change:
    """Revert the change that started the canary (pin the stable version if that is not exact)."""
    assert current.rollout is not None
    model, cand = spec.name, current.rollout.candidate
    text = render_stage(model, stage, StageAssignment(current.version))
    started = _event_that_started(snap, model, stage, cand)
    revert = (
        started
        if started and _reverts_cleanly(snap, started, stage_yaml(model, stage), text)
        else None
    )
    title = f"Roll back {model} canary {cand} in {stage}; {current.version} serves all traffic"
    what = (
        f"Aborts the canary: `{cand}` (at {current.rollout.weight}%) leaves **{stage}** and "
        f"`{current.version}` takes 100% of traffic again."
    )

    def body(ev: StageEvent | None) -> str:
        if ev:
            return f"{what} Reverts {ev.commit[:12]} ({ev.pr or ev.subject})."
        return what + (_pin_note(started) if started else "")

    return _rollback(snap, model, stage, current.version, base, title, body, text, revert)


def _event_that_started(
    snap: Snapshot, model: str, stage: str, candidate: str
) -> StageEvent | None:
    found, previous = None, None
    for ev in stage_events(snap, model):
        if ev.stage != stage:
            continue
        if ev.candidate == candidate and previous != candidate:
            found = ev
        previous = ev.candidate
    return found


def _is_merge(git: Git, sha: str) -> bool:
    return len(git.run("rev-list", "--parents", "-n", "1", sha).split()) > 2


def _rollback_body(
    stage: str,
    current: str,
    target: str,
    compare: str,
    revert: StageEvent | None,
    wanted: StageEvent | None,
) -> str:
    """The body of a revert of `revert`, or of a pin (saying why `wanted` is not reverted)."""
    if revert:
        how = (
            f"Reverts {revert.commit[:12]} ({revert.pr or revert.subject}), the change that "
            f"brought `{current}` to **{stage}**."
        )
    elif wanted:
        how = f"Pins `{target}` in **{stage}**." + _pin_note(wanted)
    else:
        how = f"Pins `{target}` in **{stage}** (no single change to revert)."
    return f"{how}\n\n`{target}` replaces `{current}`:\n\n{compare}"


# -- making it real ---------------------------------------------------------------------


def propose(
    ws: Workspace, forge: Forge | None, change: Change, *, dry_run: bool = False
) -> Proposal:
    """Push the change's branch (once) and open or find its PR; idempotent on re-run.

    A branch already on origin and not merged is the earlier run's work: it is reused, so
    a run that pushed but failed to open the PR is completed, never duplicated.
    """
    change = replace(change, body=cap_body(change.body))  # the local forge's PR body too
    if dry_run or forge is None:
        return Proposal(change, None, False, "dry run: nothing pushed", dry_run=True)
    existing = remote_branches(ws.git, change.branch).get(change.branch)
    merged = existing is not None and ws.git.ok(
        "merge-base", "--is-ancestor", existing, f"refs/remotes/origin/{change.base}"
    )
    pushed = existing is None or merged
    head = existing
    if pushed:
        change, head = _commit_and_push(ws, change, force=merged)
    assert head is not None
    pr, opened = forge.open_or_update(
        head=change.branch,
        base=change.base,
        title=change.title,
        body=linked(forge, change.body, head),
        labels=change.labels,
    )
    created = pushed or opened
    return Proposal(change, pr, created, "" if created else "pull request already open")


def linked(forge: Forge, body: str, sha: str) -> str:
    """The body with each link to a registry file as the forge links it at commit `sha`."""
    return _FILE_LINK.sub(lambda m: f"]({forge.blob_url(sha, m.group(1))})", body)


_FILE_LINK = re.compile(r"\]\((models/[^)\s]+)\)")


def _commit_and_push(ws: Workspace, change: Change, *, force: bool) -> tuple[Change, str]:
    """Commit the change in a temporary worktree and push it; the change as made, and
    the commit pushed."""
    with temp_worktree(ws.git, f"refs/remotes/origin/{change.base}") as wt:
        message = f"{change.title}\n\n{change.body}\n"
        if change.revert and _try_revert(wt, change):
            commit(wt, message, amend=True)
        else:
            if change.revert:  # the base moved on since the plan: pin after all
                change = replace(change, revert=None, body=cap_body(change.pin_body or ""))
                message = f"{change.title}\n\n{change.body}\n"
            write_stage_file(wt, change)
            commit(wt, message)
        push(wt, f"{'+' if force else ''}HEAD:refs/heads/{change.branch}")
        sha = wt.run("rev-parse", "HEAD").strip()
    return change, sha


def _try_revert(wt: Git, change: Change) -> bool:
    """A clean `git revert` whose only effect is this stage's pin; else leave no trace."""
    assert change.revert is not None
    args = ["revert", "--no-edit", *(["-m", "1"] if change.revert_mainline else []), change.revert]
    if not wt.ok(*args):
        wt.run("revert", "--abort", check=False)
        return False
    touched = wt.run("diff", "--name-only", "HEAD~1", "HEAD").split()
    result = wt.root / change.path
    if touched == [change.path] and _same_stage(result.read_text(), change.stage_text):
        return True
    wt.run("reset", "-q", "--hard", "HEAD~1")
    return False


def write_stage_file(wt: Git, change: Change) -> None:
    """Write and stage the one file a change is about."""
    path = wt.root / change.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(change.stage_text)
    wt.run("add", change.path)


def _same_stage(a: str, b: str) -> bool:
    from modelreg.registry.yamlio import parse_yaml

    return bool(parse_yaml(a, "a") == parse_yaml(b, "b"))


def _pin_note(ev: StageEvent) -> str:
    return (
        f"\n\n_A plain `git revert` of {ev.commit[:12]} ({ev.pr or ev.subject}) would "
        "conflict (the stage's file changed since) or also undo unrelated changes, so this "
        "pins the version in the stage's file instead._"
    )
