"""Acting on a drift verdict: retrain on the policy's window and open (or update) one PR.

The retrain PR carries both the new version's registration and its assignment to the
first stage, on one bot branch per model (`modelreg/retrain/MODEL`), so re-runs while
it is open update that PR instead of opening another, and a protected default branch
never receives a direct push.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelreg.adapters import dvc as dvcio
from modelreg.adapters.git import (
    commit,
    commit_paths,
    fetch_default_branch,
    push,
    remote_branches,
    temp_worktree,
)
from modelreg.errors import UsageError
from modelreg.forge.base import Forge
from modelreg.monitoring.check import DriftCheck
from modelreg.promotion.gate_runs import run_gate
from modelreg.promotion.gates import render as render_gate
from modelreg.promotion.pr_body import comparison
from modelreg.promotion.propose import Proposal, linked
from modelreg.promotion.propose import describe as describe_proposal
from modelreg.registry.names import check_name
from modelreg.registry.records import StageAssignment, VersionRecord
from modelreg.registry.snapshot import Snapshot, stage_yaml
from modelreg.registry.stages import render_stage, require_stage_files
from modelreg.registry.workspace import Workspace


@dataclass(frozen=True)
class Outcome:
    note: str
    proposal: Proposal | None = None
    candidate: VersionRecord | None = None


def describe(outcome: Outcome) -> str:
    """What a retrain did, and the PR it opened or updated."""
    if outcome.proposal is None or outcome.proposal.pr is None:
        return outcome.note
    return f"{outcome.note}\n{describe_proposal(outcome.proposal)}"


def act_on_drift(ws: Workspace, forge: Forge, check: DriftCheck) -> Outcome:
    """What the policy's `drift.action` and `retrain.triggers` ask for on this verdict.

    retrain_pr: a warning updates one tracking issue, critical drift retrains and opens
    the retrain PR when `drift` is among the retrain triggers; issue: the tracking issue
    for either; none: nothing. Each refusal names the key that made it.
    """
    verdict = check.report.verdict
    if verdict not in ("warn", "critical"):
        return Outcome(f"drift verdict {verdict}: no action")
    snap = ws.snapshot("HEAD")
    policy = snap.policy(snap.model(check.model).policy)
    source = f"policies/{policy.name}.yaml"
    action = policy.drift.action
    if action == "none":
        return Outcome(
            f"drift {verdict} for {check.model}: {source} drift.action is none; "
            "no issue, no retrain"
        )
    from modelreg.monitoring.render import render

    report_md = render(check.report, "markdown", title=f"{check.model} {check.version}")
    if action == "issue" or verdict == "warn":
        return _track(forge, check, report_md, f"{source} drift.action: {action}")
    if "drift" not in policy.retrain.triggers:
        listed = ", ".join(policy.retrain.triggers) or "none"
        return Outcome(
            f"drift critical for {check.model}: {source} retrain.triggers ({listed}) "
            "does not include drift; no retrain"
        )
    return _retrain(ws, forge, check, report_md)


def _track(forge: Forge, check: DriftCheck, report_md: str, why: str) -> Outcome:
    """Open or update the model's one drift tracking issue; the local forge has none."""
    verdict = check.report.verdict
    ref = forge.upsert_issue(
        title=f"modelreg: drift in {check.model}",
        body=report_md,
        labels=["modelreg", "drift"],
    )
    if not ref:
        return Outcome(
            f"drift {verdict} for {check.model}: {why} asks for a tracking issue, and the "
            "local forge cannot hold issues; nothing opened, no retrain"
        )
    return Outcome(f"drift {verdict} for {check.model}: tracking issue {ref} updated; no retrain")


def _retrain(ws: Workspace, forge: Forge, check: DriftCheck, report_md: str) -> Outcome:
    why = f"production data drifted (verdict **{check.report.verdict}**)"
    return retrain(
        ws,
        forge,
        model=check.model,
        trigger="drift",
        why=why,
        evidence=report_md,
        label=f"drift: {check.report.verdict}",
    )


def retrain(
    ws: Workspace,
    forge: Forge,
    *,
    model: str,
    trigger: str,
    why: str,
    evidence: str = "",
    label: str | None = None,
) -> Outcome:
    """Train on the policy's window, register, and open or update the model's retrain PR."""
    check_name(model)
    from modelreg.training.train import read_pipeline, train

    base, base_sha = fetch_default_branch(ws.git)
    snap = Snapshot(ws.git, base_sha, ws.cache)
    snap.require_model(model)
    require_stage_files(snap, model)  # before training, not after it
    spec = snap.model(model)
    policy = snap.policy(spec.policy)
    pipeline = read_pipeline(ws, model).folder
    was_clean = not ws.git.run("status", "--porcelain", "--", pipeline).strip()
    serving = _serving(snap, model, list(policy.stage_names))
    result = train(
        ws,
        model=model,
        register=True,
        sets={},
        trigger=trigger,
        window_days=policy.retrain.window_days,
        message=None,
        push=False,
        compare_with=serving,
    )
    if result.registered is None:
        return Outcome("retraining registered no version; no PR opened")
    candidate = result.registered.record
    if candidate.version in snap.versions(model):
        if was_clean and result.uncommitted:
            # Nothing new to propose: put back the params and lock file this run changed.
            ws.git.run("checkout", "HEAD", "--", *result.uncommitted)
        return Outcome(
            f"retraining reproduced {model} {candidate.version} (no new data in the "
            "window); no PR opened",
            candidate=candidate,
        )
    _push_objects(ws, candidate, base_sha)
    first = policy.stages[0].name
    paired = candidate.comparison(serving.version) if serving else None
    same = dict(paired.baseline_metrics) if paired else None
    metric = policy.retrain.comparison_metric(spec.headline_metrics)
    verdict = _beats(metric, candidate, serving, same, policy.retrain.must_beat_current)
    if verdict:
        return Outcome(verdict, candidate=candidate)
    gate = run_gate(snap, candidate, first)
    parts = [
        f"Retrained `{model}` because {why}; this registers `{candidate.version}` "
        f"(trigger `{trigger}`) and serves it in **{first}**.",
        comparison(candidate, serving),
        render_gate(gate, "markdown"),
        evidence,
    ]
    body = "\n\n".join(p for p in parts if p)
    title = f"Retrain {model}: {candidate.version} to {first} ({label or trigger})"
    branch = f"modelreg/retrain/{model}"
    existed = branch in remote_branches(ws.git, branch)
    head = _push_branch(ws, model, first, candidate.version, branch, f"{title}\n\n{body}\n")
    pr, opened = forge.open_or_update(
        head=branch,
        base=base,
        title=title,
        body=linked(forge, body, head),
        labels=["modelreg", "retrain", f"stage:{first}"],
    )
    created = opened or not existed
    return Outcome(
        f"retrained {model} {candidate.version}", Proposal(None, pr, created, ""), candidate
    )


