"""Everyday use of the local forge's PRs (issue 13): `pr list` says what each PR is and
where its check stands; `pr merge` brings a clean checkout up to date."""

from __future__ import annotations

import json

import pytest

from conftest import Prebuilt, Registry
from modelreg.commands.pr import age, branch_parts
from reviewing import approve

STAGING = "modelreg/promote/churn/staging/v1.0.0"
PRODUCTION = "modelreg/promote/churn/production/v1.0.0"


def _registered(reg: Registry) -> None:
    reg.register("churn", 0, "--push", accuracy=0.90, f1=0.85)


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    """churn v1.0.0 registered and pushed, with a PR promoting it to staging."""
    registry = prebuilt.registry(_registered)
    registry.ok("promote", "churn", "v1.0.0", "--to", "staging")
    return registry


def test_pr_list_shows_model_stage_version_author_age_and_check_not_run(reg: Registry) -> None:
    """Before: `pr list` printed only BRANCH and TITLE."""
    out = reg.ok("pr", "list").output
    header, row = out.strip().splitlines()
    assert header.split() == [
        "BRANCH", "MODEL", "STAGE", "VERSION", "AUTHOR", "AGE", "CHECK", "TITLE"
    ]  # fmt: skip
    assert row.split()[:5] == [STAGING, "churn", "staging", "v1.0.0", "test@example.com"]
    assert "not run" in row
    item = json.loads(reg.ok("pr", "list", "--json").output)[0]
    assert (item["model"], item["stage"], item["version"]) == ("churn", "staging", "v1.0.0")
    assert item["check"] == "not run"


def test_a_refused_merge_records_a_failed_check_for_that_head(reg: Registry) -> None:
    reg.ok("promote", "churn", "v1.0.0", "--to", "production")
    assert reg.run("pr", "merge", PRODUCTION).exit_code == 1  # needs a review
    items = {i["head"]: i for i in json.loads(reg.ok("pr", "list", "--json").output)}
    assert items[PRODUCTION]["check"] == "failed"
    assert items[STAGING]["check"] == "not run"


def test_merge_fast_forwards_a_clean_checkout_of_the_base_branch(reg: Registry) -> None:
    """Before: `pr merge` left the checkout behind, so `status` was stale until a pull."""
    result = reg.ok("pr", "merge", STAGING)
    assert "fast-forwarded" in result.output
    assert reg.git("rev-parse", "HEAD") == reg.git("rev-parse", "origin/main")
    rows = json.loads(reg.ok("status", "churn", "--json").output)["rows"]
    assert {r["stage"]: r["version"] for r in rows}.get("staging") == "v1.0.0"


def test_merge_leaves_a_dirty_checkout_alone_and_says_what_to_run(reg: Registry) -> None:
    before = reg.git("rev-parse", "HEAD")
    readme = reg.root / "README.md"
    readme.write_text(readme.read_text() + "local edit\n")
    result = reg.ok("pr", "merge", STAGING)
    assert "uncommitted changes" in result.output and "git pull --ff-only" in result.output
    assert reg.git("rev-parse", "HEAD") == before
    assert "local edit" in readme.read_text()


def test_merge_on_another_branch_says_how_to_see_the_merge(reg: Registry) -> None:
    reg.git("checkout", "-q", "-b", "experiments")
    result = reg.ok("pr", "merge", STAGING)
    assert "your checkout is on experiments" in result.output
    assert reg.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "experiments"


def test_approved_merge_records_a_passed_check(reg: Registry) -> None:
    reg.ok("pr", "merge", STAGING)
    reg.ok("promote", "churn", "v1.0.0", "--to", "production")
    approve(reg, PRODUCTION)
    reg.ok("pr", "merge", PRODUCTION)
    assert json.loads(reg.ok("pr", "list", "--json").output) == []


@pytest.mark.parametrize(
    ("branch", "parts"),
    [
        ("modelreg/promote/churn/staging/v1.0.0", ("churn", "staging", "v1.0.0")),
        ("modelreg/retrain/churn", ("churn", "", "")),
        ("modelreg/rollout/churn/production/v2.0.0/step-2", ("churn", "production", "v2.0.0")),
        ("feature/x", ("", "", "")),
    ],
)
def test_branch_parts_reads_modelreg_branch_names(branch: str, parts: tuple[str, ...]) -> None:
    assert branch_parts(branch) == parts


def test_age_is_short_and_never_negative() -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert age(now, "2026-01-01T00:00:00+00:00") == "1d"
    assert age(now, "2026-01-01T23:00:00+00:00") == "1h"
    assert age(now, "2026-01-03T00:00:00+00:00") == "0s"


def test_check_on_a_pr_branch_records_its_verdict_for_pr_list(reg: Registry) -> None:
    """Before: only a refused or done `pr merge` recorded a check; `modelreg check` run on
    the PR's branch (what CI does) left `pr list` saying "not run"."""
    reg.git("fetch", "-q", "origin")
    reg.git("checkout", "-q", "-b", "review", f"origin/{STAGING}")
    assert reg.run("check").exit_code == 0
    items = {i["head"]: i for i in json.loads(reg.ok("pr", "list", "--json").output)}
    assert items[STAGING]["check"] == "passed"
