"""This repository's own registry: its example models, and the committed DVC remote it uses.

The tests read the repository they are part of, as committed at HEAD, in a throwaway
clone: they never write into the checkout. See docs/self-registry.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from conftest import git, make_registry
from modelreg.adapters import dvc as dvcio
from modelreg.cli import cli
from modelreg.registry.records import version_key

pytestmark = pytest.mark.slow  # clones the repository and pulls from its DVC remote

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"breast-cancer": ("classification", "direct"), "diabetes": ("regression", "canary")}
STORAGE_BUDGET = 5 * 1024 * 1024  # the committed remote must stay small: it lives in Git


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """HEAD of this repository, fetched into a new repository (works from shallow CI checkouts)."""
    check = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True)
    assert check.returncode == 0, f"{ROOT} must be a Git checkout: the tests read its registry"
    repo = tmp_path / "modelreg"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    # HEAD by name: a CI checkout is often detached (a PR's merge commit) and shallow.
    git(repo, "fetch", "-q", "--no-tags", "--update-shallow", str(ROOT), "HEAD")
    git(repo, "checkout", "-q", "--detach", "FETCH_HEAD")
    return repo


@pytest.fixture
def cd(clone: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(clone)
    try:
        yield
    finally:
        os.chdir(old)


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _record(root: Path, model: str, version: str) -> dict[str, Any]:
    rec: dict[str, Any] = _yaml(root / f"models/{model}/versions/{version}.yaml")
    return rec | {"artifact_path": rec["artifact"]["path"]}


def _serving(root: Path, model: str) -> dict[str, str]:
    """Every version a stage assignment points at: `stage` or `stage (canary)` → version."""
    out: dict[str, str] = {}
    for path in sorted((root / f"models/{model}/stages").glob("*.yaml")):
        stage, entry = path.stem, _yaml(path)
        out[stage] = entry["version"]
        if entry.get("rollout"):
            out[f"{stage} (canary)"] = entry["rollout"]["candidate"]
    return out


def test_the_repository_registry_validates(clone: Path, cd: None) -> None:
    result = _run("validate")

    assert result.exit_code == 0, result.output
    assert "registry is valid" in result.output


def test_it_holds_the_two_example_models_with_their_policies_and_metrics(clone: Path) -> None:
    for model, (task, policy) in MODELS.items():
        spec = _yaml(clone / f"models/{model}/model.yaml")
        assert (spec["task"], spec["policy"]) == (task, policy)
        assert spec["pipeline"] == f"pipelines/{model}"
        assert spec["outputs"]["data"] == f"pipelines/{model}/data/batches"  # no top-level data/
        serving = _serving(clone, model)
        assert {"staging", "production"} <= set(serving), serving
        versions = sorted(p.stem for p in (clone / f"models/{model}/versions").glob("*.yaml"))
        assert len(versions) >= 2
        for version in versions:
            rec = _yaml(clone / f"models/{model}/versions/{version}.yaml")
            assert rec["lineage"]["pipeline"] == f"pipelines/{model}" and rec["profile"]

    direct = _yaml(clone / "policies/direct.yaml")
    staging, production = direct["stages"]
    assert production["rollout"]["strategy"] == "direct"
    assert {g["metric"] for g in staging["gates"]} == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
    }
    assert {g["metric"] for g in production["gates"] if "max_regression" in g} == {"f1", "roc_auc"}

    canary = _yaml(clone / "policies/canary.yaml")
    staging, production = canary["stages"]
    rollout = production["rollout"]
    assert rollout["strategy"] == "canary"
    assert [s["weight"] for s in rollout["steps"]] == [10, 50, 100]
    assert {c["metric"] for c in rollout["analysis"]} == {"error_rate", "latency_p95_ms"}
    bounds = {g["metric"]: set(g) - {"metric"} for g in production["gates"]}
    assert bounds == {"rmse": {"max", "max_regression"}, "mae": {"max"}, "r2": {"min"}}
    for policy in (direct, canary):
        assert policy["drift"]["action"] == "retrain_pr" and policy["retrain"]["triggers"]


def test_every_version_in_staging_passes_the_staging_gates(clone: Path, cd: None) -> None:
    for model in MODELS:
        version = _serving(clone, model)["staging"]

        result = _run("gate", model, version, "--stage", "staging", "--format", "json")

        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["passed"] is True


def test_dvc_pull_from_the_committed_remote_reproduces_every_serving_artifact(
    clone: Path,
) -> None:
    assert dvcio.remote_url(clone) == str((clone / ".dvc/storage").resolve())  # no network
    records = {
        (model, version): _record(clone, model, version)
        for model in MODELS
        for version in _serving(clone, model).values()
    }
    tracked = [clone / r[key] for r in records.values() for key in ("artifact_path", "profile")]

    dvcio.pull(clone, tracked)

    for (model, version), rec in records.items():
        artifact = clone / rec["artifact"]["path"]
        got = (hashlib.md5(artifact.read_bytes()).hexdigest(), artifact.stat().st_size)
        assert got == (rec["artifact"]["md5"], rec["artifact"]["size"]), f"{model} {version}"
        assert json.loads((clone / rec["profile"]).read_text())["format"] == "modelreg.profile"


def test_each_pipeline_as_committed_is_the_one_that_trained_the_latest_version(
    clone: Path, cd: None
) -> None:
    for model in MODELS:
        versions = [p.stem for p in (clone / f"models/{model}/versions").glob("*.yaml")]
        latest = _record(clone, model, max(versions, key=version_key))
        lock = clone / f"pipelines/{model}/dvc.lock"
        assert hashlib.md5(lock.read_bytes()).hexdigest() == latest["lineage"]["dvc_lock_md5"]
        # The data by its pointer: next to a dvc.yaml target, DVC skips a folder given by name.
        data = clone / f"{latest['data']['path']}.dvc"
        dvcio.pull(clone, [clone / f"pipelines/{model}/dvc.yaml", data])

        result = _run("train", model, "--json")  # `dvc repro`: every stage is up to date

        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["stages_run"] == []
        assert out["metrics"] == latest["metrics"]


def test_the_committed_remote_stays_small(clone: Path) -> None:
    files = [p for p in (clone / ".dvc/storage").rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    assert files and size < STORAGE_BUDGET, (
        f".dvc/storage holds {size} bytes: keep the example models' data and artifacts tiny, "
        "it is committed to Git"
    )


@pytest.mark.parametrize("where", [".", "sub"])
def test_init_stores_a_relative_remote_relative_to_the_dvc_folder(
    tmp_path: Path, where: str
) -> None:
    reg = make_registry(tmp_path, init=False)
    reg.git("commit", "-q", "--allow-empty", "-m", "start")
    cwd = reg.root / where
    cwd.mkdir(exist_ok=True)
    typed = ".dvc/storage" if where == "." else "../.dvc/storage"

    result = reg.run("init", "--dvc-remote", typed, cwd=cwd)

    assert result.exit_code == 0, result.output
    config = (reg.root / ".dvc/config").read_text()
    assert "url = storage\n" in config  # as `dvc remote add` writes it, from .dvc/
    assert dvcio.remote_url(reg.root) == str((reg.root / ".dvc/storage").resolve())
