"""Reading CSV / JSON Lines / Parquet files and folders, and time windows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from modelreg.adapters.tables import filter_window, format_of, read_table
from modelreg.errors import UsageError

FRAME = pd.DataFrame({"x": [1.5, 2.5, None], "plan": ["a", "b", "a"]})


def test_reads_csv_jsonl_ndjson_and_parquet_alike(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "a.csv", index=False)
    FRAME.to_json(tmp_path / "b.jsonl", orient="records", lines=True)
    FRAME.to_json(tmp_path / "c.ndjson", orient="records", lines=True)
    FRAME.to_parquet(tmp_path / "d.parquet")
    for name in ("a.csv", "b.jsonl", "c.ndjson", "d.parquet"):
        df = read_table(tmp_path / name)
        assert list(df.columns) == ["x", "plan"], name
        assert df["x"].tolist()[:2] == [1.5, 2.5] and pd.isna(df["x"].iloc[2])
        assert df["plan"].tolist() == ["a", "b", "a"]


def test_reads_gzipped_csv(tmp_path: Path) -> None:
    FRAME.to_csv(tmp_path / "a.csv.gz", index=False)
    assert len(read_table(tmp_path / "a.csv.gz")) == 3


def test_a_folder_is_concatenated_in_name_order(tmp_path: Path) -> None:
    pd.DataFrame({"day": [2]}).to_csv(tmp_path / "2026-01-02.csv", index=False)
    pd.DataFrame({"day": [1]}).to_parquet(tmp_path / "2026-01-01.parquet")
    pd.DataFrame({"day": [3]}).to_json(tmp_path / "2026-01-03.jsonl", orient="records", lines=True)
    (tmp_path / "README.md").write_text("not data")
    (tmp_path / ".hidden.csv").write_text("day\n99\n")
    assert read_table(tmp_path)["day"].tolist() == [1, 2, 3]


def test_missing_path_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        read_table(tmp_path / "nope.csv")
    assert str(err.value) == f"{tmp_path / 'nope.csv'}: no such file or folder (check the path)"


def test_unknown_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    with pytest.raises(UsageError, match=r"data\.xlsx: unknown file type \(use a \.csv"):
        read_table(tmp_path / "data.xlsx")


def test_a_folder_without_data_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(UsageError, match=r"no \.csv, \.jsonl, \.ndjson or \.parquet files"):
        read_table(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("bad.csv", b'a,b\n1,2\n"unterminated\n', "CSV"),
        ("bad.jsonl", b'{"a": 1\n', "JSON Lines"),
        ("bad.parquet", b"this is not parquet at all", "Parquet"),
        ("bad.csv.gz", b"not gzip", "CSV"),
    ],
)
def test_corrupt_files_are_usage_errors_naming_the_file(
    tmp_path: Path, name: str, content: bytes, fmt: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UsageError) as err:
        read_table(tmp_path / name)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / name}: cannot be read as {fmt}: ")
    assert message.endswith(f"(check that the file is valid {fmt})")
    assert "\n" not in message


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl", "empty.parquet"])
def test_empty_files_are_usage_errors(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(UsageError, match="the file is empty"):
        read_table(tmp_path / name)


def test_blank_csv_is_empty_but_a_header_only_csv_is_an_empty_window(tmp_path: Path) -> None:
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(UsageError, match="the file is empty"):
        read_table(tmp_path / "blank.csv")
    (tmp_path / "header.csv").write_text("x,plan\n")
    df = read_table(tmp_path / "header.csv")
    assert list(df.columns) == ["x", "plan"] and len(df) == 0


def test_format_of_knows_compound_suffixes() -> None:
    assert format_of("a/b/Log.CSV") == "csv"
    assert format_of("x.ndjson.gz") == "jsonl"
    assert format_of("x.pq") == "parquet"
    assert format_of("x.json") is None


STAMPS = pd.DataFrame(
    {
        "ts": ["2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-10T00:00:00+00:00"],
        "x": [1, 2, 3],
    }
)


def test_window_defaults_to_the_latest_timestamp() -> None:
    assert filter_window(STAMPS, "ts", timedelta(days=7))["x"].tolist() == [2, 3]


def test_window_ends_at_now_when_given_naive_meaning_utc() -> None:
    out = filter_window(STAMPS, "ts", timedelta(days=3), now=datetime(2026, 1, 6))
    assert out["x"].tolist() == [2]
    aware = datetime(2026, 1, 6, 1, tzinfo=timezone(timedelta(hours=1)))
    assert filter_window(STAMPS, "ts", timedelta(days=3), now=aware)["x"].tolist() == [2]


def test_window_accepts_epoch_seconds() -> None:
    df = pd.DataFrame({"t": [0, 3600, 7200], "x": [1, 2, 3]})
    assert filter_window(df, "t", timedelta(hours=1))["x"].tolist() == [3]


def test_window_on_an_unknown_or_unparseable_column_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"no column 'when' to take the window from"):
        filter_window(STAMPS, "when", timedelta(days=1))
    bad = pd.DataFrame({"ts": ["soon", "later"]})
    with pytest.raises(UsageError, match="holds no timestamps"):
        filter_window(bad, "ts", timedelta(days=1), source="logs.csv")
