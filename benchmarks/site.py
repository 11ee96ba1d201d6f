"""`modelreg site` on the 1,000 models x 20 versions registry of registry_scale.py.

    python benchmarks/site.py            # build the registry if needed, time the site

Times the installed CLI in a subprocess with the blob cache cold (`.git/modelreg/`
deleted) and warm, and prints pages, output size and wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import registry_scale as scale


def run(repo: Path, out: Path, cold: bool) -> tuple[float, dict[str, int]]:
    if cold:
        shutil.rmtree(repo / ".git" / "modelreg", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run(
        [*scale.modelreg_cmd(), "site", "-o", str(out), "--json"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Runs per figure (median).")
    args = parser.parse_args()
    repo, _ = scale.ensure_repo("modelreg", scale.BIG, False)
    out = scale.WORK / "site-out"
    for cold in (True, False):
        times, facts = [], {}
        for _ in range(args.runs):
            seconds, facts = run(repo, out, cold)
            times.append(seconds)
        times.sort()
        label = "cold cache" if cold else "warm cache"
        print(
            f"{label}: median {times[len(times) // 2]:.1f} s of {args.runs} "
            f"(min {times[0]:.1f}, max {times[-1]:.1f}); {facts['pages']:,} pages, "
            f"{facts['bytes'] / 1e6:.1f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
