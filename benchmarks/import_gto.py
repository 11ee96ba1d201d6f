"""`modelreg import gto` on a gto repository of 20 models x 50 versions.

    python benchmarks/import_gto.py [--runs 3]

The repository is registry_scale.py's gto comparison (its `build_gto`, the same 1,000
registrations and 300 stage assignments as gto 1.10 tags them), with an `artifacts.yaml`
naming each model's DVC pointer so that every registration has an artifact. Each run
copies it, runs `modelreg init`, then times the installed CLI in a subprocess: the
whole import (one commit per tag), and a re-run (nothing new). After the first run the
script checks that `modelreg status --json` names what `gto show --json` names.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import registry_scale as scale

SHAPE = scale.SMALL
INDEX = "".join(
    f"{scale.model_name(m)}:\n  type: model\n  path: models/{scale.model_name(m)}/model.pkl\n"
    for m in range(SHAPE.models)
).encode()


class _Indexed(scale.Stream):
    """registry_scale's stream, with artifacts.yaml in the first commit."""

    def commit(
        self,
        ref: str,
        who: str,
        when: int,
        message: str,
        files: dict[str, bytes],
        parent: int | None,
        merge: int | None = None,
    ) -> int:
        if parent is None:
            files = {**files, "artifacts.yaml": INDEX}
        return super().commit(ref, who, when, message, files, parent, merge)


def build(path: Path) -> dict[str, str]:
    scale.Stream = _Indexed  # type: ignore[misc]
    return scale.build_gto(path, SHAPE)


def _run(cmd: list[str], cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def once(master: Path, work: Path) -> tuple[float, float, dict[str, Any], Path]:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(master, work, symlinks=True)
    mr = scale.modelreg_cmd()
    _run([*mr, "init"], work)
    started = time.perf_counter()
    report = json.loads(_run([*mr, "import", "gto", "--json"], work))
    full = time.perf_counter() - started
    started = time.perf_counter()
    again = json.loads(_run([*mr, "import", "gto", "--json"], work))
    rerun = time.perf_counter() - started
    assert again["imported"] == [], "a re-run imported something"
    return full, rerun, report, work


def same_state(gto_json: dict[str, Any], work: Path) -> None:
    """Every model's stages in modelreg as gto showed them before the import."""
    ours: dict[str, dict[str, str]] = {}
    rows = json.loads(_run([*scale.modelreg_cmd(), "status", "--json"], work))["rows"]
    for row in rows:
        if row["stage"]:
            ours.setdefault(row["model"], {})[row["stage"]] = row["version"]
    theirs = {n: {s: v for s, v in d["stage"].items() if v} for n, d in gto_json.items()}
    theirs = {n: d for n, d in theirs.items() if d}
    if ours != theirs:
        raise SystemExit(f"gto and modelreg differ: {theirs} vs {ours}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    master = scale.WORK / f"gto-import-{SHAPE.name}"
    if not (master / ".git" / "bench-built").exists():
        facts = build(master)
        (master / ".git" / "bench-built").write_text(json.dumps(facts))
    facts = json.loads((master / ".git" / "bench-built").read_text())
    gto = Path(sys.executable).parent / "gto"
    gto_json = json.loads(_run([str(gto), "show", "--json"], master))
    fulls, reruns = [], []
    report: dict[str, Any] = {}
    for i in range(args.runs):
        full, rerun, report, work = once(master, scale.WORK / "gto-import-run")
        if i == 0:
            same_state(gto_json, work)
        fulls.append(full)
        reruns.append(rerun)
        print(f"run {i + 1}: import {full:.2f} s, re-run {rerun:.2f} s", file=sys.stderr)
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        json.dumps(
            {
                "tags": len(report["imported"]),
                "registrations": facts["registrations"],
                "assignments": facts["assignments"],
                "import_s": round(statistics.median(fulls), 2),
                "rerun_s": round(statistics.median(reruns), 2),
                "runs": args.runs,
                "machine": f"{os.cpu_count()} cores, {mem:.0f} GiB, Python "
                f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}",
                "date": time.strftime("%Y-%m-%d", time.gmtime()),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
