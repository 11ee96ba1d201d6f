"""`Git.walk_tree`: the listing `ls-tree -r` gives, less the folders a rule prunes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git, trials
from modelreg.adapters.git import Git
from modelreg.errors import GitError

FILE, EXEC, LINK, SUBMODULE = "100644", "100755", "120000", "160000"
BLOBS = (b"one\n", b"two\n", b"")
FOREIGN_COMMIT = "1" * 40  # a submodule's commit: never in this repository

# Odd names on purpose: spaces, UTF-8, "\n", "\r", a leading colon or dash, pruned
# names at any depth. No "/" or NUL (a tree cannot hold them), nothing git refuses.
names = st.one_of(
    st.sampled_from(["artifacts", "models", "a b", "é", "new\nline", "cr\r", ":x", "-", "v.yaml"]),
    st.text(
        st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=6,
    ),
).filter(lambda n: n not in (".", "..") and "git" not in n.lower())

leaves = st.sampled_from([FILE, FILE, EXEC, LINK, SUBMODULE])
trees = st.recursive(
    st.dictionaries(names, leaves, max_size=4),
    lambda children: st.dictionaries(names, st.one_of(leaves, children), max_size=4),
    max_leaves=25,
)


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


def _expected(listed: dict[str, str], prune: Callable[[str], bool]) -> dict[str, str]:
    """What a walk keeps of a full listing: files under no pruned folder."""

    def kept(path: str) -> bool:
        parts = path.split("/")
        return not any(prune("/".join(parts[:i])) for i in range(1, len(parts)))

    return {path: blob for path, blob in listed.items() if kept(path)}


def _folders(tree: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for name, node in tree.items():
        if isinstance(node, dict):
            out += [prefix + name, *_folders(node, prefix + name + "/")]
    return out


@settings(
    max_examples=trials(thorough=400, ci=30),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(tree=trees, shared=st.booleans(), data=st.data())
def test_a_walk_lists_what_ls_tree_lists_outside_the_pruned_folders(
    repo: tuple[Git, list[str]], tree: dict[str, Any], shared: bool, data: st.DataObject
) -> None:
    subtrees = [node for node in tree.values() if isinstance(node, dict)]
    if shared and subtrees:
        tree = {**tree, "same twice": subtrees[0]}  # one tree object under two folders
    rev = _commit(repo, tree)
    g = repo[0]
    files, folders = [p for p, _ in _entries(tree)], _folders(tree)
    # Roots are literal paths: ls-tree would read a leading ":" as pathspec magic.
    candidates = [p for p in files + folders if p[0] != ":"] + ["missing", "m/missing", "a b/x"]
    roots = data.draw(st.lists(st.sampled_from(candidates), max_size=3, unique=True))
    pruned = set(data.draw(st.lists(st.sampled_from(folders), max_size=2))) if folders else set()

    def prune(path: str) -> bool:
        return path in pruned or path.rsplit("/", 1)[-1] == "artifacts"

    assert g.walk_tree(rev, roots, prune) == _expected(g.ls_tree(rev, roots), prune)
    assert g.walk_tree(rev, roots, lambda _: False) == g.ls_tree(rev, roots)


def test_a_walk_of_a_revision_that_is_not_there_fails_as_ls_tree_does(
    repo: tuple[Git, list[str]],
) -> None:
    g = repo[0]
    for rev in ("HEAD", "no-such-branch", "0" * 40):  # HEAD: the repository has no commit
        with pytest.raises(GitError):
            g.ls_tree(rev, ["models"])
        with pytest.raises(GitError):
            g.walk_tree(rev, ["models"], lambda _: False)


def test_a_root_with_a_newline_is_listed_too(repo: tuple[Git, list[str]]) -> None:
    rev = _commit(repo, {"a\nb": {"artifacts": {"f": FILE}, "g": FILE}, "c": FILE})
    g = repo[0]
    walked = g.walk_tree(rev, ["a\nb", "c"], lambda p: p.endswith("artifacts"))
    assert walked == {**g.ls_tree(rev, ["a\nb/g"]), **g.ls_tree(rev, ["c"])}
    assert sorted(walked) == ["a\nb/g", "c"]


def test_walk_tree_reads_one_level_per_git_call(
    repo: tuple[Git, list[str]], tmp_path: Path
) -> None:
    """Three levels of folders, many folders wide: three `cat-file` calls."""
    tree = {f"m{i}": {"versions": {"v.yaml": FILE}, "artifacts": {"x": FILE}} for i in range(50)}
    rev = _commit(repo, {"models": tree})
    g = repo[0]
    trace = tmp_path / "trace"
    traced = Git(g.root, env={**os.environ, "GIT_TRACE": str(trace)})
    walked = traced.walk_tree(rev, ["models"], lambda p: p.endswith("/artifacts"))
    assert sorted(walked) == sorted(f"models/m{i}/versions/v.yaml" for i in range(50))
    calls = [line for line in trace.read_text().splitlines() if "built-in: git cat-file" in line]
    assert len(calls) == 3  # the root and models/, each model, each versions/


def test_ls_tree_keeps_a_carriage_return_in_a_name(repo: tuple[Git, list[str]]) -> None:
    """Read as text, git's output turned "\\r" into "\\n": a file no read could then find."""
    rev = _commit(repo, {"cr\r": {"f\r": FILE}})
    assert list(repo[0].ls_tree(rev, [])) == ["cr\r/f\r"]


def test_a_zero_padded_folder_mode_is_still_a_folder(repo: tuple[Git, list[str]]) -> None:
    """Old tools wrote folders as `040000`; ls-tree lists what is inside, so must a walk."""
    g, blobs = repo
    inner = _commit(repo, {"d": {"f": FILE}})
    inner_tree = g.run("rev-parse", f"{inner}:d").strip()
    padded = b"040000 d\0" + bytes.fromhex(inner_tree) + b"100644 e\0" + bytes.fromhex(blobs[0])
    tree = g.run("hash-object", "-t", "tree", "-w", "--literally", "--stdin", input=padded)
    rev = g.run("commit-tree", tree.strip(), "-m", "padded", input="").strip()
    assert g.walk_tree(rev, [], lambda _: False) == g.ls_tree(rev, [])
    assert sorted(g.ls_tree(rev, [])) == ["d/f", "e"]
