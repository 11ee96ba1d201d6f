"""The one verified artifact loader: nothing else in modelreg unpickles.

Unpickling runs whatever code the bytes name, so bytes are deserialised only after they
match the hashes a trusted record holds: the md5 always (DVC addresses content by it) and
the SHA-256 when the record carries one. A refusal names the file, the hash it has, the
file that says otherwise, and what to do.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg.adapters.git import first_line
from modelreg.errors import CheckFailed, ForgeError, UsageError

PICKLE_FORMATS = ("sklearn-pickle", "pickle")
JOBLIB_FORMATS = ("joblib",)
SKOPS_FORMATS = ("skops",)
MLFLOW_FORMATS = ("mlflow",)  # a whole MLflow model folder (MLmodel + the flavor's files)
LOADABLE = PICKLE_FORMATS + JOBLIB_FORMATS + SKOPS_FORMATS + MLFLOW_FORMATS


@dataclass(frozen=True)
class Expected:
    """What a trusted record says an artifact is."""

    md5: str
    source: str  # the file that says so, named when the bytes disagree with it
    sha256: str | None = None
    format: str = ""
    name: str = "it"  # what the artifact is to a person, e.g. its version


def verify(data: bytes, where: str, expected: Expected, *, hint: str) -> None:
    """CheckFailed naming both hashes unless `data` has the expected md5 (and SHA-256)."""
    _compare(where, "md5", hashlib.md5(data).hexdigest(), expected.md5, expected, hint)
    if expected.sha256:
        got = hashlib.sha256(data).hexdigest()
        _compare(where, "sha256", got, expected.sha256, expected, hint)


def _compare(where: str, algo: str, got: str, want: str, expected: Expected, hint: str) -> None:
    if got != want:
        raise CheckFailed(f"{where}: {algo} is {got} but {expected.source} says {want}", hint=hint)


def fetch_verified(
    root: Path,
    rev: str | None,
    path: str,
    expected: Expected,
    *,
    pointer: bytes | None,
    record: str,
    hint: str,
) -> bytes:
    """A DVC-tracked artifact's bytes at `rev` (cache, else remote), verified.

    `pointer` is the text of `path.dvc` at `rev`: it must track exactly this artifact by
    the md5 of the version record `record` (`check_pointer`) before DVC is asked for anything.
    """
    from modelreg.adapters import dvc as dvcio

    check_pointer(pointer, path, expected.md5, record)
    try:
        data = dvcio.read_at(root, path, rev)
    except ForgeError as exc:
        remote = dvcio.remote_url(root) or "(no DVC remote configured)"
        raise CheckFailed(
            f"{path}: md5 {expected.md5} is neither in the DVC cache nor on the remote {remote}",
            hint=f"push it from where it was registered: `dvc push {path}`",
        ) from exc
    verify(data, path, expected, hint=hint)
    return data


def fetch_folder_verified(
    root: Path,
    rev: str | None,
    path: str,
    expected: Expected,
    dest: Path,
    *,
    pointer: bytes | None,
    record: str,
    hint: str,
) -> None:
    """A DVC-tracked folder artifact at `rev` (cache, else remote) copied to `dest`, then
    verified (its `.dir` md5 and `folder_sha256`): `fetch_verified` for a folder."""
    from modelreg.adapters import dvc as dvcio

    check_pointer(pointer, path, expected.md5, record)
    try:
        dvcio.download(root, rev or "HEAD", path, dest, remote=None, scratch=None)
    except (CheckFailed, ForgeError) as exc:
        remote = dvcio.remote_url(root) or "(no DVC remote configured)"
        raise CheckFailed(
            f"{path}: md5 {expected.md5} is neither in the DVC cache nor on the remote {remote}",
            hint=f"push it from where it was registered: `dvc push {path}`",
        ) from exc
    verify_path(dest, expected, hint=hint, where=path)


def is_folder(expected: Expected) -> bool:
    """Whether a record's artifact is a folder (DVC's md5 of a directory ends in `.dir`)."""
    return expected.md5.endswith(".dir")


@dataclass(frozen=True)
class PointerProblem:
    """What is wrong with a version's DVC pointer: the key in it, what, and the fix."""

    file: str
    key: str
    message: str
    fix: str


