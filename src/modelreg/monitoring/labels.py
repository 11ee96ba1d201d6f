"""Outcomes that arrive later, joined to the rows they label by a key column.

`drift --labels FILE --key COLUMN` reads serve's feedback JSON Lines
(`{"timestamp", "request_id", …, "label"}`, `POST /v1/feedback`) or any CSV/JSONL/Parquet
file (or folder of them) with the key column and a label column (`label`, `target` or
`y_true`), and puts each row's label beside its prediction for concept drift.

Keys are compared as text, with whole-number floats read as integers (`7`, `7.0` and
`"7"` are one key), so a key read as a number from one file and as a string from another
still matches. When a key comes more than once the last label wins: the latest
`timestamp` when every record has one, else the last in reading order (files by name,
rows in order). A list label (serve's feedback for a request of several rows) is spread
over that key's rows in order.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

LABEL_COLUMNS = ("label", "target", "y_true")
TIME_COLUMN = "timestamp"


@dataclass(frozen=True)
class Labels:
    """Label per key (the last one given), and how many records were read."""

    source: str
    key: str
    by_key: Mapping[str, Any]
    records: int

    @property
    def duplicates(self) -> int:
        """Records whose label was replaced by a later one for the same key."""
        return self.records - len(self.by_key)


@dataclass(frozen=True)
class Joined:
    """Labels in row order (None where a row has none) and the keys they came from."""

    values: list[Any]
    matched: int
    keys: frozenset[str]


def key_text(value: Any) -> str | None:
    """The text a key is compared by: `7`, `7.0` and `"7"` agree; missing is None."""
    if value is None or isinstance(value, bool | str):
        return None if value is None else str(value)
    if isinstance(value, float | int) or hasattr(value, "item"):
        number = value.item() if hasattr(value, "item") else value
        if isinstance(number, float):
            if math.isnan(number):
                return None
            if number.is_integer():
                return str(int(number))
        return str(number)
    return str(value)


def read_labels(path: Path, key: str) -> Labels:
    """The labels of a file or folder, last label per key winning (see the module doc)."""
    from modelreg.adapters.tables import read_table

    frame = read_table(path)
    return labels_from_frame(frame, key, source=str(path))


def labels_from_frame(frame: pd.DataFrame, key: str, *, source: str) -> Labels:
    """Labels from a frame already read (the rules of `read_labels`)."""
    import pandas as pd

    if key not in frame.columns:
        raise UsageError(
            f"--labels {source}: no column {key!r} to join on "
            f"(columns are: {_columns(frame)}; name the key column with --key)"
        )
    label = next((c for c in LABEL_COLUMNS if c in frame.columns), None)
    if label is None:
        raise UsageError(
            f"--labels {source}: no label column (name it label, target or y_true; "
            f"columns are: {_columns(frame)})"
        )
    order = list(range(len(frame)))
    if TIME_COLUMN in frame.columns and len(frame):
        stamps = pd.to_datetime(frame[TIME_COLUMN], utc=True, errors="coerce", format="mixed")
        if not stamps.isna().any():
            order = sorted(order, key=lambda i: (stamps.iloc[i], i))
    keys, values = frame[key].tolist(), frame[label].tolist()
    by_key: dict[str, Any] = {}
    records = 0
    for i in order:
        text = key_text(keys[i])
        if text is None:
            continue  # a record without a key labels nothing
        records += 1
        by_key.pop(text, None)  # re-insert, so iteration order is the order labels won
        by_key[text] = values[i]
    return Labels(source, key, by_key, records)


def join_labels(keys: Sequence[Hashable], labels: Labels) -> Joined:
    """Each row's label by its key, in row order; a list label goes to its key's rows in turn."""
    seen: dict[str, int] = {}
    values: list[Any] = []
    used: set[str] = set()
    for raw in keys:
        text = key_text(raw)
        value = None
        if text is not None and text in labels.by_key:
            found = labels.by_key[text]
            if isinstance(found, list | tuple):
                nth = seen.get(text, 0)
                seen[text] = nth + 1
                value = found[nth] if nth < len(found) else None
            else:
                value = found
            used.add(text)
        values.append(None if _missing(value) else value)
    matched = sum(v is not None for v in values)
    return Joined(values, matched, frozenset(used))


def with_labels(
    frame: pd.DataFrame, labels: Labels, *, source: str, option: str = "--current"
) -> tuple[pd.DataFrame, Joined]:
    """`frame` with a `label` column joined from `labels` on its key column."""
    if labels.key not in frame.columns:
        raise UsageError(
            f"{option} {source}: no column {labels.key!r} to join --labels on "
            f"(columns are: {_columns(frame)}; name the key column with --key)"
        )
    joined = join_labels(frame[labels.key].tolist(), labels)
    out = frame.drop(columns=[c for c in LABEL_COLUMNS if c in frame.columns])
    out["label"] = _column(joined.values)
    return out, joined


def _column(values: list[Any]) -> Any:
    """Labels as a pandas column: numbers stay numbers, anything else stays as given."""
    import pandas as pd

    column = pd.Series(values, dtype=object)
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().sum() == column.notna().sum() and not any(
        isinstance(v, bool | str) for v in values
    ):
        return numbers
    return column


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _columns(frame: pd.DataFrame) -> str:
    return ", ".join(str(c) for c in frame.columns) or "none"
