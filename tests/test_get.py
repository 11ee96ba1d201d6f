"""`get`, `load_model` and `show`/`compare --repo`: a registry reached by path or URL from
a directory that is not a checkout, every artifact verified through the one loader."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest

import modelreg
from conftest import Prebuilt, Registry, git, trained_model
from modelreg.adapters import artifacts
from modelreg.adapters.dvc import default_remote
from modelreg.errors import CheckFailed, NotFound, UsageError


def _two_versions(reg: Registry) -> None:
    """churn v1.0.0 (staging) and v1.1.0, artifacts pushed to the DVC remote, which
    `.dvc/config` names by a path relative to the repository (as `init --dvc-remote
    ../folder` writes it): `../../dvc-remote` from `.dvc/`, right for the checkout and for
    the bare origin beside it alike."""
    reg.register("churn", 0, "--push", accuracy=0.90, f1=0.85)
    reg.register("churn", 1, "--push", accuracy=0.92, f1=0.84)
    reg.write("models/churn/stages/staging.yaml", "version: v1.0.0\n")
    config = (reg.root / ".dvc/config").read_text()
    reg.write(".dvc/config", config.replace(str(reg.remote), "../../dvc-remote"))
    reg.git("add", "-A")
    reg.git("commit", "-qm", "churn v1.0.0 to staging; the DVC remote by a relative path")
    reg.git("push", "-q", "origin", "main")


@pytest.fixture(scope="module")
def shared(prebuilt: Prebuilt) -> Registry:
    """One copy for the module: no test changes it (the one that alters the DVC remote
    puts it back), so the copy is made once instead of per test."""
    return prebuilt.registry(_two_versions)


@pytest.fixture
def reg(shared: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """The registry, and a current directory that is no checkout."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    return shared


def _get(reg: Registry, *args: str) -> dict[str, object]:
    result = reg.run("get", *args, "--json", cwd=Path.cwd())
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_sha(reg: Registry, version: str) -> str:
    text = (reg.root / f"models/churn/versions/{version}.yaml").read_text()
    return text.split("sha256: ", 1)[1].split()[0]


def test_get_from_a_bare_repo_path_fetches_verifies_and_caches(reg: Registry) -> None:
    first = _get(reg, "churn@staging", "--repo", str(reg.origin))
    assert (first["model"], first["version"], first["stage"]) == ("churn", "v1.0.0", "staging")
    path = Path(str(first["path"]))
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "modelreg" / "artifacts"
    assert path == cache / _record_sha(reg, "v1.0.0") and _sha(path) == first["sha256"]
    assert first["cached"] is False
    again = _get(reg, "churn@v1.0.0", "--repo", str(reg.origin))
    assert again["cached"] is True and again["path"] == first["path"]
    assert sorted(p.name for p in cache.iterdir()) == [path.name]  # no temporary left
    out = _get(reg, "churn@v1.1.0", "--repo", str(reg.origin), "-o", "model.pkl")
    assert Path(str(out["path"])).resolve() == Path.cwd() / "model.pkl"
    assert _sha(Path("model.pkl")) == _record_sha(reg, "v1.1.0")
    old = reg.git("rev-parse", "HEAD~1").strip()  # before churn went to staging
    gone = reg.run("get", "churn@staging", "--repo", str(reg.origin), "--rev", old)
    assert gone.exit_code == 2 and "nothing serves churn in 'staging'" in gone.output
    bare = reg.run("get", "churn", "--repo", str(reg.origin))
    assert bare.exit_code == 2 and "churn@production" in bare.output


def test_a_url_needs_remote_for_a_relative_dvc_remote_and_works_with_it(reg: Registry) -> None:
    url = reg.origin.as_uri()
    refused = reg.run("get", "churn@staging", "--repo", url, cwd=Path.cwd())
    assert refused.exit_code == 2
    assert "--remote URL" in refused.output and "../../dvc-remote" in refused.output
    got = _get(reg, "churn@staging", "--repo", url, "--remote", str(reg.remote))
    assert _sha(Path(str(got["path"]))) == _record_sha(reg, "v1.0.0")
    # an absolute remote in .dvc/config is used as written: no --remote needed
    git(Path.cwd(), "clone", "-q", str(reg.origin), "absolute")
    config = Path("absolute/.dvc/config")
    config.write_text(config.read_text().replace("../../dvc-remote", str(reg.remote)))
    git(Path("absolute"), "commit", "-qam", "the DVC remote by an absolute path")
    git(Path.cwd(), "clone", "-q", "--bare", "absolute", "absolute.git")
    got = _get(reg, "churn@v1.1.0", "--repo", (Path.cwd() / "absolute.git").as_uri())
    assert got["version"] == "v1.1.0"


def test_show_and_compare_read_a_registry_by_url_and_by_bare_path(reg: Registry) -> None:
    for repo in (reg.origin.as_uri(), str(reg.origin)):
        shown = reg.run("show", "churn@staging", "--repo", repo, "--json", cwd=Path.cwd())
        assert shown.exit_code == 0, shown.output
        out = json.loads(shown.output)
        assert out["record"]["version"] == "v1.0.0" and out["serving"] == ["staging"]
        compared = reg.run("compare", "churn", "staging", "v1.1.0", "--repo", repo, "--json")
        assert compared.exit_code == 0, compared.output
        c = json.loads(compared.output)
        assert (c["a"], c["b"]) == ("v1.0.0", "v1.1.0")
        f1 = next(m for m in c["metrics"] if m["name"] == "f1")
        assert f1["winner"] == "a"
    missing = reg.run("show", "churn@staging", "--repo", str(Path.cwd() / "nowhere"))
    assert missing.exit_code == 2 and "no such directory" in missing.output


