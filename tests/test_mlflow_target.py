"""`deploy --target mlflow`: MLflow registry aliases follow the stage files (real MLflow,
a real SQLite store, no mocks).

One store is migrated per test run (~6.5 s of migrations) and copied for each test.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import Prebuilt, Registry
from modelreg.adapters import artifacts
from modelreg.registry.records import VersionRecord
from modelreg.serving.desired import expected
from stagefiles import write_stages

pytest.importorskip("mlflow")


def _build(reg: Registry) -> None:
    """churn v1.0.0 and v1.1.0, fraud v1.0.0, registered and pushed; and the folder and
    skops versions of `_add_formats`."""
    reg.register("churn", 0, "--push")
    reg.register("churn", 1, "--push")
    reg.register("fraud", 2, "--push")
    _add_formats(reg)


class Mlflow:
    """A private copy of the store, its artifacts under the test's tmp dir."""

    def __init__(self, master: Path, tmp: Path) -> None:
        from mlflow.tracking import MlflowClient

        db = tmp / "mlflow.db"
        shutil.copyfile(master, db)
        self.uri = f"sqlite:///{db}"
        self.client: Any = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        # deploy's experiment exists already, so its runs' artifacts land under tmp
        self.client.create_experiment("modelreg-deploy", (tmp / "mlartifacts").as_uri())

    def aliases(self, model: str) -> dict[str, str]:
        return {k: str(v) for k, v in self.client.get_registered_model(model).aliases.items()}

    def tag_of(self, model: str, alias: str) -> str:
        mv = self.client.get_model_version_by_alias(model, alias)
        return str(mv.tags["modelreg.version"])

    def count(self) -> int:
        return len(self.client.search_model_versions(""))


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    return prebuilt.registry(_build)


@pytest.fixture
def ml(mlflow_empty_store: Path, tmp_path: Path) -> Mlflow:
    return Mlflow(mlflow_empty_store, tmp_path)


def stages(reg: Registry, model: str, text: str) -> None:
    write_stages(reg.root, model, text)
    reg.git("add", "-A", f"models/{model}/stages")
    reg.git("commit", "-qm", f"stages of {model}")


def deploy(reg: Registry, ml: Mlflow, *args: str) -> str:
    return reg.ok("deploy", "--target", "mlflow", "--tracking-uri", ml.uri, *args).output


def record(reg: Registry, model: str, version: str) -> VersionRecord:
    text = (reg.root / f"models/{model}/versions/{version}.yaml").read_text()
    return VersionRecord.from_dict(yaml.safe_load(text))


def test_deploy_sets_aliases_moves_them_on_promotion_and_reruns_change_nothing(
    reg: Registry, ml: Mlflow
) -> None:
    stages(reg, "churn", "production:\n  version: v1.0.0\n")
    stages(reg, "fraud", "staging:\n  version: v1.0.0\n")

    out = deploy(reg, ml, "--plan")
    assert "production: plan: 1 change" in out and "registers v1.0.0 in MLflow" in out
    assert ml.client.search_registered_models() == []  # plan changed nothing

    out = deploy(reg, ml)
    assert f"production: deployed 1 model (mlflow at {ml.uri})" in out
    assert ml.tag_of("churn", "production") == "v1.0.0"
    assert ml.tag_of("fraud", "staging") == "v1.0.0"
    first = ml.aliases("churn")["production"]
    mv = ml.client.get_model_version_by_alias("churn", "production")
    rec = record(reg, "churn", "v1.0.0")
    assert mv.tags["modelreg.sha256"] == rec.artifact.sha256
    assert mv.tags["modelreg.md5"] == rec.artifact.md5

    assert deploy(reg, ml).splitlines() == [
        "staging: up to date (1 model)",
        "production: up to date (1 model)",
    ]
    assert ml.count() == 2

    stages(reg, "churn", "production:\n  version: v1.1.0\n")  # a merged promotion
    assert "churn: updated v1.0.0 100% → v1.1.0 100%" in deploy(reg, ml)
    assert ml.tag_of("churn", "production") == "v1.1.0"
    assert ml.count() == 3

    stages(reg, "churn", "production:\n  version: v1.0.0\n")  # a rollback
    deploy(reg, ml)
    assert ml.aliases("churn")["production"] == first  # found again by its tags
    assert ml.count() == 3
    assert "up to date" in deploy(reg, ml, "--stage", "production")


def test_the_mlflow_model_predicts_what_the_verified_loader_loads(
    reg: Registry, ml: Mlflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc
    import numpy as np

    stages(reg, "churn", "production:\n  version: v1.1.0\n")
    deploy(reg, ml)
    rec = record(reg, "churn", "v1.1.0")
    ours = artifacts.load(reg.root / rec.artifact.path, expected(rec), hint="")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", ml.uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", ml.uri)
    theirs = mlflow.pyfunc.load_model("models:/churn@production")
    x = np.random.default_rng(0).random((30, 5)) * 100
    assert theirs.predict(x).tolist() == ours.predict(x).tolist()
    # the MLflow run keeps the record's hashes too
    run = ml.client.get_run(ml.client.get_model_version_by_alias("churn", "production").run_id)
    assert run.data.tags["modelreg.md5"] == rec.artifact.md5


