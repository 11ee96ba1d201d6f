"""Your own data in a pipeline (issue 13): `example --data --target`, `add-batch`.

scikit-learn's wine (three cultivars, written to CSV here: no download) is trained and
registered as a multiclass classifier, and diabetes (with a text column) as a
regression, end to end with real Git and real DVC (`dvc repro`). Bad input is one line,
exit 2, with nothing written.
"""

from __future__ import annotations

import json
import pickle
import runpy
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from conftest import Registry, tree_state
from modelreg.promotion.gates import GateContext, evaluate
from modelreg.registry.policy import parse_policy
from modelreg.registry.records import Artifact, VersionRecord
from modelreg.training.examples import add_batch

TEMPLATES = Path(__file__).resolve().parents[1] / "src/modelreg/templates/pipelines"


def wine_csv(folder: Path, rows: slice = slice(None)) -> Path:
    """scikit-learn's wine data with the label as text in a column `cultivar`."""
    from sklearn.datasets import load_wine

    bunch: Any = load_wine(as_frame=True)
    frame = bunch.frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    frame["cultivar"] = [bunch.target_names[i] for i in frame.pop("target")]
    path = folder / "wine.csv"
    frame.iloc[rows].to_csv(path, index=False)
    return path


def diabetes_csv(folder: Path) -> Path:
    """scikit-learn's diabetes data, `sex` as text, the label in a column `progression`."""
    from sklearn.datasets import load_diabetes

    bunch: Any = load_diabetes(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "progression"})
    frame["sex"] = ["f" if v > 0 else "m" for v in frame["sex"]]
    path = folder / "diabetes.csv"
    frame.to_csv(path, index=False)
    return path


