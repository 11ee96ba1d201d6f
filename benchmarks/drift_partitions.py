"""Drift on Parquet partitions: 100 million rows x 25 columns in bounded memory.

Writes a current window of --rows rows (20 numeric + 5 categorical columns, the planted
changes of drift_speed.py) as Parquet partitions under benchmarks/.work/partitions
(about 20 GB at 100 M rows), profiles a 1 M-row reference in memory (the stored profile
of a registered version), then times, each in a fresh child process:

- the partition engine (`compare_partitions`, one process, chunks of 500,000 rows);
- the Dask engine on a LocalCluster (2 worker processes x 1 thread, 127.0.0.1);
- the same two at 1 M rows, for the cost per row;
- optionally (--profile) the reference profile built from the partitions.

Peak memory is the largest sum of RSS over the child and all its descendants (Dask's
workers included), sampled every 0.1 s with psutil. The partitions are deleted at the
end (--keep keeps them). Prints a markdown table.

    nice -n 19 python benchmarks/drift_partitions.py --rows 100000000
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "partitions"
PART_ROWS = 1_000_000
REFERENCE_ROWS = 1_000_000
SMALL_ROWS = 1_000_000
PLANTED = ("num_00", "num_05", "num_10", "cat_0", "cat_1")
CATEGORIES = [f"c{i:02d}" for i in range(12)]


# --------------------------------------------------------------------------- data


def _frame(rows: int, seed: int, *, current: bool) -> Any:
    """One partition: 20 numeric and 5 categorical columns; current ones carry PLANTED."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(20):
        scale = 1.0 + i % 5
        if i % 3 == 0:
            values = rng.normal(10.0 * i, scale, rows)
        elif i % 3 == 1:
            values = rng.exponential(scale, rows)
        else:
            values = rng.standard_gamma(2.0, rows) * scale
        cols[f"num_{i:02d}"] = values
    probs = np.linspace(1.0, 2.0, len(CATEGORIES))
    probs /= probs.sum()
    labels = [*CATEGORIES, "new"]
    for i in range(5):
        p = probs[::-1] if current and i == 1 else probs  # cat_1: frequencies shift
        codes = np.searchsorted(np.cumsum(p), rng.random(rows) * 0.999999999)
        if current and i == 0:  # cat_0: a new category at 5 %
            codes[rng.random(rows) < 0.05] = len(CATEGORIES)
        cols[f"cat_{i}"] = pd.Categorical.from_codes(codes, labels)
    if current:
        cols["num_00"] = cols["num_00"] + 0.25 * 1.0
        cols["num_05"] = cols["num_05"] * 1.08
        cols["num_10"][rng.random(rows) < 0.10] = np.nan
    return pd.DataFrame(cols)  # categories are dictionary-encoded in Parquet, as usual