def test_a_canary_is_a_candidate_alias_with_its_weight_and_leaving_removes_aliases(
    reg: Registry, ml: Mlflow
) -> None:
    canary = "production:\n  version: v1.0.0\n  rollout:\n    candidate: v1.1.0\n    weight: 20\n"
    stages(reg, "churn", canary)
    deploy(reg, ml)
    assert ml.tag_of("churn", "production") == "v1.0.0"
    assert ml.tag_of("churn", "production-candidate") == "v1.1.0"
    tags = ml.client.get_registered_model("churn").tags
    assert tags["modelreg.production.candidate_weight"] == "20"
    assert "up to date" in deploy(reg, ml)

    stages(reg, "churn", "production:\n  version: v1.1.0\n")  # the canary completed
    deploy(reg, ml)
    assert ml.aliases("churn") == {"production": ml.aliases("churn")["production"]}
    assert ml.tag_of("churn", "production") == "v1.1.0"
    assert (
        "modelreg.production.candidate_weight" not in ml.client.get_registered_model("churn").tags
    )

    # an alias someone set by hand on a version deploy did not make is left alone
    ml.client.create_registered_model("other")
    ml.client.set_registered_model_alias("churn", "champion", "1")
    stages(reg, "churn", "")  # churn leaves production
    out = deploy(reg, ml)
    assert "churn: removed (was v1.1.0 100%)" in out
    assert ml.aliases("churn") == {"champion": "1"}


def test_a_tampered_artifact_is_refused_and_mlflow_is_left_as_it_was(
    reg: Registry, ml: Mlflow
) -> None:
    rec = record(reg, "churn", "v1.0.0")
    md5 = rec.artifact.md5
    for store in (reg.remote, reg.root / ".dvc" / "cache"):
        obj = store / "files" / "md5" / md5[:2] / md5[2:]
        obj.chmod(0o644)
        obj.write_bytes(b"not the registered model")
    (reg.root / rec.artifact.path).unlink()
    stages(reg, "churn", "production:\n  version: v1.0.0\n")
    result = reg.run("deploy", "--target", "mlflow", "--tracking-uri", ml.uri)
    assert result.exit_code == 1, result.output
    assert "md5 is" in result.output
    assert ml.client.search_registered_models() == []


def test_the_mlflow_target_needs_a_tracking_uri(reg: Registry) -> None:
    result = reg.run("deploy", "--target", "mlflow")
    assert result.exit_code == 2
    assert "--tracking-uri" in result.output


def test_a_stage_mlflow_reserves_as_an_alias_is_refused(reg: Registry, ml: Mlflow) -> None:
    write_stages(reg.root, "churn", "v2:\n  version: v1.0.0\n")
    reg.git("add", "-A")
    reg.git("commit", "-qm", "a stage named like an MLflow version")
    result = reg.run("deploy", "--target", "mlflow", "--tracking-uri", ml.uri, "--stage", "v2")
    assert result.exit_code == 2
    assert "stage 'v2' cannot be an MLflow alias" in result.stderr
    assert ml.client.search_registered_models() == []


def test_the_tracking_uri_is_shown_without_its_password() -> None:
    from modelreg.serving.mlflow_target import shown_uri

    assert shown_uri("https://ana:s3cret@mlflow.example:5000/x") == "https://mlflow.example:5000/x"
    assert shown_uri("sqlite:///tmp/mlflow.db") == "sqlite:///tmp/mlflow.db"


# -- folder (mlflow) and skops versions ------------------------------------------------


def _add_formats(reg: Registry) -> None:
    """folder v1.0.0 as a whole MLflow model folder (format mlflow, skops inside, as MLflow
    3 writes it) and skopsed v1.0.0 as one skops file, with a signature, pushed."""
    import mlflow.sklearn
    import skops.io as sio

    from conftest import trained_model
    from test_deploy import sample_csv

    sample = str(sample_csv(reg.work))
    folder = reg.work / "folder-model"
    mlflow.sklearn.save_model(trained_model(0), str(folder), pip_requirements=["scikit-learn"])
    skops_file = reg.work / "skopsed.skops"
    sio.dump(trained_model(1), skops_file)
    for model, art, fmt in (("folder", folder, "mlflow"), ("skopsed", skops_file, "skops")):
        met = reg.metrics(model, accuracy=0.9)
        reg.ok(
            "register", model, "--artifact", str(art), "--format", fmt, "--metrics", str(met),
            "--sample", sample, "--push",
        )  # fmt: skip