def _error(reg: Registry, *args: str) -> str:
    """The one line a refused command prints (exit 2), checking it wrote nothing."""
    before, head = tree_state(reg.root), reg.git("rev-parse", "HEAD")
    result = reg.run(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelreg: error: "), result.stderr
    assert tree_state(reg.root) == before and reg.git("rev-parse", "HEAD") == head
    assert reg.git("status", "--porcelain") == ""
    return lines[0]


def _record(reg: Registry, model: str, version: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (reg.root / f"models/{model}/versions/{version}.yaml").read_text()
    )
    return data


@pytest.mark.slow
def test_wine_trains_and_registers_as_a_multiclass_classifier(registry: Registry) -> None:
    data = wine_csv(registry.work)

    out = registry.ok("example", "wine", "--data", str(data), "--target", "cultivar").output
    assert "scaffolded classifier wine" in out and "next: modelreg train wine" in out
    trained = json.loads(registry.ok("train", "wine", "--register", "--json").output)

    assert trained["stages_run"] == ["prepare", "train", "evaluate"]
    spec = yaml.safe_load((registry.root / "models/wine/model.yaml").read_text())
    assert spec["task"] == "classification" and spec["target"] == "cultivar"
    params = yaml.safe_load((registry.root / "pipelines/wine/params.yaml").read_text())
    assert params["prepare"]["target"] == "cultivar"
    rec = _record(registry, "wine", "v1.0.0")
    metrics = rec["metrics"]
    assert metrics["dataset"].startswith("holdout@sha256:")
    # Macro averages over three classes and a one-vs-rest AUC, all on a sensible scale.
    assert {"accuracy", "precision", "recall", "f1", "roc_auc"} <= set(metrics)
    assert metrics["accuracy"] > 0.8 and 0.8 < metrics["roc_auc"] <= 1.0
    names = [f["name"] for f in rec["signature"]["inputs"]]
    assert "cultivar" not in names and "alcohol" in names
    assert registry.git("status", "--porcelain") == ""


@pytest.mark.slow
def test_a_regression_with_a_text_column_trains_and_registers(registry: Registry) -> None:
    data = diabetes_csv(registry.work)

    registry.ok("example", "dia", "--data", str(data), "--target", "progression")
    registry.ok("train", "dia", "--register")

    spec = yaml.safe_load((registry.root / "models/dia/model.yaml").read_text())
    assert spec["task"] == "regression" and spec["target"] == "progression"
    metrics = _record(registry, "dia", "v1.0.0")["metrics"]
    assert {"rmse", "mae", "r2"} <= set(metrics) and metrics["r2"] > 0.2
    inputs = _record(registry, "dia", "v1.0.0")["signature"]["inputs"]
    assert "sex" in [f["name"] for f in inputs] and "progression" not in str(inputs)


def test_bad_input_is_one_line_exit_2_and_writes_nothing(registry: Registry) -> None:
    wine = str(wine_csv(registry.work))
    texts = registry.work / "texts.csv"
    texts.write_text("x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(20)))

    missing = _error(registry, "example", "w", "--data", "nope.csv", "--target", "y")
    assert "nope.csv: no such file or folder" in missing
    unknown = _error(registry, "example", "w", "--data", wine, "--target", "grape")
    assert "no column 'grape' (columns: alcohol, malic_acid, ash" in unknown
    assert "--target COLUMN" in unknown
    text_regression = _error(
        registry, "example", "w", "--data", str(texts), "--target", "y", "--task", "regression"
    )
    assert "--task regression needs numbers, the labels are text ('a', 'b'" in text_regression
    fractional = _error(
        registry, "example", "w", "--data", wine, "--target", "alcohol", "--task", "classification"
    )
    assert "--task classification needs class labels" in fractional
    assert fractional.endswith("(--task regression)")
    no_target = _error(registry, "example", "w", "--data", wine)
    assert "which column is the label?" in no_target


def test_a_model_registered_by_hand_gets_only_a_pipeline_in_one_commit(
    registry: Registry,
) -> None:
    registry.register("churn", 0)  # by hand: a record, no pipeline
    before = (registry.root / "models/churn/versions/v1.0.0.yaml").read_bytes()
    old = yaml.safe_load((registry.root / "models/churn/model.yaml").read_text())
    head = registry.git("rev-parse", "HEAD")
    # The command the hint names (train and `drift --open-pr` print it) is the one that works.
    hint = registry.run("train", "churn").stderr
    assert "`modelreg example churn --data FILE --target COLUMN`" in hint

    registry.ok("example", "churn", "--data", str(wine_csv(registry.work)), "--target", "cultivar")

    assert registry.git("rev-list", "--count", f"{head.strip()}..HEAD").strip() == "1"
    changed = registry.git("show", "--name-only", "--format=", "HEAD").split()
    assert "models/churn/model.yaml" in changed and "pipelines/churn/dvc.yaml" in changed
    assert not any(p.startswith("models/churn/versions") for p in changed)
    spec = yaml.safe_load((registry.root / "models/churn/model.yaml").read_text())
    assert spec["pipeline"] == "pipelines/churn" and spec["target"] == "cultivar"
    assert {k: spec[k] for k in ("name", "owner", "policy")} == {
        k: old[k] for k in ("name", "owner", "policy")
    }
    assert (registry.root / "models/churn/versions/v1.0.0.yaml").read_bytes() == before
    assert registry.git("status", "--porcelain") == ""
    again = _error(registry, "example", "churn", "--data", str(registry.work / "wine.csv"))
    assert "which column" in again
    has_one = _error(
        registry, "example", "churn", "--data", str(registry.work / "wine.csv"), "--target", "ash"
    )
    assert "pipeline: churn already has one (pipelines/churn)" in has_one


def test_add_batch_adds_labelled_rows_in_one_commit(registry: Registry) -> None:
    registry.ok(
        "example",
        "wine",
        "--data",
        str(wine_csv(registry.work, slice(0, 150))),
        "--target",
        "cultivar",
    )
    more = wine_csv(registry.work, slice(150, None))
    head = registry.git("rev-parse", "HEAD")

    out = registry.ok("add-batch", "wine", str(more)).output

    assert "added batch-0002 (28 rows) to data/wine/batches" in out
    assert registry.git("rev-list", "--count", f"{head.strip()}..HEAD").strip() == "1"
    assert registry.git("show", "--name-only", "--format=", "HEAD").split() == [
        "data/wine/batches.dvc"
    ]
    assert registry.git("status", "--porcelain") == ""
    rows = pd.read_csv(registry.root / "data/wine/batches/batch-0002.csv")
    assert len(rows) == 28 and "timestamp" in rows.columns
    assert "unknown model 'nope'" in _error(registry, "add-batch", "nope", str(more))


def test_python_add_batch_takes_a_str_root(registry: Registry) -> None:
    registry.ok(
        "example",
        "wine",
        "--data",
        str(wine_csv(registry.work, slice(0, 150))),
        "--target",
        "cultivar",
    )
    more = pd.read_csv(wine_csv(registry.work, slice(150, None)))

    written = add_batch(str(registry.root), "wine", more.assign(timestamp="2026-12-01T00:00:00Z"))

    assert registry.root / "data/wine/batches.dvc" in written
    assert (registry.root / "data/wine/batches/batch-0002.csv").is_file()


def _evaluated(
    folder: Path, holdout: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The template's evaluate.py, run on `holdout` as its pipeline stage runs it (in
    process: the script's `main` with no arguments, from its folder)."""
    from sklearn.linear_model import LogisticRegression

    (folder / "out").mkdir(parents=True)
    (folder / "params.yaml").write_text("prepare:\n  target: target\n")
    x, y = holdout.drop(columns="target"), holdout["target"]
    model = LogisticRegression(max_iter=500).fit(x, y)
    (folder / "out/model.pkl").write_bytes(pickle.dumps(model))
    holdout.to_csv(folder / "out/test.csv", index=False)
    monkeypatch.chdir(folder)
    runpy.run_path(str(TEMPLATES / "classifier/evaluate.py"))["main"]([])
    result: dict[str, Any] = json.loads((folder / "out/metrics.json").read_text())
    return result


def _version(version: str, metrics: dict[str, Any]) -> VersionRecord:
    path = f"models/m/artifacts/{version}/model.pkl"
    return VersionRecord(
        model="m",
        version=version,
        created_at="2026-11-20T09:12:44Z",
        created_by="ana@example.com",
        code_commit=None,
        trigger="manual",
        parent=None,
        artifact=Artifact(path, "0" * 32, 1, "sklearn-pickle"),
        metrics={k: v for k, v in metrics.items() if k != "dataset"},
        dataset=metrics["dataset"],
    )


def test_recorded_comparison_refuses_metrics_from_different_holdouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The templates used to name every holdout "holdout", so two versions measured on
    different rows passed a `compare: recorded` gate as if on the same data."""
    from sklearn.datasets import load_breast_cancer

    frame: Any = load_breast_cancer(as_frame=True).frame.iloc[:, [0, 1, 2, 30]]
    frame.columns = ["a", "b", "c", "target"]
    first = _evaluated(tmp_path / "one", frame.iloc[:200], monkeypatch)
    second = _evaluated(tmp_path / "two", frame.iloc[200:400], monkeypatch)
    again = _evaluated(tmp_path / "three", frame.iloc[:200], monkeypatch)
    assert first["dataset"] != second["dataset"] and first["dataset"] == again["dataset"]
    gate = {"metric": "f1", "max_regression": 0.5}
    policy = parse_policy("p", {"stages": [{"name": "production", "gates": [gate]}]})
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)

    def regression(cand: dict[str, Any]) -> Any:
        current = _version("v1.0.0", first)
        ctx = GateContext("production", _version("v2.0.0", cand), current, None, None, now)
        (rule,) = [r for r in evaluate(policy, ctx).results if r.kind == "regression"]
        return rule

    refused = regression(second)
    assert refused.verdict == "fail" and refused.detail.startswith("not comparable: ")
    assert "'" + second["dataset"] + "'" in refused.detail
    same = regression(again)
    assert same.verdict == "pass" and f"(both on {first['dataset']})" in same.detail
