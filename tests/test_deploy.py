"""`deploy`: the desired state at HEAD, fetched through DVC, verified, rendered atomically."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import yaml

from conftest import Prebuilt, Registry, git, tree_state
from modelreg.errors import UsageError
from modelreg.registry.records import VersionRecord
from modelreg.serving import kserve
from modelreg.serving import local as local_mod
from stagefiles import write_stages

FEATURES = ["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness"]
CANARY = "production:\n  version: v1.0.0\n  rollout:\n    candidate: v1.1.0\n    weight: 20\n"


def sample_csv(work: Path) -> Path:
    """A few real rows of the features the test models take: their signature."""
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data[:20, :5]
    path = work / "sample.csv"
    lines = [",".join(FEATURES)] + [",".join(f"{v:.6g}" for v in row) for row in x]
    path.write_text("\n".join(lines) + "\n")
    return path


def set_stages(reg: Registry, model: str, text: str, *, push: bool = True) -> None:
    """Hand-write a model's stage files and commit them (as a merged promotion would)."""
    write_stages(reg.root, model, text)
    reg.git("add", "-A", f"models/{model}/stages")
    reg.git("commit", "-qm", f"stages of {model}")
    if push:
        reg.git("push", "-q", "origin", "main")


def md5_of(reg: Registry, model: str, version: str) -> str:
    record = yaml.safe_load((reg.root / f"models/{model}/versions/{version}.yaml").read_text())
    return str(record["artifact"]["md5"])


def manifest(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / "manifest.json").read_text())
    return data


def served(folder: Path, model: str) -> list[tuple[str, str, int]]:
    models = manifest(folder)["models"]
    assert isinstance(models, dict)
    return [(v["version"], v["role"], v["weight"]) for v in models[model]["versions"]]


def files_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def corrupt_cache(reg: Registry, md5: str, path: str) -> None:
    """Change the bytes DVC holds for `md5` and drop the checkout's copy of the artifact."""
    cached = reg.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]  # DVC 3's layout
    os.chmod(cached, 0o644)
    cached.write_bytes(b"not the registered model")
    (reg.root / path).unlink()


def _build(reg: Registry) -> None:
    """churn v1.0.0 and v1.1.0 and fraud v1.0.0, registered with signatures and pushed."""
    sample = str(sample_csv(reg.work))
    reg.register("churn", 0, "--sample", sample, "--push")
    reg.register("churn", 1, "--sample", sample, "--push")
    reg.register("fraud", 2, "--sample", sample, "--push")


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    """churn v1.0.0 and v1.1.0 and fraud v1.0.0, registered with signatures and pushed."""
    return prebuilt.registry(_build)


def test_deploy_fetches_from_the_dvc_remote_in_a_fresh_clone(reg: Registry, tmp_path: Path) -> None:
    set_stages(reg, "churn", CANARY + "\nstaging:\n  version: v1.1.0\n")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(reg.origin), str(clone))
    assert not (clone / ".dvc" / "cache").exists()
    result = reg.run("deploy", "--stage", "production", cwd=clone)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("production: deployed 1 model (local at ")
    folder = clone / ".modelreg" / "deploy" / "production"
    assert served(folder, "churn") == [("v1.0.0", "stable", 80), ("v1.1.0", "candidate", 20)]
    data = manifest(folder)
    assert data["commit"] == git(clone, "rev-parse", "HEAD").strip()
    for version in ("v1.0.0", "v1.1.0"):
        blob = (folder / "churn" / version / "model.pkl").read_bytes()
        assert hashlib.md5(blob).hexdigest() == md5_of(reg, "churn", version)
    assert not (clone / ".modelreg" / "deploy" / "staging").exists()
    assert git(clone, "status", "--porcelain") == ""


def test_manifest_records_paths_hashes_sizes_commit_and_signature(reg: Registry) -> None:
    set_stages(reg, "churn", CANARY)
    reg.ok("deploy", "--stage", "production")
    entry = manifest(reg.root / ".modelreg/deploy/production")["models"]
    assert isinstance(entry, dict)
    candidate = entry["churn"]["versions"][1]
    record = yaml.safe_load((reg.root / "models/churn/versions/v1.1.0.yaml").read_text())
    assert candidate["artifact"] == "churn/v1.1.0/model.pkl"
    assert candidate["md5"] == record["artifact"]["md5"]
    assert candidate["size"] == record["artifact"]["size"]
    assert candidate["record"] == "models/churn/versions/v1.1.0.yaml"
    assert [f["name"] for f in candidate["inputs"]] == FEATURES
    assert entry["churn"]["commit"] == reg.git("rev-parse", "HEAD").strip()
    assert entry["churn"]["deployed_at"].endswith("Z")


