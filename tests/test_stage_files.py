"""One file per stage: the revert property, the old one-file layout and `modelreg migrate`."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import Prebuilt, Registry, git, tree_state
from reviewing import approve

LEGACY = "models/churn/stages.yaml"
REFUSAL = (
    "modelreg: error: models/churn/stages.yaml: this registry uses the old one-file stage "
    "layout; run `modelreg migrate` (one commit) first"
)
CANARY = (
    "staging:\n  version: v1.1.0\n\n"
    "production:\n  version: v1.0.0\n  rollout:\n    candidate: v1.1.0\n    weight: 20\n"
    "    step: 1\n    started_at: '2026-11-20T09:00:00Z'\n    failures: 1\n"
)


def _build(reg: Registry) -> None:
    """churn v1.0.0 and v1.1.0 registered and pushed."""
    reg.register("churn", 0, "--push", accuracy=0.90, f1=0.85)
    reg.register("churn", 1, "--push", accuracy=0.93, f1=0.88)


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    """churn v1.0.0 and v1.1.0 registered and pushed."""
    return prebuilt.registry(_build)


def _merge(reg: Registry, branch: str) -> str:
    approve(reg, branch)
    reg.ok("pr", "merge", branch)
    reg.git("pull", "-q", "--ff-only")
    return reg.git("rev-parse", "HEAD").strip()


def _promote(reg: Registry, version: str, stage: str) -> str:
    reg.ok("promote", "churn", version, "--to", stage)
    return _merge(reg, f"modelreg/promote/churn/{stage}/{version}")


def _legacy(reg: Registry, text: str, message: str) -> str:
    """A commit of the one-file layout, as a registry written before per-stage files has."""
    reg.write(LEGACY, text)
    reg.git("add", LEGACY)
    reg.git("commit", "-qm", message)
    reg.git("push", "-q", "origin", "main")
    return reg.git("rev-parse", "HEAD").strip()


def _views(reg: Registry, at: str = "HEAD") -> tuple[object, object]:
    status = json.loads(reg.ok("status", "--at", at, "--json").stdout)
    status.pop("rev", None)
    history = json.loads(reg.ok("history", "churn", "--json").output)
    return status, history


def test_reverting_one_stage_promotion_applies_cleanly_after_another_stage_changed(
    reg: Registry,
) -> None:
    _promote(reg, "v1.0.0", "staging")
    production = _promote(reg, "v1.0.0", "production")
    _promote(reg, "v1.1.0", "staging")
    reg.git("revert", "--no-edit", "-m", "1", production)  # fails if the stages shared a file
    assert reg.git("status", "--porcelain") == ""
    assert not (reg.root / "models/churn/stages/production.yaml").exists()
    rows = json.loads(reg.ok("status", "churn", "--json").output)["rows"]
    assert [(r["stage"], r["version"]) for r in rows if r["stage"]] == [("staging", "v1.1.0")]
    assert reg.run("validate").exit_code == 0


def test_an_old_layout_registry_reads_but_refuses_its_first_write(reg: Registry) -> None:
    _legacy(reg, "staging:\n  version: v1.0.0\n", "Merge pull request #1 from a/b")
    rows = json.loads(reg.ok("status", "churn", "--json").output)["rows"]
    assert (rows[0]["stage"], rows[0]["version"], rows[0]["pr"]) == ("staging", "v1.0.0", "#1")
    assert reg.ok("history", "churn").output
    assert reg.run("validate").exit_code == 0
    before = tree_state(reg.root)
    for args in (
        ["promote", "churn", "v1.1.0", "--to", "staging"],
        ["rollback", "churn", "--stage", "staging", "--to", "v1.1.0"],
    ):
        result = reg.run(*args)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == REFUSAL
    assert tree_state(reg.root) == before
    assert git(reg.origin, "for-each-ref", "refs/heads/modelreg") == ""


def test_migrate_keeps_every_field_and_history_reads_across_it(reg: Registry) -> None:
    first = _legacy(reg, "staging:\n  version: v1.0.0\n", "Merge pull request #1 from a/b")
    _legacy(reg, CANARY, "Merge pull request #2 from c/d")
    before_first, before = _views(reg, first), _views(reg)
    out = reg.ok("migrate").output
    assert "moved 1 model(s) to one file per stage" in out
    assert reg.git("status", "--porcelain") == ""
    assert reg.git("show", "--name-status", "--format=", "HEAD").split() == [
        "D",
        LEGACY,
        "A",
        "models/churn/stages/production.yaml",
        "A",
        "models/churn/stages/staging.yaml",
    ]
    legacy = yaml.safe_load(reg.git("show", f"HEAD~1:{LEGACY}"))
    folder = reg.root / "models/churn/stages"
    assert {p.stem: yaml.safe_load(p.read_text()) for p in folder.glob("*.yaml")} == legacy
    assert _views(reg) == before  # the migration changes no stage: no event, same since/PR
    assert _views(reg, first)[0] == before_first[0]
    assert reg.run("validate").exit_code == 0


def test_migrate_a_second_time_does_nothing(reg: Registry) -> None:
    _legacy(reg, "staging:\n  version: v1.0.0\n", "stage by hand")
    reg.ok("migrate")
    head, before = reg.git("rev-parse", "HEAD"), tree_state(reg.root)
    assert reg.ok("migrate").output.strip() == "already current; nothing to do"
    assert reg.git("rev-parse", "HEAD") == head and tree_state(reg.root) == before


def test_after_migrate_writes_work_and_validate_base_spans_the_migration(reg: Registry) -> None:
    _legacy(reg, "staging:\n  version: v1.0.0\n", "stage by hand")
    reg.git("checkout", "-q", "-b", "migrate")
    reg.ok("migrate")
    result = reg.run("validate", "--base", "origin/main")
    assert result.exit_code == 0, result.output
    reg.git("checkout", "-q", "main")
    reg.git("merge", "-q", "--ff-only", "migrate")
    reg.git("push", "-q", "origin", "main")
    _promote(reg, "v1.1.0", "staging")
    events = json.loads(reg.ok("history", "churn", "--json").output)
    assert [(e["previous"], e["version"]) for e in events] == [
        (None, "v1.0.0"),
        ("v1.0.0", "v1.1.0"),
    ]


def test_migrate_refuses_uncommitted_edits_of_the_stages(reg: Registry) -> None:
    _legacy(reg, "staging:\n  version: v1.0.0\n", "stage by hand")
    reg.write(LEGACY, "staging:\n  version: v1.1.0\n")
    before, head = tree_state(reg.root), reg.git("rev-parse", "HEAD")
    result = reg.run("migrate")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"modelreg: error: {LEGACY}: uncommitted changes")
    assert tree_state(reg.root) == before and reg.git("rev-parse", "HEAD") == head


def test_migrate_moves_the_codeowners_block_to_the_stage_files(registry: Registry) -> None:
    model = registry.root / "models/churn/model.yaml"
    registry.register("churn", 0)
    lines = [ln for ln in model.read_text().splitlines() if not ln.startswith("owner:")]
    model.write_text("\n".join([*lines, "owner: ana"]) + "\n")
    registry.git("commit", "-qam", "owner")
    registry.ok("init")
    codeowners = registry.root / ".github/CODEOWNERS"
    codeowners.write_text(codeowners.read_text().replace("/stages/staging.yaml", "/stages.yaml"))
    registry.git("commit", "-qam", "CODEOWNERS of the old layout")
    _legacy(registry, "staging:\n  version: v1.0.0\n", "stage by hand")
    registry.ok("migrate")
    assert "/models/churn/stages/staging.yaml @ana" in codeowners.read_text()
    assert registry.git("status", "--porcelain") == ""


def test_schema_stage_describes_one_stage_file(registry: Registry) -> None:
    doc = json.loads(registry.ok("schema", "stage").output)
    assert doc["required"] == ["version"] and set(doc["properties"]) == {"version", "rollout"}


def test_validate_reports_files_under_stages_that_are_not_stage_files(registry: Registry) -> None:
    """A stray file beside the stage files is named once, and only in its own model."""
    registry.register("churn", 0)
    registry.register("iris", 1)
    registry.write("models/churn/stages/notes.txt", "not a stage\n")
    registry.write("models/churn/stages/old/staging.yaml", "version: v1.0.0\n")
    registry.git("add", "-A")
    registry.git("commit", "-qm", "stray files")
    result = registry.run("validate")
    assert result.exit_code == 1, result.output
    stray = [ln for ln in result.output.splitlines() if "not a stage file" in ln]
    assert sorted(ln.split(":")[0] for ln in stray) == [
        "models/churn/stages/notes.txt",
        "models/churn/stages/old/staging.yaml",
    ]
