"""The shipped workflows, job by job, each in its own fresh clone (tests/runner.py).

One walk goes through the whole loop a team runs on GitHub: train → PR check → merge →
deploy → drift (this workflow under act) → retrain PR → its check → merge → deploy. Nothing carries
over between jobs but what was pushed to `origin` and to the DVC remote.
"""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from conftest import Registry, git, make_registry
from github_api import GitHubAPI
from runner import (
    BIN,
    EXPR_RE,
    JobRun,
    checkout,
    dispatch_context,
    evaluate,
    pull_request_context,
    push_context,
    run_job,
)
from test_workflows import run_act

TEMPLATES = Path(str(resources.files("modelreg").joinpath("templates/workflows")))
VARS = {"vars": {"MODELREG_FORGE": "local"}}


def _job(reg: Registry, flow: str, name: str, ctx: dict[str, Any], *, ok: bool = True) -> JobRun:
    run = run_job(TEMPLATES / flow, name, origin=reg.origin, base=reg.work / "runs", context=ctx)
    assert run.ok is ok, f"{flow} {name}:\n{run.log}"
    return run


def _fresh(reg: Registry, name: str, *, depth: int = 0) -> Path:
    """A new clone of origin's main, as a person or a runner would start."""
    where = reg.work / "clones" / name
    where.parent.mkdir(parents=True, exist_ok=True)
    checkout(reg.origin, where, depth=depth, ref="main")
    return where


def _modelreg(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "modelreg"), *args], cwd=cwd, capture_output=True, text=True)


def _main(reg: Registry) -> str:
    return git(reg.origin, "rev-parse", "refs/heads/main").strip()


def _check_and_merge(reg: Registry, api: GitHubAPI, head: str, label: str) -> str:
    """The PR's required check in a fresh clone, then the merge; the commit before it."""
    pull = api.add_pull(head, title=head)
    ctx = pull_request_context(pull.number, head, repository=api.full_name)
    ctx["github"].update(token=api.token or "", api_url=api.url)
    check = _job(reg, "modelreg-pr.yml", "check", ctx)
    assert "Validate and gate against the base branch" in check.ran, check.log
    (comment,) = api.comments_on(pull.number)
    assert "<!-- modelreg:check -->" in comment.body
    before = _main(reg)
    merged = _modelreg(_fresh(reg, f"merge-{label}"), "pr", "merge", head)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    return before


def _deploy(reg: Registry, before: str) -> JobRun:
    ctx = push_context(reg.origin, before=before)
    plan = _job(reg, "modelreg-deploy.yml", "plan", ctx)
    assert json.loads(plan.outputs["stages"]) == ["staging"], plan.log
    return _job(
        reg,
        "modelreg-deploy.yml",
        "deploy",
        {**ctx, "needs": {"plan": {"outputs": plan.outputs}}, "matrix": {"stage": "staging"}},
    )


def _deployed_version(reg: Registry) -> str:
    names = git(reg.origin, "ls-tree", "-r", "--name-only", "deploy").split()
    (manifest,) = [n for n in names if n.startswith("staging/") and "churn" in n]
    text = git(reg.origin, "show", f"deploy:{manifest}")
    found = [w for w in ("v1.0.0", "v1.1.0") if w in text]
    return found[-1]


def _new_drifted_data(reg: Registry) -> None:
    """What the team pushes between runs: a drifted labelled batch and prediction logs."""
    from modelreg.training.examples import add_batch, dataset

    reg.git("pull", "-q", "origin", "main")
    drifted = dataset("classifier")
    for column in drifted.columns:
        if column not in ("timestamp", "target"):
            drifted[column] = drifted[column] * 1.8
    add_batch(reg.root, "churn", drifted.head(300), "batch-0002")
    logs = reg.root / "data" / "churn" / "logs"
    logs.mkdir(parents=True)
    drifted.drop(columns=["target"]).tail(250).to_csv(logs / "2026-11-21.csv", index=False)
    reg.git("add", "-A")
    reg.git("commit", "-qm", "new data arrived")
    subprocess.run([str(BIN / "dvc"), "push", "-q"], cwd=reg.root, check=True)
    reg.git("push", "-q", "origin", "main")


def test_the_harness_reads_every_expression_the_shipped_workflows_use() -> None:
    """A new expression the harness cannot read fails here, not as a wrong walk."""
    ctx = {
        "github": {"event": {}, "token": "t"},
        "steps": {"deploy": {"outcome": "success"}, "publish": {"outcome": "failure"}},
        "needs": {
            "plan": {"outputs": {"stages": '["staging"]', "models": '["churn"]'}},
            "models": {"outputs": {"models": '["churn"]'}},
            "canaries": {"outputs": {"canaries": '[{"model": "churn", "stage": "production"}]'}},
        },
    }
    exprs = [e for p in TEMPLATES.glob("*.yml") for e in EXPR_RE.findall(p.read_text())]
    assert len(exprs) > 30
    for expr in exprs:
        evaluate(expr, ctx)  # raises on anything it cannot read
    assert evaluate(" vars.MODELREG_PIP_SPEC || 'modelreg' ", ctx) == "modelreg"
    assert evaluate("fromJSON(needs.plan.outputs.stages)", ctx) == ["staging"]
    state = "steps.deploy.outcome == 'success' && steps.publish.outcome == 'success'"
    assert evaluate(f"{state} && 'success' || 'failure'", ctx) == "failure"


