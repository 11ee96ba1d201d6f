"""MLflow in: `register --from-mlflow` and `import mlflow`, against real MLflow (no mocks),
and MLflow model folders and skops files through the one verified loader.

One SQLite tracking store is built per test run (its migrations alone take seconds) by
real `mlflow.sklearn` runs with registered versions and aliases; each test gets its own
copy of the database (a new path: MLflow caches one engine per URI), sharing the
artifacts, which no test changes (the loader's tests read run1's logged model folder).
A real `mlflow server` (started once, on a copy of that store) serves the case of a
team's tracking server: runs, registry and artifacts over HTTP.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from conftest import Registry, make_registry
from loopback_exporter import wait_until_ready
from modelreg.adapters import artifacts
from modelreg.errors import CheckFailed, UsageError
from modelreg.registry.names import check_name
from modelreg.registry.schemas import schema_problems
from modelreg.training.import_mlflow import metric_names, model_name, param_value


@dataclass(frozen=True)
class Store:
    """A test's copy of the session's tracking store and what was logged into it."""

    artifacts: Path  # shared by every test: read only
    uri: str
    run1: str  # Churn Model version 1 (champion), from a DataFrame with a signature
    run2: str  # Churn Model version 2 (challenger and shadow)
    model_id1: str  # MLflow 3's logged model id of run1's model
    mlruns: Path  # an older folder store with one run, `file_run`
    file_run: str

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


def _build(base: Path) -> dict[str, str]:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{base}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("churn", artifact_location=(base / "artifacts").as_uri())
    x = pd.DataFrame({"tenure": [1.0, 5.0, 9.0, 2.0, 8.0, 7.0], "plan": [1, 0, 1, 0, 1, 0]})
    y = [0, 1, 1, 0, 1, 1]
    ids: dict[str, str] = {}
    for n, c in ((1, 0.5), (2, 2.0)):
        with mlflow.start_run(experiment_id=exp) as run:
            mlflow.log_params({"C": c, "solver": "lbfgs"})
            mlflow.log_metrics({"accuracy": 0.8 + n / 100, "val loss": 0.3})
            mlflow.set_tag("mlflow.source.git.commit", f"{n}" * 40)
            model = LogisticRegression(C=c).fit(x, y)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(x, model.predict(x)),
                pip_requirements=["scikit-learn"],
                registered_model_name="Churn Model",
            )
        ids[f"run{n}"], ids[f"model_id{n}"] = run.info.run_id, info.model_id
    client.set_registered_model_alias("Churn Model", "champion", "1")
    client.set_registered_model_alias("Churn Model", "challenger", "2")
    client.set_registered_model_alias("Churn Model", "shadow", "2")
    # The older folder store (`./mlruns`), which MLflow 3 opens only when asked to.
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        mlflow.set_tracking_uri(str(base / "mlruns"))
        with mlflow.start_run() as run:
            mlflow.log_metric("accuracy", 0.7)
            mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        ids["file_run"] = run.info.run_id
    finally:
        del os.environ["MLFLOW_ALLOW_FILE_STORE"]
        mlflow.set_tracking_uri(uri)
    return ids


@pytest.fixture(scope="session")
def _master(
    tmp_path_factory: pytest.TempPathFactory, mlflow_empty_store: Path
) -> tuple[Path, dict[str, str]]:
    pytest.importorskip("skops")
    base = tmp_path_factory.mktemp("mlflow-store")
    shutil.copyfile(mlflow_empty_store, base / "mlflow.db")  # migrated already
    return base, _build(base)


@pytest.fixture
def store(_master: tuple[Path, dict[str, str]], tmp_path: Path) -> Store:
    base, ids = _master
    (tmp_path / "mlflow").mkdir()
    shutil.copyfile(base / "mlflow.db", tmp_path / "mlflow" / "mlflow.db")
    return Store(
        artifacts=base / "artifacts",
        uri=f"sqlite:///{tmp_path}/mlflow/mlflow.db",
        run1=ids["run1"],
        run2=ids["run2"],
        model_id1=ids["model_id1"],
        mlruns=base / "mlruns",
        file_run=ids["file_run"],
    )


def _record(reg: Registry, model: str, version: str) -> dict[str, Any]:
    data = yaml.safe_load((reg.root / f"models/{model}/versions/{version}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _clean(reg: Registry) -> None:
    assert reg.git("status", "--porcelain", "--untracked-files=all") == ""


@pytest.mark.slow
def test_register_from_mlflow_takes_every_uri_form(store: Store, tmp_path: Path) -> None:
    reg = make_registry(tmp_path)
    forms = {
        "by-run": f"runs:/{store.run1}/model",
        "by-version": "models:/Churn Model/2",
        "by-alias": "models:/Churn Model@champion",
        "by-id": f"models:/{store.model_id1}",
    }
    for model, uri in forms.items():
        reg.ok("register", model, "--from-mlflow", uri, "--tracking-uri", store.uri)
    _clean(reg)

    rec = _record(reg, "by-alias", "v1.0.0")
    assert rec["artifact"]["format"] == "mlflow"
    assert rec["artifact"]["md5"].endswith(".dir")
    assert rec["code_commit"] == "1" * 40 and rec["code_commit_source"] == "mlflow"
    assert rec["metrics"] == {"accuracy": 0.81, "val_loss": 0.3}  # "val loss" made a key
    assert rec["params"] == {"C": 0.5, "solver": "lbfgs"}
    assert rec["signature"]["inputs"] == [
        {"name": "tenure", "type": "float"},
        {"name": "plan", "type": "int"},
    ]
    lineage = rec["lineage"]["mlflow"]
    assert lineage["run_id"] == store.run1 and lineage["experiment"] == "churn"
    assert lineage["registered_model"] == "Churn Model" and lineage["registered_version"] == 1
    assert lineage["model_id"] == store.model_id1 and lineage["user"]
    assert _record(reg, "by-version", "v1.0.0")["lineage"]["mlflow"]["run_id"] == store.run2
    # not the file MLflow up to 3.17 adds to what it downloads (the URI's name and version)
    assert not (reg.root / "models/by-alias/artifacts/v1.0.0/model/registered_model_meta").exists()
    for model in ("by-run", "by-id"):  # the same logged model, whichever way it is named
        assert _record(reg, model, "v1.0.0")["artifact"] == {
            **rec["artifact"],
            "path": f"models/{model}/artifacts/v1.0.0/model",
        }
    # The whole folder is DVC-tracked, and it loads through the verified loader.
    assert (reg.root / "models/by-id/artifacts/v1.0.0/model.dvc").is_file()
    reg.ok("validate")
    art = rec["artifact"]
    expected = artifacts.Expected(md5=art["md5"], source="record", sha256=art["sha256"],
                                  format="mlflow")  # fmt: skip
    estimator = artifacts.load(reg.root / "models/by-id/artifacts/v1.0.0/model", expected, hint="")
    assert estimator.predict([[9.0, 1]]).tolist() == [1]

    # The older `./mlruns` folder store, by a relative path as MLflow users write it.
    old = reg.run("register", "old", "--from-mlflow", f"runs:/{store.file_run}/model",
                  "--tracking-uri", os.path.relpath(store.mlruns, reg.root))  # fmt: skip
    assert old.exit_code == 0, old.output
    assert _record(reg, "old", "v1.0.0")["metrics"] == {"accuracy": 0.7}

    # Re-registering the same logged model finds it; a bad URI is one line, exit 2.
    again = reg.ok(
        "register", "by-run", "--from-mlflow", forms["by-id"], "--tracking-uri", store.uri
    )
    assert "already registered by-run v1.0.0" in again.output
    bad = reg.run("register", "x", "--from-mlflow", "models:/", "--tracking-uri", store.uri)
    assert bad.exit_code == 2 and "not a model URI" in bad.output
    missing = reg.run(
        "register", "x", "--from-mlflow", "models:/Nope/1", "--tracking-uri", store.uri
    )
    assert missing.exit_code == 2 and "Nope" in missing.output
    _clean(reg)


@pytest.mark.slow
def test_import_mlflow_then_a_rerun_brings_only_the_new_version_and_the_alias_move(
    store: Store, tmp_path: Path
) -> None:
    reg = make_registry(tmp_path)
    args = ["import", "mlflow", "--tracking-uri", store.uri]
    first = reg.ok(*args, "--alias-map", "champion=production,challenger=staging")
    assert "'Churn Model' → churn-model" in first.output
    assert "alias shadow (version 2) maps to no stage" in first.output
    _clean(reg)
    log = reg.git("log", "--format=%an|%aI|%s", "-4").splitlines()
    assert log[1].endswith("import mlflow: churn-model staging → v2.0.0 "
                           "(alias challenger; imported; time approximate)")  # fmt: skip
    assert "production → v1.0.0" in log[0]
    assert log[3].endswith("import mlflow: Churn Model version 1 as churn-model v1.0.0")
    created = store.client().get_model_version("Churn Model", "1").creation_timestamp
    when = log[3].split("|")[1]
    from datetime import datetime

    assert abs(datetime.fromisoformat(when).timestamp() - created / 1000) < 1
    rec = _record(reg, "churn-model", "v2.0.0")
    assert rec["lineage"]["mlflow"]["registered_version"] == 2 and rec["parent"] == "v1.0.0"

    # In MLflow: version 3 (new bytes), champion moves to it; version 4 re-registers
    # version 1's logged model.
    client = store.client()
    v3 = tmp_path / "mlflow" / "v3" / "model"
    shutil.copytree(next(store.artifacts.glob(f"**/{store.model_id1}/artifacts")), v3)
    (v3 / "requirements.txt").write_text("scikit-learn\nskops\n")
    client.create_model_version("Churn Model", v3.as_uri(), run_id=store.run1)
    client.create_model_version("Churn Model", f"models:/{store.model_id1}", run_id=store.run1)
    client.set_registered_model_alias("Churn Model", "champion", "3")
    head = reg.git("rev-parse", "HEAD").strip()
    # A killed import left its state edited and half a model folder: neither counts.
    state = reg.root / "models/churn-model/mlflow-import.yaml"
    state.write_text(state.read_text().replace("'2': v2.0.0", "'2': v2.0.0\n  '3': v3.0.0"))
    reg.write("models/churn-model/artifacts/v3.0.0/model/leftover.txt", "killed\n")
    second = reg.ok(*args, "--alias-map", "champion=production,challenger=staging", "--json")
    import json

    out = json.loads(second.output)
    assert [(i["mlflow_version"], i["version"]) for i in out["imported"]] == [
        (3, "v3.0.0"),
        (4, "v1.0.0"),  # the same artifact: mapped, not registered twice
    ]
    assert out["already"] == 2
    assert [(m["stage"], m["version"]) for m in out["moved"]] == [("production", "v3.0.0")]
    # the version, the mapping of version 4, the alias move
    assert len(reg.git("rev-list", f"{head}..HEAD").split()) == 3
    _clean(reg)

    status = json.loads(reg.ok("status", "--json").output)
    serving = {(r["model"], r["stage"]): r["version"] for r in status["rows"] if r["stage"]}
    assert serving == {
        ("churn-model", "production"): "v3.0.0",
        ("churn-model", "staging"): "v2.0.0",
    }
    history = reg.ok("history", "churn-model", "--stage", "production").output
    assert "v1.0.0" in history and "v3.0.0" in history
    # A third run with nothing new changes nothing.
    head = reg.git("rev-parse", "HEAD")
    third = reg.ok(*args, "--alias-map", "champion=production,challenger=staging")
    assert "0 versions imported, 4 already imported, 0 stage changes" in third.output
    assert reg.git("rev-parse", "HEAD") == head
    reg.ok("validate", "--base", "HEAD")  # schemas and references (gates: docs/migrating.md)


@pytest.mark.slow
def test_a_deleted_mlflow_artifact_is_reported_and_the_rest_imported(
    store: Store, tmp_path: Path
) -> None:
    reg = make_registry(tmp_path)
    # Version 2's artifact is a folder that is deleted after it was registered in MLflow.
    client = store.client()
    client.delete_model_version("Churn Model", "2")
    gone = tmp_path / "mlflow" / "gone" / "model"
    shutil.copytree(next(store.artifacts.glob(f"**/{store.model_id1}/artifacts")), gone)
    client.create_model_version("Churn Model", gone.as_uri(), run_id=store.run2)
    client.set_registered_model_alias("Churn Model", "challenger", "3")
    shutil.rmtree(gone)
    result = reg.run(
        "import", "mlflow", "--tracking-uri", store.uri, "--alias-map", "challenger=staging"
    )
    assert result.exit_code == 1
    assert "NOT IMPORTED: Churn Model version 3" in result.output
    assert "alias challenger points at version 3, which was not imported" in result.output
    assert "1 versions imported" in result.output
    assert "could not be imported" in result.stderr
    assert (reg.root / "models/churn-model/versions/v1.0.0.yaml").exists()
    assert not (reg.root / "models/churn-model/versions/v3.0.0.yaml").exists()
    _clean(reg)


# -- a real tracking server ---------------------------------------------------------------
#
# A team's `mlflow server`: runs and the registry over HTTP, and the artifacts only through
# the server (`--serve-artifacts`: artifact URIs `mlflow-artifacts:/…`), never by the folder
# it keeps them in. Its backend store is a copy of `_master`'s (no migrations paid again).


@pytest.fixture(scope="module")
def server(
    _master: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    from loopback_exporter import free_port

    base = tmp_path_factory.mktemp("mlflow-server")
    shutil.copyfile(_master[0] / "mlflow.db", base / "mlflow.db")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # no job runner (GenAI evaluation jobs): worker processes no test needs
    env.update(HOME=str(base), MLFLOW_DISABLE_TELEMETRY="true",
               MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")  # fmt: skip
    log = (base / "server.log").open("wb")
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{base / 'mlflow.db'}",
        "--serve-artifacts", "--artifacts-destination", (base / "artifacts").as_uri(),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=base,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group: its uvicorn child is stopped with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(proc, url + "/health", 90, base / "server.log")
        yield url
    finally:
        # the whole group at once (a graceful stop costs seconds; its store is thrown away)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


@pytest.mark.slow
def test_a_tracking_server_round_trip_over_http(
    server: str, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    # MLflow's process-wide URIs (set here and by the commands) are put back afterwards.
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", None)
    monkeypatch.setattr("mlflow.tracking._model_registry.utils._registry_uri", None)
    client = mlflow.MlflowClient(tracking_uri=server, registry_uri=server)

    # A team's run, logged through the server with mlflow.sklearn.
    exp = client.create_experiment("team")
    mlflow.set_tracking_uri(server)
    x = pd.DataFrame({"tenure": [1.0, 5.0, 9.0, 2.0, 8.0, 7.0], "plan": [1, 0, 1, 0, 1, 0]})
    model = LogisticRegression(C=0.5).fit(x, [0, 1, 1, 0, 1, 1])
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
        mlflow.log_metric("accuracy", 0.83)
        mlflow.set_tag("mlflow.source.git.commit", "c" * 40)
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, model.predict(x)),
            pip_requirements=["scikit-learn"],
            registered_model_name="Team Churn",
        )
    client.set_registered_model_alias("Team Churn", "champion", "1")
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # only the server has them

    reg = registry
    for ours, uri in (("by-version", "models:/Team Churn/1"),
                      ("by-alias", "models:/Team Churn@champion")):  # fmt: skip
        reg.ok("register", ours, "--from-mlflow", uri, "--tracking-uri", server)
    rec = _record(reg, "by-alias", "v1.0.0")
    art = rec["artifact"]
    assert art["format"] == "mlflow" and art["md5"].endswith(".dir")
    assert _record(reg, "by-version", "v1.0.0")["artifact"]["sha256"] == art["sha256"]
    assert rec["metrics"] == {"accuracy": 0.83} and rec["params"] == {"C": 0.5, "solver": "lbfgs"}
    assert rec["code_commit"] == "c" * 40
    assert rec["lineage"]["mlflow"]["run_id"] == run.info.run_id
    assert [c["name"] for c in rec["signature"]["inputs"]] == ["tenure", "plan"]
    expected = artifacts.Expected(md5=art["md5"], source="record", sha256=art["sha256"],
                                  format="mlflow")  # fmt: skip
    loaded = artifacts.load(reg.root / art["path"], expected, hint="")
    assert loaded.predict(x).tolist() == model.predict(x).tolist()

    # One server-side import (re-runs are the SQLite tests' job).
    out = reg.ok("import", "mlflow", "--tracking-uri", server, "--model", "Team Churn",
                 "--alias-map", "champion=production").output  # fmt: skip
    assert "1 versions imported, 0 already imported, 1 stage changes, 0 failed" in out
    assert _record(reg, "team-churn", "v1.0.0")["artifact"]["sha256"] == art["sha256"]

    # deploy --target mlflow: the verified folder uploaded through the server, the alias set.
    out = reg.ok("deploy", "--target", "mlflow", "--tracking-uri", server).output
    assert f"production: deployed 1 model (mlflow at {server})" in out
    mv = client.get_model_version_by_alias("team-churn", "production")
    assert mv.tags["modelreg.version"] == "v1.0.0" and mv.tags["modelreg.md5"] == art["md5"]
    assert (mv.source or "").startswith("mlflow-artifacts:/"), mv.source
    again = reg.ok("deploy", "--target", "mlflow", "--tracking-uri", server).output
    assert "production: up to date (1 model)" in again.splitlines()
    # ... and back: the same bytes MLflow logged in the first place.
    reg.ok("register", "back", "--from-mlflow", "models:/team-churn@production",
           "--tracking-uri", server)  # fmt: skip
    back = _record(reg, "back", "v1.0.0")["artifact"]
    assert (back["md5"], back["sha256"]) == (art["md5"], art["sha256"])
    reg.ok("validate", "--base", "HEAD")  # schemas and references (the gates: migrating.md)
    _clean(reg)


def test_the_mlflow_commands_import_no_mlflow_for_help() -> None:
    code = (
        "import sys; from modelreg.cli import main\n"
        "sys.argv = ['modelreg', 'import', 'mlflow', '--help']\n"
        "try: main()\nexcept SystemExit: pass\n"
        "assert 'mlflow' not in sys.modules, 'mlflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@given(st.text(min_size=1, max_size=80))
def test_every_mlflow_model_name_maps_to_a_valid_name(name: str) -> None:
    assert check_name(model_name(name)) == model_name(name)


@pytest.mark.parametrize(
    ("mlflow", "ours"),
    [("Churn Model", "churn-model"), ("fraud_v2", "fraud_v2"), ("--", "model"), ("A.B", "a-b")],
)
def test_mlflow_model_names_follow_the_name_rule(mlflow: str, ours: str) -> None:
    assert model_name(mlflow) == ours


def test_mlflow_metrics_and_params_become_record_values() -> None:
    assert metric_names({"val loss": 1.0, "a/b": 2.0, "dataset": 3.0}) == {
        "a_b": 2.0,
        "mlflow.dataset": 3.0,
        "val_loss": 1.0,
    }
    assert [param_value(v) for v in ("1", "0.5", "True", "lbfgs", "nan")] == [
        1,
        0.5,
        True,
        "lbfgs",
        "nan",
    ]


# -- MLflow model folders and skops files through the one verified loader -----------------


@pytest.fixture
def logged_model(_master: tuple[Path, dict[str, str]]) -> Path:
    """The model folder run1 logged with mlflow.sklearn (skops: MLflow 3's default), as the
    tracking store keeps it. Read only: tests copy it."""
    base, ids = _master
    return next(base.glob(f"artifacts/**/{ids['model_id1']}/artifacts"))


def _expected(path: Path, fmt: str) -> artifacts.Expected:
    return artifacts.Expected(
        md5=artifacts.md5_of(path),
        source="the record",
        sha256=artifacts.sha256_of(path),
        format=fmt,
        name="v1.0.0",
    )


@pytest.mark.slow
def test_an_mlflow_model_folder_loads_through_the_verified_loader(
    logged_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(logged_model, folder)
    assert (folder / "model.skops").is_file()  # MLflow 3 writes skops by default
    model = artifacts.load(folder, _expected(folder, "mlflow"), hint="re-register")
    assert model.predict([[9.0, 1]]).tolist() == [1]


@pytest.mark.slow
def test_a_tampered_mlflow_model_folder_is_refused(logged_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(logged_model, folder)
    expected = _expected(folder, "mlflow")
    (folder / "model.skops").write_bytes((folder / "model.skops").read_bytes() + b"\0")
    with pytest.raises(CheckFailed, match="md5 is"):
        artifacts.load(folder, expected, hint="re-register")


@pytest.mark.slow
def test_a_skops_file_loads_and_a_tampered_one_is_refused(
    logged_model: Path, tmp_path: Path
) -> None:
    file = tmp_path / "model.skops"
    shutil.copyfile(logged_model / "model.skops", file)
    expected = _expected(file, "skops")
    assert artifacts.load(file, expected, hint="x").predict([[1.0, 1]]).tolist() == [0]
    file.write_bytes(file.read_bytes()[:-1] + b"\1")
    with pytest.raises(CheckFailed, match="md5 is"):
        artifacts.load(file, expected, hint="x")


@pytest.mark.slow
def test_a_folder_recorded_as_a_pickle_is_not_loaded(logged_model: Path, tmp_path: Path) -> None:
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
