"""Shared fixtures: an isolated environment and throwaway registries with a bare origin."""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from modelreg.cli import cli

pytest_plugins = ["github_api"]

# Hypothesis profiles: `ci` (the default, and what .ci/run asks for) keeps the fast tier
# fast; `thorough` runs the long property and statistical runs, outside CI:
#   HYPOTHESIS_PROFILE=thorough python -m pytest   (or --hypothesis-profile=thorough)
settings.register_profile("ci", max_examples=50, deadline=None, derandomize=False)
settings.register_profile("thorough", max_examples=1000, deadline=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_configure(config: pytest.Config) -> None:
    global PROFILE
    PROFILE = config.getoption("hypothesis_profile", None) or PROFILE
    settings.load_profile(PROFILE)


# Both tiers run whole files per worker (`--dist loadfile --no-loadscope-reorder` in
# .ci/run), so a module's prebuilt registries are built once, not on every worker. Handing
# out the longest files first keeps both workers busy to the end instead of leaving one to
# finish a long file alone; the rest follow in collection order.
LONGEST_FIRST = (
    "test_fresh_runner.py",
    "test_train.py",
    "test_drift_flow.py",
    "test_paired_gates.py",
    "test_demo.py",
    "test_revert_property.py",
    "test_mlflow_import.py",
    "test_serve.py",
    "test_workflows.py",
    "test_self_registry.py",
    "test_prometheus.py",
    "test_validate_files.py",
    # the fast tier's
    "test_promotion.py",
    "test_drift_engine.py",
    "test_validate_fuzz.py",
    "test_mlflow_target.py",
    "test_registry_core.py",
    "test_history_cache.py",
    "test_import_gto.py",
    "test_canary.py",
    "test_predict.py",
    "test_faults.py",
    "test_reviews.py",
    "test_gating.py",
)


# Files whose tests share prebuilt registries run on one worker, as if they were one file:
# the paired-gates tests continue the drift flow's registry (`Prebuilt.registry(on=)`).
SAME_WORKER = {"tests/test_paired_gates.py": "tests/test_drift_flow.py"}


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with the files of SAME_WORKER handed out together."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Together(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            scope: str = super()._split_scope(nodeid)
            return SAME_WORKER.get(scope, scope)

    return Together(config, log)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m slow` imports only the test files that mark something slow (each worker would
    otherwise import all of them, seconds of collection, to deselect most)."""
    if config.getoption("markexpr", "") != "slow" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return "mark.slow" not in collection_path.read_text(encoding="utf-8")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept


def trials(*, thorough: int, ci: int) -> int:
    """How often a statistical test repeats: `thorough` times under that profile only."""
    return thorough if PROFILE == "thorough" else ci


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read the developer's config, tokens or reach the network."""
    home = tmp_path_factory.mktemp("home")
    # DVC keeps its hash state and data index outside the repository, keyed by the
    # repository's path; each test gets its own, so no test sees another's.
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(home / ".cache" / "dvc-site"))
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # MLflow must not phone home
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for var in list(os.environ):
        if var.startswith(("GITHUB_", "GH_", "MODELREG_")) or var in ("GIT_DIR", "GIT_WORK_TREE"):
            monkeypatch.delenv(var, raising=False)


def git(cwd: Path, *args: str) -> str:
    """Run real git and return stdout."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def tree_state(root: Path) -> dict[str, str]:
    """Everything a command must not disturb: status, index, HEAD, branch and file bytes."""
    state = {
        "status": git(root, "status", "--porcelain=v1", "--untracked-files=all"),
        "index": git(root, "ls-files", "-s"),
        "head": git(root, "rev-parse", "HEAD"),
        "branch": git(root, "symbolic-ref", "--quiet", "HEAD"),
    }
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in (".git", ".dvc"):
            state[str(rel)] = hashlib.md5(path.read_bytes()).hexdigest()
    return state


@dataclass
class Registry:
    """A registry repo with a bare `origin` and a local DVC remote, all in a temp dir."""

    root: Path
    origin: Path
    remote: Path
    work: Path

    def run(self, *args: str, cwd: Path | None = None) -> Result:
        """Run the modelreg CLI in-process from the repo root."""
        old = Path.cwd()
        os.chdir(cwd or self.root)
        try:
            return CliRunner().invoke(cli, list(args), catch_exceptions=False)
        finally:
            os.chdir(old)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def artifact(self, name: str, seed: int = 0) -> Path:
        """A real pickled scikit-learn model trained on bundled data."""
        path = self.work / f"{name}.pkl"
        path.write_bytes(pickle.dumps(trained_model(seed)))
        return path

    def metrics(self, name: str, **values: float) -> Path:
        import json

        path = self.work / f"{name}.json"
        path.write_text(json.dumps(values))
        return path

    def register(self, model: str, seed: int = 0, *extra: str, **metrics: float) -> Result:
        art = self.artifact(f"{model}-{seed}", seed)
        met = self.metrics(f"{model}-{seed}", **(metrics or {"accuracy": 0.9, "f1": 0.85}))
        return self.ok("register", model, "--artifact", str(art), "--metrics", str(met), *extra)


_MODELS: dict[int, object] = {}


def trained_model(seed: int) -> object:
    """A small logistic regression on breast-cancer data; `seed` varies its bytes."""
    if seed not in _MODELS:
        from sklearn.datasets import load_breast_cancer
        from sklearn.linear_model import LogisticRegression

        x, y = load_breast_cancer(return_X_y=True)
        _MODELS[seed] = LogisticRegression(max_iter=500 + seed).fit(x[:, :5], y)
    return _MODELS[seed]


def make_registry(base: Path, *, init: bool = True) -> Registry:
    """A clone of a bare origin, initialised as a registry and pushed."""
    reg = _registry_at(base)
    reg.work.mkdir()
    git(base, "init", "-q", "--bare", "-b", "main", str(reg.origin))
    git(base, "clone", "-q", str(reg.origin), str(reg.root))
    if init:
        reg.ok("init", "--dvc-remote", str(reg.remote))
        reg.git("push", "-q", "-u", "origin", "main")
        git(reg.origin, "symbolic-ref", "HEAD", "refs/heads/main")
        reg.git("remote", "set-head", "origin", "main")
    return reg


def empty(reg: Registry) -> None:
    """A registry as `init` leaves it, pushed (what the `registry` fixture copies)."""


def churn_v1(reg: Registry) -> None:
    """churn v1.0.0 registered (breast-cancer logistic regression, seed 0) and pushed."""
    reg.register("churn", 0, "--push")


@pytest.fixture
def churn_pushed(prebuilt: Prebuilt) -> Registry:
    """A copy of a registry with churn v1.0.0 registered and pushed (built once per worker)."""
    return prebuilt.registry(churn_v1)


@pytest.fixture
def registry(prebuilt: Prebuilt) -> Registry:
    """A fresh copy of an initialised, pushed registry (a copy costs a tenth of an `init`)."""
    return prebuilt.registry(empty)


class Prebuilt:
    """Registries built once per test run (per xdist worker) and copied for each test.

    A build runs at its live path (repo, bare origin, DVC remote and work folder under one
    base), and the whole base is then copied aside as the master. Each later test gets a
    fresh copy of the master put back at the live path, so every absolute path inside --
    origin's URL in .git/config, the DVC remote committed in .dvc/config -- still names
    the test's own copy, and nothing names the master: no test can write to it. Tests in
    one process run one at a time, so one live copy per build is enough (asking for the
    same build again replaces the copy).
    """

    def __init__(self, base: Path) -> None:
        self.base = base

    def registry(
        self, build: Callable[[Registry], object], on: Callable[[Registry], object] | None = None
    ) -> Registry:
        """A private copy of the registry `build` makes from a fresh `make_registry`, or
        from a copy of the registry `on` makes (built once, at `on`'s live path, so every
        absolute path inside still names the copy)."""
        name = f"{build.__module__}.{build.__qualname__}"
        folder = self.base / (f"{on.__module__}.{on.__qualname__}" if on else name)
        live, master = folder / "live", folder / (f"master+{name}" if on else "master")
        if live.exists():
            shutil.rmtree(live)
        if master.exists():
            shutil.copytree(master, live, symlinks=True)
            return _registry_at(live)
        if on is None:
            live.mkdir(parents=True)
            reg = make_registry(live)
        else:
            reg = self.registry(on)
        build(reg)
        shutil.copytree(live, master, symlinks=True)
        return reg


def _registry_at(base: Path) -> Registry:
    return Registry(
        root=base / "repo",
        origin=base / "origin.git",
        remote=base / "dvc-remote",
        work=base / "work",
    )


@pytest.fixture(scope="session")
def mlflow_empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with its schema migrated (~6.5 s), made once per run
    and shared by the xdist workers (one waits while another makes it). Copy it; never
    write to it."""
    pytest.importorskip("mlflow")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's folder, above every worker's own
    path = root / "mlflow-empty.db"
    with (root / "mlflow-empty.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            from mlflow.tracking import MlflowClient

            part = root / "mlflow-empty.part.db"
            MlflowClient(tracking_uri=f"sqlite:///{part}").search_experiments()
            part.rename(path)
    return path


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory: pytest.TempPathFactory) -> Prebuilt:
    """Build a registry once per run, copy it per test: `prebuilt.registry(build)`."""
    return Prebuilt(tmp_path_factory.mktemp("prebuilt"))
