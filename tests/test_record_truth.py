"""The version record tells the truth (issue 11, §5): data path, code commit, task."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml

from conftest import Registry, git
from modelreg.registry.workspace import Workspace
from modelreg.training.train import pipeline_commit
from stagefiles import write_stages


def _record(reg: Registry, version: str = "v1.0.0", model: str = "churn") -> dict[str, object]:
    text = (reg.root / f"models/{model}/versions/{version}.yaml").read_text()
    rec: dict[str, object] = yaml.safe_load(text)
    return rec


def _spec(reg: Registry, model: str = "churn") -> dict[str, object]:
    spec: dict[str, object] = yaml.safe_load((reg.root / f"models/{model}/model.yaml").read_text())
    return spec


def _data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.csv"
    path.write_text("tenure,plan\n1.5,basic\n3,pro\n")
    return path


def test_data_outside_the_repository_is_named_by_file_name_not_this_machines_path(
    registry: Registry,
) -> None:
    """§5 bullet 1: `data.path` stored the absolute path of a temp folder."""
    data = _data(registry.work)
    registry.register("churn", 0, "--data", str(data))
    ref = _record(registry)["data"]
    assert isinstance(ref, dict)
    assert ref["path"] == "train.csv"
    assert (
        str(registry.work) not in (registry.root / "models/churn/versions/v1.0.0.yaml").read_text()
    )
    assert len(ref["md5"]) == 32


def test_data_inside_the_repository_is_named_by_its_repository_relative_path(
    registry: Registry,
) -> None:
    """§5 bullet 1: a file inside the repository keeps its repository-relative path."""
    data = _data(registry.root / "data")
    registry.register("churn", 0, "--data", str(data))
    ref = _record(registry)["data"]
    assert isinstance(ref, dict) and ref["path"] == "data/train.csv"


def test_code_commit_given_with_the_flag_is_recorded_as_from_the_flag(registry: Registry) -> None:
    """§5 bullet 2: `code_commit` was always the registry's HEAD."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    registry.register("churn", 0, "--code-commit", sha.upper())
    rec = _record(registry)
    assert rec["code_commit"] == sha and rec["code_commit_source"] == "flag"
    registry.ok("validate")


def test_without_the_flag_the_registry_head_is_recorded_and_says_so(registry: Registry) -> None:
    """§5 bullet 2: the fallback names itself as the registry's HEAD."""
    registry.register("churn", 0)
    rec = _record(registry)
    assert rec["code_commit"] == registry.git("rev-parse", "HEAD~1").strip()
    assert rec["code_commit_source"] == "registry-head"


def test_a_code_commit_that_is_not_a_sha_is_one_line_exit_2(registry: Registry) -> None:
    """§5 bullet 2: --code-commit takes a commit id."""
    art = registry.artifact("a")
    met = registry.metrics("a", accuracy=0.9)
    result = registry.run(
        "register", "churn", "--artifact", str(art), "--metrics", str(met),
        "--code-commit", "main; rm -rf",
    )  # fmt: skip
    assert result.exit_code == 2 and "--code-commit" in result.stderr
    assert not (registry.root / "models/churn").exists()


def test_the_pipeline_commit_is_the_last_commit_that_changed_the_pipeline_folder(
    registry: Registry,
) -> None:
    """§5 bullet 2: `train` records the training code's commit, not the registry's HEAD."""
    registry.write("pipelines/m/train.py", "print('fit')\n")
    registry.git("add", "pipelines")
    registry.git("commit", "-qm", "pipeline")
    code = registry.git("rev-parse", "HEAD").strip()
    registry.write("README.md", "later\n")
    registry.git("add", "README.md")
    registry.git("commit", "-qm", "unrelated")
    ws = Workspace.open(registry.root)
    assert pipeline_commit(ws, "pipelines/m") == code != registry.git("rev-parse", "HEAD").strip()


