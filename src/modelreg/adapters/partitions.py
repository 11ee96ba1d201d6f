"""Parquet partitions read a bounded chunk at a time: data larger than memory, one pass."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from modelreg.adapters.git import first_line
from modelreg.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")


def parquet_parts(path: Path) -> list[Path]:
    """A Parquet file, or every Parquet file under a folder (Hive-style subfolders too)."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder (check the path)")
    if path.is_file():
        if path.suffix.lower() not in PARQUET_SUFFIXES:
            raise UsageError(
                f"{path}: partitions are read from Parquet files only "
                "(convert it, or drop --engine to read it whole)"
            )
        return [path]
    files = sorted(
        f
        for f in path.rglob("*")
        if f.is_file()
        and f.suffix.lower() in PARQUET_SUFFIXES
        and not any(part.startswith((".", "_")) for part in f.relative_to(path).parts)
    )
    if not files:
        raise UsageError(
            f"{path}: no .parquet files in this folder (point at a folder of Parquet "
            "partitions, or drop --engine to read CSV/JSONL whole)"
        )
    return files


def iter_chunks(
    path: Path, *, chunk_rows: int, columns: Sequence[str] | None = None
) -> Iterator[pd.DataFrame]:
    """The rows of one Parquet file as frames of at most `chunk_rows` rows."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise UsageError(
            f"{path}: reading Parquet needs pyarrow (pip install 'modelreg[parquet]')"
        ) from exc
    try:
        parquet = pq.ParquetFile(path)
        wanted = None if columns is None else [c for c in columns if c in parquet.schema.names]
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=wanted):
            yield batch.to_pandas()
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path}: cannot be read as Parquet: {first_line(exc)} "
            "(check that the file is valid Parquet)"
        ) from exc
    except Exception as exc:  # pyarrow raises its own error classes
        if type(exc).__module__.split(".")[0] != "pyarrow":
            raise
        raise UsageError(
            f"{path}: cannot be read as Parquet: {first_line(exc)} "
            "(check that the file is valid Parquet)"
        ) from exc
