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
    assert page.count("<svg") == 4  # one chart per column, drifted or not
    assert page.count('<figure class="chart') == 4
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
    plan_figure = page[page.index('data-column="plan|tier"') :]
    assert "category shares of plan|tier" in plan_figure
    assert "enterprise &amp; co (new)" in plan_figure  # a new category is marked
    tenure = page[page.index('data-column="tenure"') :]
    assert "histogram of tenure" in tenure
    # tenure*1.3+5 goes beyond the reference max
    assert re.search(r"current outside the reference range: \d+\.\d%", tenure)


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
    page = render(ok, "html")
    assert page.count("<svg") == 1  # the column is charted though it did not drift
    assert "no drift: wasserstein" in page


def test_unknown_format_is_a_usage_error(report: DriftReport) -> None:
    with pytest.raises(UsageError, match=r"--format: 'pdf' is not a report format"):
        render(report, "pdf")


def test_html_puts_the_verdict_and_reasons_before_the_columns(report: DriftReport) -> None:
    page = render_html(report, title="churn v1.4.0 in production")
    assert "<h1>Drift report: churn v1.4.0 in production</h1>" in page
    assert page.count("Drift report") == 2  # <title> and <h1>, never "Drift report: Drift: …"
    verdict = page.index('class="verdict critical"')
    assert verdict < page.index('class="reasons"') < page.index("<h2>Columns</h2>")


def test_html_shows_reference_and_current_summary_statistics(report: DriftReport) -> None:
    tenure = next(c for c in report.columns if c.name == "tenure")
    assert tenure.reference_summary is not None and tenure.current_summary is not None
    ref_mean, cur_mean = tenure.reference_summary.mean, tenure.current_summary.mean
    assert ref_mean is not None and cur_mean is not None
    assert cur_mean == pytest.approx(ref_mean * 1.3 + 5, rel=1e-6)
    plan = next(c for c in report.columns if c.name == "plan|tier")
    assert plan.reference_summary is not None and plan.reference_summary.top == "basic"
    page = render_html(report)
    figure = page[page.index('data-column="tenure"') :]
    figure = figure[: figure.index("</figure>")]
    assert "<th>mean</th>" in figure and "<th>median</th>" in figure
    assert "outside the reference range" in figure


def test_html_names_the_sources_and_when_it_was_made() -> None:
    from modelreg.monitoring.report import Sources

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=600)})
    cur = pd.DataFrame(
        {
            "x": rng.normal(size=600),
            "timestamp": pd.date_range("2026-11-01", periods=600, freq="h", tz="UTC"),
        }
    )
    rep = compare(build_profile(ref), cur)
    assert rep.current_span == ("2026-11-01T00:00:00Z", "2026-11-25T23:00:00Z")
    src = Sources(
        reference="models/churn/artifacts/v1/profile.json",
        current="logs/",
        model="churn",
        version="v1",
        stage="production",
        window="30d",
        generated_at="2026-12-01T06:00:00Z",
    )
    page = render(rep, "html", sources=src)
    tail = page[page.index("<h2>Sources</h2>") :]
    for text in (
        "churn v1 (serving in production)",
        "models/churn/artifacts/v1/profile.json — 600 rows",
        "logs/ — 600 rows",
        "last 30d",
        "2026-11-01T00:00:00Z to 2026-11-25T23:00:00Z",
        "2026-12-01T06:00:00Z",
    ):
        assert text in tail
    assert report_from_json(render_json(rep)) == rep


def test_prediction_and_target_columns_get_their_own_sections() -> None:
    rng = np.random.default_rng(4)
    n = 2000
    ref = pd.DataFrame({"x": rng.normal(size=n), "prediction": rng.integers(0, 2, n)})
    ref["target"] = rng.integers(0, 2, n)
    cur = ref.copy()
    cur["prediction"] = (rng.random(n) < 0.8).astype(int)  # the model now says 1 far more often
    rep = compare(build_profile(ref), cur)
    roles = {c.name: c.role for c in rep.columns}
    assert roles == {"x": "feature", "prediction": "prediction", "target": "target"}
    page = render_html(rep)
    pred = page[page.index("<h2>Prediction drift</h2>") : page.index("<h2>Target drift</h2>")]
    assert 'data-column="prediction"' in pred and "drifted" in pred
    target = page[page.index("<h2>Target drift</h2>") :]
    assert 'data-column="target"' in target


def test_without_prediction_or_labels_the_sections_say_why(report: DriftReport) -> None:
    page = render_html(report)
    assert "The reference has no <code>prediction</code> column" in page
    assert "no label column" in page
