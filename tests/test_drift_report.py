"""Rendering a DriftReport as text, markdown, JSON and self-contained HTML."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from modelreg.errors import UsageError
from modelreg.monitoring.compare import compare
from modelreg.monitoring.concept import concept_drift
from modelreg.monitoring.profile import build_profile
from modelreg.monitoring.render import (
    FORMATS,
    render,
    render_html,
    render_json,
    render_markdown,
    render_text,
    report_from_json,
)
from modelreg.monitoring.report import DriftReport
from modelreg.registry.drift_rules import DriftRules


@pytest.fixture(scope="module")
def report() -> DriftReport:
    """A warn-level report: one shifted numeric, one categorical with a new category."""
    rng = np.random.default_rng(0)
    n = 5000
    ref = pd.DataFrame(
        {
            "tenure": rng.gamma(2.0, 12.0, n),
            "monthly <fee>": rng.normal(50, 10, n),
            "plan|tier": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "age": rng.uniform(18, 90, n),
        }
    )
    cur = ref.sample(frac=1.0, random_state=1).reset_index(drop=True)
    cur["tenure"] = cur["tenure"] * 1.3 + 5
    cur.loc[:249, "plan|tier"] = "enterprise & co"
    cur["customer_id"] = np.arange(n)
    rules = DriftRules.from_dict({"critical_columns": ["age"]})
    return compare(build_profile(ref), cur, rules)


def test_the_fixture_report_has_the_drift_it_was_built_with(report: DriftReport) -> None:
    assert set(report.drifted) == {"tenure", "plan|tier"}
    assert report.verdict == "critical"  # 2 of 4 = 50 % ≥ 40 %
    assert report.ignored_columns == ("customer_id",)


def test_text_shows_the_verdict_reasons_and_one_line_per_column(report: DriftReport) -> None:
    text = render_text(report, title="churn v1.4.0")
    assert text.startswith("churn v1.4.0: CRITICAL: 2 of 4 columns drifted (50%)")
    for name in ("tenure", "monthly <fee>", "plan|tier", "age"):
        assert re.search(rf"^{re.escape(name)}\s", text, re.M)
    assert "ignored (not in the profile): customer_id" in text


def test_markdown_has_a_table_of_columns(report: DriftReport) -> None:
    md = render_markdown(report)
    lines = md.splitlines()
    header = "| column | kind | method | statistic | threshold | p (Holm) | drifted | findings |"
    start = lines.index(header)
    assert lines[start + 1] == "|---|---|---|---|---|---|---|---|"
    rows = lines[start + 2 : start + 6]
    assert [r.split(" | ")[0] for r in rows] == [
        "| `tenure`",
        "| `monthly <fee>`",
        "| `plan\\|tier`",
        "| `age`",
    ]
    assert all(r.count(" | ") == 7 for r in rows)  # escaped pipes keep the columns aligned
    assert "new: enterprise & co 5.0%" in md
    assert "**CRITICAL: 2 of 4 columns drifted (50%)**" in md


def test_html_is_one_self_contained_page_with_svg_charts(report: DriftReport) -> None:
    page = render_html(report, title="churn")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 2  # one chart per drifted column
    assert "http" not in page
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "<script" not in page and "<link" not in page
    assert "<style>" in page
    assert "monthly &lt;fee&gt;" in page and "monthly <fee>" not in page
    assert "enterprise &amp; co" in page


def test_html_bar_chart_lists_categories_and_histogram_notes_out_of_range(
    report: DriftReport,
) -> None:
    page = render_html(report)
    plan_figure = page[page.index("<code>plan|tier</code>") :]
    assert "category shares of plan|tier" in plan_figure
    assert "histogram of tenure" in page
    assert "current outside range" in page  # tenure*1.3+5 goes beyond the reference max


def test_json_round_trips_to_an_equal_report(report: DriftReport) -> None:
    text = render_json(report)
    assert report_from_json(text) == report
    data = json.loads(text)
    assert data["verdict"] == "critical"
    assert data["drifted"] == ["tenure", "plan|tier"]


def test_json_round_trips_with_concept_and_insufficient_reports() -> None:
    rng = np.random.default_rng(0)
    profile = build_profile(pd.DataFrame({"x": rng.normal(size=500)}))
    finding = concept_drift([1, 0] * 100, [1, 1] * 100, "classification", {"accuracy": 0.9})
    tiny = compare(profile, pd.DataFrame({"x": [1.0, 2.0]}), concept=finding)
    assert tiny.verdict == "insufficient"
    assert report_from_json(render_json(tiny)) == tiny
    for fmt in FORMATS:
        out = render(tiny, fmt)
        assert "only 2 rows" in out or "insufficient" in out.lower()


def test_every_format_renders_an_ok_report() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=1000)})
    ok = compare(build_profile(ref), pd.DataFrame({"x": rng.normal(size=1000)}))
    assert ok.verdict == "ok"
    assert "OK: 0 of 1 columns drifted" in render(ok, "text")
    assert "<svg" not in render(ok, "html")


def test_unknown_format_is_a_usage_error(report: DriftReport) -> None:
    with pytest.raises(UsageError, match=r"--format: 'pdf' is not a report format"):
        render(report, "pdf")