def test_load_model_by_bare_path_and_file_url(reg: Registry) -> None:
    model = modelreg.load_model("churn@staging", repo=reg.origin)
    want = trained_model(0)
    assert (model.coef_ == want.coef_).all()  # type: ignore[attr-defined]
    other = modelreg.load_model("churn@v1.1.0", repo=reg.origin.as_uri(), remote=str(reg.remote))
    assert other.max_iter == 501  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="remote="):
        modelreg.load_model("churn@v1.1.0", repo=reg.origin.as_uri())
    with pytest.raises(NotFound, match=r"churn has no version 'v9\.0\.0'"):
        modelreg.load_model("churn@v9.0.0", repo=reg.origin)


class _Marker:
    """A pickle that, if ever unpickled, creates a file: proof that no code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def test_a_tampered_cache_file_is_refused_and_fetched_again(reg: Registry) -> None:
    path = Path(str(_get(reg, "churn@staging", "--repo", str(reg.origin))["path"]))
    marker = Path.cwd() / "code-ran"
    path.write_bytes(pickle.dumps(_Marker(marker)))
    result = reg.run("get", "churn@staging", "--repo", str(reg.origin), cwd=Path.cwd())
    assert result.exit_code == 0, result.output
    assert "did not match its record" in result.stderr
    assert _sha(path) == _record_sha(reg, "v1.0.0")
    path.write_bytes(pickle.dumps(_Marker(marker)))
    model = modelreg.load_model("churn@staging", repo=reg.origin)
    assert (model.coef_ == trained_model(0).coef_).all()  # type: ignore[attr-defined]
    assert not marker.exists() and _sha(path) == _record_sha(reg, "v1.0.0")


def test_a_tampered_remote_object_is_refused_by_get_and_load_model(reg: Registry) -> None:
    md5 = (reg.root / "models/churn/versions/v1.0.0.yaml").read_text().split("md5: ")[1][:32]
    obj = reg.remote / "files" / "md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    true_bytes = obj.read_bytes()
    marker = Path.cwd() / "code-ran"
    obj.write_bytes(pickle.dumps(_Marker(marker)))
    try:
        _refused_from_the_remote(reg, obj, md5, marker)
        obj.unlink()
        gone = reg.run("get", "churn@staging", "--repo", str(reg.origin), cwd=Path.cwd())
        assert gone.exit_code == 1
        assert "churn v1.0.0" in gone.output and "neither in DVC's cache nor" in gone.output
    finally:
        obj.write_bytes(true_bytes)


def _refused_from_the_remote(reg: Registry, obj: Path, md5: str, marker: Path) -> None:
    result = reg.run("get", "churn@staging", "--repo", str(reg.origin), cwd=Path.cwd())
    assert result.exit_code == 1
    assert "churn v1.0.0 as fetched from the DVC remote" in result.output
    assert md5 in result.output  # what the record says, beside what the bytes have
    with pytest.raises(CheckFailed, match=r"churn v1\.0\.0") as err:
        modelreg.load_model("churn@staging", repo=reg.origin)
    assert hashlib.md5(obj.read_bytes()).hexdigest() in str(err.value)
    assert not marker.exists()
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "modelreg" / "artifacts"
    assert not cache.exists() or list(cache.iterdir()) == []  # nothing kept, no temporary


def test_get_in_the_current_checkout_needs_no_repo(reg: Registry) -> None:
    got = reg.run("get", "churn@v1.1.0", "-o", str(Path.cwd()))
    assert got.exit_code == 0, got.output
    assert _sha(Path.cwd() / "model.pkl") == _record_sha(reg, "v1.1.0")


def test_a_folder_artifact_is_cached_whole_and_refetched_when_tampered(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "MLmodel").write_text("flavors: {}\n")
    (src / "sub" / "model.pkl").write_bytes(b"bytes")
    expected = artifacts.Expected(
        md5=artifacts.md5_of(src), source="the record", sha256=artifacts.sha256_of(src)
    )
    calls: list[Path] = []

    def download(dest: Path) -> None:
        calls.append(dest)
        import shutil

        shutil.copytree(src, dest)

    first = artifacts.cached(expected, download, where="w", hint="h")
    assert (first.hit, first.replaced) == (False, False)
    assert (first.path / "sub" / "model.pkl").read_bytes() == b"bytes"
    (first.path / "sub" / "model.pkl").write_bytes(b"other")
    again = artifacts.cached(expected, download, where="w", hint="h")
    assert (again.hit, again.replaced, len(calls)) == (False, True, 2)
    assert artifacts.cached(expected, download, where="w", hint="h").hit
    (src / "MLmodel").write_text("changed\n")  # the source now disagrees with the record
    (first.path / "MLmodel").write_text("changed\n")
    with pytest.raises(CheckFailed, match="w: md5 is"):
        artifacts.cached(expected, download, where="w", hint="h")
    assert list(first.path.parent.iterdir()) == []


def test_default_remote_reads_the_config_dvc_writes() -> None:
    text = b"[core]\n    remote = storage\n['remote \"storage\"']\n    url = ../../dvc-remote\n"
    assert default_remote(text) == ("storage", "../../dvc-remote")
    assert default_remote(b"[core]\n    analytics = False\n") is None
    assert default_remote(None) is None
    assert default_remote(b"[core]\n    remote = gone\n") is None
    assert default_remote(b"[core\n  broken") is None
