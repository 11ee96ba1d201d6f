"""`validate FILE…` (the pre-commit hook's entry): only the files named, and what they
refer to, are checked; a record not named is never parsed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Prebuilt, Registry, git
from stagefiles import write_stages


def _build(reg: Registry) -> None:
    """churn v1.0.0 and v1.1.0 (in production), fraud v1.0.0, registered and pushed."""
    reg.register("churn", 0, "--push")
    reg.register("churn", 1, "--push")
    reg.register("fraud", 2, "--push")
    write_stages(reg.root, "churn", "production:\n  version: v1.0.0\n")
    reg.git("add", "-A")
    reg.git("commit", "-qm", "churn in production")
    reg.git("push", "-q", "origin", "main")


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    return prebuilt.registry(_build)


def validate(reg: Registry, *files: str) -> tuple[int, dict[str, object]]:
    result = reg.run("validate", "--json", *files)
    return result.exit_code, json.loads(result.stdout)


def test_a_record_not_named_is_not_parsed(reg: Registry) -> None:
    # a duplicate key makes this record unreadable: naming it fails, naming another does not
    path = reg.root / "models/churn/versions/v1.1.0.yaml"
    path.write_text(path.read_text() + "model: churn\n")
    code, report = validate(reg, "models/churn/versions/v1.0.0.yaml")
    assert (code, report["problems"]) == (0, [])
    assert report["files_checked"] == 3  # model.yaml, the stage file and the one record
    code, report = validate(reg, "models/churn/versions/v1.1.0.yaml")
    assert code == 2
    problems = report["problems"]
    assert isinstance(problems, list)
    assert any(p.startswith("models/churn/versions/v1.1.0.yaml:") for p in problems)
    assert reg.run("validate").exit_code == 2  # and the whole registry still sees it


def test_a_bad_field_is_reported_with_its_file_and_key(reg: Registry) -> None:
    path = reg.root / "models/fraud/versions/v1.0.0.yaml"
    path.write_text(path.read_text().replace("accuracy: 0.9", "accuracy: high"))
    result = reg.run("validate", "models/fraud/versions/v1.0.0.yaml", "models/churn/model.yaml")
    assert result.exit_code == 1, result.output
    assert "models/fraud/versions/v1.0.0.yaml: metrics.accuracy: " in result.stdout
    assert "churn" not in result.stdout


def test_a_named_stage_file_is_checked_against_the_versions_it_names(reg: Registry) -> None:
    write_stages(reg.root, "churn", "production:\n  version: v7.0.0\n")
    code, report = validate(reg, "models/churn/stages/production.yaml")
    assert code == 1
    assert report["problems"] == [
        "models/churn/stages/production.yaml: version: 'v7.0.0' is not a registered version "
        "(known: v1.0.0, v1.1.0)"
    ]
    assert validate(reg, "models/fraud/model.yaml")[0] == 0


def test_a_named_model_yaml_is_checked_against_the_policy_it_names(reg: Registry) -> None:
    path = reg.root / "models/fraud/model.yaml"
    path.write_text(path.read_text().replace("policy: default", "policy: nowhere"))
    code, report = validate(reg, "models/fraud/model.yaml", "README.md")
    assert code == 1
    (problem,) = report["problems"]  # type: ignore[misc]
    assert problem.startswith("models/fraud/model.yaml: policy: no policy file")


def test_files_are_named_relative_to_the_current_directory(reg: Registry) -> None:
    path = reg.root / "models/fraud/versions/v1.0.0.yaml"
    path.write_text(path.read_text().replace("accuracy: 0.9", "accuracy: high"))
    result = reg.run("validate", "versions/v1.0.0.yaml", cwd=reg.root / "models" / "fraud")
    assert result.exit_code == 1
    assert "models/fraud/versions/v1.0.0.yaml: metrics.accuracy" in result.stdout
    outside = reg.run("validate", str(reg.work / "x.yaml"))
    assert outside.exit_code == 2
    assert "is not inside the repository" in outside.stderr


SOURCE = Path(__file__).resolve().parents[1]  # the checkout under test


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME per run (per xdist worker): the hook's environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.mark.slow
def test_the_pre_commit_hook_fails_on_a_bad_record_and_passes_on_a_good_one(
    tmp_path: Path, pre_commit_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pre-commit try-repo` of this repository's hook, on its own dogfooded registry.

    try-repo installs the hook from a git repository at HEAD: a clone of the checkout
    under test (so what is tested is its last commit) -- the one test that installs from
    the package index (~60 s).
    """
    top = subprocess.run(
        ["git", "-C", str(SOURCE), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    assert top.returncode == 0 and Path(top.stdout.strip()).resolve() == SOURCE, (
        "pre-commit try-repo installs the hook from a git repository: run the suite from a "
        "git clone of modelreg"
    )
    hooks = tmp_path / "hooks"
    registry = tmp_path / "registry"
    git(tmp_path, "clone", "-q", str(SOURCE), str(hooks))
    git(tmp_path, "clone", "-q", str(hooks), str(registry))
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    monkeypatch.setenv("PIP_NO_COMPILE", "1")  # no bytecode compiled for the hook's packages
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the hook runs the modelreg it installed
    good = "models/diabetes/versions/v1.0.0.yaml"
    bad = "models/diabetes/versions/v1.0.1.yaml"
    text = (registry / good).read_text().replace("version: v1.0.0", "version: v1.0.1")
    (registry / bad).write_text(text.replace("created_at: ", "created_at: yesterday #"))

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        pre_commit = str(Path(sys.executable).parent / "pre-commit")
        return subprocess.run(
            [pre_commit, "try-repo", str(hooks), "modelreg-validate", "--files", *files],
            cwd=registry,
            capture_output=True,
            text=True,
            timeout=600,
        )

    passed = try_repo(good, "README.md")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "modelreg validate" in passed.stdout and "Passed" in passed.stdout
    failed = try_repo(good, bad)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"{bad}: created_at: " in failed.stdout
