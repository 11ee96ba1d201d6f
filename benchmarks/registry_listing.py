"""What listing the registry costs `status`: every file (`ls-tree -r`) against a tree walk
that skips each model's artifacts/ folder, with the model index and each model's
sorted versions built from the listing, as `status` builds them.

    python benchmarks/registry_listing.py [REGISTRY] [--rounds 9]

REGISTRY defaults to the generated 1,000 x 20 registry of registry_scale.py (build it
with that script first). Prints median wall and CPU seconds (git's included) per way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from modelreg.registry.workspace import Workspace

HERE = Path(__file__).resolve().parent
DEFAULT = HERE / ".work" / "registry-1000x20-2000"


def _once(ws: Workspace, rev: str, artifacts: bool) -> tuple[float, float, int]:
    start, wall = os.times(), time.perf_counter()
    snap = ws.snapshot(rev, artifacts=artifacts)
    for model in snap.models():
        snap.versions(model)
    end = os.times()
    return time.perf_counter() - wall, sum(end[:4]) - sum(start[:4]), len(snap.files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    ws = Workspace.open(args.registry)
    rev = ws.git.head()
    assert rev is not None, f"{args.registry} has no commits"
    for artifacts, label in ((True, "every file (ls-tree -r)"), (False, "walk, no artifacts")):
        runs = [_once(ws, rev, artifacts) for _ in range(args.rounds)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{label:26} {runs[0][2]:6} files  wall {wall:.3f} s  CPU {cpu:.3f} s")
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
