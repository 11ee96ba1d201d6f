"""The only module that talks to DVC (imported lazily: `import dvc` costs ~0.4 s)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from modelreg.adapters.git import Git, first_line
from modelreg.adapters.lock import writing_in
from modelreg.errors import CheckFailed, ForgeError, UsageError

os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@contextlib.contextmanager
def _quiet(action: str) -> Iterator[None]:
    """Silence DVC's own printing and turn its errors into one clear line."""
    import logging

    logging.getLogger("dvc").setLevel(logging.CRITICAL)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    except Exception as exc:
        if type(exc).__module__.startswith("dvc"):
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ForgeError(f"dvc {action} failed: {msg}") from exc
        raise


def _repo(root: Path) -> Any:
    from dvc.repo import Repo

    return Repo(str(root))


def is_initialised(root: Path) -> bool:
    return (root / ".dvc" / "config").exists()


def init(root: Path, remote: str | None) -> None:
    """`dvc init` with analytics off, and a default remote when one is given."""
    from dvc.repo import Repo

    with _quiet("init"):
        repo = Repo(str(root)) if is_initialised(root) else Repo.init(str(root))
        with repo.config.edit() as conf:
            conf["core"]["analytics"] = False
            if remote:
                conf["core"]["remote"] = "storage"
                conf["remote"]["storage"] = {"url": _remote_url(root, remote)}


def _remote_url(root: Path, remote: str) -> str:
    if "://" in remote:
        return remote
    # Like `dvc remote add`: DVC's config writer reads a relative path against the current
    # directory and stores it relative to .dvc/, where it resolves it when loading. So it
    # is passed as typed; making it relative to .dvc/ here would shift it twice.
    return str(Path(remote).expanduser())


def remote_url(root: Path) -> str | None:
    """The default remote's URL, absolute for a local folder."""
    with _quiet("config"):
        conf = _repo(root).config
        name = conf["core"].get("remote")
        if not name:
            return None
        url = str(conf["remote"][name]["url"])
    if "://" in url or os.path.isabs(url):
        return url
    return str((root / ".dvc" / url).resolve())


def remote_in_repo(root: Path) -> str | None:
    """The default remote's path relative to the repository, when it is a folder inside it.

    Such a remote is committed with the repository, so what is pushed to it must be too.
    """
    url = remote_url(root) if is_initialised(root) else None
    if not url or "://" in url:
        return None
    try:
        return str(Path(url).resolve().relative_to(root.resolve()))
    except ValueError:
        return None


def borrow_remote(root: Path, main: Path) -> None:
    """Point the temporary worktree at `root` to `main`'s DVC remote, in its
    `.dvc/config.local` (DVC git-ignores it).

    A remote given as a relative path resolves against the `.dvc/` folder it is written
    in, so in a worktree elsewhere it names a folder that does not exist. A remote kept
    inside the repository travels with the tree and is left alone.
    """
    if not is_initialised(root) or remote_in_repo(main) is not None:
        return
    url = remote_url(main)
    if url is None:
        return
    with _quiet("config"):
        repo = _repo(root)
        name = repo.config["core"].get("remote")
        if not name:
            return
        with repo.config.edit("local") as conf:
            conf["remote"][name] = {"url": url}


def add(root: Path, path: Path) -> tuple[str, int]:
    """Track one file or folder with DVC; return (md5, size) as its pointer records them.

    A path new to DVC (`_new_output`) is added through DVC's own stage (the same pointer,
    cache entries and `.gitignore` line `dvc add` writes) without `Repo.add`'s look-up of
    every output in the repository, a look-up that made one `add` cost O(pointers) and an
    import of n versions O(n^2). Anything else goes to `Repo.add`.
    """
    with writing_in(root), _quiet("add"):
        repo = _repo(root)
        if _new_output(root, path):
            _add_new(repo, str(path.resolve()))
        else:
            repo.add(str(path.resolve()))
    pointer = read_pointer(Path(str(path) + ".dvc"))
    if pointer is None:
        raise UsageError(f"{path}.dvc was not written", hint="is the file inside the repository?")
    return pointer


def _new_output(root: Path, path: Path) -> bool:
    """Whether `path` is new to DVC: no pointer of its own, none of a folder holding it, no
    pointer or pipeline inside it or in a folder holding it (what `Repo.add` checks
    against its index of the whole repository)."""
    full, top = path.resolve(), root.resolve()
    if not full.is_relative_to(top) or full == top or Path(str(full) + ".dvc").exists():
        return False
    for parent in full.relative_to(top).parents:
        if (top / parent / "dvc.yaml").exists():
            return False  # a pipeline here may name it, or a folder holding it, as an output
        if parent != Path(".") and (top / (str(parent) + ".dvc")).exists():
            return False
    if full.is_dir():
        for _dirpath, _dirs, files in os.walk(full):
            if any(f.endswith(".dvc") or f in ("dvc.yaml", "dvc.lock") for f in files):
                return False
    return True