def pointer_problem(text: bytes | None, path: str, md5: str, record: str) -> PointerProblem | None:
    """Why `path.dvc` does not track exactly the artifact at `path` with the `md5` that the
    version record `record` holds, if it does not.

    A version's pointer names one output: the file beside it (`outs[0].path` is the
    artifact's own file name: no '/', no '..'), with the md5 its record holds.
    """
    file, name = path + ".dvc", path.rsplit("/", 1)[-1]
    restore = f"restore it: `git checkout <base> -- {file}`; never edit a registered pointer"
    if text is None:
        return PointerProblem(
            record, "artifact.path", f"no DVC pointer {file}", "commit the .dvc file register wrote"
        )
    outs = _outs(text)
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict):
        return PointerProblem(file, "outs", "is not one DVC output", restore)
    out_path, out_md5 = outs[0].get("path"), outs[0].get("md5")
    if out_path != name or name in ("", ".", ".."):
        return PointerProblem(
            file,
            "outs[0].path",
            f"{str(out_path)[:80]!r} is not the artifact's file name {name!r} beside it "
            "(the pointer's path was edited)",
            restore,
        )
    if out_md5 != md5:
        return PointerProblem(
            record,
            "artifact.md5",
            f"record says {md5} but {file} says {str(out_md5)[:40]}",
            "the artifact or its record was altered; register a new version instead",
        )
    return None


# A pointer exactly as `dvc add` writes it: read without a YAML parser, since validate
# reads one per version. Anything else (hand edits included) goes through YAML.
_CANONICAL = re.compile(
    rb"outs:\n- md5: ([0-9a-f]{32})\n  size: ([0-9]+)\n  hash: md5\n"
    rb"  path: ([A-Za-z0-9._][A-Za-z0-9._-]*)\n"
)


def _outs(text: bytes) -> Any:
    """The pointer's `outs`, every scalar a string (an all-digit md5 stays text)."""
    import yaml

    m = _CANONICAL.fullmatch(text)
    if m is not None:
        md5, size, path = (g.decode() for g in m.groups())
        return [{"md5": md5, "size": size, "hash": "md5", "path": path}]
    try:
        loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
        return (yaml.load(text, Loader=loader) or {}).get("outs")
    except (yaml.YAMLError, AttributeError, RecursionError):
        return None


def check_pointer(text: bytes | None, path: str, md5: str, record: str) -> None:
    """CheckFailed with the true reason unless `path.dvc` tracks exactly this artifact."""
    problem = pointer_problem(text, path, md5, record)
    if problem is not None:
        key = f": {problem.key}" if problem.key else ""
        raise CheckFailed(
            f"{problem.file}{key}: {problem.message}; refusing to fetch it",
            hint=problem.fix,
        )


def verify_path(
    path: Path, expected: Expected, *, hint: str, where: str | None = None
) -> bytes | None:
    """Check a local file or folder against `expected`; a file's bytes, None for a folder.

    A folder is hashed as DVC hashes a directory (the md5 of its sorted file list, with a
    `.dir` suffix), and by `folder_sha256`. `where` names it in a refusal (default: path).
    """
    label = where or str(path)
    if path.is_dir():
        _verify_folder(path, label, expected, hint)
        return None
    try:
        data = path.read_bytes()
    except OSError:
        raise CheckFailed(f"{label}: artifact is missing", hint=hint) from None
    verify(data, label, expected, hint=hint)
    return data


def matches(path: Path, expected: Expected) -> bool:
    """Whether a local file (or, for a folder artifact, folder) is there with the expected
    hashes."""
    folder = is_folder(expected)
    if not (path.is_dir() if folder else path.is_file()) or path.is_symlink():
        return False
    try:
        verify_path(path, expected, hint="")
    except (CheckFailed, UsageError):
        return False
    return True


def _verify_folder(path: Path, where: str, expected: Expected, hint: str) -> None:
    _compare(where, "md5", md5_of(path), expected.md5, expected, hint)
    if expected.sha256:
        _compare(where, "sha256", folder_sha256(path), expected.sha256, expected, hint)


