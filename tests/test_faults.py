"""Integrity under faults and concurrency (issue 10): two writers, two clones, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

import modelreg
from conftest import Registry, git, make_registry

SRC = str(Path(modelreg.__file__).resolve().parents[1])


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    return env


def _modelreg(cwd: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "modelreg", *args],
        cwd=cwd,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _blob(reg: Registry, name: str, size: int, seed: int) -> Path:
    """`size` bytes no other blob shares (a different byte pattern per seed)."""
    path = reg.work / name
    path.write_bytes(bytes([seed % 251]) * 7 + os.urandom(size))
    return path


def _versions(reg: Registry, model: str, rev: str = "HEAD") -> list[str]:
    out = git(reg.root, "ls-tree", "--name-only", rev, f"models/{model}/versions/")
    return sorted(Path(p).stem for p in out.split())


def _committed_bytes(reg: Registry, model: str, version: str) -> bytes:
    """The artifact a committed record points at, read from the DVC cache by its md5."""
    record = yaml.safe_load(git(reg.root, "show", f"HEAD:models/{model}/versions/{version}.yaml"))
    md5 = record["artifact"]["md5"]
    return (reg.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).read_bytes()


# -- one checkout, two writers ---------------------------------------------------------


def test_two_register_processes_in_one_checkout_both_land_intact_one_after_the_other(
    registry: Registry,
) -> None:
    """Issue 10, "Two `register` runs in one checkout": an OS lock serialises writers,
    so each gets its own version and the committed artifacts are byte-identical to the
    inputs (they interleaved, or one was lost, before)."""
    registry.register("churn", 0)
    met = registry.metrics("m", accuracy=0.9)
    inputs = [_blob(registry, f"in{i}.bin", 8 << 20, i) for i in range(2)]

    procs = [
        _modelreg(registry.root, "register", "churn", "--artifact", str(p), "--metrics", str(met))
        for p in inputs
    ]
    results = [(p.wait(timeout=120), p.stdout, p.stderr) for p in procs]

    for code, out, err in results:
        assert code == 0, (out and out.read(), err and err.read())
    assert _versions(registry, "churn") == ["v1.0.0", "v1.1.0", "v1.2.0"]
    got = {_committed_bytes(registry, "churn", v) for v in ("v1.1.0", "v1.2.0")}
    assert got == {p.read_bytes() for p in inputs}
    assert registry.git("status", "--porcelain", "--untracked-files=no") == ""


def test_a_writer_that_holds_the_lock_too_long_is_named_and_the_lock_dies_with_it(
    registry: Registry,
) -> None:
    """Issue 10, "Two `register` runs in one checkout": a second writer waits, then exits
    4 naming the holder's pid, command and start time; `kill -9` releases the lock."""
    registry.register("churn", 0)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from modelreg.adapters.lock import writing\n"
            "with writing(Path(sys.argv[1]), 'modelreg register slow'):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(120)\n",
            str(registry.root / ".git"),
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        art, met = registry.artifact("b", 1), registry.metrics("b", accuracy=0.9)
        args = ("register", "churn", "--artifact", str(art), "--metrics", str(met))
        waiting = _modelreg(registry.root, *args, MODELREG_LOCK_TIMEOUT="0.5")
        _, err = waiting.communicate(timeout=60)

        assert waiting.returncode == 4, err
        assert f"pid {holder.pid}, `modelreg register slow`, since 20" in err
        assert len(err.strip().splitlines()) == 1
        assert _versions(registry, "churn") == ["v1.0.0"]
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    registry.ok(*args)  # the kernel dropped the dead holder's lock
    assert _versions(registry, "churn") == ["v1.0.0", "v1.1.0"]


# -- two clones, one origin ------------------------------------------------------------


def _second_clone(reg: Registry, name: str = "other") -> Registry:
    other = Registry(reg.root.parent / name, reg.origin, reg.remote, reg.work)
    git(reg.root.parent, "clone", "-q", str(reg.origin), str(other.root))
    return other


