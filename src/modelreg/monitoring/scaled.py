"""`drift --engine partitions|dask`: the serving version's check on data beyond memory.

Resolves the model, stage, version and reference as `check.check_drift` does, then
hands the data to the partition engine (one process, Parquet read a chunk at a time)
or to Dask (one task per Parquet file). Concept drift and --window need the data
whole and stay with the in-memory engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.errors import UsageError
from modelreg.monitoring.partitions import CHUNK_ROWS, compare_partitions, profile_partitions
from modelreg.registry.names import check_readable_name
from modelreg.registry.workspace import Workspace

if TYPE_CHECKING:
    from modelreg.monitoring.check import DriftCheck
    from modelreg.monitoring.profile import Profile
    from modelreg.monitoring.report import DriftReport
    from modelreg.registry.drift_rules import DriftRules
    from modelreg.registry.records import VersionRecord

ENGINES = ("memory", "partitions", "dask")


@dataclass(frozen=True)
class Engine:
    """Where sketches are computed: this process, or the workers behind a Dask client."""

    client: Any = None
    chunk_rows: int = CHUNK_ROWS

    def profile(self, path: Path, columns: Sequence[str] | None, source: str) -> Profile:
        if self.client is None:
            return profile_partitions(path, columns, chunk_rows=self.chunk_rows, source=source)
        from modelreg.monitoring.dask_engine import profile_dask

        return profile_dask(self.client, path, columns, chunk_rows=self.chunk_rows, source=source)

    def compare(
        self,
        profile: Profile,
        path: Path,
        rules: DriftRules,
        *,
        features: Sequence[str] | None,
        model: str,
    ) -> DriftReport:
        kw: dict[str, Any] = {"features": features, "model": model, "source": str(path)}
        if self.client is None:
            return compare_partitions(profile, path, rules, chunk_rows=self.chunk_rows, **kw)
        from modelreg.monitoring.dask_engine import compare_dask

        return compare_dask(self.client, profile, path, rules, chunk_rows=self.chunk_rows, **kw)


@contextmanager
def open_engine(engine: str, scheduler: str | None = None) -> Iterator[Engine]:
    """The partition engine, or a Dask client (of `scheduler`, else a LocalCluster)."""
    if engine == "partitions":
        yield Engine()
        return
    from modelreg.monitoring.dask_engine import dask_client

    with dask_client(scheduler) as client:
        yield Engine(client=client)


def check_scaled(
    ws: Workspace,
    *,
    model: str,
    current: Path,
    reference: Path | None = None,
    window: str | None = None,
    stage: str | None = None,
    engine: str = "partitions",
    scheduler: str | None = None,
) -> DriftCheck:
    """`check_drift` on Parquet partitions, in this process or on Dask."""
    from modelreg.monitoring.check import DriftCheck, _serving_stage

    if window is not None:
        raise UsageError(
            f"--window works with --engine memory only (not {engine})",
            hint="write the window's rows as their own partitions, or drop --engine",
        )
    check_readable_name(model)
    snap = ws.snapshot("HEAD")
    snap.require_model(model)
    policy = snap.policy(snap.model(model).policy)
    stage = stage or _serving_stage(snap, model, [s.name for s in policy.stages])
    version = snap.stages(model).version(stage)
    if version is None:
        raise UsageError(f"nothing serves {model} in {stage}", hint="promote a version first")
    record = snap.record(model, version)
    features = [f.name for f in record.signature.inputs] if record.signature else None
    with open_engine(engine, scheduler) as run:
        profile, source = _reference(ws, record, reference, features, run)
        report = run.compare(profile, current, policy.drift, features=features, model=model)
    return DriftCheck(model, stage, version, source, report)


def _reference(
    ws: Workspace,
    record: VersionRecord,
    path: Path | None,
    features: list[str] | None,
    run: Engine,
) -> tuple[Profile, str]:
    """The stored profile, else --reference or the training data (Parquet: by the engine)."""
    import json

    from modelreg.monitoring.check import _tracked_bytes
    from modelreg.monitoring.profile import Profile

    if path is None and record.profile:
        data = json.loads(_tracked_bytes(ws, record.profile))
        return Profile.from_dict(data, source=record.profile), record.profile
    if path is None and record.data:
        from modelreg.adapters import dvc as dvcio

        path = ws.root / record.data.path
        if not path.exists():
            dvcio.pull(ws.root, [path])
    if path is None:
        raise UsageError(
            f"{record.model} {record.version} records no profile and no training data",
            hint="pass --reference PATH",
        )
    if _is_parquet(path):
        return run.profile(path, features, str(path)), str(path)
    from modelreg.adapters.tables import read_table
    from modelreg.monitoring.profile import build_profile

    return build_profile(read_table(path), features, source=str(path)), str(path)


def _is_parquet(path: Path) -> bool:
    from modelreg.adapters.partitions import PARQUET_SUFFIXES

    if path.is_dir():
        return any(f.suffix.lower() in PARQUET_SUFFIXES for f in path.rglob("*"))
    return path.suffix.lower() in PARQUET_SUFFIXES
