"""example → train → register, on real Git, real DVC (`dvc repro`) and bundled data."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from conftest import PROFILE, Prebuilt, Registry, git, tree_state
from modelreg.registry.workspace import Workspace
from modelreg.training.examples import add_batch, create, dataset

pytestmark = pytest.mark.slow  # every test here runs `dvc repro` for real

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
HEADLINE = {"classifier": {"accuracy", "f1", "roc_auc"}, "regressor": {"rmse", "mae", "r2"}}
ROWS = {"classifier": 569, "regressor": 442}
RETUNE = {"classifier": ("train.C", 0.1), "regressor": ("train.alpha", 10.0)}


def _example(reg: Registry, model: str = "m", kind: str = "classifier") -> None:
    create(Workspace.open(reg.root), model=model, kind=kind, owner="@ml-team", now=NOW)


def _train(reg: Registry, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(reg.ok("train", *args, "--json").output)
    return out


def _head_file(reg: Registry, path: str) -> bytes:
    return git(reg.root, "show", f"HEAD:{path}").encode()


def _one_line_error(reg: Registry, args: list[str], code: int) -> str:
    result = reg.run(*args)
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelreg: error: "), result.stderr
    return lines[0]


def _example_and_train(reg: Registry, kind: str) -> None:
    """Scaffold and train m; what the scaffold committed and `train --json` printed are
    kept in work/ for the test that checks a first train (so it needs no train of its own)."""
    _example(reg, kind=kind)
    scaffolded = reg.git("show", "--name-only", "--format=", "HEAD").split()
    (reg.work / "scaffolded.json").write_text(json.dumps(scaffolded))
    reg.write("NOTES.md", "unrelated\n")  # HEAD is no longer the pipeline's last commit
    reg.git("add", "NOTES.md")
    reg.git("commit", "-qm", "unrelated")
    (reg.work / "train.json").write_text(json.dumps(_train(reg, "m", "--register")))


def trained_classifier(reg: Registry) -> None:
    _example_and_train(reg, "classifier")


def trained_regressor(reg: Registry) -> None:
    _example_and_train(reg, "regressor")


TRAINED = {"classifier": trained_classifier, "regressor": trained_regressor}


@pytest.fixture
def trained(prebuilt: Prebuilt) -> Registry:
    """m, a classifier scaffolded at NOW, trained and registered as v1.0.0 (a copy)."""
    return prebuilt.registry(trained_classifier)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_train_register_records_the_pipeline_lineage_metrics_and_signature(
    prebuilt: Prebuilt, kind: str
) -> None:
    registry = prebuilt.registry(TRAINED[kind])  # scaffolded, then `train m --register`
    scaffolded = json.loads((registry.work / "scaffolded.json").read_text())
    assert "data/m/batches.dvc" in scaffolded and "models/m/model.yaml" in scaffolded
    assert not any(p.endswith(".csv") for p in scaffolded)  # the batches live in DVC

    out = json.loads((registry.work / "train.json").read_text())

    assert out["stages_run"] == ["prepare", "train", "evaluate"]
    assert out["registered"]["already"] is False
    rec = yaml.safe_load((registry.root / "models/m/versions/v1.0.0.yaml").read_text())
    assert rec["trigger"] == "manual" and "parent" not in rec
    lock = _head_file(registry, "pipelines/m/dvc.lock")
    assert rec["lineage"] == {
        "pipeline": "pipelines/m",
        "dvc_lock_md5": hashlib.md5(lock).hexdigest(),
    }
    metrics = json.loads((registry.root / "pipelines/m/out/metrics.json").read_text())
    assert rec["metrics"] == metrics and metrics["dataset"].startswith("holdout@sha256:")
    assert HEADLINE[kind] <= set(metrics)
    sample_header = (registry.root / "pipelines/m/out/sample.csv").read_text().splitlines()[0]
    names = [f["name"] for f in rec["signature"]["inputs"]]
    assert names == sample_header.split(",") and "target" not in names
    pointer = yaml.safe_load((registry.root / "data/m/batches.dvc").read_text())
    assert rec["data"] == {"path": "data/m/batches", "md5": pointer["outs"][0]["md5"]} | {
        "rows": ROWS[kind]
    }
    params = yaml.safe_load((registry.root / "pipelines/m/params.yaml").read_text())
    assert rec["params"] == params
    assert registry.git("status", "--porcelain") == ""
    assert registry.ok("validate").exit_code == 0


def test_a_second_train_with_nothing_changed_runs_no_stage_and_adds_no_version(
    trained: Registry,
) -> None:
    registry = trained
    first = yaml.safe_load((registry.root / "models/m/versions/v1.0.0.yaml").read_text())
    head = registry.git("rev-parse", "HEAD")

    again = _train(registry, "m", "--register")

    assert again["stages_run"] == []
    assert again["registered"]["already"] is True
    assert again["registered"]["record"]["version"] == "v1.0.0"
    assert again["dvc_lock_md5"] == first["lineage"]["dvc_lock_md5"]
    assert registry.git("rev-parse", "HEAD") == head
    assert registry.git("status", "--porcelain") == ""
    text = registry.ok("train", "m").output
    assert "stages run: none" in text and "registered" not in text


# `--set` is one mechanism for both kinds (the regressor's train/register path is covered
# above): the regressor case runs in the `thorough` profile only, to keep the slow tier
# inside its budget.
@pytest.mark.parametrize(
    "kind", ["classifier", "regressor"] if PROFILE == "thorough" else ["classifier"]
)
def test_set_retrains_and_registers_a_child_version_with_the_new_params(
    prebuilt: Prebuilt, kind: str
) -> None:
    registry = prebuilt.registry(TRAINED[kind])
    key, value = RETUNE[kind]
    group, name = key.split(".")
    params = yaml.safe_load((registry.root / "pipelines/m/params.yaml").read_text())
    original = params[group][name]

    out = _train(registry, "m", "--register", "--set", f"{key}={value}")

    assert out["stages_run"] == ["train", "evaluate"]  # prepare's inputs did not change
    rec = out["registered"]["record"]
    assert (rec["version"], rec["parent"]) == ("v1.1.0", "v1.0.0")
    assert rec["params"]["train"][key.split(".")[1]] == value
    committed = yaml.safe_load(_head_file(registry, "pipelines/m/params.yaml"))
    assert committed["train"][key.split(".")[1]] == value
    first = yaml.safe_load((registry.root / "models/m/versions/v1.0.0.yaml").read_text())
    assert rec["artifact"]["md5"] != first["artifact"]["md5"]
    assert registry.git("status", "--porcelain") == ""

    # Setting it back finds the version with those bytes and says what is left to commit.
    head = registry.git("rev-parse", "HEAD")
    back = _train(registry, "m", "--register", "--set", f"{key}={original}")
    assert back["registered"]["already"] is True
    assert back["registered"]["record"]["version"] == "v1.0.0"
    assert registry.git("rev-parse", "HEAD") == head
    assert set(back["uncommitted"]) == {"pipelines/m/dvc.lock", "pipelines/m/params.yaml"}


def test_a_bad_set_is_one_line_exit_2_and_changes_nothing(registry: Registry) -> None:
    _example(registry)
    cases = {
        "train.nope=1": "pipelines/m/params.yaml: train.nope: no such parameter (known: ",
        "train=1": "pipelines/m/params.yaml: train: is a group, not one value (set train.C, ",
        "nonsense": "--set 'nonsense': expected KEY=VALUE",
        "train.C=[1, 2]": "--set train.C=[1, 2]: not a single value",
    }
    for item, message in cases.items():
        before = tree_state(registry.root)
        line = _one_line_error(registry, ["train", "m", "--set", item], 2)
        assert line.startswith(f"modelreg: error: {message}"), line
        assert tree_state(registry.root) == before


def test_a_failing_stage_is_one_line_exit_1_naming_it_and_registers_nothing(
    registry: Registry,
) -> None:
    _example(registry)
    script = registry.root / "pipelines/m/train.py"
    good = script.read_text()
    script.write_text(good + 'raise RuntimeError("broken on purpose")\n')
    head = registry.git("rev-parse", "HEAD")

    line = _one_line_error(registry, ["train", "m", "--register"], 1)

    assert "pipelines/m/dvc.yaml: stage 'train' failed: RuntimeError: broken on purpose" in line
    assert registry.git("rev-parse", "HEAD") == head
    assert not (registry.root / "models/m/versions").exists()
    assert registry.git("diff", "--cached", "--name-only") == ""
    status = registry.git("status", "--porcelain", "--untracked-files=all")
    assert "pipelines/m/train.py" in status and "pipelines/m/dvc.lock" in status  # prepare ran

    # Issue 10, "A failed `train`": the stages that ran keep their outputs git-ignored, so
    # the next `train --register` commits neither the model nor the data splits.
    script.write_text(good)
    # Without --register, train leaves the lock file (and the params it set) to the user.
    text = registry.ok("train", "m", "--set", "train.max_iter=500").output
    assert "stages run: train, evaluate" in text  # prepare ran (and was kept) above
    assert "metrics (holdout@sha256:" in text and "): accuracy=" in text
    assert "not committed: " in text and "pipelines/m/dvc.lock" in text
    assert registry.git("rev-parse", "HEAD") == head
    registry.ok("train", "m", "--register")
    registry.ok("train", "m", "--register")  # no "already tracked by SCM"
    tracked = registry.git("ls-files", "pipelines/m/out").split()
    assert tracked == ["pipelines/m/out/.gitignore"]


def test_train_without_a_pipeline_says_how_to_scaffold_one(registry: Registry) -> None:
    scaffold = "(scaffold one with `modelreg example churn --data FILE --target COLUMN`)"
    unknown = f"modelreg: error: unknown model 'churn' {scaffold}"
    assert _one_line_error(registry, ["train", "churn"], 2) == unknown
    registry.register("churn", 0)  # a model registered by hand has no pipeline
    no_pipeline = f"modelreg: error: models/churn/model.yaml: pipeline: not set {scaffold}"
    assert _one_line_error(registry, ["train", "churn"], 2) == no_pipeline


def test_push_sends_the_commit_the_artifact_and_the_data(trained: Registry) -> None:
    registry = trained  # trained and registered, nothing pushed yet

    out = _train(registry, "m", "--register", "--push")

    rec = out["registered"]["record"]
    assert git(registry.origin, "rev-parse", "main") == registry.git("rev-parse", "HEAD")
    md5 = rec["artifact"]["md5"]
    assert (registry.remote / "files/md5" / md5[:2] / md5[2:]).is_file()
    profile = yaml.safe_load((registry.root / f"{rec['profile']}.dvc").read_text())
    md5 = profile["outs"][0]["md5"]  # the drift reference, read from the remote in CI
    assert (registry.remote / "files/md5" / md5[:2] / md5[2:]).is_file()
    data_md5 = rec["data"]["md5"].removesuffix(".dir")
    assert (registry.remote / "files/md5" / data_md5[:2] / (data_md5[2:] + ".dir")).is_file()


def test_example_refuses_a_model_that_exists(registry: Registry) -> None:
    _example(registry)
    before = tree_state(registry.root)
    line = _one_line_error(registry, ["example", "m", "--kind", "regressor"], 2)
    assert line == "modelreg: error: models/m/model.yaml: already exists (pick another model name)"
    assert tree_state(registry.root) == before


def test_data_dir_puts_the_pool_inside_the_pipeline_folder_and_trains_from_it(
    registry: Registry,
) -> None:
    out = registry.ok(
        "example", "m", "--kind", "regressor", "--data-dir", "pipelines/m/data/batches"
    ).output
    assert "pipelines/m/data/batches (DVC)" in out
    scaffolded = registry.git("show", "--name-only", "--format=", "HEAD").split()
    assert (
        "pipelines/m/data/batches.dvc" in scaffolded and "pipelines/m/data/.gitignore" in scaffolded
    )
    assert not (registry.root / "data").exists() and not any(p.endswith(".csv") for p in scaffolded)
    stages = yaml.safe_load((registry.root / "pipelines/m/dvc.yaml").read_text())["stages"]
    assert stages["prepare"]["cmd"] == "python prepare.py data/batches"
    assert "data/batches" in stages["prepare"]["deps"]
    spec = yaml.safe_load((registry.root / "models/m/model.yaml").read_text())
    assert spec["outputs"]["data"] == "pipelines/m/data/batches"

    first = _train(registry, "m", "--register")["registered"]["record"]
    # A new batch and a window change the data digest; the window keeps only the new rows
    # (`example` dated the pool up to today: the batch is a month later).
    later = datetime.now(timezone.utc) + timedelta(days=30)
    newer = dataset("regressor", now=later).tail(100)
    add_batch(registry.root, "m", newer, "batch-0002", data_dir="pipelines/m/data/batches")
    out = _train(registry, "m", "--register", "--window", "7", "--trigger", "data-volume")
    second = out["registered"]["record"]

    assert out["stages_run"][0] == "prepare"
    assert second["trigger"] == "data-volume" and second["parent"] == "v1.0.0"
    assert second["params"]["prepare"]["window_days"] == 7
    assert second["data"]["md5"] != first["data"]["md5"]
    assert first["data"]["path"] == second["data"]["path"] == "pipelines/m/data/batches"
    assert (first["data"]["rows"], second["data"]["rows"]) == (
        ROWS["regressor"],
        ROWS["regressor"] + 100,
    )
    out_dir = registry.root / "pipelines/m/out"
    split = [out_dir / "train.csv", out_dir / "test.csv"]
    rows_in_window = sum(len(p.read_text().splitlines()) - 1 for p in split)
    assert rows_in_window == 100  # only the new batch is inside the window
    test_rows = len((out_dir / "test.csv").read_text().splitlines()) - 1
    assert 10 <= test_rows <= 40  # about test_size 0.25, fixed per row by a hash
    assert "pipelines/m/data/batches.dvc" in registry.git(
        "show", "--name-only", "--format=", "HEAD"
    )
    assert registry.git("status", "--porcelain") == ""
    assert registry.ok("validate").exit_code == 0


def test_a_data_dir_outside_the_repository_is_refused_and_nothing_is_written(
    registry: Registry,
) -> None:
    before = tree_state(registry.root)
    line = _one_line_error(
        registry, ["example", "m", "--kind", "classifier", "--data-dir", "../elsewhere"], 2
    )
    assert line.startswith("modelreg: error: --data-dir ") and "outside the repository" in line
    assert tree_state(registry.root) == before


def test_train_records_the_pipelines_commit_and_leaves_the_examples_task(
    prebuilt: Prebuilt,
) -> None:
    """Issue 11 §5 bullet 2: `train --register` recorded the registry's HEAD, not the
    pipeline's last commit, as the code commit (the build commits NOTES.md in between)."""
    registry = prebuilt.registry(trained_regressor)
    # HEAD is the train's own commit (it commits dvc.lock); before it, the unrelated one
    code = registry.git("log", "-1", "--format=%H", "HEAD~1", "--", "pipelines/m").strip()
    assert code != registry.git("rev-parse", "HEAD~1").strip()
    rec = yaml.safe_load((registry.root / "models/m/versions/v1.0.0.yaml").read_text())
    assert rec["code_commit"] == code and rec["code_commit_source"] == "pipeline"
    spec = yaml.safe_load((registry.root / "models/m/model.yaml").read_text())
    assert spec["task"] == "regression"
