"""`drift` without ceremony: two files and no registry, a model that serves nowhere yet,
and outcomes joined from a labels file (serve's feedback JSON Lines, or a CSV)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Prebuilt, Registry
from modelreg.cli import cli
from modelreg.monitoring.labels import join_labels, key_text, labels_from_frame
from modelreg.serving.predlog import Batch, Feedback, LogWriter

T0 = 1_780_000_000.0  # a fixed time, so the logs' file names and stamps are reproducible


def run(cwd: Path, *args: str) -> Result:
    """The CLI in-process, from `cwd`."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def frame(n: int, shift: float, *, start: int = 0, wrong: float = 0.1, seed: int = 0) -> Any:
    """Two features, a prediction, and the true outcome (`wrong` share mispredicted)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    prediction = (x > 0).astype(int)
    flip = rng.random(n) < wrong
    return pd.DataFrame(
        {
            "id": range(start, start + n),
            "x": x.round(6),
            "plan": rng.choice(["basic", "pro"], n),
            "prediction": prediction,
            "outcome": np.where(flip, 1 - prediction, prediction),
        }
    )


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """ref.csv and cur.csv (x shifted by one σ, five times the errors) and labels.csv,
    in a folder that is no Git repository."""
    ref = frame(300, 0.0, wrong=0.05, seed=1)
    cur = frame(300, 1.0, start=1000, wrong=0.25, seed=2)
    ref.drop(columns="outcome").to_csv(tmp_path / "ref.csv", index=False)
    cur.drop(columns="outcome").to_csv(tmp_path / "cur.csv", index=False)
    labels = pd.concat([ref, cur])[["id", "outcome"]].rename(columns={"outcome": "label"})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path


def test_two_files_are_compared_with_no_registry_and_no_model(plain: Path) -> None:
    args = ("drift", "--reference", "ref.csv", "--current", "cur.csv", "--format", "json")
    result = run(plain, *args, "--key", "id")  # the id column: never compared
    assert result.exit_code == 1, result.output  # x and prediction: 2 of 3 is critical
    report = json.loads(result.output)
    assert report["drifted"] == ["x", "prediction"] and report["verdict"] == "critical"
    assert sorted(c["name"] for c in report["columns"]) == ["plan", "prediction", "x"]
    assert report["ignored_columns"] == ["id"]
    assert not (plain / ".git").exists() and report["labels"] is None


def test_without_a_model_the_reference_is_required_and_registry_options_refused(
    plain: Path,
) -> None:
    result = run(plain, "drift", "--current", "cur.csv")
    assert result.exit_code == 2 and "--reference PATH" in result.output, result.output
    for extra in (["--open-pr"], ["--stage", "production"], ["--textfile-dir", "prom"]):
        result = run(plain, "drift", "--reference", "ref.csv", "--current", "cur.csv", *extra)
        assert result.exit_code == 2 and "needs MODEL" in result.output, result.output


def test_a_csv_of_labels_joins_on_the_key_for_concept_drift_against_the_reference(
    plain: Path,
) -> None:
    args = ("drift", "--reference", "ref.csv", "--current", "cur.csv", "--format", "json")
    result = run(plain, *args, "--labels", "labels.csv", "--key", "id")
    report = json.loads(result.output)
    concept = report["concept"]
    assert concept["baseline"] == "reference" and concept["metric"] == "accuracy"
    assert concept["registered"] == pytest.approx(0.95, abs=0.03)  # measured on ref.csv
    assert concept["live"] == pytest.approx(0.75, abs=0.05)
    assert concept["severity"] == "critical" and result.exit_code == 1
    assert report["labels"] == {
        "source": "labels.csv",
        "key": "id",
        "labels": 600,
        "duplicates": 0,
        "matched": 300,
        "unlabelled": 0,
        "unmatched": 0,
        "matched_reference": 300,
    }
    # the key and the joined labels are not judged as columns
    assert {"id", "label"} <= set(report["ignored_columns"])


def test_bad_key_is_exit_2_naming_the_file_and_the_column(plain: Path) -> None:
    args = ("drift", "--reference", "ref.csv", "--current", "cur.csv", "--labels")
    result = run(plain, *args, "labels.csv", "--key", "customer")
    assert result.exit_code == 2
    assert "--labels labels.csv: no column 'customer'" in result.output, result.output
    (plain / "by_customer.csv").write_text("customer,label\n1,0\n")
    result = run(plain, *args, "by_customer.csv", "--key", "customer")
    assert result.exit_code == 2
    assert "--current cur.csv: no column 'customer'" in result.output, result.output
    (plain / "nolabel.csv").write_text("id,outcome\n1,0\n")
    result = run(plain, *args, "nolabel.csv", "--key", "id")
    assert result.exit_code == 2 and "no label column" in result.output, result.output
    pd.read_csv(plain / "cur.csv").drop(columns="prediction").to_csv(plain / "np.csv")
    result = run(plain, *args[:-2], "np.csv", "--labels", "labels.csv", "--key", "id")
    assert result.exit_code == 2 and "no 'prediction' column" in result.output, result.output


def test_unmatched_and_duplicate_keys_are_counted_and_the_last_label_wins(plain: Path) -> None:
    labels = pd.read_csv(plain / "labels.csv")
    cur = labels[labels["id"] >= 1000]
    stale = cur.assign(label=1 - cur["label"])  # every current label, wrong, given first
    extra = pd.DataFrame({"id": [5000, 5001], "label": [0, 1]})  # no row has these
    pd.concat([stale, cur, extra]).to_csv(plain / "late.csv", index=False)
    args = ("drift", "--reference", "ref.csv", "--current", "cur.csv", "--format", "json")
    report = json.loads(run(plain, *args, "--labels", "late.csv", "--key", "id").output)
    join = report["labels"]
    assert (join["labels"], join["duplicates"], join["unmatched"]) == (602, 300, 2)
    assert join["matched"] == 300 and join["matched_reference"] == 0
    # the later (right) labels won: accuracy is ~0.75, not ~0.25; no reference baseline
    assert report["concept"]["live"] == pytest.approx(0.75, abs=0.05)
    assert report["concept"]["severity"] == "insufficient"
    assert "no baseline" in report["concept"]["reason"]
    notes = " ".join(report["reasons"])
    assert "2 of 302 keys in late.csv match no row" in notes
    assert "the last label wins" in notes


def test_html_report_names_files_row_counts_and_labels(plain: Path) -> None:
    args = ("drift", "--reference", "ref.csv", "--current", "cur.csv", "--format", "html")
    result = run(plain, *args, "--labels", "labels.csv", "--key", "id", "-o", "r.html")
    assert result.exit_code == 1 and "report written to r.html" in result.output
    page = (plain / "r.html").read_text()
    assert "<title>Drift report: cur.csv against ref.csv</title>" in page
    sources = page[page.index("<h2>Sources</h2>") :]
    for text in ("ref.csv — 300 rows", "cur.csv — 300 rows", "the defaults (no model"):
        assert text in sources, text
    assert "labels.csv joined on id: 600 labels; 300 of 300 current rows labelled" in sources
    assert "(on the reference 0." in page  # the concept baseline says where it came from
    assert "Drift report: Drift" not in page


def test_labels_written_as_text_meet_numeric_predictions(plain: Path) -> None:
    labels = pd.read_csv(plain / "labels.csv")
    lines = [json.dumps({"id": int(i), "label": str(v)}) for i, v in labels.values]
    (plain / "text.jsonl").write_text("\n".join(lines) + "\n")  # "1", as some clients send
    args = ("drift", "--reference", "ref.csv", "--current", "cur.csv", "--key", "id")
    report = json.loads(run(plain, *args, "--labels", "text.jsonl", "--format", "json").output)
    assert report["concept"]["live"] == pytest.approx(0.75, abs=0.05)
    lines = [json.dumps({"id": int(i), "label": "yes" if v else "no"}) for i, v in labels.values]
    (plain / "words.jsonl").write_text("\n".join(lines) + "\n")
    result = run(plain, *args, "--labels", "words.jsonl")
    assert result.exit_code == 2, result.output  # was an internal error from scikit-learn
    assert "labels are text (e.g. " in result.output
    assert "but predictions are numbers" in result.output


# --------------------------------------------------------------------------- serve's logs


def write_log(folder: Path, rows: Any, ts: float, *, per_request: int = 1) -> list[str]:
    """Rows as serve logs them (LogWriter), `per_request` rows per request; their ids."""
    writer = LogWriter(folder)
    ids = []
    for i in range(0, len(rows), per_request):
        chunk = rows.iloc[i : i + per_request]
        rid = f"req-{int(chunk['id'].iloc[0])}"
        ids.append(rid)
        writer.put(
            Batch(
                ts=ts + i,
                model="churn",
                stage="production",
                request_id=rid,
                features=["x", "plan"],
                rows=chunk[["x", "plan"]].values.tolist(),
                versions=["v1.0.0"] * len(chunk),
                roles=["stable"] * len(chunk),
                predictions=chunk["prediction"].tolist(),
            )
        )
    writer.drain()
    writer.close()
    return ids


def test_serve_feedback_json_lines_join_on_request_id(tmp_path: Path) -> None:
    ref = frame(300, 0.0, wrong=0.05, seed=1)
    cur = frame(300, 0.0, start=1000, wrong=0.25, seed=2)
    ref_ids = write_log(tmp_path / "ref", ref, T0)
    cur_ids = write_log(tmp_path / "cur", cur, T0 + 86_400, per_request=3)
    feedback = LogWriter(tmp_path / "fb")
    for i, rid in enumerate(ref_ids):  # one label per one-row request
        feedback.put(Feedback(T0 + 10_000 + i, rid, int(ref["outcome"].iloc[i])))
    for i, rid in enumerate(cur_ids):  # a list of labels for each three-row request
        labels = cur["outcome"].iloc[3 * i : 3 * i + 3].tolist()
        stage = ("churn", "production", "v1.0.0", "stable")
        feedback.put(Feedback(T0 + 90_000 + i, rid, labels, *stage))
    feedback.put(Feedback(T0 + 99_000, "req-unknown", 1))
    feedback.drain()
    feedback.close()
    logs = tmp_path / "ref" / "churn" / "production", tmp_path / "cur" / "churn" / "production"
    labels_dir = tmp_path / "fb"  # feedback/ (unmatched) and churn/production/feedback/
    files = sorted(labels_dir.rglob("*.jsonl"))
    merged = tmp_path / "feedback.jsonl"
    merged.write_text("".join(f.read_text() for f in files))
    result = run(
        tmp_path,
        "drift",
        "--reference",
        str(logs[0]),
        "--current",
        str(logs[1]),
        "--labels",
        str(merged),
        "--format",
        "json",
    )
    report = json.loads(result.output)
    join = report["labels"]
    assert join["key"] == "request_id" and join["labels"] == 401
    assert (join["matched"], join["matched_reference"], join["unmatched"]) == (300, 300, 1)
    concept = report["concept"]
    assert concept["registered"] == pytest.approx(0.95, abs=0.03)
    assert concept["live"] == pytest.approx(0.75, abs=0.05)
    assert concept["severity"] == "critical" and result.exit_code == 1
    # the log's bookkeeping columns are not judged; the features and prediction are
    assert sorted(c["name"] for c in report["columns"]) == ["plan", "prediction", "x"]
    assert report["drifted"] == []


# --------------------------------------------------------------------------- a registry


def registered_churn(reg: Registry) -> None:
    """churn v1.0.0 registered with a signature (x, plan) and accuracy 0.9; no stage."""
    sample = reg.work / "sample.csv"
    frame(5, 0.0)[["x", "plan"]].to_csv(sample, index=False)
    met = reg.metrics("churn", accuracy=0.9)
    art = reg.artifact("churn")
    reg.ok(
        "register", "churn", "--artifact", str(art), "--metrics", str(met), "--sample", str(sample)
    )


@pytest.fixture
def unserved(prebuilt: Prebuilt, plain: Path) -> Iterator[Registry]:
    """A copy of the registry `registered_churn` builds, with the plain files in work/."""
    reg = prebuilt.registry(registered_churn)
    for name in ("ref.csv", "cur.csv", "labels.csv"):
        (reg.work / name).write_bytes((plain / name).read_bytes())
    yield reg


def test_a_registered_model_that_serves_nowhere_is_checked_against_the_reference(
    unserved: Registry,
) -> None:
    w = unserved.work
    args = ("drift", "churn", "--reference", str(w / "ref.csv"), "--current", str(w / "cur.csv"))
    result = unserved.run(*args, "--format", "json")
    assert result.exit_code == 1, result.output  # was 2: "churn serves in no stage yet"
    report = json.loads(result.output)
    assert [c["name"] for c in report["columns"]] == ["x", "plan"]  # the signature's
    assert report["drifted"] == ["x"]
    # labels: judged against the metric registered with the newest version
    result = unserved.run(
        *args, "--labels", str(w / "labels.csv"), "--key", "id", "--format", "html"
    )
    assert "churn v1.0.0 (serves in no stage)" in result.output
    assert "(registered 0.9, allowed drop 0.05)" in result.output
    # without --reference there is still nothing to compare with
    result = unserved.run("drift", "churn", "--current", str(w / "cur.csv"))
    assert result.exit_code == 2 and "serves in no stage yet" in result.output
    assert "--reference PATH" in result.output
    result = unserved.run(*args, "--open-pr")
    assert result.exit_code == 2 and "--open-pr: churn serves in no stage yet" in result.output
    result = unserved.run(*args, "--textfile-dir", str(w / "prom"))
    assert result.exit_code == 2 and "--textfile-dir: churn serves in no stage" in result.output


# --------------------------------------------------------------------------- properties

records = st.lists(
    st.tuples(st.integers(0, 12), st.one_of(st.integers(0, 3), st.sampled_from(["a", "b"]))),
    max_size=40,
)
row_keys = st.lists(st.integers(0, 15), max_size=40)


@settings(max_examples=50)
@given(records, row_keys, st.sampled_from(["int", "float", "str"]))
def test_join_gives_each_row_the_last_label_of_its_key(
    recs: list[tuple[int, Any]], keys: list[int], form: str
) -> None:
    cast = {"int": int, "float": float, "str": str}[form]
    labels_frame = pd.DataFrame(recs, columns=["id", "label"], dtype=object)
    labels = labels_from_frame(labels_frame, "id", source="l.csv")
    last = {str(k): v for k, v in recs}  # a dict keeps the last value given per key
    assert dict(labels.by_key) == last
    assert labels.records == len(recs) and labels.duplicates == len(recs) - len(last)
    joined = join_labels([cast(k) for k in keys], labels)  # 7, 7.0 and "7" are one key
    assert joined.values == [last.get(str(k)) for k in keys]
    assert joined.matched == sum(str(k) in last for k in keys)
    assert joined.keys == {str(k) for k in keys} & set(last)


@settings(max_examples=30)  # pandas parses the stamps: slow per example
@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.randoms())
def test_the_latest_timestamp_wins_whatever_the_file_order(keys: list[int], rnd: Any) -> None:
    stamps = [f"2026-12-01T00:00:{i:02d}Z" for i in range(len(keys))]
    rows = list(zip(keys, range(len(keys)), stamps, strict=True))
    latest = {str(k): label for k, label, _ in rows}
    rnd.shuffle(rows)
    frame_ = pd.DataFrame(rows, columns=["request_id", "label", "timestamp"])
    assert dict(labels_from_frame(frame_, "request_id", source="f").by_key) == latest


@given(st.integers(-(2**53), 2**53))
def test_a_key_is_the_same_as_int_float_and_text(n: int) -> None:
    assert key_text(n) == key_text(float(n)) == key_text(str(n)) == key_text(np.int64(n))
    assert key_text(float("nan")) is None and key_text(None) is None


@settings(max_examples=50)
@given(st.lists(st.integers(0, 3), max_size=20), st.lists(st.integers(0, 9), max_size=8))
def test_a_list_label_is_spread_over_its_keys_rows_in_order(
    keys: list[int], spread: list[int]
) -> None:
    labels = labels_from_frame(
        pd.DataFrame({"request_id": ["r"], "label": [spread]}), "request_id", source="f"
    )
    rows = ["r" if k == 0 else f"x{k}" for k in keys]
    values = join_labels(rows, labels).values
    got = [v for r, v in zip(rows, values, strict=True) if r == "r"]
    want = spread[: len(got)] + [None] * max(len(got) - len(spread), 0)
    assert got == want
    assert all(v is None for r, v in zip(rows, values, strict=True) if r != "r")
