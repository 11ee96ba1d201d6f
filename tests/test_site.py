"""`modelreg site`: static pages from the registry — stages, timeline with PRs, charts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import Prebuilt, Registry


def two_models(reg: Registry) -> None:
    """churn v1.0.0 → v1.1.0 in staging (one through a GitHub-style merge), fraud unserved."""
    reg.register("churn", 0, accuracy=0.88, f1=0.80)
    reg.register("churn", 1, accuracy=0.91, f1=0.84)
    reg.register("fraud", 0, accuracy=0.95, f1=0.7)
    reg.write("models/churn/stages/staging.yaml", "version: v1.0.0\n")
    reg.git("add", "-A")
    reg.git("commit", "-qm", "churn v1.0.0 to staging")
    reg.git("checkout", "-qb", "promote")
    reg.write("models/churn/stages/staging.yaml", "version: v1.1.0\n")
    reg.git("commit", "-qam", "churn v1.1.0 to staging")
    reg.git("checkout", "-q", "main")
    reg.git("merge", "-q", "--no-ff", "promote", "-m", "Merge pull request #12 from o/promote")
    reg.write("reports/churn/2026-12-01.html", "<!DOCTYPE html><title>r</title>\n")
    reg.git("add", "-A")
    reg.git("commit", "-qm", "drift report")


@pytest.fixture(scope="module")
def built(prebuilt: Prebuilt, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    reg = prebuilt.registry(two_models)
    out = tmp_path_factory.mktemp("site") / "public"
    result = reg.ok(
        "site", "-o", str(out), "--pr-url", "https://github.com/o/r/pull/{number}", "--json"
    )
    return out, json.loads(result.output)


def test_site_writes_an_index_a_page_per_model_and_per_version(built: tuple[Path, dict]) -> None:
    out, facts = built
    assert facts["models"] == 2 and facts["versions"] == 3 and facts["reports"] == 1
    assert facts["pages"] == 1 + 2 + 3
    for rel in (
        "index.html",
        "models/churn/index.html",
        "models/churn/v1.1.0.html",
        "models/fraud/v1.0.0.html",
        "reports/churn/2026-12-01.html",
    ):
        assert (out / rel).is_file(), rel


def test_index_lists_every_model_with_its_stages_and_one_chart(built: tuple[Path, dict]) -> None:
    index = (built[0] / "index.html").read_text()
    assert 'staging: <a href="models/churn/v1.1.0.html">v1.1.0</a>' in index
    assert "not serving" in index  # fraud
    assert index.count('<figure class="chart"') == 2
    assert "<script" not in index and "http" not in index


def test_model_page_has_a_timeline_with_pr_links_and_metric_charts(
    built: tuple[Path, dict],
) -> None:
    page = (built[0] / "models/churn/index.html").read_text()
    assert '<a href="https://github.com/o/r/pull/12">PR #12</a>' in page
    assert "assign: staging → v1.1.0 (was v1.0.0)" in page
    assert len(re.findall(r'<figure class="chart" data-metric="(\w+)"', page)) == 2
    assert 'href="../../reports/churn/2026-12-01.html"' in page


def test_version_page_shows_record_lineage_and_where_it_served(built: tuple[Path, dict]) -> None:
    page = (built[0] / "models/churn/v1.0.0.html").read_text()
    assert "sha256" in page and "accuracy" in page
    assert "assign: staging → v1.0.0" in page
    assert "serving now in</th><td>no stage" in page
