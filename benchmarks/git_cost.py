"""What GitPython costs modelreg: wall and CPU time of `--help`, `status`, `register`.

Builds a small registry (a bare origin, one model with a few versions) in a temp
directory, then times each command in a fresh interpreter (median of --runs, wall and
CPU), and runs each once more under `python -X importtime` to report whether it
imported GitPython.

    python benchmarks/git_cost.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _modelreg(cwd: Path, *args: str, importtime: bool = False) -> tuple[float, float, bool]:
    """Wall and CPU seconds (the command and its git children); with `importtime`,
    whether it imported GitPython. CPU time holds still on a busy shared machine."""
    flags = ["-X", "importtime"] if importtime else []
    cmd = [sys.executable, *flags, "-m", "modelreg", *args]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if proc.returncode != 0:
        raise SystemExit(f"modelreg {' '.join(args)} failed: {proc.stderr[-500:]}")
    imported = any(line.rstrip().endswith("| git") for line in proc.stderr.splitlines())
    return elapsed, cpu, imported


def _register_args(work: Path, n: int) -> list[str]:
    art, met = work / f"model-{n}.pkl", work / f"metrics-{n}.json"
    art.write_bytes(os.urandom(4096))
    met.write_text(json.dumps({"accuracy": 0.9}))
    return ["register", "churn", "--artifact", str(art), "--metrics", str(met)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="modelreg-gitcost-") as tmp:
        base = Path(tmp)
        root, work = base / "repo", base / "work"
        work.mkdir()
        _git(base, "init", "-q", "--bare", "-b", "main", str(base / "origin.git"))
        _git(base, "clone", "-q", str(base / "origin.git"), str(root))
        _modelreg(root, "init", "--dvc-remote", str(base / "dvc-remote"))
        for n in range(3):
            _modelreg(root, *_register_args(work, n))
        rows = {"--help": ["--help"], "status": ["status"], "history churn": ["history", "churn"]}
        print("| command | wall | CPU | GitPython imported |\n|---|---:|---:|---|")
        for label, args in rows.items():
            timed = [_modelreg(root, *args) for _ in range(runs)]
            traced = _modelreg(root, *args, importtime=True)
            print(f"| `modelreg {label}` | {_median(timed)} | {_imported(traced)} |")
        timed = [_modelreg(root, *_register_args(work, 100 + n)) for n in range(runs)]
        traced = _modelreg(root, *_register_args(work, 99), importtime=True)
        print(f"| `modelreg register` | {_median(timed)} | {_imported(traced)} |")


def _median(timed: list[tuple[float, float, bool]]) -> str:
    wall = statistics.median(t[0] for t in timed)
    cpu = statistics.median(t[1] for t in timed)
    return f"{wall:.3f} s | {cpu:.3f} s"


def _imported(traced: tuple[float, float, bool]) -> str:
    return "yes" if traced[2] else "no"


if __name__ == "__main__":
    main()