def _add_new(repo: Any, target: str) -> None:
    """What `Repo.add` does for one new target, less its repository-wide output look-up
    and graph check (`_new_output` stands in for them): DVC's stage builds the hashes,
    fills the cache, git-ignores the output and writes the pointer."""
    from dvc.repo import locked
    from dvc.repo.scm_context import scm_context
    from dvc.utils import resolve_paths

    def run(repo: Any, target: str) -> None:
        fname, wdir, out = resolve_paths(repo, target)
        stage = repo.stage.create(
            single_stage=True, validate=False, fname=fname, wdir=wdir, outs=[out]
        )
        stage.add_outs(None, no_commit=False, relink=True)
        stage.dump()

    # Repo.add's own wrappers: the repository lock, and `.gitignore` kept as DVC keeps it.
    wrapped: Any = locked(scm_context(run))
    wrapped(repo, target)


def read_pointer(path: Path) -> tuple[str, int] | None:
    """(md5, size) from a .dvc pointer file on disk."""
    if not path.exists():
        return None
    import yaml

    data = yaml.safe_load(path.read_text())
    out = (data or {}).get("outs") or [{}]
    md5, size = out[0].get("md5"), out[0].get("size")
    return (md5, int(size)) if md5 and size is not None else None


def push(root: Path, paths: Sequence[Path]) -> None:
    """Upload tracked files to the default remote."""
    if not paths:
        return
    with writing_in(root), _quiet("push"):
        _repo(root).push(targets=[str(p.resolve()) for p in paths])


def pointer_targets(root: Path, changed: Sequence[str]) -> list[Path]:
    """What to push so that these changed files' DVC pointers resolve on the remote.

    A `.dvc` file names its own output; a `dvc.lock` names every output of the pipeline
    beside it (its `dvc.yaml`). Deleted files name nothing.
    """
    targets: list[Path] = []
    for rel in changed:
        path = root / rel
        if rel.endswith(".dvc") and path.is_file():
            targets.append(path)
        elif Path(rel).name == "dvc.lock" and (path.parent / "dvc.yaml").is_file():
            targets.append(path.parent / "dvc.yaml")
    return targets


def changed_pointers(git: Git, since: str | None) -> list[Path]:
    """Push targets for every DVC pointer that HEAD adds or changes since `since`.

    What a push of HEAD would publish must be on the DVC remote first. Without `since`
    (the branch is not on the remote yet) every pointer counts.
    """
    if since is None or git.resolve(since) is None:
        changed = git.run("ls-files").splitlines()
    else:
        changed = git.run("diff", "--name-only", "--no-renames", since, "HEAD").splitlines()
    return pointer_targets(git.root, changed)


def pull(root: Path, paths: Sequence[Path]) -> None:
    """Fetch tracked files from the default remote into the workspace."""
    if not paths:
        return
    with writing_in(root), _quiet("pull"):
        _repo(root).pull(targets=[str(p.resolve()) for p in paths])


def read_at(root: Path, path: str, rev: str | None) -> bytes:
    """A DVC-tracked file's bytes at a revision, through the cache or the remote."""
    import dvc.api

    with _quiet("read"), dvc.api.open(path, repo=str(root), rev=rev, mode="rb") as fh:
        data: bytes = fh.read()
    return data


def publish(root: Path, rel: str, data: bytes) -> str:
    """Write bytes under the default remote's root (e.g. for a model server); return the path."""
    with _quiet("publish"):
        remote = _repo(root).cloud.get_remote()
        path = remote.fs.join(remote.path, *rel.split("/"))
        remote.fs.makedirs(remote.fs.parent(path), exist_ok=True)
        remote.fs.pipe_file(path, data)
        return str(remote.fs.unstrip_protocol(path))


def md5_file(path: Path) -> str:
    """MD5 of a file's bytes, as DVC 3 records it for a file output."""
    h = hashlib.md5()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class StageFailed(Exception):
    """A pipeline stage's command failed; `cause` is the last line it printed."""

    def __init__(self, stage: str, cause: str) -> None:
        super().__init__(f"stage '{stage}' failed: {cause}")
        self.stage = stage
        self.cause = cause


def reproduce(root: Path, dvc_yaml: Path) -> tuple[str, ...]:
    """`dvc repro` one pipeline in-process; the names of the stages that ran (not cached)."""
    from dvc.exceptions import DvcException, ReproductionError
    from dvc.repo import Repo

    with writing_in(root), _python_on_path(), _captured() as err:
        try:
            with Repo(str(root)) as repo:
                stages = repo.reproduce(targets=[str(dvc_yaml)])
        except ReproductionError as exc:
            raise _stage_failed(exc, _last_line(err)) from None
        except DvcException as exc:
            rel = dvc_yaml.relative_to(root) if dvc_yaml.is_relative_to(root) else dvc_yaml
            raise UsageError(f"{rel}: {first_line(exc)}") from None
    return tuple(str(getattr(s, "name", None) or s.addressing) for s in stages)


