"""`adapters.dvc.add` writes exactly what `dvc add` writes, without DVC's repository-wide
index (which made every registration O(pointers)); real DVC reads it back: status, push,
and a fresh clone's pull."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git, trials
from modelreg.adapters import artifacts
from modelreg.adapters import dvc as dvcio

# File names that sort differently as strings and as path parts ("a-b" < "a/b" < "a0"),
# hidden files, and empty files: what DVC's `.dir` manifest orders and counts.
names = st.sampled_from(["a", "b", "a-b", "a0", ".hidden", "MLmodel", "model.skops", "Z"])
relpaths = st.lists(names, min_size=1, max_size=3).map("/".join)
contents = st.binary(max_size=64)
folders = st.dictionaries(relpaths, contents, min_size=1, max_size=6).filter(
    # a path that is both a file and a folder cannot exist
    lambda d: not any(other.startswith(p + "/") for p in d for other in d)
)
shapes = st.one_of(contents.map(lambda b: ("file", b)), folders.map(lambda d: ("dir", d)))


def _init(root: Path) -> Path:
    from dvc.repo import Repo

    root.mkdir(parents=True)
    git(root, "init", "-q")
    with dvcio._quiet("init"):
        Repo.init(str(root))
    return root


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Two DVC repositories: one written by our `add`, one by DVC's own `Repo.add`."""
    base = tmp_path_factory.mktemp("dvcadd")
    yield _init(base / "ours"), _init(base / "dvc")


_counter = itertools.count()


def _write(root: Path, rel: str, shape: tuple[str, object]) -> Path:
    kind, body = shape
    path = root / rel
    if kind == "file":
        assert isinstance(body, bytes)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return path
    assert isinstance(body, dict)
    for name, data in body.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`: bytes and permission bits."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(folder))] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return out


@settings(
    max_examples=trials(thorough=150, ci=4),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=shapes)
def test_add_writes_the_pointer_cache_and_gitignore_dvc_add_writes(
    repos: tuple[Path, Path], shape: tuple[str, object]
) -> None:
    from dvc.repo import Repo

    ours, theirs = repos
    rel = f"models/m{next(_counter)}/artifacts/v1.0.0/model"
    mine = _write(ours, rel, shape)
    assert dvcio._new_output(ours, mine)  # the path without DVC's index is the one tested
    md5, size = dvcio.add(ours, mine)
    with dvcio._quiet("add"):
        Repo(str(theirs)).add(str(_write(theirs, rel, shape)))
    assert (ours / f"{rel}.dvc").read_text() == (theirs / f"{rel}.dvc").read_text()
    parent = Path(rel).parent / ".gitignore"
    assert (ours / parent).read_text() == (theirs / parent).read_text()
    assert _tree(ours / ".dvc" / "cache") == _tree(theirs / ".dvc" / "cache")
    assert _tree(mine) == _tree(theirs / rel) if mine.is_dir() else True
    assert (md5, size) == dvcio.read_pointer(theirs / f"{rel}.dvc")
    assert artifacts.md5_of(mine) == md5  # what the verified loader checks agrees too


def test_a_path_dvc_already_knows_goes_through_dvcs_own_add(tmp_path: Path) -> None:
    root = _init(tmp_path / "repo")
    folder = _write(root, "data/set", ("dir", {"a": b"1"}))
    dvcio.add(root, folder)
    inner = folder / "b"
    inner.write_bytes(b"2")
    assert not dvcio._new_output(root, folder)  # re-adding: DVC updates its own pointer
    assert not dvcio._new_output(root, inner)  # inside a tracked folder: DVC refuses
    (root / "pipe").mkdir()
    (root / "pipe" / "dvc.yaml").write_text("stages: {}\n")
    assert not dvcio._new_output(root, _write(root, "pipe/out.bin", ("file", b"x")))
    md5, _ = dvcio.add(root, folder)
    assert md5 == dvcio.read_pointer(root / "data" / "set.dvc")[0]  # type: ignore[index]
    assert "nfiles: 2" in (root / "data" / "set.dvc").read_text()


def test_real_dvc_status_push_and_a_fresh_clones_pull_see_what_add_wrote(
    tmp_path: Path,
) -> None:
    from dvc.repo import Repo

    root = _init(tmp_path / "repo")
    remote = tmp_path / "remote"
    dvcio.init(root, str(remote))
    file = _write(root, "models/a/artifacts/v1.0.0/model.pkl", ("file", b"pickle bytes"))
    folder = _write(
        root, "models/b/artifacts/v1.0.0/model", ("dir", {"MLmodel": b"x", "sub/w": b"yy"})
    )
    for path in (file, folder):
        dvcio.add(root, path)
    with dvcio._quiet("status"):
        assert Repo(str(root)).status() == {}  # "Data and pipelines are up to date."
    pointers = [Path(f"{p}.dvc") for p in (file, folder)]
    dvcio.push(root, pointers)
    with dvcio._quiet("status"):
        assert Repo(str(root)).status(cloud=True) == {}  # everything is on the remote
    git(root, "add", "-A")
    git(root, "commit", "-qm", "two versions")
    assert git(root, "status", "--porcelain") == ""  # the outputs are git-ignored
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    dvcio.pull(clone, [clone / p.relative_to(root) for p in pointers])
    assert (clone / file.relative_to(root)).read_bytes() == b"pickle bytes"
    assert _tree(clone / folder.relative_to(root)) == {
        "MLmodel": (b"x", 0o644),
        "sub/w": (b"yy", 0o644),
    }


def test_add_reads_no_other_pointer_of_the_repository(tmp_path: Path) -> None:
    """The O(n^2) of issue 14: `Repo.add` parsed every `.dvc` file of the repository on
    each call (its index). A corrupt pointer elsewhere shows which add reads them."""
    from dvc.repo import Repo

    root = _init(tmp_path / "repo")
    (root / "other").mkdir()
    (root / "other" / "x.dvc").write_text("outs: [not valid\n")
    dvcio.add(root, _write(root, "models/a/artifacts/v1.0.0/model.pkl", ("file", b"1")))
    with pytest.raises(Exception, match=r"other/x\.dvc"), dvcio._quiet("add"):
        Repo(str(root)).add(str(_write(root, "models/b/model.pkl", ("file", b"2"))))