def test_a_second_deploy_is_up_to_date_and_changes_nothing(reg: Registry) -> None:
    set_stages(reg, "churn", CANARY)
    set_stages(reg, "fraud", "production:\n  version: v1.0.0\n")
    reg.ok("deploy", "--stage", "production")
    folder = reg.root / ".modelreg/deploy/production"
    before = files_state(folder)
    out = reg.ok("deploy", "--stage", "production").output
    assert out.strip() == "production: up to date (2 models)"
    assert files_state(folder) == before
    reg.write("README.md", "an unrelated change\n")
    reg.git("add", "README.md")
    reg.git("commit", "-qm", "docs")
    assert reg.ok("deploy").output.splitlines()[-1] == "production: up to date (2 models)"
    assert files_state(folder) == before


def test_deploy_refuses_a_tampered_artifact_and_keeps_the_previous_deployment(
    reg: Registry,
) -> None:
    set_stages(reg, "churn", "production:\n  version: v1.0.0\n")
    reg.ok("deploy", "--stage", "production")
    folder = reg.root / ".modelreg/deploy/production"
    before = files_state(folder)
    set_stages(reg, "churn", CANARY)
    good = md5_of(reg, "churn", "v1.1.0")
    corrupt_cache(reg, good, "models/churn/artifacts/v1.1.0/model.pkl")
    bad = hashlib.md5(b"not the registered model").hexdigest()
    result = reg.run("deploy", "--stage", "production")
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"modelreg: error: models/churn/artifacts/v1.1.0/model.pkl: md5 is {bad} but the "
        f"record models/churn/versions/v1.1.0.yaml says {good} "
        "(refusing to deploy; re-register or fix the DVC remote)"
    )
    assert files_state(folder) == before
    assert served(folder, "churn") == [("v1.0.0", "stable", 100)]


