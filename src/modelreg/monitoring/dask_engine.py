"""Drift on a Dask cluster: each worker sketches whole Parquet files, the client merges.

The sketches are those of `monitoring.partitions`, so the verdicts are the same as the
single-process partition engine's. Workers must see the files at the same paths (a
shared file system or object store mounted alike). Dask is the optional extra
`modelreg[dask]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.errors import ServiceError, UsageError
from modelreg.monitoring.partitions import (
    CHUNK_ROWS,
    CurrentSketch,
    ProfileSketch,
    current_file,
    profile_file,
)

if TYPE_CHECKING:
    from modelreg.monitoring.profile import Profile
    from modelreg.monitoring.report import DriftReport
    from modelreg.registry.drift_rules import DriftRules

INSTALL = "pip install 'modelreg[dask]'"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise UsageError(
            "--engine dask needs Dask's distributed scheduler, which is not installed",
            hint=f"install it: {INSTALL}",
        ) from exc
    return distributed


@contextmanager
def dask_client(
    scheduler: str | None,
    *,
    processes: bool = True,
    workers: int | None = None,
    timeout: str = "10s",
) -> Iterator[Any]:
    """A client of the scheduler at `scheduler`, or of a LocalCluster on 127.0.0.1."""
    distributed = _distributed()
    if scheduler is None:
        cluster = distributed.LocalCluster(
            host="127.0.0.1" if processes else None,
            processes=processes,
            n_workers=workers,
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False},  # no web server: nothing listens but tcp
        )
        with cluster, distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ServiceError(
            f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})",
            hint="check the address (tcp://HOST:8786) and that the scheduler runs",
        ) from exc
    with client:
        yield client


def profile_dask(
    client: Any,
    path: Path,
    columns: Sequence[str] | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    source: str | None = None,
) -> Profile:
    """The reference profile of a folder of Parquet files, one task per file."""
    from modelreg.adapters.partitions import parquet_parts

    files = [f.resolve() for f in parquet_parts(path)]
    cols = None if columns is None else list(columns)
    futures = client.map(profile_file, files, columns=cols, chunk_rows=chunk_rows, pure=False)
    sketch = ProfileSketch(columns=cols)
    for part in _completed(futures):
        sketch.merge(part)
    return sketch.finish(source or str(path))


def compare_dask(
    client: Any,
    profile: Profile,
    path: Path,
    rules: DriftRules | None = None,
    *,
    features: Sequence[str] | None = None,
    model: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    source: str | None = None,
) -> DriftReport:
    """`compare` on a folder of Parquet files, one task per file, sketches merged here."""
    from modelreg.adapters.partitions import parquet_parts

    files = [f.resolve() for f in parquet_parts(path)]
    [shared] = client.scatter([profile], broadcast=True, hash=False)
    futures = client.map(current_file, files, profile=shared, chunk_rows=chunk_rows, pure=False)
    sketch = CurrentSketch(profile)
    for part in _completed(futures):
        sketch.merge(part)
    return sketch.report(rules, features=features, model=model, source=source or str(path))


def _completed(futures: list[Any]) -> Iterator[Any]:
    """Results as they finish, each released once merged so the client holds one at a time."""
    distributed = _distributed()
    for future in distributed.as_completed(futures):
        result = future.result()
        future.release()
        yield result


def require_dask() -> None:
    """Exit 2 with the install command when the `dask` extra is missing."""
    _distributed()