def test_a_fresh_clone_can_pull_the_data_an_example_commit_names(tmp_path: Path) -> None:
    """Retrain never pushes its training data or pipeline outputs: nor did `example`, so
    the train workflow could not fetch the pipeline's inputs on a fresh runner."""
    reg = make_registry(tmp_path)
    reg.ok("example", "churn", "--kind", "classifier", "--owner", "@ml-team")
    reg.git("push", "-q", "origin", "main")
    clone = _fresh(reg, "after-example")
    pulled = subprocess.run(
        [str(BIN / "dvc"), "pull", "-q", "data/churn/batches.dvc"],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert list((clone / "data/churn/batches").glob("*.csv"))


@pytest.mark.slow
def test_the_whole_loop_runs_job_by_job_in_fresh_clones(
    tmp_path: Path, github_api: GitHubAPI
) -> None:
    """The fresh-runner harness walk; it found "Retrain never pushes its training data or
    pipeline outputs": after the retrain PR, a fresh clone could not `dvc pull` or train."""
    reg = make_registry(tmp_path)
    reg.ok("example", "churn", "--kind", "classifier", "--owner", "@ml-team")
    policy = reg.root / "policies/default.yaml"
    policy.write_text(
        policy.read_text().replace("must_beat_current: true", "must_beat_current: false")
    )
    reg.git("commit", "-qam", "retrains need not beat the serving version")
    reg.git("push", "-q", "origin", "main")  # `example` pushed its data to the DVC remote

    # The train workflow, dispatched by hand.
    ctx = {**dispatch_context({"model": "churn"}), **VARS}
    plan = _job(reg, "modelreg-train.yml", "plan", ctx)
    assert json.loads(plan.outputs["models"]) == ["churn"]
    needs = {"needs": {"plan": {"outputs": plan.outputs}}, "matrix": {"model": "churn"}}
    train = _job(reg, "modelreg-train.yml", "train", {**ctx, **needs})
    assert train.steps["train"]["outputs"]["version"] == "v1.0.0", train.log

    before = _check_and_merge(reg, github_api, "modelreg/promote/churn/staging/v1.0.0", "promote")
    _deploy(reg, before)
    assert _deployed_version(reg) == "v1.0.0"

    _new_drifted_data(reg)
    # The drift workflow runs under act, the engine of GitHub's runner, on this host: its
    # two jobs each check out a real clone of origin.
    drift = run_act(
        reg,
        "workflow_dispatch",
        {"inputs": {"model": ""}, "repository": {"default_branch": "main"}},
        "modelreg-drift.yml",
        variables={"MODELREG_FORGE": "local"},
    )
    log = drift.stdout + drift.stderr
    assert 'models: ["churn"]' in log, log
    assert log.count("checked out main at") == 2, log  # one real clone per job
    assert "churn: drift verdict **critical**" in log, log
    assert drift.returncode != 0, log  # critical drift fails the run, after the PR is opened
    reg.git("fetch", "-q", "origin")
    prs = json.loads(reg.ok("pr", "list", "--json").output)
    retrains = [p["title"] for p in prs if p["head"].startswith("modelreg/retrain/")]
    assert retrains == ["Retrain churn: v1.1.0 to staging (drift: critical)"], prs
    staging = git(reg.origin, "show", "modelreg/retrain/churn:models/churn/stages/staging.yaml")
    assert "version: v1.1.0" in staging

    before = _check_and_merge(reg, github_api, "modelreg/retrain/churn", "retrain")
    _deploy(reg, before)
    assert _deployed_version(reg) == "v1.1.0"

    # Everything main now names by DVC pointer is on the remote: a new runner can train.
    # (This was also a test of its own, on `drift --open-pr`'s branch; the walk covers it.)
    clone = _fresh(reg, "after-retrain")
    dvc = str(BIN / "dvc")
    for args in (["pull", "-q"], ["repro", "--dry", "pipelines/churn/dvc.yaml"]):
        done = subprocess.run([dvc, *args], cwd=clone, capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    trained = _modelreg(clone, "train", "churn")
    assert trained.returncode == 0, trained.stdout + trained.stderr


def test_register_push_uploads_what_every_pushed_commit_names_by_dvc_pointer(
    registry: Registry,
) -> None:
    """Retrain never pushes its training data or pipeline outputs: nor did `register --push`
    for the commits it publishes with HEAD; a fresh clone must resolve their pointers."""
    registry.write("data/extra.csv", "a,b\n1,2\n")
    subprocess.run([str(BIN / "dvc"), "add", "-q", "data/extra.csv"], cwd=registry.root, check=True)
    registry.git("add", "data/extra.csv.dvc", "data/.gitignore")
    registry.git("commit", "-qm", "more data")
    registry.register("churn", 0, "--push")
    clone = _fresh(registry, "after-register")
    pulled = subprocess.run(
        [str(BIN / "dvc"), "pull", "-q", "data/extra.csv.dvc"],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert (clone / "data/extra.csv").read_text() == "a,b\n1,2\n"