def _push_objects(ws: Workspace, candidate: VersionRecord, base_sha: str) -> None:
    """Upload all the retrain commit names by DVC pointer; a remote inside the repo is committed.

    That is the candidate's artifact and profile, and also the data pointer and the
    pipeline's dvc.lock the retrain changed: a fresh clone must be able to `dvc pull`
    and train again.
    """
    from modelreg.training.register import tracked

    targets = [ws.root / p for p in tracked(candidate)]
    dvcio.push(ws.root, targets + dvcio.changed_pointers(ws.git, base_sha))
    storage = dvcio.remote_in_repo(ws.root)
    if storage and ws.git.run("status", "--porcelain", "--", storage).strip():
        commit_paths(ws.git, [storage], f"dvc storage: {candidate.model} {candidate.version}")


def _serving(snap: Snapshot, model: str, order: list[str]) -> VersionRecord | None:
    """The version in the last stage that has one (what a retrain must beat)."""
    stages = snap.stages(model)
    for stage in reversed(order):
        version = stages.version(stage)
        if version:
            return snap.record(model, version)
    return None


def new_rows(ws: Workspace, model: str) -> tuple[int, int] | None:
    """(rows in the data pool now, rows the serving version was trained on), if both known."""
    from modelreg.adapters.tables import count_rows
    from modelreg.training.train import read_pipeline

    snap = ws.snapshot("HEAD")
    serving = _serving(snap, model, list(snap.policy(snap.model(model).policy).stage_names))
    data = read_pipeline(ws, model).data
    if serving is None or serving.data is None or serving.data.rows is None or data is None:
        return None
    folder = ws.root / data
    if not folder.exists():
        dvcio.pull(ws.root, [folder])
    now = count_rows(folder)
    return (now, serving.data.rows) if now is not None else None


def scheduled(ws: Workspace, forge: Forge, *, model: str, trigger: str) -> Outcome:
    """`modelreg retrain`: the schedule or data-volume trigger of the model's policy."""
    check_name(model)
    snap = ws.snapshot("HEAD")
    snap.require_model(model)
    policy = snap.policy(snap.model(model).policy)
    if trigger not in policy.retrain.triggers:
        listed = ", ".join(policy.retrain.triggers) or "none"
        raise UsageError(
            f"policy '{policy.name}' does not retrain on {trigger}",
            hint=f"retrain.triggers: {listed}",
        )
    if trigger == "schedule":
        return retrain(ws, forge, model=model, trigger=trigger, why="its retraining schedule came")
    rows = new_rows(ws, model)
    need = policy.retrain.min_new_rows or 0
    if rows is None:
        return Outcome(
            f"{model}: the data pool or the serving version's row count is unknown; no retrain"
        )
    grown = rows[0] - rows[1]
    if grown < need:
        return Outcome(
            f"{model}: {grown} new rows since the serving version, "
            f"{need} needed (retrain.min_new_rows); no retrain"
        )
    why = f"{grown} new rows arrived since the serving version (retrain.min_new_rows {need})"
    return retrain(ws, forge, model=model, trigger=trigger, why=why)


def _beats(
    metric: str | None,
    cand: VersionRecord,
    cur: VersionRecord | None,
    same: dict[str, float] | None,
    required: bool,
) -> str | None:
    """Why the candidate may not be proposed, or None when it may."""
    if cur is None:
        return None
    baseline = same if same is not None else dict(cur.metrics)
    if not required or metric is None or metric not in cand.metrics or metric not in baseline:
        return None
    from modelreg.registry.policy import metric_direction

    new, old = cand.metrics[metric], baseline[metric]
    better = new <= old if metric_direction(metric) == "lower" else new >= old
    if better:
        return None
    where = "on the candidate's holdout" if same is not None else "on their registered metrics"
    return (
        f"candidate {cand.version} does not beat {cur.version} on {metric} {where} "
        f"({new:.4g} vs {old:.4g}); no PR opened (policy retrain.must_beat_current)"
    )


def _push_branch(
    ws: Workspace, model: str, stage: str, version: str, branch: str, message: str
) -> str:
    """The registration commit plus the stage change, force-pushed to the bot's branch;
    returns the pushed head commit."""
    path = stage_yaml(model, stage)
    with temp_worktree(ws.git, "HEAD") as wt:
        (wt.root / path).parent.mkdir(parents=True, exist_ok=True)
        (wt.root / path).write_text(render_stage(model, stage, StageAssignment(version)))
        wt.run("add", path)
        commit(wt, message)
        push(wt, f"+HEAD:refs/heads/{branch}")
        return wt.run("rev-parse", "HEAD").strip()