@pytest.fixture
def formats(reg: Registry) -> Registry:
    """`reg` with folder and skopsed v1.0.0 in production."""
    stages(reg, "folder", "production:\n  version: v1.0.0\n")
    stages(reg, "skopsed", "production:\n  version: v1.0.0\n")
    reg.git("push", "-q", "origin", "main")
    return reg


def _predict(reg: Registry, model: str, csv: Path) -> list[Any]:
    import pandas as pd

    out = reg.work / f"{model}-scored.csv"
    reg.ok("predict", model, "--stage", "production", "--input", str(csv), "--output", str(out))
    return [int(v) for v in pd.read_csv(out)["prediction"]]


def test_a_folder_and_a_skops_version_deploy_locally_predict_and_serve_load_them_verified(
    formats: Registry, tmp_path: Path
) -> None:
    from conftest import git, trained_model
    from modelreg.serving.predict import find_manifest, read_served
    from modelreg.serving.server import _load
    from test_deploy import sample_csv

    reg = formats
    csv = sample_csv(tmp_path)
    reg.ok("deploy", "--stage", "production")
    deployed = reg.root / ".modelreg/deploy/production"
    folder = deployed / "folder/v1.0.0/model"
    assert (folder / "MLmodel").is_file() and (folder / "model.skops").is_file()
    import pandas as pd

    x = pd.read_csv(csv).to_numpy()
    assert _predict(reg, "folder", csv) == trained_model(0).predict(x).tolist()
    assert _predict(reg, "skopsed", csv) == trained_model(1).predict(x).tolist()
    manifest = find_manifest(reg.root, "production", None)
    for model in ("folder", "skopsed"):  # what `serve` loads, through the same verified loader
        (share,) = read_served(manifest, model, "production")
        assert _load(share, manifest).features[0] == "mean radius"
    assert "up to date" in reg.ok("deploy", "--stage", "production").output

    (folder / "model.skops").write_bytes(b"altered")  # the deployed copy, not the record
    out = reg.ok("deploy", "--stage", "production").output
    assert "missing or altered" in out
    assert _predict(reg, "folder", csv) == trained_model(0).predict(x).tolist()
    assert not [p for p in deployed.rglob("*") if p.name.startswith(".")]  # no temp left

    clone = tmp_path / "clone"  # a fresh clone, empty DVC cache: the folder from the remote
    git(tmp_path, "clone", "-q", str(reg.origin), str(clone))
    result = reg.run("deploy", "--stage", "production", cwd=clone)
    assert result.exit_code == 0, result.output
    got = clone / ".modelreg/deploy/production/folder/v1.0.0/model"
    assert artifacts.md5_of(got) == artifacts.md5_of(folder)

    # Bytes in DVC's cache and on the remote that are not the record's: refused, and the
    # stage keeps its previous manifest.
    manifest_text = (deployed / "manifest.json").read_text()
    rec = record(reg, "folder", "v1.0.0")
    shutil.rmtree(reg.root / rec.artifact.path)
    shutil.rmtree(folder)
    for store in (reg.remote, reg.root / ".dvc" / "cache"):
        for obj in (store / "files" / "md5").rglob("*"):
            if obj.is_file() and not obj.name.endswith(".dir"):
                obj.chmod(0o644)
                obj.write_bytes(b"not the registered model")
    refused = reg.run("deploy", "--stage", "production")
    assert refused.exit_code == 1, refused.output
    assert "md5 is" in refused.output
    assert (deployed / "manifest.json").read_text() == manifest_text


def test_a_folder_version_is_registered_in_mlflow_as_the_folder_it_is(
    formats: Registry, ml: Mlflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.artifacts
    import mlflow.pyfunc
    import numpy as np

    from conftest import trained_model

    out = deploy(formats, ml, "--stage", "production")
    assert "production: deployed 2 models" in out
    rec = record(formats, "folder", "v1.0.0")
    mv = ml.client.get_model_version_by_alias("folder", "production")
    assert mv.tags["modelreg.md5"] == rec.artifact.md5
    got = Path(mlflow.artifacts.download_artifacts(mv.source, tracking_uri=ml.uri))
    assert artifacts.md5_of(got) == rec.artifact.md5  # the registered bytes, unwrapped
    monkeypatch.setenv("MLFLOW_TRACKING_URI", ml.uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", ml.uri)
    x = np.random.default_rng(0).random((20, 5)) * 100
    theirs = mlflow.pyfunc.load_model("models:/folder@production")
    assert theirs.predict(x).tolist() == trained_model(0).predict(x).tolist()
    assert ml.tag_of("skopsed", "production") == "v1.0.0"
    assert "up to date" in deploy(formats, ml, "--stage", "production")
    assert ml.count() == 2