def test_an_interrupted_deploy_leaves_the_previous_manifest_and_artifacts(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_stages(reg, "churn", "production:\n  version: v1.0.0\n")
    reg.ok("deploy", "--stage", "production")
    folder = reg.root / ".modelreg/deploy/production"
    old_manifest = (folder / "manifest.json").read_bytes()
    set_stages(reg, "churn", "production:\n  version: v1.1.0\n")

    def power_cut(folder: Path, manifest: object) -> None:
        raise RuntimeError("power cut between the artifact copy and the manifest write")

    with monkeypatch.context() as m:
        m.setattr(local_mod, "write_manifest", power_cut)
        cut = reg.run("deploy", "--stage", "production")
        assert cut.exit_code == 3 and "RuntimeError: power cut" in cut.stderr
    assert (folder / "manifest.json").read_bytes() == old_manifest
    old_pickle = (folder / "churn/v1.0.0/model.pkl").read_bytes()
    assert hashlib.md5(old_pickle).hexdigest() == md5_of(reg, "churn", "v1.0.0")
    assert not list(folder.rglob("*.tmp-*"))
    reg.ok("deploy", "--stage", "production")
    assert served(folder, "churn") == [("v1.1.0", "stable", 100)]
    assert not (folder / "churn/v1.0.0").exists()  # pruned once the new manifest is in


def test_plan_shows_each_change_and_changes_nothing(reg: Registry) -> None:
    set_stages(reg, "churn", "production:\n  version: v1.0.0\n")
    reg.ok("deploy", "--stage", "production")
    set_stages(reg, "churn", CANARY)
    set_stages(reg, "fraud", "production:\n  version: v1.0.0\n")
    before = tree_state(reg.root)
    folder = reg.root / ".modelreg/deploy/production"
    files = files_state(folder)
    out = reg.ok("deploy", "--stage", "production", "--plan").output.splitlines()
    assert out[0].startswith("production: plan: 2 changes, then 2 models (local at ")
    assert out[1:] == [
        "  churn: updated v1.0.0 100% → v1.0.0 80%, v1.1.0 20%",
        "  fraud: added v1.0.0 100%",
    ]
    plan = json.loads(reg.ok("deploy", "--stage", "production", "--plan", "--json").stdout)
    assert plan["plan"] is True
    (stage,) = plan["stages"]
    assert stage["changed"] is True and stage["applied"] is False
    assert [(m["model"], m["action"]) for m in stage["models"]] == [
        ("churn", "updated"),
        ("fraud", "added"),
    ]
    assert tree_state(reg.root) == before
    assert files_state(folder) == files


def test_removing_a_model_from_a_stage_removes_it_from_the_deployment(reg: Registry) -> None:
    set_stages(reg, "churn", "production:\n  version: v1.0.0\n")
    set_stages(reg, "fraud", "production:\n  version: v1.0.0\n")
    reg.ok("deploy", "--stage", "production")
    folder = reg.root / ".modelreg/deploy/production"
    set_stages(reg, "fraud", "staging:\n  version: v1.0.0\n")
    out = reg.ok("deploy", "--stage", "production").output
    assert "  fraud: removed (was v1.0.0 100%)" in out
    models = manifest(folder)["models"]
    assert isinstance(models, dict) and list(models) == ["churn"]
    assert not (folder / "fraud").exists()


def test_weight_change_rewrites_the_manifest_without_fetching_again(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_stages(reg, "churn", CANARY)
    reg.ok("deploy", "--stage", "production")
    set_stages(reg, "churn", CANARY.replace("weight: 20", "weight: 50"))

    def no_fetch(*args: object) -> bytes:
        raise AssertionError("nothing needed fetching")

    monkeypatch.setattr(local_mod, "fetch_verified", no_fetch)
    reg.ok("deploy", "--stage", "production")
    folder = reg.root / ".modelreg/deploy/production"
    assert served(folder, "churn") == [("v1.0.0", "stable", 50), ("v1.1.0", "candidate", 50)]


def test_a_missing_remote_object_is_one_clear_line(reg: Registry, tmp_path: Path) -> None:
    set_stages(reg, "churn", CANARY)
    md5 = md5_of(reg, "churn", "v1.1.0")
    (reg.remote / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(reg.origin), str(clone))
    result = reg.run("deploy", "--stage", "production", cwd=clone)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"modelreg: error: models/churn/artifacts/v1.1.0/model.pkl: md5 {md5} is neither in "
        "the DVC cache nor on the remote "
    )
    assert "dvc push models/churn/artifacts/v1.1.0/model.pkl" in line
    assert not (clone / ".modelreg/deploy/production/manifest.json").exists()


def test_an_unknown_stage_is_bad_usage(reg: Registry) -> None:
    set_stages(reg, "churn", CANARY)
    result = reg.run("deploy", "--stage", "prod")
    assert result.exit_code == 2
    assert "--stage 'prod' is not a stage (known: staging, production)" in result.stderr


# -- kserve ---------------------------------------------------------------------------


def isvc(reg: Registry, model: str, stage: str = "production") -> dict[str, object]:
    path = reg.root / f"deploy/kserve/{stage}/{model}.inferenceservice.yaml"
    doc: dict[str, object] = yaml.safe_load(path.read_text())
    return doc


def uri(reg: Registry, model: str, version: str) -> str:
    return f"{reg.remote.resolve().as_uri()}/serving/{model}/{version}/"


def test_kserve_canary_serves_the_candidate_with_canary_traffic_percent(reg: Registry) -> None:
    set_stages(reg, "churn", CANARY)
    out = reg.ok("deploy", "--stage", "production", "--target", "kserve").output
    assert out.startswith("production: deployed 1 model (kserve at ")
    doc = isvc(reg, "churn")
    assert doc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert doc["kind"] == "InferenceService"
    meta, spec = doc["metadata"], doc["spec"]
    assert isinstance(meta, dict) and isinstance(spec, dict)
    assert meta["name"] == "churn-production"
    predictor = spec["predictor"]
    assert predictor["canaryTrafficPercent"] == 20
    assert predictor["model"]["modelFormat"] == {"name": "sklearn"}
    assert predictor["model"]["storageUri"] == uri(reg, "churn", "v1.1.0")
    notes = meta["annotations"]
    assert notes["modelreg.dev/stable-version"] == "v1.0.0"
    assert notes["modelreg.dev/stable-storage-uri"] == uri(reg, "churn", "v1.0.0")
    assert notes["modelreg.dev/candidate-version"] == "v1.1.0"
    kustomization = yaml.safe_load(
        (reg.root / "deploy/kserve/production/kustomization.yaml").read_text()
    )
    assert kustomization["resources"] == ["churn.inferenceservice.yaml"]


def test_kserve_output_is_stable_and_idempotent(reg: Registry) -> None:
    set_stages(reg, "churn", CANARY)
    reg.ok("deploy", "--stage", "production", "--target", "kserve")
    folder = reg.root / "deploy/kserve/production"
    before = files_state(folder)
    text = (folder / "churn.inferenceservice.yaml").read_text()
    assert text.splitlines()[1:4] == [
        "apiVersion: serving.kserve.io/v1beta1",
        "kind: InferenceService",
        "metadata:",
    ]
    out = reg.ok("deploy", "--stage", "production", "--target", "kserve").output
    assert out.strip() == "production: up to date (1 model)"
    assert files_state(folder) == before


def test_kserve_completion_drops_the_canary_and_removal_drops_the_file(reg: Registry) -> None:
    set_stages(reg, "churn", CANARY)
    set_stages(reg, "fraud", "production:\n  version: v1.0.0\n")
    reg.ok("deploy", "--target", "kserve")
    set_stages(reg, "churn", "production:\n  version: v1.1.0\n")
    plan = reg.ok("deploy", "--stage", "production", "--target", "kserve", "--plan").output
    assert "  churn: updated v1.0.0 80%, v1.1.0 20% → v1.1.0 100%" in plan
    reg.ok("deploy", "--stage", "production", "--target", "kserve")
    spec = isvc(reg, "churn")["spec"]
    assert isinstance(spec, dict)
    assert "canaryTrafficPercent" not in spec["predictor"]
    assert spec["predictor"]["model"]["storageUri"] == uri(reg, "churn", "v1.1.0")
    set_stages(reg, "fraud", "staging:\n  version: v1.0.0\n")
    reg.ok("deploy", "--stage", "production", "--target", "kserve")
    folder = reg.root / "deploy/kserve/production"
    assert not (folder / "fraud.inferenceservice.yaml").exists()
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["churn.inferenceservice.yaml"]


def test_kserve_publishes_verified_artifacts_where_the_sklearn_server_finds_them(
    reg: Registry,
) -> None:
    set_stages(reg, "churn", CANARY)
    reg.ok("deploy", "--stage", "production", "--target", "kserve")
    for version in ("v1.0.0", "v1.1.0"):
        published = reg.remote / "serving" / "churn" / version / "model.pkl"
        assert hashlib.md5(published.read_bytes()).hexdigest() == md5_of(reg, "churn", version)


def test_kserve_refuses_a_tampered_artifact_and_publishes_nothing(reg: Registry) -> None:
    set_stages(reg, "churn", CANARY)
    md5 = md5_of(reg, "churn", "v1.1.0")
    for store in (reg.remote, reg.root / ".dvc" / "cache"):
        obj = store / "files" / "md5" / md5[:2] / md5[2:]
        obj.chmod(0o644)
        obj.write_bytes(b"tampered")
    (reg.root / "models/churn/artifacts/v1.1.0/model.pkl").unlink(missing_ok=True)
    result = reg.run("deploy", "--stage", "production", "--target", "kserve")
    assert result.exit_code == 1
    assert md5 in result.stderr
    assert not (reg.root / "deploy/kserve/production").exists()
    assert not (reg.remote / "serving").exists()


def test_storage_uri_names_the_published_folder_and_rejects_unreadable_remotes() -> None:
    rec = VersionRecord.from_dict(
        {
            "model": "churn",
            "version": "v1.4.0",
            "created_at": "t",
            "created_by": "a",
            "artifact": {
                "path": "models/churn/artifacts/v1.4.0/model.pkl",
                "md5": "9b1e" + "0" * 28,
                "size": 1,
                "format": "sklearn-pickle",
            },
            "metrics": {"accuracy": 0.9},
        }
    )
    assert kserve.storage_uri("s3://bucket/dvc/", rec) == "s3://bucket/dvc/serving/churn/v1.4.0/"
    with pytest.raises(UsageError, match="not storage KServe can read"):
        kserve.storage_uri("ssh://host/dvc", rec)
    assert kserve.isvc_name("2fa_model", "prod.eu") == "m2fa-model-prod-eu--29de8a32"


def test_a_malformed_manifest_is_replaced_by_a_full_deploy(reg: Registry) -> None:
    set_stages(reg, "churn", "production:\n  version: v1.0.0\n")
    folder = reg.root / ".modelreg/deploy/production"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"models": {"churn": {"versions": [{}]}}}')
    out = reg.ok("deploy", "--stage", "production").output
    assert "  churn: added v1.0.0 100%" in out
    assert served(folder, "churn") == [("v1.0.0", "stable", 100)]
