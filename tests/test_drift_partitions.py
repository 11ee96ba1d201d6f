"""Drift beyond one machine: Parquet partitions in chunks, and Dask, judge as in memory."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Prebuilt
from modelreg.cli import cli
from modelreg.errors import ServiceError, UsageError
from modelreg.monitoring.compare import compare
from modelreg.monitoring.partitions import (
    compare_partitions,
    profile_partitions,
    sketch_current,
    sketch_profile,
)
from modelreg.monitoring.profile import NumericProfile, Profile, build_profile
from modelreg.monitoring.report import DriftReport
from modelreg.registry.drift_rules import DriftRules

ROWS = 2000
# The reference profile from partitions keeps quantiles within this much rank of the
# exact ones (a quantile sketch of 4096 knots); KS and W1 move by about as much.
RANK_TOLERANCE = 0.002
MEASURE_TOLERANCE = 0.01


def _frame(rows: int, seed: int, *, drift: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shift = 0.4 if drift else 0.0
    x = rng.normal(shift, 1.0, rows)
    m = rng.exponential(1.0, rows)
    m[rng.random(rows) < (0.15 if drift else 0.02)] = np.nan
    labels = np.array(["a", "b", "c", "d"] + (["new"] if drift else []))
    probs = [0.4, 0.3, 0.2, 0.1] + ([0.0] if drift else [])
    if drift:
        probs = [0.25, 0.25, 0.2, 0.2, 0.1]
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 6 + (2 if drift else 0), rows),  # few values: exact profile
            "m": m,
            "c": rng.choice(labels, rows, p=probs),
            "stable": rng.gamma(2.0, 1.0, rows),
            "timestamp": pd.date_range("2026-01-01", periods=rows, freq="min", tz="UTC"),
        }
    )


REFERENCE = _frame(ROWS, 1, drift=False)
PROFILE = build_profile(REFERENCE.drop(columns=["timestamp"]))
CURRENT = {flag: _frame(ROWS, 2, drift=flag) for flag in (False, True)}


def _chunks(frame: pd.DataFrame, cuts: list[int]) -> Iterator[pd.DataFrame]:
    bounds = [0, *sorted(set(cuts)), len(frame)]
    for lo, hi in pairwise(bounds):
        if hi > lo:
            yield frame.iloc[lo:hi].reset_index(drop=True)


def _same_report(a: DriftReport, b: DriftReport, *, tol: float = 1e-9) -> None:
    assert a.verdict == b.verdict
    assert (a.rows_current, a.rows_reference, a.current_span) == (
        b.rows_current,
        b.rows_reference,
        b.current_span,
    )
    assert [c.name for c in a.columns] == [c.name for c in b.columns]
    for x, y in zip(a.columns, b.columns, strict=True):
        assert x.drifted == y.drifted, (x.name, x.reasons, y.reasons)
        assert x.reasons == y.reasons or tol > 1e-9, (x.reasons, y.reasons)
        assert x.measures.keys() == y.measures.keys()
        for key, value in x.measures.items():
            assert math.isclose(value, y.measures[key], rel_tol=tol, abs_tol=tol), key
        if tol <= 1e-9:
            assert x.quality == y.quality and x.chart == y.chart


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drift=st.booleans(),
    cuts=st.lists(st.integers(min_value=1, max_value=ROWS - 1), max_size=12),
)
def test_current_data_in_any_chunks_gets_the_in_memory_report(drift: bool, cuts: list[int]) -> None:
    current = CURRENT[drift]
    sketch = sketch_current(PROFILE, _chunks(current, cuts))
    _same_report(sketch.report(DriftRules()), compare(PROFILE, current, DriftRules()))


def test_sketches_merge_in_any_grouping() -> None:
    current = CURRENT[True]
    parts = [sketch_current(PROFILE, [c]) for c in _chunks(current, [500, 900, 1500])]
    left = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    _same_report(left.report(), compare(PROFILE, current))


def test_a_column_missing_from_some_partitions_counts_as_missing_there() -> None:
    current = CURRENT[False]
    first, second = current.iloc[:1000], current.iloc[1000:].drop(columns=["m"])
    sketch = sketch_current(PROFILE, [first, second.reset_index(drop=True)])
    whole = pd.concat([first, second], ignore_index=True)
    _same_report(sketch.report(), compare(PROFILE, whole))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=1, max_value=ROWS - 1), max_size=8))
def test_a_reference_profile_from_chunks_is_within_the_stated_tolerance(cuts: list[int]) -> None:
    reference = REFERENCE.drop(columns=["timestamp"])
    built = sketch_profile(_chunks(reference, cuts)).finish()
    assert built.names == PROFILE.names and built.rows == PROFILE.rows
    for exact, approx in zip(PROFILE.columns, built.columns, strict=True):
        assert (exact.count, exact.missing, exact.kind) == (
            approx.count,
            approx.missing,
            approx.kind,
        )
        if not isinstance(exact, NumericProfile):
            assert exact == approx
            continue
        assert isinstance(approx, NumericProfile)
        assert (approx.min, approx.max) == (exact.min, exact.max)
        assert math.isclose(approx.mean or 0, exact.mean or 0, abs_tol=1e-9)
        assert math.isclose(approx.std or 0, exact.std or 0, rel_tol=1e-9)
        if exact.values:  # few distinct values: kept exactly, as in memory
            assert replace(approx, mean=exact.mean, std=exact.std) == exact
            continue
        values = np.sort(reference[exact.name].dropna().to_numpy())
        ranks = np.searchsorted(values, np.asarray(approx.quantiles), side="left") / values.size
        assert np.max(np.abs(ranks - np.asarray(built.grid))) <= RANK_TOLERANCE
    for flag, current in CURRENT.items():
        _same_report(compare(built, current), compare(PROFILE, current), tol=MEASURE_TOLERANCE)
        assert compare(built, current).verdict == ("critical" if flag else "ok")


def _write_parts(folder: Path, frame: pd.DataFrame, cuts: list[int], *, hive: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, chunk in enumerate(_chunks(frame, cuts)):
        sub = folder / f"day={i}" if hive else folder  # Hive-style folders are read too
        sub.mkdir(exist_ok=True)
        chunk.to_parquet(sub / f"part-{i}.parquet", index=False)
    (folder / "_SUCCESS").write_text("")  # writers' markers are skipped
    return folder


def test_parquet_partitions_read_in_small_chunks_give_the_in_memory_report(tmp_path: Path) -> None:
    current = CURRENT[True]
    folder = _write_parts(tmp_path / "current", current, [700, 1400])
    report = compare_partitions(PROFILE, folder, DriftRules(), chunk_rows=256)
    _same_report(report, compare(PROFILE, current, DriftRules(), source=str(folder)))
    ref_folder = _write_parts(tmp_path / "reference", REFERENCE, [1100])
    assert profile_partitions(ref_folder, chunk_rows=400).names == (*PROFILE.names,)


def test_a_folder_without_parquet_and_a_broken_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(UsageError, match=r"no \.parquet files"):
        compare_partitions(PROFILE, tmp_path)
    (tmp_path / "b.parquet").write_text("not parquet")
    with pytest.raises(UsageError, match="cannot be read as Parquet"):
        compare_partitions(PROFILE, tmp_path)


def test_partitions_holding_numbers_and_text_in_one_column_are_refused() -> None:
    numbers = sketch_profile([pd.DataFrame({"v": [1.0, 2.0]})])
    with pytest.raises(UsageError, match="holds numbers in some partitions"):
        numbers.merge(sketch_profile([pd.DataFrame({"v": ["x", "y"]})]))


# --- Dask ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[str]:
    """A one-worker LocalCluster inside this process (in-process comms, no socket)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None,
        scheduler_kwargs={"dashboard": False},
    ) as cluster:  # fmt: skip
        yield cluster.scheduler_address