def md5_of(path: Path) -> str:
    """The md5 DVC records: of a file's bytes, or of a folder's sorted file list + `.dir`."""
    if not path.is_dir():
        return _file_hash(path, hashlib.md5())
    files = _folder_files(path)
    listing = [{"md5": _file_hash(p, hashlib.md5()), "relpath": rel} for rel, p in files]
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def sha256_of(path: Path) -> str:
    """The SHA-256 a version record holds for an artifact: of a file's bytes, or of a folder
    as `folder_sha256` defines it."""
    return folder_sha256(path) if path.is_dir() else _file_hash(path, hashlib.sha256())


def folder_sha256(folder: Path) -> str:
    """SHA-256 of a folder artifact (docs/formats.md, "Artifact hashes").

    One line per file below `folder`, `<sha256 of its bytes>  <path relative to the folder,
    '/'-separated>` and a newline, sorted by path (Unicode code points, which is the byte
    order of their UTF-8); the digest is the SHA-256 of those lines, UTF-8 encoded. It
    equals `find . -type f | cut -c3- | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum`
    run inside the folder. A path holding a newline or a backslash is refused (sha256sum
    would escape it, and a newline would make the listing ambiguous).
    """
    lines = []
    for rel, file in _folder_files(folder):
        if "\n" in rel or "\r" in rel or "\\" in rel:
            raise UsageError(
                f"{folder}: file name {rel!r} holds a newline or backslash",
                hint="rename it: folder artifacts are hashed by a listing of their paths",
            )
        lines.append(f"{_file_hash(file, hashlib.sha256())}  {rel}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _folder_files(folder: Path) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every file below `folder`, sorted by relative path."""
    return sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())


def _file_hash(path: Path, h: Any) -> str:
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return str(h.hexdigest())


# -- the artifact cache ----------------------------------------------------------------

_KEY = re.compile(r"(?:[0-9a-f]{64}|md5-[0-9a-f]{32}(?:\.dir)?)")