def test_a_clone_behind_origin_registers_the_next_free_version_with_push(
    churn_pushed: Registry,
) -> None:
    """Issue 10, "Two clones register the next version": `register --push` fetches
    first, so the clone that is behind takes the next free number and pushes on top."""
    registry = churn_pushed
    other = _second_clone(registry)
    registry.register("churn", 1, "--push")

    out = other.register("churn", 2, "--push").output

    assert "registered churn v1.2.0 and pushed" in out
    assert _versions(other, "churn", "origin/main") == ["v1.0.0", "v1.1.0", "v1.2.0"]
    assert git(registry.origin, "rev-parse", "main") == other.git("rev-parse", "HEAD")


def test_an_explicit_version_another_clone_pushed_is_refused_naming_its_commit(
    churn_pushed: Registry,
) -> None:
    """Issue 10, "Two clones register the next version": an explicit --version someone
    else holds on origin is refused with exit 2, naming their commit and the next free
    version; nothing is committed."""
    registry = churn_pushed
    other = _second_clone(registry)
    registry.register("churn", 1, "--push", "--version", "v2.0.0")
    holder = git(registry.origin, "rev-parse", "--short", "main").strip()
    art, met = other.artifact("x", 2), other.metrics("x", accuracy=0.9)
    before = other.git("rev-parse", "HEAD").strip()

    result = other.run(
        "register", "churn", "--artifact", str(art), "--metrics", str(met), "--version", "v2.0.0"
    )
    # Without --push, register never fetches: this clone does not know v2.0.0 is taken.
    assert result.exit_code == 0, result.output
    other.git("reset", "-q", "--hard", before)
    pushed = other.run(
        "register",
        "churn",
        "--artifact",
        str(art),
        "--metrics",
        str(met),
        "--version",
        "v2.0.0",
        "--push",
    )

    assert pushed.exit_code == 2, pushed.output
    assert f"churn v2.0.0 is already registered by commit {holder}" in pushed.stderr
    assert "the next free version is v2.1.0" in pushed.stderr
    assert other.git("rev-parse", "HEAD") == git(registry.origin, "rev-parse", "main")
    assert _versions(other, "churn") == ["v1.0.0", "v2.0.0"]


def test_register_without_push_never_fetches(churn_pushed: Registry) -> None:
    """Issue 10, "Two clones register the next version": without --push, no fetch."""
    registry = churn_pushed
    other = _second_clone(registry)
    registry.register("churn", 1, "--push")
    seen = other.git("rev-parse", "origin/main")

    other.register("churn", 2)

    assert other.git("rev-parse", "origin/main") == seen


def test_a_branch_diverged_from_origin_is_refused_before_anything_is_written(
    churn_pushed: Registry,
) -> None:
    """Issue 10, "Two clones register the next version": the commit must sit on
    origin's tip; a diverged branch is refused with the exact fix."""
    registry = churn_pushed
    other = _second_clone(registry)
    registry.register("churn", 1, "--push")
    other.write("notes.txt", "local work\n")
    other.git("add", "notes.txt")
    other.git("commit", "-q", "-m", "local work")
    head = other.git("rev-parse", "HEAD")
    art, met = other.artifact("y", 3), other.metrics("y", accuracy=0.9)

    result = other.run("register", "churn", "--artifact", str(art), "--metrics", str(met), "--push")

    assert result.exit_code == 2, result.output
    assert "main has diverged from origin/main" in result.stderr
    assert "git pull --rebase origin main, then re-run" in result.stderr
    assert other.git("rev-parse", "HEAD") == head
    assert other.git("status", "--porcelain", "--untracked-files=all") == ""


# -- kill -9 and other faults ----------------------------------------------------------