def test_a_pipeline_in_a_repository_of_its_own_gives_that_repositorys_head(
    registry: Registry,
) -> None:
    """§5 bullet 2: HEAD of the repository holding the pipeline."""
    folder = registry.root / "pipelines/m"
    folder.mkdir(parents=True)
    git(folder, "init", "-q")
    (folder / "train.py").write_text("print('fit')\n")
    git(folder, "add", "train.py")
    git(folder, "commit", "-qm", "code")
    code = git(folder, "rev-parse", "HEAD").strip()
    assert pipeline_commit(Workspace.open(registry.root), "pipelines/m") == code


def test_re_registering_the_same_bytes_names_the_commit_that_registered_them(
    registry: Registry,
) -> None:
    """§5 bullet 3: "already registered" named HEAD, not the registering commit."""
    registry.register("churn", 0)
    first = registry.git("rev-parse", "HEAD").strip()
    registry.register("churn", 1)
    assert registry.git("rev-parse", "HEAD").strip() != first
    out = registry.register("churn", 0).output
    assert "already registered churn v1.0.0" in out and f"commit {first[:8]}" in out


def test_the_first_register_sets_the_task_from_the_estimator(registry: Registry) -> None:
    """§5 bullet 4: model.yaml got no task, so concept drift never ran."""
    registry.register("churn", 0)
    assert _spec(registry)["task"] == "classification"


def test_the_task_option_sets_the_task_of_a_new_model(registry: Registry) -> None:
    """§5 bullet 4: --task sets model.yaml's task."""
    registry.register("churn", 0, "--task", "regression")
    assert _spec(registry)["task"] == "regression"


def test_a_regressor_is_recognised_as_regression(registry: Registry) -> None:
    """§5 bullet 4: the verified loader's estimator decides when nothing else says."""
    from sklearn.linear_model import LinearRegression

    art = registry.work / "reg.pkl"
    art.write_bytes(pickle.dumps(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])))
    met = registry.metrics("reg", rmse=0.1)
    registry.ok("register", "price", "--artifact", str(art), "--metrics", str(met))
    assert _spec(registry, "price")["task"] == "regression"


