"""`predict`: batch scoring from a local deployment, canary split by a stable hash, logged."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from conftest import Prebuilt, Registry, trained_model
from modelreg.adapters.tables import read_table
from modelreg.serving.manifest import Share
from modelreg.serving.predict import bucket, route
from test_artifacts import MarkerPickle
from test_deploy import CANARY, FEATURES, sample_csv, set_stages

ROWS = 100_000


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    """churn v1.0.0 (stable) and v1.1.0 (canary at 20%), deployed locally to production."""
    return prebuilt.registry(deployed_canary)


def deployed_canary(registry: Registry) -> Registry:
    """Register churn v1.0.0 and v1.1.0, put v1.1.0 on a 20% canary, deploy locally."""
    sample = str(sample_csv(registry.work))
    registry.register("churn", 0, "--sample", sample, "--push")
    registry.register("churn", 1, "--sample", sample, "--push")
    set_stages(registry, "churn", CANARY)
    registry.ok("deploy", "--stage", "production")
    return registry


def rows(n: int, seed: int = 0) -> Any:
    """`n` rows of real breast-cancer features (resampled, jittered), an id and a passenger."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    rng = np.random.default_rng(seed)
    x = load_breast_cancer().data[:, :5]
    picked = x[rng.integers(0, len(x), n)] * rng.normal(1.0, 0.02, (n, 5))
    df = pd.DataFrame(picked, columns=FEATURES)
    df.insert(0, "id", [f"cust-{i:06d}" for i in range(n)])
    df["segment"] = rng.choice(["smb", "enterprise"], n)
    return df


def write_csv(reg: Registry, name: str, df: Any) -> Path:
    path = reg.work / name
    df.to_csv(path, index=False)
    return path


def score(reg: Registry, path: Path, *extra: str) -> dict[str, Any]:
    result = reg.run(
        "predict", "churn", "--stage", "production", "--input", str(path), "--json", *extra
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_rows_split_between_versions_by_the_canary_weight(reg: Registry) -> None:
    import numpy as np
    import pandas as pd

    df = rows(ROWS)
    out = reg.work / "scored.csv"
    result = score(reg, write_csv(reg, "in.csv", df), "--output", str(out))
    assert result["rows"] == ROWS
    assert result["key"] == "id"
    share = result["counts"]["v1.1.0"] / ROWS
    assert abs(share - 0.20) <= 0.02, share
    assert result["counts"]["v1.0.0"] + result["counts"]["v1.1.0"] == ROWS
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["id", *FEATURES, "segment", "prediction", "version"]
    assert scored["id"].tolist() == df["id"].tolist()
    for version, seed in (("v1.0.0", 0), ("v1.1.0", 1)):
        mine = scored["version"] == version
        expected = trained_model(seed).predict(df.loc[mine, FEATURES].to_numpy())
        assert np.array_equal(scored.loc[mine, "prediction"].to_numpy(), expected)


def test_the_same_key_always_goes_to_the_same_version(reg: Registry) -> None:
    import pandas as pd

    df = rows(5_000)
    first, second, shuffled = reg.work / "a.csv", reg.work / "b.csv", reg.work / "c.csv"
    score(reg, write_csv(reg, "in.csv", df), "--output", str(first))
    score(reg, reg.work / "in.csv", "--output", str(second))
    assert first.read_bytes() == second.read_bytes()
    mixed = df.sample(frac=1.0, random_state=7)
    score(reg, write_csv(reg, "mixed.csv", mixed), "--output", str(shuffled))
    by_id = dict(zip(pd.read_csv(first)["id"], pd.read_csv(first)["version"], strict=True))
    again = dict(zip(pd.read_csv(shuffled)["id"], pd.read_csv(shuffled)["version"], strict=True))
    assert by_id == again


def test_raising_the_weight_only_moves_keys_from_stable_to_candidate() -> None:
    def served(weight: int) -> list[Share]:
        common = {"artifact": "x", "md5": ""}
        return [
            Share(version="v1", role="stable", weight=100 - weight, **common),
            Share(version="v2", role="candidate", weight=weight, **common),
        ]

    keys = [str(i) for i in range(10_000)]
    at10, at50 = route(keys, served(10)), route(keys, served(50))
    assert all(b == "v2" for a, b in zip(at10, at50, strict=True) if a == "v2")
    assert route(keys, served(0)) == ["v1"] * len(keys)
    assert route(keys, served(100)) == ["v2"] * len(keys)
    assert bucket("cust-000042") == bucket("cust-000042")
    assert {bucket(k) for k in keys} == set(range(100))


def test_the_prediction_log_holds_features_predictions_and_versions(reg: Registry) -> None:
    df = rows(2_000)
    path = write_csv(reg, "in.csv", df)
    first = score(reg, path)
    score(reg, path)
    folder = reg.root / ".modelreg/logs/churn/production"
    assert Path(first["log"]).parent == folder
    assert len(list(folder.glob("*.jsonl"))) == 2
    log = read_table(folder)  # what the drift command reads
    assert len(log) == 4_000
    assert set(FEATURES) | {"timestamp", "model", "stage", "version", "id", "prediction"} <= set(
        log.columns
    )
    assert "segment" not in log.columns  # passed through to the output, not to the model
    assert set(log["version"]) == {"v1.0.0", "v1.1.0"}
    assert set(log["model"]) == {"churn"} and set(log["stage"]) == {"production"}
    assert log["mean radius"].head(2000).round(9).tolist() == df["mean radius"].round(9).tolist()
    assert set(log["prediction"]) <= {0, 1}


def test_input_missing_a_signature_column_is_one_line_exit_2(reg: Registry) -> None:
    path = write_csv(reg, "in.csv", rows(50).drop(columns=["mean area", "mean texture"]))
    result = reg.run("predict", "churn", "--stage", "production", "--input", str(path))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"modelreg: error: {path}: missing column(s) mean texture, mean area that churn v1.0.0 "
        "takes (signature in models/churn/versions/v1.0.0.yaml)"
    )
    assert not (reg.work / "in.predictions.csv").exists()


