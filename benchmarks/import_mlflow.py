"""`modelreg import mlflow` on a large MLflow registry, then again after aliases moved.

Builds a SQLite tracking store of --models registered models × --versions versions
through `MlflowClient` (a run, a small MLflow model folder logged as its artifacts, a
metric and a param per version: no `log_model`, ~0.05 s a version), with `champion` on
each model's next-to-last version and `challenger` on its last. Then, in a fresh registry:
  1. `modelreg import mlflow --alias-map champion=production,challenger=staging`, timed;
  2. every `champion` moved to the last version, the same import again, timed;
  3. the same import a third time (nothing new), timed.
It checks what must hold (one record per version, the stage files where the aliases
point, one commit per version and per alias move) and prints the figures as JSON.

    python benchmarks/import_mlflow.py [--models 200 --versions 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "MODELREG_"))}
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n")
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    return env


def _template(work: Path) -> Path:
    """One real MLflow sklearn model folder; each version logs a copy with one file changed."""
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    folder = work / "template"
    mlflow.sklearn.save_model(
        LogisticRegression().fit([[0.0], [1.0]], [0, 1]),
        str(folder),
        pip_requirements=["scikit-learn"],
    )
    return folder


def build_store(work: Path, models: int, versions: int) -> tuple[str, float]:
    """The tracking store, built through MlflowClient; (its URI, seconds spent)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{work}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("bench", artifact_location=(work / "artifacts").as_uri())
    template = _template(work)
    start = time.perf_counter()
    for m in range(models):
        name = f"Model {m:03d}"
        client.create_registered_model(name)
        for v in range(1, versions + 1):
            folder = work / "staging-folder"
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(template, folder)
            (folder / "version.txt").write_text(f"{name} {v}\n")
            run = client.create_run(exp)
            rid = run.info.run_id
            client.log_metric(rid, "accuracy", 0.8 + v / 100)
            client.log_param(rid, "C", str(v / 10))
            client.log_artifacts(rid, str(folder), "model")
            client.set_terminated(rid)
            client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=rid)
        client.set_registered_model_alias(name, "champion", str(max(1, versions - 1)))
        client.set_registered_model_alias(name, "challenger", str(versions))
    return uri, time.perf_counter() - start


def move_champions(uri: str, models: int, versions: int) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for m in range(models):
        client.set_registered_model_alias(f"Model {m:03d}", "champion", str(versions))


def _modelreg(cwd: Path, env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "modelreg", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"modelreg {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
    return took, json.loads(proc.stdout) if "--json" in args else {}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200, help="registered models")
    parser.add_argument("--versions", type=int, default=5, help="versions per model")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="modelreg-bench-mlflow-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = run(work, args.models, args.versions)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


def run(work: Path, models: int, versions: int) -> dict[str, Any]:
    uri, built = build_store(work, models, versions)
    env = _env(work)
    repo = work / "registry"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _modelreg(repo, env, "init", "--dvc-remote", str(work / "dvc-remote"))
    imp = ["import", "mlflow", "--tracking-uri", uri, "--json"]
    imp += ["--alias-map", "champion=production,challenger=staging"]
    before = int(_git(repo, "rev-list", "--count", "HEAD"))
    first, out1 = _modelreg(repo, env, *imp)
    after1 = int(_git(repo, "rev-list", "--count", "HEAD"))
    move_champions(uri, models, versions)
    second, out2 = _modelreg(repo, env, *imp)
    after2 = int(_git(repo, "rev-list", "--count", "HEAD"))
    third, out3 = _modelreg(repo, env, *imp)
    total = models * versions
    records = len(list(repo.glob("models/*/versions/*.yaml")))
    checks = {
        "every version recorded": records == total == len(out1["imported"]),
        "one commit per version and per alias": after1 - before == total + 2 * models,
        "second run: only the champion moves": (
            not out2["imported"] and len(out2["moved"]) == models and after2 - after1 == models
        ),
        "third run: nothing": not out3["imported"] and not out3["moved"],
        "production is the last version": all(
            (repo / f"models/model-{m:03d}/stages/production.yaml")
            .read_text()
            .rstrip()
            .endswith(f"v{versions}.0.0")
            for m in range(models)
        ),
    }
    return {
        "models": models,
        "versions_per_model": versions,
        "build_store_s": round(built, 1),
        "build_s_per_version": round(built / total, 3),
        "first_import_s": round(first, 1),
        "first_import_s_per_version": round(first / total, 3),
        "alias_move_import_s": round(second, 1),
        "nothing_new_import_s": round(third, 1),
        "commits_first_import": after1 - before,
        "commits_second_import": after2 - after1,
        "checks": checks,
        "load_average": os.getloadavg(),
    }


if __name__ == "__main__":
    main()
