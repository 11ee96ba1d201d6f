"""Drift check speed and memory at 1,000,000 rows x (20 numeric + 5 categorical) columns.

Times modelreg's full check (build_profile(reference) + compare) and compare alone, a
plain scipy.stats.ks_2samp loop over the numeric columns and, with --with-evidently,
Evidently's DataDriftPreset in its own venv (benchmarks/.work/evidently-venv), on the
same frames exchanged as parquet files. Prints a markdown table.

    python benchmarks/drift_speed.py --with-evidently

Each measurement runs in a fresh child process, so ru_maxrss is that check's own peak
resident memory (including both frames held in memory) and nothing else's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
EVIDENTLY_VENV = WORK / "evidently-venv"
REF_FILE = WORK / "drift-reference.parquet"
CUR_FILE = WORK / "drift-current.parquet"
EVIDENTLY_REQUIREMENTS = ["evidently", "pandas<3", "pyarrow"]  # evidently 0.7 breaks on pandas 3
PLANTED = {
    "num_00": "mean +0.25 σ",
    "num_05": "unit change ×1.08",
    "num_10": "missing 0 → 10 %",
    "cat_0": "new category at 5 %",
    "cat_1": "category frequencies shift",
}
NUMERIC_SHIFTS = ("num_00", "num_05")


# --------------------------------------------------------------------------- data


def make_frames(rows: int, seed: int) -> tuple[Any, Any]:
    """Reference and current frames; current has the PLANTED changes, nothing else."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ref, cur = {}, {}
    for i in range(20):
        ref[f"num_{i:02d}"] = _numeric(rng, i, rows)
        cur[f"num_{i:02d}"] = _numeric(rng, i, rows)
    cur["num_00"] = cur["num_00"] + 0.25 * 2.0
    cur["num_05"] = cur["num_05"] * 1.08
    cur["num_10"][rng.random(rows) < 0.10] = np.nan
    for i in range(5):
        ref[f"cat_{i}"] = _categorical(rng, i, rows, shifted=False)
        cur[f"cat_{i}"] = _categorical(rng, i, rows, shifted=True)
    return pd.DataFrame(ref), pd.DataFrame(cur)


def _numeric(rng: Any, i: int, n: int) -> Any:
    kind = i % 4
    if i == 5:
        return rng.uniform(50, 150, n)  # positive, so ×1.08 is a unit change
    if kind == 0:
        return rng.normal(10, 2, n)
    if kind == 1:
        return rng.lognormal(0, 0.7, n)
    if kind == 2:
        return rng.poisson(4, n).astype(float)
    return rng.uniform(0, 100, n)


CATEGORIES = {
    0: ([f"c{j}" for j in range(8)], [1 / 8] * 8),
    1: (["a", "b", "c", "d", "e"], [0.40, 0.30, 0.15, 0.10, 0.05]),
    2: ([f"z{j}" for j in range(20)], None),
    3: (["yes", "no"], [0.7, 0.3]),
    4: ([f"m{j:02d}" for j in range(50)], None),
}


def _categorical(rng: Any, i: int, n: int, *, shifted: bool) -> Any:
    import numpy as np

    labels, probs = CATEGORIES[i]
    if probs is None:
        weights = 1.0 / np.arange(1, len(labels) + 1)
        probs = list(weights / weights.sum())
    if shifted and i == 1:
        probs = [0.20, 0.30, 0.20, 0.15, 0.15]
    values = np.asarray(labels, dtype=object)[rng.choice(len(labels), n, p=probs)]
    if shifted and i == 0:
        values[rng.random(n) < 0.05] = "new"
    return values


# --------------------------------------------------------------------------- children


def child_modelreg(repeats: int) -> dict[str, Any]:
    """Time modelreg end to end and compare-only, then peak memory; runs in a fresh process."""
    import resource
    import tracemalloc

    import pandas as pd

    from modelreg.monitoring.compare import compare
    from modelreg.monitoring.profile import build_profile

    t0 = time.perf_counter()
    ref = pd.read_parquet(REF_FILE)
    cur = pd.read_parquet(CUR_FILE)
    load = time.perf_counter() - t0
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    compare(build_profile(ref), cur)  # cold: includes importing scipy
    cold = time.perf_counter() - t0
    e2e, only = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        profile = build_profile(ref)
        t1 = time.perf_counter()
        report = compare(profile, cur)
        t2 = time.perf_counter()
        e2e.append(t2 - t0)
        only.append(t2 - t1)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    compare(build_profile(ref), cur)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "load_s": load,
        "cold_s": cold,
        "rss_loaded_bytes": rss_loaded,
        "e2e_s": statistics.median(e2e),
        "compare_s": statistics.median(only),
        "rss_bytes": rss,
        "traced_bytes": traced,
        "frames_bytes": int(ref.memory_usage(deep=True).sum() + cur.memory_usage(deep=True).sum()),
        "drifted": list(report.drifted),
        "verdict": report.verdict,
        "profile_json_bytes": len(json.dumps(profile.to_dict(), separators=(",", ":"))),
    }


