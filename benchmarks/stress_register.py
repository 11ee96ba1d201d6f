"""Concurrent writers: many `register` processes on one checkout, many clones on one origin.

Each round (default 5) in a fresh temp registry with a bare origin and a local DVC
remote:
  1. --writers (20) `register` processes started at once in one checkout, then
     `git push` and `dvc push`;
  2. --clones (5) fresh clones of origin each running `register --push` at once.
Then it checks what must hold: every artifact on the DVC remote is byte-identical to
its input, every input is registered exactly once, every version exactly once, and
`modelreg validate` is clean in a fresh clone. It prints time, versions and failures.

    python benchmarks/stress_register.py [--rounds 5 --writers 20 --clones 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml


def _git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "MODELREG_"))}
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Stress\n\temail = stress@example.com\n")
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        DVC_NO_ANALYTICS="1",
        MODELREG_LOCK_TIMEOUT="600",  # 20 writers queue; the benchmark measures the queue
    )
    return env


def _start(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "modelreg", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(procs: list[subprocess.Popen[str]], failures: list[str]) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        if proc.returncode != 0:
            failures.append(f"exit {proc.returncode}: {(err or out).strip()[-300:]}")


def _inputs(work: Path, tag: str, n: int) -> list[tuple[Path, Path]]:
    """n distinct artifacts (256 KiB each) and their metrics files."""
    made = []
    for i in range(n):
        art, met = work / f"{tag}-{i}.bin", work / f"{tag}-{i}.json"
        art.write_bytes(f"{tag}-{i}\n".encode() + os.urandom(256 << 10))
        met.write_text(json.dumps({"accuracy": 0.5 + i / 1000}))
        made.append((art, met))
    return made


@dataclass
class Round:
    seconds_one_checkout: float = 0.0
    seconds_clones: float = 0.0
    versions: int = 0
    failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _check(base: Path, env: dict[str, str], remote: Path, inputs: dict[str, bytes]) -> Round:
    """What must hold on origin and the DVC remote, read from a fresh clone."""
    out = Round()
    check = base / "check"
    _git(base, "clone", "-q", str(base / "origin.git"), str(check))
    seen: dict[str, list[str]] = {name: [] for name in inputs}
    by_md5 = {hashlib.md5(data).hexdigest(): name for name, data in inputs.items()}
    for record_path in sorted((check / "models").glob("*/versions/*.yaml")):
        record = yaml.safe_load(record_path.read_text())
        out.versions += 1
        md5 = record["artifact"]["md5"]
        name = by_md5.get(md5)
        if name is None:
            out.problems.append(f"{record_path.name}: md5 {md5} matches no input")
            continue
        seen[name].append(f"{record['model']} {record['version']}")
        stored = remote / "files" / "md5" / md5[:2] / md5[2:]
        if not stored.is_file() or stored.read_bytes() != inputs[name]:
            out.problems.append(f"{record['model']} {record['version']}: remote bytes differ")
    for name, where in seen.items():
        if len(where) != 1:
            out.problems.append(f"{name}: registered {len(where)} times ({', '.join(where)})")
    proc = subprocess.run(
        [sys.executable, "-m", "modelreg", "validate"],
        cwd=check,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        out.problems.append(f"validate exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return out


def one_round(base: Path, writers: int, clones: int) -> Round:
    home, work, remote = base / "home", base / "work", base / "dvc-remote"
    home.mkdir()
    work.mkdir()
    env = _env(home)
    root = base / "repo"
    _git(base, "init", "-q", "--bare", "-b", "main", "origin.git")
    _git(base, "clone", "-q", "origin.git", "repo")
    subprocess.run(
        [sys.executable, "-m", "modelreg", "init", "--dvc-remote", str(remote)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    _git(root, "push", "-q", "-u", "origin", "main")

    inputs: dict[str, bytes] = {}
    failures: list[str] = []
    local = _inputs(work, "local", writers)
    inputs.update({art.name: art.read_bytes() for art, _ in local})
    start = time.perf_counter()
    _finish(
        [
            _start(root, env, "register", "churn", "--artifact", str(a), "--metrics", str(m))
            for a, m in local
        ],
        failures,
    )
    one_checkout = time.perf_counter() - start
    _git(root, "push", "-q", "origin", "main")
    subprocess.run([sys.executable, "-m", "dvc", "push", "-q"], cwd=root, env=env, check=True)

    spread = _inputs(work, "clone", clones)
    inputs.update({art.name: art.read_bytes() for art, _ in spread})
    for i in range(clones):
        _git(base, "clone", "-q", "origin.git", f"clone{i}")
    start = time.perf_counter()
    _finish(
        [
            _start(
                base / f"clone{i}",
                env,
                "register",
                "churn",
                "--artifact",
                str(a),
                "--metrics",
                str(m),
                "--push",
            )
            for i, (a, m) in enumerate(spread)
        ],
        failures,
    )
    result = _check(base, env, remote, inputs)
    result.seconds_clones = time.perf_counter() - start
    result.seconds_one_checkout = one_checkout
    result.failures = failures
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--clones", type=int, default=5)
    args = parser.parse_args()
    bad = 0
    print(f"{args.writers} writers on one checkout, {args.clones} clones on one origin")
    print("round  one-checkout s  clones s  versions  failures  problems")
    total = time.perf_counter()
    for n in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="modelreg-stress-") as tmp:
            r = one_round(Path(tmp), args.writers, args.clones)
        print(
            f"{n:>5}  {r.seconds_one_checkout:>14.1f}  {r.seconds_clones:>8.1f}  "
            f"{r.versions:>8}  {len(r.failures):>8}  {len(r.problems):>8}"
        )
        for line in r.failures + r.problems:
            print(f"       {line}")
        bad += len(r.failures) + len(r.problems)
    print(f"total {time.perf_counter() - total:.0f} s, {bad} failures or problems")
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
