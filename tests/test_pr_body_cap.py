"""A PR body or comment never exceeds what GitHub accepts (issue 10, "Hostile and malformed
input": YAML anchors and aliases, and the PR-body cap)."""

from __future__ import annotations

import json

from conftest import Registry, git
from modelreg.forge.base import BODY_LIMIT, cap_body


def _table(name: str, rows: int) -> str:
    return f"| {name} | value |\n|---|---:|\n" + "\n".join(
        f"| {name}{i} | {i} |" for i in range(rows)
    )


def test_a_short_body_is_left_as_it_is() -> None:
    text = "**Metrics**\n\n" + _table("m", 10)
    assert cap_body(text) == text


def test_the_longest_table_is_cut_with_a_note_saying_how_many_rows_were_left_out() -> None:
    """Issue 10, YAML anchors and aliases: cap a PR body at 60,000 characters."""
    text = "**Metrics**\n\n" + _table("m", 5) + "\n\n**Params changed**\n\n" + _table("p", 20_000)
    text += "\n\nRecords: end."
    capped = cap_body(text)
    assert len(capped) <= BODY_LIMIT < 65_536
    assert "| m4 | 4 |" in capped and "| p0 | 0 |" in capped and capped.endswith("Records: end.")
    kept = sum(1 for line in capped.splitlines() if line.startswith("| p") and "|--" not in line)
    left = 20_000 - (kept - 1)  # minus the header row
    assert f"_… {left:,} more row(s) left out" in capped


def test_a_body_without_tables_is_cut_with_a_note() -> None:
    capped = cap_body("x" * 200_000)
    assert len(capped) <= BODY_LIMIT and capped.endswith("characters._")


def test_promote_caps_a_body_made_huge_by_params(churn_pushed: Registry) -> None:
    """Issue 10, YAML anchors and aliases: `promote` built an unbounded PR body."""
    registry = churn_pushed
    registry.ok("promote", "churn", "v1.0.0", "--to", "staging")
    registry.ok("pr", "merge", "modelreg/promote/churn/staging/v1.0.0")
    registry.git("pull", "-q", "--ff-only")
    params = registry.work / "params.json"
    params.write_text(json.dumps({f"feature_weight_{i}": i * 0.5 for i in range(8000)}))
    registry.register("churn", 1, "--push", "--params", str(params))
    out = registry.ok("promote", "churn", "v1.1.0", "--to", "staging", "--json").output
    body = json.loads(out)["body"]
    assert len(body) <= BODY_LIMIT and "more row(s) left out" in body
    message = git(
        registry.origin, "log", "-1", "--format=%B", "modelreg/promote/churn/staging/v1.1.0"
    )
    assert len(message) <= BODY_LIMIT + 200
