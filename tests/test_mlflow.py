"""MLflow models and skops files through the one verified loader (real MLflow, no mocks).

One MLflow model folder is written per test session by the real `mlflow.sklearn`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from modelreg.adapters import artifacts
from modelreg.errors import CheckFailed
from modelreg.registry.schemas import schema_problems

pytest.importorskip("mlflow")
pytest.importorskip("skops")


pytestmark = pytest.mark.slow  # importing MLflow alone takes seconds


@pytest.fixture(scope="session")
def logged_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow model folder as mlflow.sklearn writes it (skops, MLflow 3's default).

    save_model writes the same folder log_model logs, without a tracking store's
    seconds of SQLite migrations.
    """
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.random((40, 3))
    y = (x[:, 0] > 0.5).astype(int)
    out = tmp_path_factory.mktemp("mlflow") / "model"
    mlflow.sklearn.save_model(LogisticRegression().fit(x, y), str(out))
    return out


def _expected(path: Path, fmt: str) -> artifacts.Expected:
    md5 = artifacts.md5_of(path)
    return artifacts.Expected(
        md5=md5, source="the record", sha256=artifacts.sha256_of(path), format=fmt, name="v1.0.0"
    )


def test_an_mlflow_model_folder_loads_through_the_verified_loader(
    logged_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(logged_model, folder)
    assert (folder / "model.skops").is_file()  # MLflow 3 writes skops by default
    model = artifacts.load(folder, _expected(folder, "mlflow"), hint="re-register")
    assert model.predict([[0.9, 0.1, 0.1]]).tolist() == [1]


def test_a_tampered_mlflow_model_folder_is_refused(logged_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(logged_model, folder)
    expected = _expected(folder, "mlflow")
    (folder / "model.skops").write_bytes((folder / "model.skops").read_bytes() + b"\0")
    with pytest.raises(CheckFailed, match="md5 is"):
        artifacts.load(folder, expected, hint="re-register")


def test_a_skops_file_loads_and_a_tampered_one_is_refused(
    logged_model: Path, tmp_path: Path
) -> None:
    file = tmp_path / "model.skops"
    shutil.copyfile(logged_model / "model.skops", file)
    expected = _expected(file, "skops")
    assert artifacts.load(file, expected, hint="x").predict([[0.1, 0.1, 0.1]]).tolist() == [0]
    file.write_bytes(file.read_bytes()[:-1] + b"\1")
    with pytest.raises(CheckFailed, match="md5 is"):
        artifacts.load(file, expected, hint="x")


def test_a_folder_recorded_as_a_pickle_is_not_loaded(logged_model: Path, tmp_path: Path) -> None:
    from modelreg.errors import UsageError

    folder = tmp_path / "model"
    shutil.copytree(logged_model, folder)
    with pytest.raises(UsageError, match="cannot be loaded"):
        artifacts.load(folder, _expected(folder, "sklearn-pickle"), hint="x")


def test_a_folder_artifact_md5_passes_the_version_schema() -> None:
    record = {
        "model": "churn",
        "version": "v1.0.0",
        "created_at": "2026-12-06T10:00:00Z",
        "created_by": "ana@example.com",
        "artifact": {
            "path": "models/churn/artifacts/v1.0.0/model",
            "sha256": "0" * 64,
            "md5": "0123456789abcdef0123456789abcdef.dir",
            "size": 9159,
            "format": "mlflow",
        },
        "metrics": {"accuracy": 0.9},
    }
    assert schema_problems("version", record, "v.yaml") == []
