"""Issue 11 §6: the PR and the audit trail say what happened."""

from __future__ import annotations

import json

import pytest

from conftest import Registry

ROLLBACK = "modelreg/rollback/churn/staging/v1.0.0"


@pytest.fixture
def reg(registry: Registry) -> Registry:
    """A registry with churn v1.0.0 and v1.1.0 registered and pushed."""
    registry.register("churn", 0, "--push", accuracy=0.90, f1=0.85)
    registry.register("churn", 1, "--push", accuracy=0.93, f1=0.88)
    return registry


def _merge(reg: Registry, branch: str) -> None:
    reg.ok("pr", "merge", branch)
    reg.git("pull", "-q", "--ff-only")


def _promote(reg: Registry, version: str) -> None:
    reg.ok("promote", "churn", version, "--to", "staging")
    _merge(reg, f"modelreg/promote/churn/staging/{version}")


def _dry_run_and_real_bodies(reg: Registry) -> tuple[dict[str, str], str]:
    dry = json.loads(
        reg.ok("rollback", "churn", "--stage", "staging", "--dry-run", "--json").output
    )
    reg.ok("rollback", "churn", "--stage", "staging")
    (pr,) = json.loads(reg.ok("pr", "list", "--json").output)
    return dry, pr["body"]


def test_rollback_dry_run_prints_the_body_of_a_pin_the_real_pr_gets(reg: Registry) -> None:
    """§6: when a revert would also undo unrelated changes, the dry run says "pins", as
    the PR then opened does (it used to say "Reverts …")."""
    _promote(reg, "v1.0.0")
    reg.write("models/churn/stages/staging.yaml", "version: v1.1.0\n")
    model_yaml = reg.root / "models/churn/model.yaml"
    model_yaml.write_text(model_yaml.read_text() + "# described by hand\n")
    reg.git("commit", "-qam", "promote and describe")
    reg.git("push", "-q", "origin", "main")
    dry, body = _dry_run_and_real_bodies(reg)
    assert dry["method"] == "edit"
    assert dry["body"].strip() == body
    assert "pins the version" in body and "Reverts" not in body


def test_rollback_dry_run_prints_the_body_of_a_revert_the_real_pr_gets(reg: Registry) -> None:
    """§6: a clean revert's dry-run body is the PR's body, "This reverts commit" included."""
    _promote(reg, "v1.0.0")
    _promote(reg, "v1.1.0")
    dry, body = _dry_run_and_real_bodies(reg)
    assert dry["method"] == "revert"
    assert dry["body"].strip() == body
    assert body.startswith("Reverts ") and "This reverts commit " in body
