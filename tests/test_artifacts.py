"""The one verified artifact loader: bytes are checked before anything unpickles them."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelreg.adapters import artifacts
from modelreg.adapters.artifacts import Expected
from modelreg.errors import CheckFailed, UsageError

SRC = Path(__file__).resolve().parents[1] / "src" / "modelreg"


class MarkerPickle:
    """Unpickling this creates a file: proof that untrusted bytes ran code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return (os.open, (str(self.path), os.O_CREAT | os.O_WRONLY))


def expect(data: bytes, **kw: str) -> Expected:
    return Expected(md5=hashlib.md5(data).hexdigest(), source="the record r.yaml", **kw)


def test_a_matching_pickle_loads_by_its_recorded_format(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(pickle.dumps({"weights": [1, 2]}))
    data = path.read_bytes()
    assert artifacts.load(path, expect(data, format="sklearn-pickle"), hint="h") == {
        "weights": [1, 2]
    }
    sha = hashlib.sha256(data).hexdigest()
    assert artifacts.load(path, expect(data, format="pickle", sha256=sha), hint="h")


def test_a_joblib_artifact_loads_through_joblib(tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "model.joblib"
    joblib.dump([1, 2, 3], path)
    assert artifacts.load(path, expect(path.read_bytes(), format="joblib"), hint="h") == [1, 2, 3]


def test_tampered_bytes_are_refused_before_they_are_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "model.pkl"
    good = pickle.dumps("the registered model")
    path.write_bytes(pickle.dumps(MarkerPickle(marker)))
    with pytest.raises(CheckFailed) as info:
        artifacts.load(path, expect(good, format="sklearn-pickle"), hint="re-deploy")
    got = hashlib.md5(path.read_bytes()).hexdigest()
    assert str(info.value) == (
        f"{path}: md5 is {got} but the record r.yaml says {hashlib.md5(good).hexdigest()} "
        "(re-deploy)"
    )
    assert not marker.exists()


def test_a_sha256_mismatch_is_refused_even_when_the_md5_matches(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(MarkerPickle(marker)))
    data = path.read_bytes()
    wrong = hashlib.sha256(b"what was registered").hexdigest()
    with pytest.raises(CheckFailed, match=f"sha256 is .* but the record r.yaml says {wrong}"):
        artifacts.load(path, expect(data, format="pickle", sha256=wrong), hint="h")
    assert not marker.exists()


def test_a_missing_artifact_and_an_unknown_format_are_one_line_each(tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match="missing"):
        artifacts.load(tmp_path / "gone.pkl", expect(b""), hint="h")
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")
    with pytest.raises(UsageError, match="format 'onnx' cannot be loaded"):
        artifacts.load(path, expect(b"onnx", format="onnx"), hint="h")


def test_a_folder_is_verified_by_the_md5_dvc_records_for_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    folder = repo / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"alpha")
    (folder / "sub" / "b.txt").write_text("beta\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*dvc, "add", "-q", "model"], cwd=repo, check=True)
    md5 = yaml.safe_load((repo / "model.dvc").read_text())["outs"][0]["md5"]
    assert md5.endswith(".dir")
    good = Expected(md5=md5, source="the record r.yaml")
    assert artifacts.verify_path(folder, good, hint="h") is None
    (folder / "sub" / "b.txt").write_text("tampered\n")
    with pytest.raises(CheckFailed, match=f"{re.escape(str(folder))}: md5 is "):
        artifacts.verify_path(folder, good, hint="h")


def test_nothing_outside_the_verified_loader_unpickles() -> None:
    """Unpickling runs code: only adapters/artifacts.py may do it, after verifying the bytes.

    The pipeline templates are excluded: they are the user's training scripts, scaffolded
    into their repository and run by DVC, not part of modelreg.
    """
    call = re.compile(r"\b(pickle|joblib|cloudpickle|dill)\s*\.\s*(load|loads|Unpickler)\b")
    loader = SRC / "adapters" / "artifacts.py"
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        if path != loader and "templates" not in path.relative_to(SRC).parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if call.search(line) or re.search(r"import_module\(\s*['\"]joblib", line)
    ]
    assert offenders == []