def cache_root() -> Path:
    """Where fetched artifacts are kept: `$XDG_CACHE_HOME/modelreg/artifacts`
    (`~/.cache/modelreg/artifacts` when XDG_CACHE_HOME is unset or not absolute)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "modelreg" / "artifacts"


def cache_entry(expected: Expected) -> Path:
    """The cache entry of an artifact: named by its SHA-256 (`md5-<md5>` for a record
    that holds only an md5), a file or, for a folder artifact, a folder."""
    key = expected.sha256 or f"md5-{expected.md5}"
    if not _KEY.fullmatch(key):
        raise CheckFailed(f"{expected.source}: artifact hash {key[:80]!r} is malformed")
    return cache_root() / key


@dataclass(frozen=True)
class Cached:
    """A verified cache entry, and how it was obtained."""

    path: Path
    hit: bool  # already in the cache (and matching its record): nothing was downloaded
    replaced: bool  # an entry that did not match its record was discarded and fetched again


def cached(
    expected: Expected, download: Callable[[Path], None], *, where: str, hint: str
) -> Cached:
    """The artifact's cache entry, verified on every call against `expected`.

    An entry that is missing, or whose bytes no longer match the record (a tampered or
    torn file), is fetched once by `download(dest)` into a temporary path beside it,
    verified there and renamed into place, so the entry is never seen half-written or
    unverified. If the fetched bytes do not match either, the refusal names `where`
    (what was fetched, from where) with both hashes.
    """
    entry = cache_entry(expected)
    replaced = False
    if entry.exists():
        try:
            verify_path(entry, expected, hint=hint)
            return Cached(entry, hit=True, replaced=False)
        except CheckFailed:
            _discard(entry)
            replaced = True
    _fill(entry, expected, download, where=where, hint=hint)
    return Cached(entry, hit=False, replaced=replaced)


def _fill(
    entry: Path, expected: Expected, download: Callable[[Path], None], *, where: str, hint: str
) -> None:
    import tempfile

    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=entry.parent))
    try:
        got = tmp / "artifact"
        download(got)
        verify_path(got, expected, hint=hint, where=where)
        try:
            os.rename(got, entry)  # atomic; a file replaces, a folder needs the name free
        except OSError:
            verify_path(entry, expected, hint=hint)  # another process put it there first
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _discard(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def format_for(name: str, recorded: str) -> str:
    """The format to load an artifact by: the recorded one, else the one its file name's
    suffix says (a cache entry, named by hash, has no suffix to go by)."""
    return recorded or _format(Path(name), "") or ""


def load(path: Path, expected: Expected, *, hint: str) -> Any:
    """Verify a local artifact against `expected`, then deserialise it by its format.

    `hint` says what to do when the bytes are missing or do not match. A folder is loaded
    only as an MLflow model (format `mlflow`), after its md5 and SHA-256 matched.
    """
    data = verify_path(path, expected, hint=hint)
    fmt = _format(path, expected.format)
    if fmt is None or (data is None) != (fmt == "mlflow"):
        kind = "a folder" if data is None else f"format {expected.format!r}"
        raise UsageError(
            f"{path}: {kind} cannot be loaded as a model here",
            hint=f"modelreg loads {', '.join(LOADABLE)} artifacts",
        )
    try:
        if fmt == "mlflow":
            return _load_mlflow(path)
        assert data is not None
        return _deserialise(fmt, data)
    except UsageError:
        raise
    except Exception as exc:  # unpickling can raise anything the pickled classes raise
        raise UsageError(
            f"{path}: cannot load {expected.name}: {type(exc).__name__}: {first_line(exc)}",
            hint="install the packages and versions it was trained with",
        ) from exc


def _deserialise(fmt: str, data: bytes) -> Any:
    """Bytes already verified against their record, as the object they hold."""
    import importlib

    if fmt == "joblib":
        joblib = importlib.import_module("joblib")  # ships with scikit-learn; untyped
        return joblib.load(io.BytesIO(data))
    if fmt == "skops":
        # The record vouches for these exact bytes, so every type they name is trusted,
        # as a pickle's would be (skops alone would refuse types it does not know).
        sio = importlib.import_module("skops.io")
        return sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    import pickle

    return pickle.loads(data)


def _load_mlflow(folder: Path) -> Any:
    """A verified MLflow model folder: its sklearn flavor's estimator, read without MLflow.

    The `MLmodel` file names the serialised file and its format (skops, pickle or
    cloudpickle); other flavors need MLflow itself (`mlflow.pyfunc.load_model`).
    """
    import yaml

    try:
        spec = yaml.safe_load((folder / "MLmodel").read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(
            f"{folder}/MLmodel: not a readable MLflow model file ({type(exc).__name__})",
            hint="register the whole folder mlflow's log_model or save_model wrote",
        ) from None
    flavors = spec.get("flavors") if isinstance(spec, dict) else None
    sk = flavors.get("sklearn") if isinstance(flavors, dict) else None
    if isinstance(sk, dict) and isinstance(sk.get("pickled_model"), str):
        fmt = "skops" if sk.get("serialization_format") == "skops" else "pickle"
        file = (folder / sk["pickled_model"]).resolve()
        if not file.is_relative_to(folder.resolve()) or not file.is_file():
            raise UsageError(f"{folder}/MLmodel: flavors.sklearn.pickled_model: no such file")
        return _deserialise(fmt, file.read_bytes())
    import importlib

    pyfunc = importlib.import_module("mlflow.pyfunc")  # an optional extra: modelreg[mlflow]
    return pyfunc.load_model(str(folder))


def _format(path: Path, recorded: str) -> str | None:
    """ "pickle", "joblib", "skops" or "mlflow" by the recorded format; by the suffix when
    none is recorded."""
    if recorded in SKOPS_FORMATS or (not recorded and path.suffix == ".skops"):
        return "skops"
    if recorded in MLFLOW_FORMATS:
        return "mlflow"
    if recorded in JOBLIB_FORMATS or (not recorded and path.suffix == ".joblib"):
        return "joblib"
    if recorded in PICKLE_FORMATS or (not recorded and path.suffix in (".pkl", ".pickle")):
        return "pickle"
    return None
