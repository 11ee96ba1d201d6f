"""Listing the files of a revision: `Git.ls_tree`."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from conftest import git
from modelreg.adapters.git import Git

FILE, SUBMODULE = "100644", "160000"
BLOBS = (b"one\n", b"two\n", b"")
FOREIGN_COMMIT = "1" * 40  # a submodule's commit: never in this repository


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Git, list[str]]:
    """An empty repository and the ids of a few blobs written into it."""
    root = tmp_path_factory.mktemp("walk")
    git(root, "init", "-q")
    blobs = [
        subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=root,
            input=data,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
        for data in BLOBS
    ]
    return Git(root), blobs


def _entries(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, node in tree.items():
        path = prefix + name
        out += _entries(node, path + "/") if isinstance(node, dict) else [(path, node)]
    return out


def _commit(repo: tuple[Git, list[str]], tree: dict[str, Any]) -> str:
    """A commit holding `tree` (built in a scratch index: no checkout, any name)."""
    g, blobs = repo
    index = g.root / ".git" / "scratch-index"
    index.unlink(missing_ok=True)
    lines = [
        f"{mode} {FOREIGN_COMMIT if mode == SUBMODULE else blobs[i % len(blobs)]}\t{path}"
        for i, (path, mode) in enumerate(_entries(tree))
    ]
    env = {"GIT_INDEX_FILE": str(index)}
    flags = ("-c", "core.protectNTFS=false", "-c", "core.protectHFS=false")
    listing = "".join(line + "\0" for line in lines).encode()
    g.run(*flags, "update-index", "-z", "--index-info", input=listing, env=env)
    sha = g.run("write-tree", env=env).strip()
    return g.run("commit-tree", sha, "-m", "walk", input="").strip()


def test_ls_tree_keeps_a_carriage_return_in_a_name(repo: tuple[Git, list[str]]) -> None:
    """Read as text, git's output turned "\\r" into "\\n": a file no read could then find."""
    rev = _commit(repo, {"cr\r": {"f\r": FILE}})
    assert list(repo[0].ls_tree(rev, [])) == ["cr\r/f\r"]
