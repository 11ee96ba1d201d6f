"""Reading tabular input (CSV, JSON Lines, Parquet; a file or a folder) and time windows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.adapters.git import first_line
from modelreg.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonl.gz": "jsonl",
    ".ndjson.gz": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SUPPORTED = ".csv, .jsonl, .ndjson or .parquet"


def format_of(path: str | Path) -> str | None:
    """The table format a file name stands for (csv, jsonl, parquet), or None."""
    name = Path(path).name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    return None


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one CSV/JSONL/Parquet file, or every such file in a folder (sorted by name)."""
    p = Path(path)
    if p.is_dir():
        return _read_folder(p)
    if not p.exists():
        raise UsageError(f"{p}: no such file or folder (check the path)")
    fmt = format_of(p)
    if fmt is None:
        raise UsageError(f"{p}: unknown file type (use a {SUPPORTED} file)")
    return _read_file(p, fmt)


def _read_folder(folder: Path) -> pd.DataFrame:
    import pandas as pd

    files = sorted(
        f
        for f in folder.iterdir()
        if f.is_file() and not f.name.startswith(".") and format_of(f) is not None
    )
    if not files:
        raise UsageError(
            f"{folder}: no {SUPPORTED} files in this folder (point at a data file or a folder "
            "of them)"
        )
    frames = [_read_file(f, format_of(f) or "") for f in files]
    frames = [f for f in frames if len(f.columns)]
    return pd.concat(frames, ignore_index=True, sort=False) if frames else pd.DataFrame()


def _read_file(path: Path, fmt: str) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise UsageError(f"{path}: the file is empty (write a header and rows, or remove it)")
    readers: dict[str, Callable[[Path], pd.DataFrame]] = {
        "csv": _read_csv,
        "jsonl": _read_jsonl,
        "parquet": _read_parquet,
    }
    try:
        return readers[fmt](path)
    except UsageError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, EOFError) as exc:
        raise UsageError(
            f"{path}: cannot be read as {_FORMAT_NAMES[fmt]}: {first_line(exc)} "
            f"(check that the file is valid {_FORMAT_NAMES[fmt]})"
        ) from exc
    except Exception as exc:  # pyarrow and pandas raise their own error classes
        if type(exc).__module__.split(".")[0] not in ("pandas", "pyarrow"):
            raise
        raise UsageError(
            f"{path}: cannot be read as {_FORMAT_NAMES[fmt]}: {first_line(exc)} "
            f"(check that the file is valid {_FORMAT_NAMES[fmt]})"
        ) from exc


_FORMAT_NAMES = {"csv": "CSV", "jsonl": "JSON Lines", "parquet": "Parquet"}


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise UsageError(
            f"{path}: the file is empty (write a header and rows, or remove it)"
        ) from exc


def _read_jsonl(path: Path) -> pd.DataFrame:
    import pandas as pd

    df = pd.read_json(path, lines=True, dtype=False)
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"{path}: each line must be a JSON object (one record per line)")
    if df.empty and not len(df.columns):
        raise UsageError(f"{path}: the file has no records (write one JSON object per line)")
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"{path}: reading Parquet needs pyarrow (pip install 'modelreg[parquet]')"
        ) from exc
    return pd.read_parquet(path)


def count_rows(path: Path) -> int | None:
    """Data rows of a CSV file or of every CSV in a folder (headers not counted), counted
    without parsing; None for anything that is not all CSV."""
    files = sorted(path.rglob("*.csv")) if path.is_dir() else [path]
    if not files or any(f.suffix != ".csv" or not f.is_file() for f in files):
        return None
    total = 0
    for f in files:
        with f.open("rb") as fh:
            total += max(sum(1 for _ in fh) - 1, 0)
    return total


def filter_window(
    df: pd.DataFrame,
    column: str,
    last: timedelta,
    now: datetime | None = None,
    *,
    source: str = "current data",
) -> pd.DataFrame:
    """Rows whose timestamp in `column` lies in (now - last, now]; now defaults to the latest."""
    stamps = _timestamps(df, column, source)
    end = _utc(now) if now is not None else stamps.max()
    if end is None or _is_nat(end):
        raise UsageError(
            f"{source}: column {column!r} holds no timestamps "
            "(give ISO 8601 times or epoch seconds)"
        )
    keep = (stamps > end - last) & (stamps <= end)
    return df.loc[keep.to_numpy()].reset_index(drop=True)


def _timestamps(df: pd.DataFrame, column: str, source: str) -> pd.Series:
    import pandas as pd

    if column not in df.columns:
        cols = ", ".join(str(c) for c in df.columns) or "none"
        raise UsageError(
            f"{source}: no column {column!r} to take the window from "
            f"(columns are: {cols}; name the timestamp column)"
        )
    raw = df[column]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return pd.to_datetime(raw, unit="s", utc=True, errors="coerce")
    return pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")


def _utc(moment: datetime) -> Any:
    import pandas as pd

    stamp = pd.Timestamp(moment)
    return stamp.tz_localize(timezone.utc) if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _is_nat(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
