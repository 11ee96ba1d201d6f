"""Immutability against a force-push: a clone that saw a record notices it rewritten.

"Immutability against a force-push": rewriting a registered record with `git push -f`
to origin/main was not caught: `validate --base origin/main` and `check` passed in the
clone that had the old record, since the merge-base moved with the rewrite. The clone
also compares with what it last saw of the default branch (its reflog). Branch
protection against force-pushes remains the real guard (docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Registry, git

RECORD = "models/churn/versions/v1.0.0.yaml"


def _force_push_rewrite(reg: Registry, *, delete: bool = False) -> Path:
    """Another clone rewrites churn v1.0.0's registration commit and force-pushes main."""
    other = reg.work / "other"
    git(reg.work, "clone", "-q", str(reg.origin), str(other))
    record = other / RECORD
    if delete:
        git(other, "rm", "-q", RECORD)
    else:
        record.write_text(record.read_text().replace("accuracy: 0.9", "accuracy: 0.99"))
    git(other, "commit", "-qa", "--amend", "--no-edit")
    git(other, "push", "-q", "-f", "origin", "main")
    return other


@pytest.mark.parametrize("delete", [False, True], ids=["changed", "deleted"])
def test_a_record_rewritten_by_a_force_push_fails_validate_and_check_in_a_clone_that_saw_it(
    registry: Registry, delete: bool
) -> None:
    """Immutability against a force-push: validate and check fail, naming the old commit."""
    registry.register("churn", 0, "--push", accuracy=0.9, f1=0.8)
    seen = registry.git("rev-parse", "HEAD").strip()
    _force_push_rewrite(registry, delete=delete)
    registry.git("fetch", "-q", "origin")
    registry.git("reset", "-q", "--hard", "origin/main")
    for command in ("validate", "check"):
        result = registry.run(command, "--base", "origin/main")
        assert result.exit_code == 1, (command, result.output)
        assert RECORD in result.output and "force-push" in result.output, result.output
        assert seen[:12] in result.output
    # A deliberate rewrite: the clone forgets what it saw, as docs/promotion.md says.
    registry.git("reflog", "expire", "--expire=now", "refs/remotes/origin/main")
    assert registry.run("validate", "--base", "origin/main").exit_code == 0


def test_a_clone_that_only_fast_forwarded_finds_nothing_rewritten(churn_pushed: Registry) -> None:
    """Immutability against a force-push: ordinary pulls raise no false alarm."""
    registry = churn_pushed
    other = registry.work / "other"
    git(registry.work, "clone", "-q", str(registry.origin), str(other))
    (other / "notes.md").write_text("more\n")
    git(other, "add", "notes.md")
    git(other, "commit", "-qm", "notes")
    git(other, "push", "-q", "origin", "main")
    registry.git("pull", "-q")
    result = registry.run("validate", "--base", "origin/main")
    assert result.exit_code == 0, result.output
