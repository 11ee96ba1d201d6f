"""What tracking and pushing artifacts costs as a registry grows (issue 14).

In a fresh Git + DVC repository with a local DVC remote, adds --count small MLflow-like
model folders one at a time through `modelreg.adapters.dvc.add` (what `register` does
per version), timing each hundred; then times one `dvc push` (through the adapter) of the
first 10%, of all the pointers, and again of all when everything is on the remote. For
comparison it times one plain `Repo.add` (DVC's own `dvc add`) in the full repository.
Prints the figures as JSON.

    python benchmarks/dvc_pointers.py [--count 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def _folder(path: Path, i: int) -> Path:
    path.mkdir(parents=True)
    (path / "MLmodel").write_text(f"artifact_path: model\nflavors: {{}}\nrun: {i}\n")
    (path / "model.skops").write_bytes(os.urandom(2048))
    (path / "requirements.txt").write_text("scikit-learn\n")
    return path


def run(work: Path, count: int) -> dict[str, Any]:
    from dvc.repo import Repo

    from modelreg.adapters import dvc as dvcio

    root = work / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    dvcio.init(root, str(work / "remote"))
    per_hundred, pointers = [], []
    start = time.perf_counter()
    for i in range(count):
        art = _folder(root / "models" / f"m{i % 200:03d}" / "artifacts" / f"v{i}.0.0" / "model", i)
        dvcio.add(root, art)
        pointers.append(Path(f"{art}.dvc"))
        if (i + 1) % 100 == 0:
            per_hundred.append(round((time.perf_counter() - start) / 100, 4))
            start = time.perf_counter()
    timings: dict[str, float] = {}
    tenth = pointers[: max(1, count // 10)]
    for label, targets in (("push_first_tenth_s", tenth), ("push_all_s", pointers)):
        start = time.perf_counter()
        dvcio.push(root, targets)
        timings[label] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    dvcio.push(root, pointers)
    timings["push_all_again_s"] = round(time.perf_counter() - start, 2)
    extra = _folder(root / "models" / "extra", -1)
    start = time.perf_counter()
    with dvcio._quiet("add"):
        Repo(str(root)).add(str(extra))
    timings["one_dvc_repo_add_at_the_end_s"] = round(time.perf_counter() - start, 2)
    return {
        "pointers": count,
        "add_s_per_pointer_by_hundred": per_hundred,
        **timings,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="folders to add")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="modelreg-bench-dvc-"))
    try:
        print(json.dumps(run(work, args.count), indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