def test_a_task_that_contradicts_model_yaml_is_exit_2_naming_both(registry: Registry) -> None:
    """§5 bullet 4: the task is never silently overwritten."""
    registry.register("churn", 0)
    art = registry.artifact("b", 1)
    met = registry.metrics("b", accuracy=0.9)
    head = registry.git("rev-parse", "HEAD")
    result = registry.run(
        "register", "churn", "--artifact", str(art), "--metrics", str(met),
        "--task", "regression",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "classification" in result.stderr and "regression" in result.stderr
    assert registry.git("rev-parse", "HEAD") == head
    assert _spec(registry)["task"] == "classification"


def test_a_hand_written_model_yaml_without_a_task_gets_one_and_keeps_its_comments(
    registry: Registry,
) -> None:
    """§5 bullet 4: set by the first register, in the registration's commit."""
    registry.write("models/churn/model.yaml", "# ours\nname: churn\npolicy: default\n")
    registry.git("add", "models")
    registry.git("commit", "-qm", "describe churn")
    registry.register("churn", 0)
    text = (registry.root / "models/churn/model.yaml").read_text()
    assert text.startswith("# ours\n") and yaml.safe_load(text)["task"] == "classification"
    assert registry.git("status", "--porcelain") == ""
    assert "models/churn/model.yaml" in registry.git("show", "--name-only", "HEAD")


@pytest.mark.parametrize("given", ["classification", None])
def test_an_agreeing_or_absent_task_leaves_model_yaml_as_it_is(
    registry: Registry, given: str | None
) -> None:
    """§5 bullet 4: a task model.yaml already names is kept."""
    registry.write("models/churn/model.yaml", "name: churn\ntask: classification\n")
    registry.git("add", "models")
    registry.git("commit", "-qm", "describe churn")
    registry.register("churn", 0, *(["--task", given] if given else []))
    assert (registry.root / "models/churn/model.yaml").read_text() == (
        "name: churn\ntask: classification\n"
    )


def test_concept_drift_says_dropped_with_a_minus_when_accuracy_falls() -> None:
    """§5 bullet 4: a fall in accuracy read "worsened by +0.1"."""
    from modelreg.monitoring.concept import concept_drift

    y = [0, 1] * 100
    pred = [1 - v if i < 40 else v for i, v in enumerate(y)]  # 80 % accurate
    finding = concept_drift(y, pred, "classification", {"accuracy": 0.9})
    assert finding.severity == "critical" and finding.drop == pytest.approx(0.1)
    assert finding.reason.startswith("concept: accuracy dropped -0.1 (worse; 0.9 → 0.8 ")
    better = concept_drift(y, y, "classification", {"accuracy": 0.9})
    assert better.reason.startswith("concept: accuracy rose +0.1 (better;")


def test_concept_drift_text_in_every_rendering_carries_the_minus() -> None:
    """§5 bullet 4: the text, markdown and html reports show the signed fall."""
    import numpy as np
    import pandas as pd

    from modelreg.monitoring.compare import compare
    from modelreg.monitoring.concept import concept_drift
    from modelreg.monitoring.profile import build_profile
    from modelreg.monitoring.render import render

    y = [0, 1] * 100
    pred = [1 - v if i < 40 else v for i, v in enumerate(y)]
    finding = concept_drift(y, pred, "classification", {"accuracy": 0.9})
    frame = pd.DataFrame({"x": np.arange(300.0)})
    report = compare(build_profile(frame, ["x"]), frame, concept=finding)
    assert any(r.startswith("critical: concept: accuracy dropped -0.1") for r in report.reasons)
    for fmt in ("text", "markdown", "html"):
        assert "accuracy dropped -0.1" in render(report, fmt), fmt


def test_a_canary_judges_each_row_against_the_version_that_served_it() -> None:
    """§5 bullet 4: canary rows were judged against the stable version's metric."""
    from modelreg.monitoring.concept import concept_by_version

    y = [0, 1] * 200
    served = ["v1.0.0"] * 200 + ["v1.1.0"] * 200
    pred = [1 - v if 200 <= i < 240 else v for i, v in enumerate(y)]  # canary 80 %
    metrics = {"v1.0.0": {"accuracy": 1.0}, "v1.1.0": {"accuracy": 0.8}}
    finding = concept_by_version(y, pred, served, "classification", metrics)
    assert finding.severity == "ok", finding.reason
    assert "concept (v1.0.0): accuracy held +0" in finding.reason
    assert "concept (v1.1.0): accuracy held +0" in finding.reason
    stricter = {"v1.0.0": {"accuracy": 1.0}, "v1.1.0": {"accuracy": 0.95}}
    bad = concept_by_version(y, pred, served, "classification", stricter)
    assert bad.severity == "critical" and bad.registered == 0.95
    assert "concept (v1.1.0): accuracy dropped -0.15" in bad.reason


def test_a_drift_check_during_a_canary_judges_canary_rows_by_the_candidates_metric(
    registry: Registry,
) -> None:
    """§5 bullet 4: end to end, with model.yaml's task set by register alone."""
    from modelreg.monitoring.check import check_drift

    sample = _data(registry.work)
    registry.register("churn", 0, "--sample", str(sample), accuracy=1.0)
    registry.register("churn", 1, "--sample", str(sample), accuracy=0.8)
    write_stages(
        registry.root,
        "churn",
        "production:\n  version: v1.0.0\n  rollout:\n    candidate: v1.1.0\n    weight: 50\n",
    )
    registry.git("add", "-A", "models")
    registry.git("commit", "-qm", "canary")
    rows = ["tenure,plan,label,prediction,version"]
    for i in range(400):
        label = i % 2
        wrong = 200 <= i < 240  # the canary is 80 % right, as it was registered
        served = "v1.0.0" if i < 200 else "v1.1.0"
        rows.append(f"{i % 7},basic,{label},{1 - label if wrong else label},{served}")
    log = registry.work / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    check = check_drift(Workspace.open(registry.root), model="churn", current=log, reference=log)
    concept = check.report.concept
    assert concept is not None and concept.severity == "ok", concept
    assert "concept (v1.1.0): accuracy held +0" in concept.reason


# `train --register` records the pipeline's commit: tests/test_train.py, on its trained build.