def test_without_a_local_deployment_predict_says_how_to_make_one(reg: Registry) -> None:
    path = write_csv(reg, "in.csv", rows(10))
    result = reg.run("predict", "churn", "--stage", "staging", "--input", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "modelreg: error: no local deployment for staging: "
        "run `modelreg deploy --stage staging` first"
    )


def test_an_unknown_stage_is_refused_instead_of_suggesting_a_deploy_that_fails(
    reg: Registry,
) -> None:
    """Before: `predict --stage prod` suggested `deploy --stage prod`, which then said
    'prod' is not a stage."""
    path = write_csv(reg, "in.csv", rows(10))
    result = reg.run("predict", "churn", "--stage", "prod", "--input", str(path))
    assert result.exit_code == 2
    assert "'prod' is not a stage (known: staging, production)" in result.stderr
    assert "deploy" not in result.stderr


def test_predict_refuses_a_deployed_artifact_whose_md5_does_not_match(reg: Registry) -> None:
    deployed = reg.root / ".modelreg/deploy/production/churn/v1.0.0/model.pkl"
    deployed.write_bytes(deployed.read_bytes() + b"\0")
    path = write_csv(reg, "in.csv", rows(200))
    result = reg.run("predict", "churn", "--stage", "production", "--input", str(path))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"{deployed}: md5 is " in line and "manifest.json says" in line
    assert not (reg.work / "in.predictions.csv").exists()
    assert not (reg.root / ".modelreg/logs").exists()


def test_predict_refuses_a_deployed_pickle_that_would_run_code(reg: Registry) -> None:
    marker = reg.work / "code-ran"
    deployed = reg.root / ".modelreg/deploy/production/churn/v1.0.0/model.pkl"
    deployed.write_bytes(pickle.dumps(MarkerPickle(marker)))
    path = write_csv(reg, "in.csv", rows(50))
    result = reg.run("predict", "churn", "--stage", "production", "--input", str(path))
    assert result.exit_code == 1
    assert f"{deployed}: md5 is " in result.stderr
    assert not marker.exists()


def test_without_an_id_column_rows_route_by_position_and_default_paths_are_used(
    reg: Registry,
) -> None:
    path = write_csv(reg, "noid.csv", rows(300).drop(columns=["id"]))
    result = score(reg, path)
    assert result["key"] is None
    assert result["output"] == str(reg.work / "noid.predictions.csv")
    assert sum(result["counts"].values()) == 300
    text = reg.ok("predict", "churn", "--stage", "production", "--input", str(path)).output
    assert text.startswith("scored 300 rows with churn in production: v1.0.0 ")


def test_a_deploy_dir_given_to_deploy_out_serves_predict(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "serving"
    reg.ok("deploy", "--stage", "production", "--out", str(out))
    path = write_csv(reg, "in.csv", rows(100))
    logs = tmp_path / "logs"
    for deploy_dir in (out, out / "production"):
        result = score(reg, path, "--deploy-dir", str(deploy_dir), "--log", str(logs))
        assert Path(result["manifest"]) == out / "production" / "manifest.json"
    assert len(list(logs.glob("*.jsonl"))) == 2