def test_staged_files_of_a_killed_register_are_not_taken_for_a_registration(
    churn_pushed: Registry,
) -> None:
    """Issue 10, "kill -9 between `git add` and `git commit`": only committed state
    counts as registered, so the re-run commits (and pushes) the version."""
    registry = churn_pushed
    art, met = registry.artifact("c", 1), registry.metrics("c", accuracy=0.9)
    args = ("register", "churn", "--artifact", str(art), "--metrics", str(met), "--push")
    # The crash state: every file of v1.1.0 written and staged, no commit.
    registry.ok(*args)
    registry.git("reset", "-q", "--soft", "HEAD~1")
    registry.git("push", "-q", "-f", "origin", "HEAD:main")
    assert "models/churn/versions/v1.1.0.yaml" in registry.git("diff", "--cached", "--name-only")

    out = registry.ok(*args).output

    assert out.startswith("registered churn v1.1.0 and pushed"), out
    assert _versions(registry, "churn") == ["v1.0.0", "v1.1.0"]
    assert git(registry.origin, "rev-parse", "main") == registry.git("rev-parse", "HEAD")


def test_push_on_a_detached_head_is_refused_before_anything_is_written(
    churn_pushed: Registry,
) -> None:
    """Issue 10, "`register --push` on a detached HEAD": check before writing."""
    registry = churn_pushed
    registry.git("checkout", "-q", "--detach")
    head = registry.git("rev-parse", "HEAD")
    art, met = registry.artifact("d", 1), registry.metrics("d", accuracy=0.9)

    result = registry.run(
        "register", "churn", "--artifact", str(art), "--metrics", str(met), "--push"
    )

    assert result.exit_code == 2, result.output
    assert "HEAD is detached" in result.stderr
    assert registry.git("rev-parse", "HEAD") == head
    assert registry.git("status", "--porcelain", "--untracked-files=all") == ""


def _worktrees(reg: Registry) -> list[str]:
    out = reg.git("worktree", "list", "--porcelain")
    return [ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("worktree ")]


def test_a_killed_promotion_leaves_a_worktree_the_next_run_prunes(churn_pushed: Registry) -> None:
    """Issue 10, "A killed `promote` or `pr merge`": the next run prunes stale
    temporary worktrees of its own."""
    registry = churn_pushed
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal\n"
            "from modelreg.adapters.git import Git, temp_worktree\n"
            "with temp_worktree(Git.discover(), 'HEAD'):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        cwd=registry.root,
        env=_env(),
    )
    assert killed.returncode == -signal.SIGKILL
    stale = [w for w in _worktrees(registry) if "modelreg-wt-" in w]
    assert len(stale) == 1

    registry.ok("promote", "churn", "v1.0.0", "--to", "staging")

    assert _worktrees(registry) == [str(registry.root)]
    assert not Path(stale[0]).exists()


def test_a_relative_origin_promotes_and_merges(tmp_path: Path) -> None:
    """Issue 10, "A relative `origin` (`../origin.git`)": the push from the temporary
    worktree reaches the same origin."""
    reg = make_registry(tmp_path)
    reg.git("remote", "set-url", "origin", "../origin.git")
    reg.register("churn", 0, "--push")

    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    reg.ok("pr", "merge", "modelreg/promote/churn/staging/v1.0.0")

    staged = git(reg.origin, "show", "main:models/churn/stages/staging.yaml")
    assert "version: v1.0.0" in staged
    assert _worktrees(reg) == [str(reg.root)]


def test_the_lock_waits_for_a_short_writer_instead_of_failing() -> None:
    """Issue 10, "Two `register` runs in one checkout": a writer that finishes within the
    timeout is waited for."""
    import tempfile

    from modelreg.adapters.lock import writing

    with tempfile.TemporaryDirectory() as d:
        git_dir = Path(d)
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\n"
                "from pathlib import Path\n"
                "from modelreg.adapters.lock import writing\n"
                "with writing(Path(sys.argv[1]), 'short'):\n"
                "    print('held', flush=True)\n"
                "    time.sleep(0.5)\n",
                str(git_dir),
            ],
            env=_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        start = time.monotonic()
        with writing(git_dir, "second"), writing(git_dir, "re-entered"):
            waited = time.monotonic() - start
        child.wait()
    assert 0.1 < waited < 10


# A failed `train` leaves nothing a later train commits: tests/test_train.py's failing-stage test.
