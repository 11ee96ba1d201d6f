"""The only module that runs git. Reads go straight to Git objects, never the checkout.

Two ways in, by cost: the read path (`ls-tree`, `cat-file --batch`, the history walk,
`rev-parse`) runs the git command directly, because read-only commands must start in a
blink and importing GitPython takes about 0.1 s; everything that writes (commits,
identity, worktrees, fetch, push) goes through GitPython's `git.Repo`, imported on
first use, with its exceptions mapped to ours.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelreg.errors import ForgeError, GitError, ModelregError, NotFound, UsageError

if TYPE_CHECKING:
    import git as gitpython

_NUL = "\0"
# One entry of a tree object: `<mode> <name>\0<20-byte id>`.
_TREE_ENTRY = re.compile(rb"(\d+) ([^\0]*)\0(.{20})", re.S)
_TREE_MODES = (b"40000", b"040000")  # the second from old tools (git fsck: zero-padded)
# The history walk's options: first-parent commits with the blob ids of each change.
_LOG_ARGS = (
    "--first-parent",
    "--no-renames",
    "--raw",
    "--no-abbrev",
    "-z",
    "--format=%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f%P",
)


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    date: str
    subject: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    """One file changed by a commit (against its first parent)."""

    path: str
    old_blob: str | None
    new_blob: str | None


class Git:
    """A repository, driven through the git command line."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self._env = dict(os.environ if env is None else env)
        self._env.setdefault("GIT_TERMINAL_PROMPT", "0")
        self._git_dir: Path | None = None
        self._repo: gitpython.Repo | None = None
        self._whole = False  # history known to be complete (not a shallow clone)

    @classmethod
    def discover(cls, start: Path | None = None) -> Git:
        """The repository containing `start` (default: the current directory)."""
        where = (start or Path.cwd()).resolve()
        # One process for what every command asks next: the .git folder, and whether the
        # clone is shallow (history reads refuse to run on one).
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "--git-common-dir", "--is-shallow-repository"],
            cwd=where,
            capture_output=True,
            text=True,
        )
        lines = proc.stdout.splitlines()
        if proc.returncode != 0 or len(lines) != 3:
            raise UsageError(f"{where} is not inside a Git repository", hint="run `git init` first")
        found = cls(Path(lines[0]))
        found._git_dir = (where / lines[1]).resolve()
        found._whole = lines[2] == "false"
        return found

    # -- plumbing ---------------------------------------------------------------------

    def run(
        self,
        *args: str,
        input: str | bytes | None = None,
        check: bool = True,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run git and return stdout; raise GitError with git's own message on failure."""
        proc = self._proc(args, input=input, cwd=cwd, env=env)
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args[:3])} failed: {first_line(proc.stderr)}")
        out = proc.stdout
        return out.decode() if isinstance(out, bytes) else out

    def ok(self, *args: str, cwd: Path | None = None) -> bool:
        """True if the git command exits 0."""
        return self._proc(args, cwd=cwd).returncode == 0

    def _proc(
        self,
        args: Sequence[str],
        *,
        input: str | bytes | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**self._env, **(env or {})}
        return subprocess.run(
            ["git", *args],
            cwd=cwd or self.root,
            input=input,
            capture_output=True,
            text=not isinstance(input, bytes),
            env=full_env,
        )

    @property
    def repo(self) -> gitpython.Repo:
        """GitPython's view of this repository, for the write paths (imported on first use)."""
        if self._repo is None:
            import git as gitpython

            try:
                self._repo = gitpython.Repo(self.root)
            except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
                raise UsageError(
                    f"{self.root} is not a Git repository ({exc})", hint="run `git init` first"
                ) from None
            # GitPython starts from os.environ; pass on only what this Git changed.
            changed = {k: v for k, v in self._env.items() if os.environ.get(k) != v}
            self._repo.git.update_environment(**changed)
        return self._repo

    @property
    def git_dir(self) -> Path:
        """The common .git directory (shared by worktrees)."""
        if self._git_dir is None:
            out = self.run("rev-parse", "--git-common-dir").strip()
            self._git_dir = (self.root / out).resolve()
        return self._git_dir

    # -- revisions --------------------------------------------------------------------

    def resolve(self, rev: str) -> str | None:
        """The commit id `rev` names, or None."""
        out = self._proc(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
        return out.stdout.strip() or None if out.returncode == 0 else None

    def resolve_at(self, at: str) -> str:
        """A revision or a date (the last commit on HEAD's first-parent line before it)."""
        sha = self.resolve(at)
        if sha:
            return sha
        if self.has_commits():
            self.require_full_history()  # a date in a shallow clone would find its boundary
            out = self.run("rev-list", "-1", "--first-parent", f"--before={at}", "HEAD").strip()
            if out and _looks_like_date(at):
                return out
        raise NotFound(
            f"'{at}' is neither a revision nor a date with commits before it",
            hint="use a commit, tag, branch, or a date like 2026-11-01",
        )

    def head(self) -> str | None:
        return self.resolve("HEAD")

    def commit_time(self, rev: str) -> str:
        """The committer date of `rev`, ISO 8601 with its offset."""
        return self.run("log", "-1", "--format=%cI", rev).strip()

    def has_commits(self) -> bool:
        return self.resolve("HEAD") is not None

    def current_branch(self) -> str | None:
        out = self._proc(["symbolic-ref", "--quiet", "--short", "HEAD"])
        return out.stdout.strip() or None if out.returncode == 0 else None

    def remote_url(self, remote: str = "origin") -> str | None:
        out = self._proc(["remote", "get-url", remote])
        return out.stdout.strip() or None if out.returncode == 0 else None

    def default_branch(self, remote: str = "origin") -> str | None:
        """The remote's default branch name (from refs/remotes/origin/HEAD, else main/master)."""
        out = self._proc(["symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD"])
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().split("/", 1)[1]
        for name in ("main", "master"):
            if self.resolve(f"refs/remotes/{remote}/{name}"):
                return name
        return None

    def merge_base(self, a: str, b: str) -> str | None:
        out = self._proc(["merge-base", a, b])
        return out.stdout.strip() or None if out.returncode == 0 else None

    # -- trees and blobs -------------------------------------------------------------

    def ls_tree(self, rev: str, paths: Iterable[str]) -> dict[str, str]:
        """Path → blob id of every file under `paths` at `rev`."""
        # Bytes in, so bytes out: text mode would read a "\r" in a name as "\n".
        out = self.run("ls-tree", "-r", "-z", "--full-tree", rev, "--", *paths, input=b"")
        # "<mode> blob <id>\t<path>" with a six-digit mode; one split per entry, as a
        # registry holds tens of thousands of files.
        entries = (e.split("\t", 1) for e in out.split(_NUL) if e[7:11] == "blob")
        return {path: meta[12:] for meta, path in entries}

    def walk_tree(
        self, rev: str, paths: Iterable[str], prune: Callable[[str], bool]
    ) -> dict[str, str]:
        """`ls_tree(rev, paths)` without the subtrees whose path `prune` accepts (it sees
        every folder's full path): the tree objects are read level by level, one
        `git cat-file --batch` per depth, so a pruned folder costs one tree entry, where
        `ls-tree -r` would list every file in it. Roots are literal paths; a file inside
        a pruned folder is left out even when it is a root."""
        roots = list(dict.fromkeys(paths))
        # `cat-file --batch` reads names by the line (and drops a "\r" before the "\n")
        readable = not any("\n" in r or "\r" in r for r in roots)
        asked = [f"{rev}^{{tree}}", *(f"{rev}:{r}" for r in roots)]
        found = self._cat_objects(asked) if readable else []
        if not found or found[0] is None:
            # Not a revision (ls-tree fails as it should) or a root cat-file cannot
            # read: list everything and drop the pruned.
            listed = self.ls_tree(rev, roots)
            return {p: b for p, b in listed.items() if not _under_pruned(p, prune)}
        files: dict[str, str] = {}
        trees: list[tuple[list[str], bytes]] = []  # the folders holding a tree, its entries
        tops = zip(roots, found[1:], strict=True) if roots else [("", found[0])]
        for root, obj in tops:
            if obj is None:
                continue
            kind, sha, content = obj
            path = root.rstrip("/")
            if _under_pruned(path, prune):
                continue  # a root inside a pruned folder: pruned with it
            if kind == "blob" and path == root:
                files[path] = sha
            elif kind == "tree" and not (path and prune(path)):
                trees.append(([path], content))
        while trees:
            below: dict[str, list[str]] = {}  # tree id → the folders that hold it
            for folders, content in trees:
                entries = _TREE_ENTRY.findall(content)  # (mode, name, id), all bytes
                for folder in folders:
                    prefix = folder + "/" if folder else ""
                    for mode, name, sha in entries:
                        path = prefix + name.decode()
                        if mode in _TREE_MODES:
                            if not prune(path):
                                below.setdefault(sha.hex(), []).append(path)
                        elif mode != b"160000":  # a submodule's commit: not a file here
                            files[path] = sha.hex()
            read = self._cat_objects(list(below)) if below else []
            pairs = zip(below.values(), read, strict=True)
            trees = [(folders, obj[2]) for folders, obj in pairs if obj]
        return files

    def _cat_objects(self, names: list[str]) -> list[tuple[str, str, bytes] | None]:
        """(type, id, content) of each object named, in order; None where it is missing."""
        proc = subprocess.run(
            ["git", "cat-file", "--batch", "--buffer"],  # --buffer: not a write per object
            cwd=self.root,
            input=("\n".join(names) + "\n").encode(),
            capture_output=True,
            env=self._env,
        )
        if proc.returncode != 0:
            raise GitError(f"git cat-file --batch failed: {first_line(proc.stderr)}")
        raw, pos = proc.stdout, 0
        out: list[tuple[str, str, bytes] | None] = []
        for _ in names:
            eol = raw.index(b"\n", pos)
            header = raw[pos:eol]
            if header.endswith((b" missing", b" ambiguous")):
                out.append(None)
                pos = eol + 1
                continue
            sha, kind, size = header.decode().split(" ")
            end = eol + 1 + int(size)
            out.append((kind, sha, raw[eol + 1 : end]))
            pos = end + 1
        return out

    def worktree_files(self, paths: Sequence[str]) -> dict[str, str]:
        """Path → blob id of files under `paths` as they are on disk (edits included)."""
        out = self.run("ls-files", "-s", "-z", "--", *paths)
        files: dict[str, str] = {}
        for entry in out.split(_NUL):
            if entry:
                meta, path = entry.split("\t", 1)
                files[path] = meta.split(" ")[1]
        status = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
        changed = [e[3:] for e in status.split(_NUL) if e and e[:2] != "  " and len(e) > 3]
        for path in changed:
            full = self.root / path
            if full.is_file():
                files[path] = blob_id(full.read_bytes())
            else:
                files.pop(path, None)
        return files

    def read_blobs(self, blobs: Iterable[str]) -> dict[str, bytes]:
        """Contents of many blobs in one `git cat-file --batch` call."""
        wanted = list(dict.fromkeys(blobs))
        if not wanted:
            return {}
        proc = subprocess.run(
            ["git", "cat-file", "--batch", "--buffer"],
            cwd=self.root,
            input=("\n".join(wanted) + "\n").encode(),
            capture_output=True,
            env=self._env,
        )
        return _parse_batch(proc.stdout)

    def show(self, rev: str, path: str) -> bytes | None:
        """A file's bytes at a revision, or None if it does not exist there."""
        proc = subprocess.run(
            ["git", "cat-file", "blob", f"{rev}:{path}"],
            cwd=self.root,
            capture_output=True,
            env=self._env,
        )
        return proc.stdout if proc.returncode == 0 else None

    # -- history ---------------------------------------------------------------------

    def log_changes(
        self, rev: str, paths: Sequence[str], *, since: str | None = None
    ) -> list[tuple[Commit, list[Change]]]:
        """First-parent history of `paths` up to `rev`, oldest first, with blob ids."""
        self.require_full_history()
        range_ = f"{since}..{rev}" if since else rev
        out = self.run(
            "log",
            "--first-parent",
            "--reverse",
            *_LOG_ARGS[1:],
            range_,
            "--",
            *paths,
        )
        return [_parse_log_entry(chunk) for chunk in out.split("\x1e") if chunk.strip(_NUL + "\n")]

    def iter_changes(self, rev: str, paths: Sequence[str]) -> ChangeStream:
        """Like `log_changes`, newest first and streamed in batches (see ChangeStream);
        git starts walking at once, so the caller can do other work meanwhile."""
        self.require_full_history()
        return ChangeStream(self, rev, paths)

    def has_changed_path_filters(self) -> bool:
        """Whether a commit-graph with changed-path Bloom filters exists, which makes a
        walk of one literal path cheap."""
        info = self.git_dir / "objects" / "info"
        chain = info / "commit-graphs" / "commit-graph-chain"
        files = [info / "commit-graph"]
        if chain.is_file():
            files += [chain.parent / f"graph-{h}.graph" for h in chain.read_text().split()]
        return any(_graph_has_bloom(f) for f in files)

    def write_commit_graph_in_background(self) -> None:
        """Start writing a commit-graph with changed-path filters, and return at once.

        It costs about as much as one walk of the whole history (seconds on tens of
        thousands of commits), so it runs detached, as `git gc --auto` does; git's own
        lock makes a concurrent writer give up harmlessly, and any failure only costs
        speed. `git gc` keeps the filters when it rewrites the graph.
        """
        script = "git commit-graph write --reachable --changed-paths </dev/null >/dev/null 2>&1 &"
        with contextlib.suppress(OSError):
            subprocess.run(["sh", "-c", script], cwd=self.root, env=self._env, check=False)

    def require_full_history(self) -> None:
        """Never read history from a shallow clone: deepen it from origin once, else exit 2.

        A `--depth 1` clone (actions/checkout's default) makes its oldest commit look
        like the start of everything: every stage change would be attributed to it.
        """
        if self._whole:
            return
        if self._shallow():
            # Core code does not print, but a silent network fetch would be a surprise.
            print(
                "modelreg: this clone is shallow; fetching its full history from origin once "
                "(set fetch-depth: 0 in actions/checkout to skip this)",
                file=sys.stderr,
            )
            fetched = self._proc(["fetch", "--quiet", "--unshallow", "origin"])
            if fetched.returncode != 0 or self._shallow():
                raise UsageError(
                    "this clone is shallow and its full history could not be fetched from "
                    f"origin ({first_line(fetched.stderr) or 'still shallow'}): history, "
                    "status and rollback would give wrong answers",
                    hint="clone with full history: `fetch-depth: 0` in actions/checkout, "
                    "or `git fetch --unshallow`",
                )
        self._whole = True

    def forced_updates(self, ref: str) -> list[tuple[str, str]]:
        """(old, new) commits of each non-fast-forward update of `ref` this clone recorded.

        A fetch writes "forced-update" in the ref's reflog when the remote's branch was
        rewritten; the entry below it is the tip this clone saw before.
        """
        proc = self._proc(["reflog", "show", "--format=%H %gs", ref, "--"])
        lines = [ln.split(" ", 1) for ln in proc.stdout.splitlines() if proc.returncode == 0]
        return [
            (older[0], entry[0])
            for entry, older in itertools.pairwise(lines)
            if len(entry) == 2 and "forced-update" in entry[1]
        ]

    def _shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def diff_names(self, base: str, paths: Sequence[str]) -> list[tuple[str, str]]:
        """(status letter, path) of files under `paths` that differ from `base` on disk."""
        # Both commands walk the whole work tree (one stats files, one reads directories),
        # so they run side by side.
        others = subprocess.Popen(
            ["git", "ls-files", "--others", "--exclude-standard", "-z", "--", *paths],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._env,
        )
        try:
            out = self.run("diff", "--name-status", "--no-renames", "-z", base, "--", *paths)
        finally:
            found, err = others.communicate()
        if others.returncode != 0:
            raise GitError(f"git ls-files --others failed: {first_line(err)}")
        untracked = found.decode()
        parts = [p for p in out.split(_NUL) if p]
        tracked = [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        return tracked + [("A", p) for p in untracked.split(_NUL) if p]


class ChangeStream:
    """A first-parent walk git runs in the background, read in batches, newest first.

    git writes into an unlinked temporary file rather than a pipe, so it never waits for
    the reader: it walks while the caller parses other files. A batch is what git has
    written when it pauses for `idle` seconds (walking commits that do not touch the
    paths), or `most` commits. Closing the stream stops git: a caller that has seen
    enough does not pay for the rest of history.
    """

    def __init__(
        self, git: Git, rev: str, paths: Sequence[str], idle: float = 0.02, most: int = 512
    ) -> None:
        self.rev, self.idle, self.most = rev, idle, most
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (a pipe could fill up)
        self._proc = subprocess.Popen(
            ["git", "log", *_LOG_ARGS, rev, "--", *paths],
            cwd=git.root,
            stdout=self._out,
            stderr=self._errors,
            env=git._env,
        )
        self._read = 0
        self._started = time.time()
        self.seconds: float | None = None  # how long git walked, once it stopped

    def _stopped(self, finished: bool) -> None:
        """Note how long git walked: until its last write if it finished (the reader
        may have been busy long after), else until now."""
        if self.seconds is None:
            end = os.fstat(self._out.fileno()).st_mtime if finished else time.time()
            self.seconds = max(0.0, end - self._started)

    def __iter__(self) -> Iterator[list[tuple[Commit, list[Change]]]]:
        pending = b""
        batch: list[tuple[Commit, list[Change]]] = []
        quiet_since: float | None = None  # when git last wrote nothing new
        while True:
            done = self._proc.poll() is not None  # before reading: then nothing is lost
            # pread on the descriptor: no Python buffer can hand back bytes read before
            # git had finished writing them.
            chunk = os.pread(self._out.fileno(), 1 << 20, self._read)
            self._read += len(chunk)
            now = time.monotonic()
            if chunk:
                quiet_since = None
                *entries, pending = (pending + chunk).split(b"\x1e")
                batch += [_parse_log_entry(e.decode()) for e in entries if e.strip(b"\0\n")]
                if len(batch) >= self.most:
                    yield batch
                    batch = []
                continue
            if done:
                self._stopped(finished=True)
                break
            if quiet_since is None:
                quiet_since = now
            if batch and now - quiet_since >= self.idle:
                yield batch
                batch = []
                continue
            time.sleep(self.idle / 4)
        if self._proc.returncode != 0:
            raise GitError(f"git log {self.rev} failed: {first_line(self._err())}")
        if pending.strip(b"\0\n"):
            batch.append(_parse_log_entry(pending.decode()))
        if batch:
            yield batch

    def _err(self) -> bytes:
        self._errors.seek(0)
        return self._errors.read()

    def close(self) -> None:
        """Stop git if it still walks, and free the file."""
        if self._proc.poll() is None:
            self._stopped(finished=False)
            self._proc.kill()
        self._proc.wait()
        self._out.close()
        self._errors.close()


def blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob."""
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _under_pruned(path: str, prune: Callable[[str], bool]) -> bool:
    parts = path.split("/")
    return any(prune("/".join(parts[:i])) for i in range(1, len(parts)))


def _parse_batch(raw: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(raw):
        eol = raw.index(b"\n", pos)
        header = raw[pos:eol].decode().split(" ")
        if header[-1] == "missing":
            pos = eol + 1
            continue
        sha, size = header[0], int(header[2])
        out[sha] = raw[eol + 1 : eol + 1 + size]
        pos = eol + 1 + size + 1
    return out


def _graph_has_bloom(path: Path) -> bool:
    """Whether a commit-graph file has a changed-path Bloom filter chunk (BDAT)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8 or head[:4] != b"CGPH":
                return False
            table = fh.read(12 * (head[6] + 1))  # (chunk id, offset) pairs, then a 0 id
    except OSError:
        return False
    return any(table[i : i + 4] == b"BDAT" for i in range(0, len(table), 12))


def _parse_log_entry(chunk: str) -> tuple[Commit, list[Change]]:
    header, _, rest = chunk.partition("\n")
    head_fields = header.split(_NUL)[0].split("\x1f")
    sha, author, email, date, subject, parents = head_fields
    fields = [f for f in (rest.strip("\n") or "").split(_NUL)]
    if len(header.split(_NUL)) > 1:
        fields = header.split(_NUL)[1:] + fields
    changes: list[Change] = []
    i = 0
    while i < len(fields):
        meta = fields[i].strip("\n")
        if meta.startswith(":"):
            _m1, _m2, old, new, _status = meta[1:].split(" ")
            changes.append(Change(fields[i + 1], _blob_or_none(old), _blob_or_none(new)))
            i += 2
        else:
            i += 1
    commit = Commit(sha, author, email, date, subject, tuple(parents.split()))
    return commit, changes


def _blob_or_none(blob: str) -> str | None:
    return None if set(blob) == {"0"} else blob


def first_line(source: str | bytes | BaseException) -> str:
    """The one line that says what went wrong, from git's stderr or an exception.

    git ends many messages with advice ("...and the repository exists.", `hint:` lines),
    so the `fatal:`/`error:` line wins (without that prefix), else the first line that
    is not a hint.
    """
    if isinstance(source, BaseException):
        text, fallback, limit = str(source), type(source).__name__, 200
    else:
        text = source.decode(errors="replace") if isinstance(source, bytes) else source
        fallback, limit = "(no message)", None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in lines:
        for prefix in ("fatal:", "error:"):
            if line.startswith(prefix):
                return line[len(prefix) :].strip()[:limit]
    told = [ln for ln in lines if not ln.startswith("hint:")]
    return told[0][:limit] if told else fallback


def _looks_like_date(text: str) -> bool:
    return any(ch.isdigit() for ch in text) and ("-" in text or "ago" in text or ":" in text)


def _stderr(exc: gitpython.CommandError) -> str:
    """git's own stderr, without GitPython's "\n  stderr: '...'" wrapping."""
    text = exc.stderr.strip()
    prefix = "stderr: '"
    if text.startswith(prefix) and text.endswith("'"):
        text = text[len(prefix) : -1]
    return text


@contextlib.contextmanager
def _mapped(
    what: str, error: type[ModelregError] = GitError, hint: str | None = None
) -> Iterator[None]:
    """Turn GitPython's failures into one of ours, worded `what: git's reason`."""
    import git as gitpython

    try:
        yield
    except gitpython.GitCommandNotFound:
        raise UsageError("git is not installed", hint="install git and re-run") from None
    except gitpython.GitCommandError as exc:
        raise error(f"{what}: {first_line(_stderr(exc))}", hint=hint) from None


def commit_paths(git: Git, paths: Sequence[str], message: str) -> str:
    """Commit exactly `paths` (other staged changes stay staged); return the new commit."""
    with _mapped(f"cannot commit {', '.join(paths)}"):
        git.repo.git.add("-A", "--", *paths)
        git.repo.git.commit("-q", "--no-verify", "-m", message, "--only", "--", *paths)
        return str(git.repo.git.rev_parse("HEAD"))


def commit(git: Git, message: str, *, amend: bool = False) -> str:
    """Commit what is staged (or amend HEAD with it) and return the new commit.

    Always `git commit`, never a commit object written by hand, so the user's hooks
    stay skipped (`--no-verify`) but signing (commit.gpgSign, gpg.format,
    user.signingKey) applies.
    """
    with _mapped("cannot commit"):
        git.repo.git.commit("-q", "--no-verify", *(["--amend"] if amend else []), "-m", message)
        return str(git.repo.git.rev_parse("HEAD"))


def merge(git: Git, ref: str, message: str) -> bool:
    """Merge `ref` with a merge commit (signed if the user signs); on a conflict abort
    the merge and return False."""
    import git as gitpython

    try:
        git.repo.git.merge("--no-ff", "--no-verify", "-q", "-m", message, ref)
    except gitpython.GitCommandError:
        with contextlib.suppress(gitpython.GitCommandError):
            git.repo.git.merge("--abort")
        return False
    return True


def add_note(git: Git, notes_ref: str, sha: str, text: str) -> None:
    """Make `text` the note on commit `sha` in `notes_ref`, replacing an earlier one."""
    with _mapped(f"cannot write a note on {sha[:12]}"):
        git.repo.git.notes(f"--ref={notes_ref}", "add", "-f", "-m", text, sha)


def unstage(git: Git, paths: Sequence[str]) -> None:
    """Undo `git add` of paths (best effort, used when a command rolls back)."""
    import git as gitpython

    with contextlib.suppress(gitpython.GitCommandError):
        if git.has_commits():
            git.repo.git.reset("-q", "--", *paths)
        else:
            git.repo.git.rm("-q", "--cached", "-r", "--ignore-unmatch", "--", *paths)


def identity(git: Git) -> str:
    """The author's e-mail (or name) for `created_by`, from wherever git takes it.

    `git var` resolves it as `git commit` does: GIT_AUTHOR_*/GIT_COMMITTER_* in the
    environment, then the config files, then what git can detect; both identities
    are checked, as a commit needs both.
    """
    hint = "git config user.email you@example.com, or set GIT_AUTHOR_EMAIL"
    with _mapped("git has no user identity", UsageError, hint):
        author = str(git.repo.git.var("GIT_AUTHOR_IDENT"))
        git.repo.git.var("GIT_COMMITTER_IDENT")
    # "Name <email> 1700000000 +0000"
    name, _, rest = author.partition(" <")
    email = rest.partition(">")[0]
    return email or name.strip()


def committer(git: Git) -> tuple[str, str]:
    """(name, e-mail) git would record as committer now (`git var GIT_COMMITTER_IDENT`)."""
    hint = "git config user.email you@example.com, or set GIT_COMMITTER_EMAIL"
    with _mapped("git has no user identity", UsageError, hint):
        ident = str(git.repo.git.var("GIT_COMMITTER_IDENT"))
    name, _, rest = ident.partition(" <")
    return name.strip(), rest.partition(">")[0]


_WORKTREE_PREFIX = "modelreg-wt-"
_WORKTREE_REASON = "modelreg pid "


@contextlib.contextmanager
def temp_worktree(git: Git, rev: str) -> Iterator[Git]:
    """A detached worktree at `rev` in a temp dir, removed afterwards whatever happens.

    Promotion and rollback work here, so the user's checkout, index and branch are
    never touched, and no local branch is created. The repository's write lock is held
    throughout. The worktree is locked with this process's pid as the reason, so a later
    run can tell one left by a killed process (`kill -9` skips every `finally`) and
    prune it.
    """

    from modelreg.adapters.lock import writing

    with writing(git.git_dir):
        prune_stale_worktrees(git)
        folder = Path(tempfile.mkdtemp(prefix=_WORKTREE_PREFIX))
        path = folder / "tree"
        try:
            with _mapped(f"cannot check out {rev} in a temporary worktree"):
                reason = f"{_WORKTREE_REASON}{os.getpid()}"
                git.repo.git.worktree(
                    "add", "--detach", "--quiet", "--lock", "--reason", reason, str(path), rev
                )
            yield Git(path, git._env)
        finally:
            _remove_worktree(git, path)
            shutil.rmtree(folder, ignore_errors=True)


def _remove_worktree(git: Git, path: Path) -> None:
    import git as gitpython

    with contextlib.suppress(gitpython.GitCommandError):
        git.repo.git.worktree("remove", "--force", "--force", str(path))
    with contextlib.suppress(gitpython.GitCommandError):
        git.repo.git.worktree("prune")


def prune_stale_worktrees(git: Git) -> list[str]:
    """Remove temporary worktrees modelreg made whose folder is gone or whose process died.

    Only worktrees under a `modelreg-wt-` folder are touched; one locked by a live
    process is left alone. Returns the paths removed.
    """
    removed = []
    for path, locked in _worktrees(git):
        if path.parent.name.startswith(_WORKTREE_PREFIX) and not _alive(locked):
            _remove_worktree(git, path)
            shutil.rmtree(path.parent, ignore_errors=True)
            removed.append(str(path))
    return removed


def _worktrees(git: Git) -> list[tuple[Path, str | None]]:
    """(path, lock reason) of each linked worktree."""
    out = git.run("worktree", "list", "--porcelain")
    found: list[tuple[Path, str | None]] = []
    for block in out.split("\n\n")[1:]:  # the first is the main worktree
        lines = block.splitlines()
        if not lines or not lines[0].startswith("worktree "):
            continue
        path = Path(lines[0][len("worktree ") :])
        locked = next(
            (ln[len("locked") :].strip() for ln in lines if ln.startswith("locked")), None
        )
        found.append((path, locked))
    return found


def _alive(reason: str | None) -> bool:
    """Whether the process a worktree's lock reason names still runs."""
    if not reason or not reason.startswith(_WORKTREE_REASON):
        return False
    try:
        pid = int(reason[len(_WORKTREE_REASON) :])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def clone_bare(source: str, dest: Path) -> Git:
    """A bare clone of `source` (a path or any Git URL) at `dest`, for reading a registry
    without a checkout. Plain git (the read path): a local path is cloned with hard links.

    A source git cannot read is a UsageError when it is a local path (bad input), else a
    ForgeError (the remote could not be reached or refused).
    """
    proc = subprocess.run(
        ["git", "clone", "--bare", "--quiet", "--", source, str(dest)],
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )
    if proc.returncode != 0:
        kind = UsageError if os.path.exists(source) else ForgeError
        raise kind(
            f"--repo {source}: cannot clone it: {first_line(proc.stderr)}",
            hint="name a registry's Git repository: a path, a bare repository or a URL",
        )
    return Git(dest)


def fetch(git: Git, remote: str = "origin", *refspecs: str) -> None:
    """Update remote-tracking refs (never the checkout); a failure is a ForgeError."""
    hint = "check the remote URL and your access"
    with _mapped(f"cannot fetch from {remote}", ForgeError, hint):
        git.repo.git.fetch("--quiet", "--prune", remote, *refspecs)


def fetch_default_branch(git: Git, remote: str = "origin") -> tuple[str, str]:
    """Fetch `remote`; return its default branch's name and commit."""
    if remote not in (r.name for r in git.repo.remotes):
        raise UsageError(
            f"the repository has no remote '{remote}'",
            hint="pull requests need one: git remote add origin PATH_OR_URL",
        )
    fetch(git, remote)
    name = git.default_branch(remote)
    sha = git.resolve(f"refs/remotes/{remote}/{name}") if name else None
    if not name or not sha:
        raise NotFound(f"{remote} has no default branch yet", hint=f"push main to {remote} first")
    return name, sha


def push(git: Git, refspec: str, remote: str = "origin") -> None:
    """Push one refspec; a rejection or network failure is a ForgeError."""
    import git as gitpython

    try:
        git.repo.git.push("--quiet", remote, refspec, env=_push_url_env(git, remote))
    except gitpython.GitCommandError as exc:
        raise ForgeError(
            f"git push {remote} {refspec} was rejected: {_push_reason(_stderr(exc))}",
            hint="fetch and re-run the same command",
        ) from None


def _push_url_env(git: Git, remote: str) -> dict[str, str]:
    """Config for pushing from a linked worktree to a remote given as a relative path.

    `git remote add origin ../origin.git` means a path from the main checkout's root,
    but git reads it from the worktree's own root, a temporary folder when promoting;
    so the push URL is made absolute against the main checkout.
    """
    proc = git._proc(["remote", "get-url", "--push", remote])
    url = proc.stdout.strip()
    if proc.returncode != 0 or not _is_relative_path(url):
        return {}
    main = _main_root(git)
    if main is None or main == git.root.resolve():
        return {}
    n = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
    return {
        "GIT_CONFIG_COUNT": str(n + 1),
        f"GIT_CONFIG_KEY_{n}": f"remote.{remote}.pushurl",
        f"GIT_CONFIG_VALUE_{n}": str((main / url).resolve()),
    }


def _is_relative_path(url: str) -> bool:
    """A local path that is not absolute (not a URL, nor scp-like `host:path`)."""
    if not url or "://" in url or os.path.isabs(url) or url.startswith("~"):
        return False
    return ":" not in url.split("/", 1)[0]


def _main_root(git: Git) -> Path | None:
    """The main checkout's root (None for a bare main repository)."""
    first = git.run("worktree", "list", "--porcelain").split("\n\n", 1)[0].splitlines()
    if not first or not first[0].startswith("worktree ") or "bare" in first:
        return None
    return Path(first[0][len("worktree ") :]).resolve()


def fast_forward(git: Git, rev: str, branch: str) -> None:
    """Move the checked-out `branch` forward to `rev`; refuse when that is not a fast-forward
    or would overwrite local changes."""
    with _mapped(
        f"cannot bring {branch} up to {rev}",
        UsageError,
        "commit or stash your changes, then `git pull --ff-only` and re-run",
    ):
        git.repo.git.merge("--ff-only", "--quiet", rev)


def reset_soft(git: Git, rev: str) -> None:
    """Move the branch back to `rev`, keeping the files and the index (undo a commit)."""
    with _mapped(f"cannot move HEAD back to {rev[:12]}"):
        git.repo.git.reset("--soft", "-q", rev)


def _push_reason(stderr: str) -> str:
    """The ref git refused (` ! [rejected] main -> main (fetch first)`), else its error."""
    for line in stderr.splitlines():
        if line.startswith(" ! "):
            return " ".join(line.split()[1:])
    return first_line(stderr)


def remote_branches(git: Git, prefix: str, remote: str = "origin") -> dict[str, str]:
    """Branch name → commit of the remote's branches under `prefix` (as last fetched)."""
    out = git.run(
        "for-each-ref", "--format=%(refname)%00%(objectname)", f"refs/remotes/{remote}/{prefix}"
    )
    branches = {}
    for line in out.splitlines():
        ref, sha = line.split("\0")
        branches[ref[len(f"refs/remotes/{remote}/") :]] = sha
    return branches


@contextlib.contextmanager
def authored(git: Git, name: str, email: str, date: str) -> Iterator[None]:
    """Commits made inside are authored by `name <email>` at `date` (ISO 8601).

    For imported history (`import mlflow`): the author is who made the version and when;
    the committer stays whoever ran the import, now.
    """
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
    with git.repo.git.custom_environment(**env):
        yield