def child_ks() -> dict[str, Any]:
    """A plain scipy.stats.ks_2samp loop over the numeric columns (p < 0.05, uncorrected)."""
    import resource

    import pandas as pd
    from scipy import stats

    ref = pd.read_parquet(REF_FILE)
    cur = pd.read_parquet(CUR_FILE)
    stats.ks_2samp([0.0, 1.0], [0.5, 2.0])
    numeric = [c for c in ref.columns if c.startswith("num_")]
    t0 = time.perf_counter()
    pvalues = {c: stats.ks_2samp(ref[c].dropna(), cur[c].dropna()).pvalue for c in numeric}
    elapsed = time.perf_counter() - t0
    return {
        "s": elapsed,
        "drifted": [c for c, p in pvalues.items() if p < 0.05],
        "rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def child_evidently(rows: int) -> dict[str, Any]:
    """Evidently's DataDriftPreset on the same frames (optionally the first `rows` rows)."""
    import resource

    import pandas as pd

    ref = pd.read_parquet(REF_FILE)
    cur = pd.read_parquet(CUR_FILE)
    if rows and rows < len(ref):
        ref, cur = ref.sample(rows, random_state=0), cur.sample(rows, random_state=0)
    import evidently
    from evidently import Report
    from evidently.presets import DataDriftPreset

    t0 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    elapsed = time.perf_counter() - t0
    return {
        "s": elapsed,
        "rows": len(ref),
        "version": evidently.__version__,
        "drifted": _evidently_drifted(snapshot.dict()),
        "rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _evidently_drifted(result: dict[str, Any]) -> list[str]:
    drifted = []
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        method, value, threshold = config["method"], metric["value"], config["threshold"]
        is_p_value = "p_value" in method or "test" in method.lower()
        if (value < threshold) if is_p_value else (value >= threshold):
            drifted.append(config["column"])
    return drifted


# --------------------------------------------------------------------------- orchestration


def run_child(python: str, args: list[str], timeout: float | None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    cmd = [python, str(Path(__file__).resolve()), "--child", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ensure_evidently() -> str:
    """Create benchmarks/.work/evidently-venv with evidently installed; return its python."""
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import evidently"], capture_output=True)
    if probe.returncode != 0:
        pip = [str(python), "-m", "pip", "install", "-q", *EVIDENTLY_REQUIREMENTS]
        subprocess.run(pip, check=True, capture_output=True, timeout=900)
    return str(python)


def evidently_result(rows: int, timeout: float, fallback_rows: int) -> dict[str, Any]:
    try:
        python = ensure_evidently()
    except (subprocess.SubprocessError, OSError) as exc:
        return {"error": f"could not install evidently: {exc}"}
    try:
        return run_child(python, ["evidently", "--rows", str(rows)], timeout)
    except subprocess.TimeoutExpired:
        note = f"timed out after {timeout:.0f} s at {rows:,} rows; sampled down"
    except RuntimeError as exc:
        return {"error": f"evidently failed: {exc}"}
    try:
        result = run_child(python, ["evidently", "--rows", str(fallback_rows)], timeout)
    except (subprocess.TimeoutExpired, RuntimeError) as exc:
        return {"error": f"{note}, and failed again: {exc}"}
    return {**result, "note": note}


def machine() -> str:
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    one, five = os.getloadavg()[:2]
    load = f", load average {one:.1f} / {five:.1f} (1 / 5 min) at the end"
    return (
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores{mem}, Python {platform.python_version()}, "
        f"{platform.system()}{load}"
    )


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def verdict_cell(drifted: list[str]) -> str:
    found = set(drifted)
    missed = sorted(set(PLANTED) - found)
    extra = sorted(found - set(PLANTED))
    parts = [f"{len(found & set(PLANTED))}/{len(PLANTED)} planted"]
    if missed:
        parts.append("missed " + ", ".join(missed))
    if extra:
        parts.append("false " + ", ".join(extra))
    return "; ".join(parts)


def table(rows: int, mr: dict[str, Any], ks: dict[str, Any], ev: dict[str, Any] | None) -> str:
    e2e = mr["e2e_s"]
    lines = [
        "| check | rows | time (s) | × modelreg end to end | peak RSS (ru_maxrss) | "
        "drifted columns vs planted |",
        "|---|---|---|---|---|---|",
        f"| modelreg: build_profile(reference) + compare, all tests + quality + verdict | "
        f"{rows:,} | {e2e:.2f} | 1.0 | {mib(mr['rss_bytes'])} | {verdict_cell(mr['drifted'])} |",
        f"| modelreg: compare only (stored profile) | {rows:,} | {mr['compare_s']:.2f} | "
        f"{mr['compare_s'] / e2e:.2f} | (same process) | same |",
        f"| scipy ks_2samp loop, 20 numeric columns, p < 0.05 uncorrected | {rows:,} | "
        f"{ks['s']:.2f} | {ks['s'] / e2e:.1f} | {mib(ks['rss_bytes'])} | "
        f"{verdict_cell(ks['drifted'])} (numeric only) |",
    ]
    if ev is not None and "error" not in ev:
        scaled = f" (at {ev['rows']:,} rows)" if ev["rows"] != rows else ""
        lines.append(
            f"| Evidently {ev['version']} DataDriftPreset (defaults){scaled} | {ev['rows']:,} | "
            f"{ev['s']:.2f} | {ev['s'] / e2e:.1f} | {mib(ev['rss_bytes'])} | "
            f"{verdict_cell(ev['drifted'])} |"
        )
    elif ev is not None:
        lines.append(f"| Evidently DataDriftPreset | – | – | – | – | {ev['error']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--with-evidently", action="store_true")
    parser.add_argument("--evidently-timeout", type=float, default=1200.0)
    parser.add_argument("--evidently-fallback-rows", type=int, default=100_000)
    parser.add_argument("--child", choices=["modelreg", "ks", "evidently"])
    args = parser.parse_args(argv)
    if args.child:
        return run_as_child(args)
    WORK.mkdir(parents=True, exist_ok=True)
    if not (WORK / ".gitignore").exists():
        (WORK / ".gitignore").write_text("*\n")
    ref, cur = make_frames(args.rows, args.seed)
    ref.to_parquet(REF_FILE)
    cur.to_parquet(CUR_FILE)
    del ref, cur
    mr = run_child(sys.executable, ["modelreg", "--repeats", str(args.repeats)], None)
    ks = run_child(sys.executable, ["ks"], None)
    ev = None
    if args.with_evidently:
        ev = evidently_result(args.rows, args.evidently_timeout, args.evidently_fallback_rows)
    print(report_text(args, mr, ks, ev))
    return 0


def run_as_child(args: argparse.Namespace) -> int:
    if args.child == "modelreg":
        result = child_modelreg(args.repeats)
    elif args.child == "ks":
        result = child_ks()
    else:
        result = child_evidently(args.rows)
    print(json.dumps(result))
    return 0


def report_text(
    args: argparse.Namespace, mr: dict[str, Any], ks: dict[str, Any], ev: dict[str, Any] | None
) -> str:
    planted = ", ".join(f"{k} ({v})" for k, v in PLANTED.items())
    lines = [
        f"Drift check, {args.rows:,} rows × 25 columns (20 numeric + 5 categorical), "
        f"reference vs current; median of {args.repeats} runs.",
        f"Machine: {machine()}.",
        f"Planted changes: {planted}.",
        "",
        table(args.rows, mr, ks, ev),
        "",
        f"- modelreg verdict {mr['verdict']}; drifted: {', '.join(mr['drifted'])}.",
        f"- Peak memory: ru_maxrss of each check's own fresh process, which holds both frames "
        f"({mib(mr['frames_bytes'])} in pandas); modelreg's process peaked at "
        f"{mib(mr['rss_loaded_bytes'])} already while reading the parquet files; tracemalloc "
        f"peak of modelreg's check alone: {mib(mr['traced_bytes'])}.",
        f"- modelreg's first (cold) check in a fresh process, importing scipy: "
        f"{mr['cold_s']:.2f} s.",
        f"- Loading both parquet files (not timed above): {mr['load_s']:.2f} s; "
        f"stored profile: {mr['profile_json_bytes'] / 1024:,.0f} KiB of JSON.",
        f"- ks_2samp flagged: {', '.join(ks['drifted']) or 'none'}.",
    ]
    if ev is not None and "error" not in ev:
        lines.append(f"- Evidently flagged: {', '.join(ev['drifted']) or 'none'}.")
        if ev.get("note"):
            lines.append(f"- Evidently {ev['note']}.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