def ignore_outputs(root: Path, dvc_yaml: Path) -> None:
    """Git-ignore every cached output of a pipeline, as a successful `dvc repro` does.

    A failed `dvc repro` takes back the ignore entries of the stages that did run, and
    a killed one never writes them, leaving data splits and a model for the next
    `git add` of the pipeline folder to commit.
    """
    from dvc.repo import Repo

    with writing_in(root), _quiet("ignore"), Repo(str(root)) as repo:
        for stage in repo.stage.collect(str(dvc_yaml)):
            for out in stage.outs:
                if not out.use_scm_ignore or not os.path.isdir(os.path.dirname(out.fspath)):
                    continue  # nothing there for git to pick up
                if not repo.scm.is_tracked(out.fspath):
                    repo.scm_context.ignore(out.fspath)


def _stage_failed(exc: BaseException, stderr: str) -> StageFailed:
    found = re.search(r"'([^']+)'", str(exc))  # DVC: "failed to reproduce 'dvc.yaml:train'"
    stage = found.group(1).rsplit(":", 1)[-1] if found else "?"
    cause = stderr or (first_line(exc.__cause__) if exc.__cause__ else first_line(exc))
    return StageFailed(stage, cause)


@contextlib.contextmanager
def _python_on_path() -> Iterator[None]:
    """Stages say `python`: make that the interpreter running modelreg (its venv first)."""
    old = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join(p for p in (os.path.dirname(sys.executable), old) if p)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = old


@contextlib.contextmanager
def _captured() -> Iterator[IO[bytes]]:
    """Stage commands' output into a temp file (file descriptors 1 and 2); DVC kept quiet.

    The commands are child processes, so redirecting Python's sys.stdout is not enough;
    their stderr is kept to name the cause when a stage fails.
    """
    import logging
    import tempfile

    logging.getLogger("dvc").setLevel(logging.CRITICAL)
    with tempfile.TemporaryFile() as sink:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                yield sink
        finally:
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


def _last_line(sink: IO[bytes]) -> str:
    sink.flush()
    sink.seek(0)
    lines = [ln.strip() for ln in sink.read().decode(errors="replace").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("Running stage", "> "))]
    return lines[-1] if lines else ""


def default_remote(config: bytes | None) -> tuple[str, str] | None:
    """(name, URL as written) of the default remote a committed `.dvc/config` names."""
    if not config:
        return None
    # DVC's own config reader (untyped)
    from configobj import ConfigObj, ConfigObjError  # type: ignore[import-untyped]

    try:
        conf = ConfigObj(config.decode("utf-8", errors="replace").splitlines())
    except ConfigObjError:
        return None
    core = {str(k).lower(): v for k, v in dict(conf.get("core") or {}).items()}
    name = core.get("remote")
    if not isinstance(name, str) or not name:
        return None
    section = conf.get(f'remote "{name}"') or {}
    url = dict(section).get("url")
    return (name, url) if isinstance(url, str) and url else None


def is_relative_remote(url: str) -> bool:
    """Whether a remote URL as `.dvc/config` holds it is a path relative to `.dvc/`."""
    return "://" not in url and not os.path.isabs(os.path.expanduser(url))


def download(
    repo: Path, rev: str, path: str, dest: Path, *, remote: str | None, scratch: Path | None
) -> None:
    """Copy the DVC-tracked `path` (a file or a folder) at `rev` of the Git repository
    `repo` (a checkout, or a bare clone) to `dest`: from DVC's cache, else the remote.

    `remote` replaces the default remote's URL. With `scratch`, DVC keeps its cache and
    index there (a temporary clone's state must not outlive it).
    """
    from dvc.fs import DVCFileSystem
    from dvc.repo import Repo

    config: dict[str, Any] = {}
    if scratch is not None:
        config = {
            "cache": {"dir": str(scratch / "cache")},
            "core": {"site_cache_dir": str(scratch / "site")},
        }
    extra: dict[str, Any] = {"remote": "modelreg", "remote_config": {"url": remote}}
    try:
        with (
            _quiet("get"),
            Repo(str(repo), rev=rev, config=config, **(extra if remote else {})) as r,
        ):
            DVCFileSystem(repo=r).get(path, str(dest), recursive=True)
    except FileNotFoundError as exc:  # DVC: "No storage files available"
        raise CheckFailed(f"neither DVC's cache nor the remote has it ({first_line(exc)})") from exc
    except ImportError as exc:  # a remote whose DVC plugin is not installed
        raise UsageError(first_line(exc), hint="install it, e.g. pip install dvc-s3") from exc
    except OSError as exc:
        raise ForgeError(f"dvc get failed: {first_line(exc)}") from exc