def write_partitions(folder: Path, rows: int, *, seed: int) -> float:
    """Current partitions of PART_ROWS rows each; returns their size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    done, part = 0, 0
    while done < rows:
        n = min(PART_ROWS, rows - done)
        _frame(n, seed + part, current=True).to_parquet(
            folder / f"part-{part:05d}.parquet", index=False, row_group_size=500_000
        )
        done += n
        part += 1
    return float(sum(f.stat().st_size for f in folder.glob("*.parquet")))


def write_profile(path: Path) -> None:
    from modelreg.monitoring.profile import build_profile

    frame = _frame(REFERENCE_ROWS, 1, current=False)
    path.write_text(json.dumps(build_profile(frame).to_dict()))


# --------------------------------------------------------------------------- children


def child(mode: str, folder: Path, profile_path: Path) -> dict[str, Any]:
    """Run one measurement in this (fresh) process; print a JSON line."""
    from modelreg.monitoring.profile import Profile

    profile = Profile.from_dict(json.loads(profile_path.read_text()))
    start = time.perf_counter()
    if mode == "partitions":
        from modelreg.monitoring.partitions import compare_partitions

        report = compare_partitions(profile, folder)
    elif mode == "dask":
        from modelreg.monitoring.dask_engine import compare_dask, dask_client

        with dask_client(None, workers=2) as client:
            client.run(_warm)  # workers import modelreg, pandas and pyarrow before timing
            start = time.perf_counter()
            report = compare_dask(client, profile, folder)
    elif mode == "profile":
        from modelreg.monitoring.partitions import profile_partitions

        built = profile_partitions(folder)
        return {"seconds": time.perf_counter() - start, "rows": built.rows}
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - start
    drifted = sorted(c.name for c in report.columns if c.drifted)
    return {"seconds": seconds, "rows": report.rows_current, "drifted": drifted}


def _warm() -> None:
    """Import what a task imports (pandas, pyarrow's pandas bridge, modelreg) and sort once."""
    import pyarrow as pa

    import modelreg.monitoring.partitions  # noqa: F401

    pa.table({"a": [1.0, 2.0], "b": ["x", "y"]}).to_pandas().sort_values("a")


def measure(mode: str, folder: Path, profile_path: Path) -> dict[str, Any]:
    """Run `child` in a fresh process, sampling the RSS of its whole process tree."""
    import psutil

    cmd = [sys.executable, __file__, "--child", mode, str(folder), str(profile_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        total = 0
        try:
            for p in [watched, *watched.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.1)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise SystemExit(f"{mode} failed with exit {proc.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss"] = peak
    return result


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000_000, help="current rows at scale")
    ap.add_argument("--keep", action="store_true", help="keep the partitions afterwards")
    ap.add_argument("--profile", action="store_true", help="also profile the partitions")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster runs")
    ap.add_argument(
        "--child", nargs=3, metavar=("MODE", "FOLDER", "PROFILE"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        mode, folder, profile = args.child
        print(json.dumps(child(mode, Path(folder), Path(profile))))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    profile_path = WORK / "profile.json"
    write_profile(profile_path)
    rows_out = []
    try:
        for rows in (SMALL_ROWS, args.rows):
            folder = WORK / f"current-{rows}"
            shutil.rmtree(folder, ignore_errors=True)
            t0 = time.perf_counter()
            size = write_partitions(folder, rows, seed=100)
            took = time.perf_counter() - t0
            print(f"wrote {rows:,} rows, {size / 2**30:.1f} GiB in {took:.0f} s", file=sys.stderr)
            modes = ["partitions"] + ([] if args.no_dask else ["dask"])
            modes += ["profile"] if args.profile else []
            for mode in modes:
                r = measure(mode, folder, profile_path)
                r.update(mode=mode, size=size)
                print(json.dumps(r), file=sys.stderr, flush=True)
                rows_out.append(r)
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)
    _table(rows_out)


def _table(results: list[dict[str, Any]]) -> None:
    names = {
        "partitions": "partition engine, 1 process",
        "dask": "Dask LocalCluster, 2 workers",
        "profile": "reference profile from partitions",
    }
    small = {r["mode"]: r for r in results if r["rows"] == SMALL_ROWS}
    print("| engine | rows | Parquet | time | ns/row | × 1M-row cost/row | peak RSS | drifted |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        per_row = r["seconds"] / r["rows"] * 1e9
        base = small.get(r["mode"])
        ratio = per_row / (base["seconds"] / base["rows"] * 1e9) if base else float("nan")
        drifted = ", ".join(r.get("drifted", [])) or "-"
        print(
            f"| {names[r['mode']]} | {r['rows']:,} | {r['size'] / 2**30:.1f} GiB | "
            f"{r['seconds']:.1f} s | {per_row:.0f} | {ratio:.2f} | "
            f"{r['peak_rss'] / 2**20:,.0f} MiB | {drifted} |"
        )
    load = os.getloadavg()
    print(
        f"\n{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"
    )


if __name__ == "__main__":
    main()
