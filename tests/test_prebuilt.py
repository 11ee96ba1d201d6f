"""The prebuilt registries: built once, copied per test, and no copy can reach the master."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import Prebuilt, Registry, git
from modelreg.adapters import dvc as dvcio


def one_version(reg: Registry) -> None:
    reg.register("churn", 0, "--push")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_copy_names_only_itself_and_what_it_pushes_never_reaches_the_master(
    prebuilt: Prebuilt,
) -> None:
    first = prebuilt.registry(one_version)
    master = first.root.parent.parent / "master"
    before = _digest(master)
    assert first.git("remote", "get-url", "origin").strip() == str(first.origin)
    assert dvcio.remote_url(first.root) == str(first.remote)
    for path in first.root.parent.rglob("*"):
        if path.is_file():
            assert str(master).encode() not in path.read_bytes(), path

    first.register("churn", 1, "--push")  # a commit to origin, an artifact to the DVC remote
    second = prebuilt.registry(one_version)

    assert second.root == first.root
    versions = sorted(p.name for p in (second.root / "models/churn/versions").iterdir())
    assert versions == ["v1.0.0.yaml"]
    assert "v1.1.0" not in git(second.origin, "log", "--stat", "main")
    assert _digest(master) == before