def test_dask_workers_sketch_the_partitions_and_reach_the_in_memory_verdicts(
    local_cluster: str, tmp_path: Path
) -> None:
    from modelreg.monitoring.dask_engine import compare_dask, dask_client, profile_dask

    current = CURRENT[True]
    folder = _write_parts(tmp_path / "current", current, [700, 1500])
    ref_folder = _write_parts(tmp_path / "reference", REFERENCE.drop(columns=["timestamp"]), [900])
    with dask_client(local_cluster) as client:
        report = compare_dask(client, PROFILE, folder, DriftRules(), chunk_rows=500)
        built = profile_dask(client, ref_folder, chunk_rows=700)
    _same_report(report, compare(PROFILE, current, DriftRules()))
    assert built.names == PROFILE.names and built.rows == PROFILE.rows
    _same_report(compare(built, current), compare(PROFILE, current), tol=MEASURE_TOLERANCE)


def test_an_unreachable_scheduler_is_an_outside_service_error() -> None:
    pytest.importorskip("distributed")
    from modelreg.monitoring.dask_engine import dask_client

    with pytest.raises(ServiceError, match="cannot reach the Dask scheduler"):  # noqa: SIM117
        with dask_client("tcp://127.0.0.1:9", timeout="1s"):
            pass


BLOCK_DASK = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Blocker())
from modelreg.cli import main
sys.argv = ["modelreg", *sys.argv[1:]]
main()
"""


def test_without_the_dask_extra_the_engine_exits_2_with_the_install_command(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = ["drift", "churn", "--current", str(tmp_path), "--engine", "dask"]
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_DASK, *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "pip install 'modelreg[dask]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_scheduler_without_the_dask_engine_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["drift", "m", "--current", str(tmp_path), "--scheduler", "tcp://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert "--scheduler needs --engine dask" in result.output


def test_profile_round_trips_after_a_partition_build(tmp_path: Path) -> None:
    built = sketch_profile(_chunks(REFERENCE.drop(columns=["timestamp"]), [10, 1999])).finish()
    assert Profile.from_dict(built.to_dict()) == built


# --- the command ---------------------------------------------------------------------------


@pytest.mark.slow
def test_drift_on_partitions_and_on_dask_reports_what_the_in_memory_engine_does(
    prebuilt: Prebuilt, local_cluster: str
) -> None:
    from modelreg.training.examples import dataset, recalibrated
    from test_drift_flow import FIRST, serving_cancer

    reg = prebuilt.registry(serving_cancer)
    frame = recalibrated(dataset("classifier", now=FIRST).head(600), 1.3)
    frame = frame.drop(columns=["target"]).assign(prediction=1)
    logs = _write_parts(reg.work / "logs", frame, [200, 450], hive=False)
    reports = {}
    for engine in ("memory", "partitions", "dask"):
        extra = ["--scheduler", local_cluster] if engine == "dask" else []
        result = reg.run(
            "drift", "cancer", "--current", str(logs), "--format", "json", "--engine", engine,
            *extra,
        )  # fmt: skip
        assert result.exit_code in (0, 1), result.output
        reports[engine] = json.loads(result.output)
    memory = reports.pop("memory")
    assert memory["verdict"] == "critical"
    for report in reports.values():
        assert report["verdict"] == memory["verdict"]
        assert report["reasons"] == memory["reasons"]
        assert [c["drifted"] for c in report["columns"]] == [
            c["drifted"] for c in memory["columns"]
        ]


@pytest.mark.parametrize("noise", [0.01, 0.5])
def test_many_current_values_against_a_few_valued_profile_keep_ks_and_w1_close(
    noise: float,
) -> None:
    """Past 4,096 distinct current values the engine counts at the profile's values and
    inside its gaps: KS stays exact, W1 within a few per cent."""
    rng = np.random.default_rng(5)
    profile = build_profile(pd.DataFrame({"k": rng.integers(0, 10, 2000).astype(float)}))
    current = pd.DataFrame({"k": rng.integers(0, 10, 6000) + rng.normal(0.3, noise, 6000)})
    whole = compare(profile, current).columns[0]
    parts = sketch_current(profile, _chunks(current, [2500])).report().columns[0]
    assert parts.measures["ks"] == pytest.approx(whole.measures["ks"], abs=1e-12)
    assert parts.measures["wasserstein"] == pytest.approx(whole.measures["wasserstein"], rel=0.05)
    assert parts.drifted == whole.drifted
