"""init → register → status → history → validate on real Git and real DVC."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import Prebuilt, Registry, git, make_registry, tree_state
from stagefiles import write_stages


def _promote_by_hand(reg: Registry, text: str, message: str, date: str | None = None) -> str:
    write_stages(reg.root, "churn", text)
    reg.git("add", "-A", "models/churn/stages")
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else None
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=reg.root, env=env, check=True)
    return reg.git("rev-parse", "HEAD").strip()


def test_init_scaffolds_once_and_a_second_run_changes_nothing(registry: Registry) -> None:
    assert (registry.root / "policies/default.yaml").exists()
    config = (registry.root / ".dvc/config").read_text()
    assert "analytics = False" in config and "storage" in config
    # GitHub folds the machine-made checkpoints in pull requests
    attr = registry.git("check-attr", "linguist-generated", "models/.stage-events/a.json")
    assert attr.strip().endswith("linguist-generated: true")
    commits = registry.git("rev-list", "--count", "HEAD").strip()
    before = tree_state(registry.root)
    result = registry.ok("init")
    assert "nothing changed" in result.output
    assert registry.git("rev-list", "--count", "HEAD").strip() == commits == "1"
    assert tree_state(registry.root) == before


def test_register_writes_a_record_that_agrees_with_the_dvc_pointer(registry: Registry) -> None:
    registry.register("churn", 0, "--sample", str(_sample(registry)))
    rec = yaml.safe_load((registry.root / "models/churn/versions/v1.0.0.yaml").read_text())
    pointer = yaml.safe_load(
        (registry.root / "models/churn/artifacts/v1.0.0/model.pkl.dvc").read_text()
    )
    assert rec["artifact"]["md5"] == pointer["outs"][0]["md5"]
    assert rec["artifact"]["size"] == pointer["outs"][0]["size"]
    assert rec["code_commit"] == registry.git("rev-parse", "HEAD~1").strip()
    assert [f["name"] for f in rec["signature"]["inputs"]] == ["tenure", "plan"]
    assert [f["type"] for f in rec["signature"]["inputs"]] == ["float", "category"]
    assert (registry.root / "models/churn/model.yaml").exists()
    # the artifact's bytes are in DVC's cache, not in Git
    assert "models/churn/artifacts/v1.0.0/model.pkl" not in registry.git("ls-files").split()
    assert registry.git("status", "--porcelain") == ""


def _sample(reg: Registry) -> Path:
    path = reg.work / "sample.csv"
    path.write_text("tenure,plan\n1.5,basic\n3,pro\n")
    return path


def test_pushed_versions_pull_byte_identical_into_a_fresh_clone(
    churn_pushed: Registry, tmp_path: Path
) -> None:
    registry = churn_pushed
    registry.register("churn", 1, "--push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(registry.origin), str(clone))
    subprocess.run([sys.executable, "-m", "dvc", "pull", "-q"], cwd=clone, check=True)
    for version, seed in (("v1.0.0", 0), ("v1.1.0", 1)):
        rel = f"models/churn/artifacts/{version}/model.pkl"
        original = (registry.work / f"churn-{seed}.pkl").read_bytes()
        assert (clone / rel).read_bytes() == original


def test_status_at_an_earlier_commit_equals_what_status_printed_then(registry: Registry) -> None:
    registry.register("churn", 0)
    registry.register("churn", 1)
    _promote_by_hand(registry, "staging:\n  version: v1.0.0\n", "Merge pull request #3 from a/b")
    then_text = registry.ok("status").output
    then_json = registry.ok("status", "--json").output
    then = registry.git("rev-parse", "HEAD").strip()
    _promote_by_hand(
        registry, "staging:\n  version: v1.1.0\n\nproduction:\n  version: v1.0.0\n", "promote"
    )
    assert registry.ok("status").output != then_text
    assert registry.ok("status", "--at", then).stdout == then_text
    assert registry.ok("status", "--at", then, "--json").stdout == then_json


def test_status_at_a_date_reads_the_registry_as_it_was(registry: Registry) -> None:
    registry.register("churn", 0)
    _promote_by_hand(registry, "staging:\n  version: v1.0.0\n", "one", date="2020-01-01T00:00:00")
    result = registry.ok("status", "--at", "2021-01-01", "--json")
    rows = json.loads(result.stdout)["rows"]
    assert [(r["stage"], r["version"]) for r in rows] == [("staging", "v1.0.0")]
    # stderr names the commit the date resolved to, its time, and how the date was read
    sha = registry.git("rev-parse", "HEAD").strip()
    assert f"status at 2021-01-01: commit {sha[:12]} of 2020-01-01T00:00:00" in result.stderr
    assert "before that date" in result.stderr
    by_rev = registry.ok("status", "--at", sha[:12]).stderr
    assert "of 2020-01-01T00:00:00" in by_rev and "before that date" not in by_rev


def test_status_shows_stage_rows_with_pr_and_the_unassigned_latest(registry: Registry) -> None:
    registry.register("churn", 0, accuracy=0.9)
    registry.register("churn", 1, accuracy=0.95)
    sha = _promote_by_hand(
        registry, "staging:\n  version: v1.0.0\n", "Merge pull request #12 from o/b"
    )
    rows = json.loads(registry.ok("status", "churn", "--json").output)["rows"]
    assert rows[0] == {
        **rows[0],
        "stage": "staging",
        "version": "v1.0.0",
        "pr": "#12",
        "commit": sha,
    }
    assert rows[0]["metrics"] == {"accuracy": 0.9}
    assert rows[1]["stage"] is None and rows[1]["version"] == "v1.1.0"


def test_history_follows_commit_order_not_the_clock(registry: Registry) -> None:
    registry.register("churn", 0)
    registry.register("churn", 1)
    _promote_by_hand(
        registry, "production:\n  version: v1.0.0\n", "first", date="2030-01-01T00:00:00"
    )
    _promote_by_hand(
        registry,
        "production:\n  version: v1.1.0\n",
        "Merge pull request #9 from x/y",
        date="2001-01-01T00:00:00",
    )
    events = json.loads(registry.ok("history", "churn", "--stage", "production", "--json").output)
    assert [(e["previous"], e["version"], e["pr"]) for e in events] == [
        (None, "v1.0.0", None),
        ("v1.0.0", "v1.1.0", "#9"),
    ]
    assert events[0]["author"] == "Test User"


def test_a_valid_registry_validates(registry: Registry) -> None:
    registry.register("churn", 0)
    _promote_by_hand(registry, "staging:\n  version: v1.0.0\n", "stage")
    result = registry.run("validate")
    assert result.exit_code == 0, result.output
    assert "registry is valid" in result.output


def _pushed(reg: Registry) -> None:
    reg.register("churn", 0)
    reg.register("churn", 1)
    _promote_by_hand(reg, "staging:\n  version: v1.1.0\n", "stage")
    reg.git("push", "-q", "origin", "main")


@pytest.fixture
def pushed(prebuilt: Prebuilt) -> Registry:
    """churn v1.0.0 and v1.1.0, v1.1.0 in staging, pushed: one build per worker, copied."""
    return prebuilt.registry(_pushed)


def _validate_reports(reg: Registry, needle: str, file: str, code: int = 1) -> None:
    before = tree_state(reg.root)
    result = reg.run("validate")
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.output.splitlines() if needle in ln]
    assert lines and lines[0].startswith(file + ":"), result.output
    assert tree_state(reg.root) == before


def test_validate_reports_an_edited_version_record(pushed: Registry) -> None:
    reg = pushed
    path = reg.root / "models/churn/versions/v1.0.0.yaml"
    path.write_text(path.read_text().replace("accuracy: 0.9", "accuracy: 0.99"))
    _validate_reports(
        reg, "was changed after it was registered", "models/churn/versions/v1.0.0.yaml"
    )


def test_validate_reports_an_edit_that_was_committed(pushed: Registry) -> None:
    reg = pushed
    path = reg.root / "models/churn/versions/v1.0.0.yaml"
    path.write_text(path.read_text().replace("accuracy: 0.9", "accuracy: 0.99"))
    reg.git("commit", "-qam", "tamper")
    _validate_reports(reg, "was changed", "models/churn/versions/v1.0.0.yaml")


def test_validate_reports_a_deleted_version_record(pushed: Registry) -> None:
    reg = pushed
    (reg.root / "models/churn/versions/v1.0.0.yaml").unlink()
    _validate_reports(reg, "was deleted", "models/churn/versions/v1.0.0.yaml")


def test_validate_reports_a_stage_pointing_at_an_unknown_version(pushed: Registry) -> None:
    reg = pushed
    reg.write("models/churn/stages/staging.yaml", "version: v9.0.0\n")
    _validate_reports(
        reg, "version: 'v9.0.0' is not a registered version", "models/churn/stages/staging.yaml"
    )


def test_validate_reports_a_deprecated_version_in_a_stage(pushed: Registry) -> None:
    reg = pushed
    spec = reg.root / "models/churn/model.yaml"
    spec.write_text(spec.read_text() + "deprecated:\n  v1.1.0: leaks labels\n")
    _validate_reports(reg, "is deprecated", "models/churn/stages/staging.yaml")


def test_validate_reports_malformed_yaml_with_exit_2(pushed: Registry) -> None:
    reg = pushed
    reg.write("models/churn/stages/staging.yaml", "version: [v1.0.0\n")
    _validate_reports(reg, "not valid YAML", "models/churn/stages/staging.yaml", code=2)


def test_validate_reports_a_schema_error_with_the_key_path(pushed: Registry) -> None:
    reg = pushed
    reg.write("models/churn/stages/staging.yaml", "versoin: v1.0.0\n")
    _validate_reports(reg, "unknown key 'versoin'", "models/churn/stages/staging.yaml")


def test_validate_reports_a_wrong_md5(pushed: Registry) -> None:
    reg = pushed
    pointer = reg.root / "models/churn/artifacts/v1.1.0/model.pkl.dvc"
    data = yaml.safe_load(pointer.read_text())
    data["outs"][0]["md5"] = hashlib.md5(b"evil").hexdigest()
    pointer.write_text(yaml.safe_dump(data))
    _validate_reports(reg, "artifact.md5", "models/churn/versions/v1.1.0.yaml")


def test_validate_reports_every_problem_at_once(pushed: Registry) -> None:
    reg = pushed
    reg.write("models/churn/stages/staging.yaml", "version: v9.0.0\n")
    (reg.root / "models/churn/versions/v1.0.0.yaml").unlink()
    result = reg.run("validate", "--json")
    problems = json.loads(result.output)["problems"]
    assert result.exit_code == 1 and len(problems) == 2


def test_validate_base_checks_only_what_changed(pushed: Registry) -> None:
    reg = pushed
    reg.git("checkout", "-q", "-b", "feature")
    reg.register("churn", 2)
    result = reg.run("validate", "--base", "origin/main", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert report["incremental"] and report["files_checked"] == 3  # record, model, staging


def test_validate_base_catches_a_tampered_record_on_the_branch(pushed: Registry) -> None:
    reg = pushed
    reg.git("checkout", "-q", "-b", "feature")
    path = reg.root / "models/churn/versions/v1.0.0.yaml"
    path.write_text(path.read_text().replace("f1: 0.85", "f1: 0.95"))
    reg.git("commit", "-qam", "tamper")
    result = reg.run("validate", "--base", "origin/main")
    assert result.exit_code == 1
    assert "models/churn/versions/v1.0.0.yaml: version record was changed" in result.output


def test_register_bad_input_is_one_line_exit_2_and_leaves_the_tree(registry: Registry) -> None:
    registry.register("churn", 0)
    bad_metrics = registry.work / "bad.json"
    bad_metrics.write_text('{"accuracy": "high"}')
    art = registry.artifact("x", 3)
    good = [
        "register",
        "churn",
        "--artifact",
        str(art),
        "--metrics",
        str(registry.metrics("m", a=1)),
    ]
    cases = [
        ["register", "Churn!", "--artifact", str(art), "--metrics", str(bad_metrics)],
        ["register", "churn", "--artifact", "missing.pkl", "--metrics", str(bad_metrics)],
        ["register", "churn", "--artifact", str(art), "--metrics", str(bad_metrics)],
        [*good, "--version", "v1.0.0"],
        [*good, "--version", "1.0"],
    ]
    for args in cases:
        before = tree_state(registry.root)
        result = registry.run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("modelreg: error: ")
        assert tree_state(registry.root) == before


def test_register_keeps_other_staged_changes_out_of_its_commit(registry: Registry) -> None:
    registry.write("notes.txt", "wip\n")
    registry.git("add", "notes.txt")
    registry.register("churn", 0)
    assert "notes.txt" not in registry.git("show", "--name-only", "--format=", "HEAD")
    assert registry.git("diff", "--cached", "--name-only").strip() == "notes.txt"


def test_register_rerun_after_a_failed_push_completes_it(registry: Registry) -> None:
    hook = registry.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are paused' >&2\nexit 1\n")
    hook.chmod(0o755)
    art, met = registry.artifact("c", 0), registry.metrics("c", accuracy=0.9)
    args = ["register", "churn", "--artifact", str(art), "--metrics", str(met), "--push"]
    failed = registry.run(*args)
    assert failed.exit_code == 4 and "registered churn v1.0.0 locally" in failed.stderr
    hook.unlink()
    again = registry.run(*args)
    assert again.exit_code == 0 and "already registered churn v1.0.0 and pushed" in again.output
    assert git(registry.origin, "rev-parse", "main") == registry.git("rev-parse", "HEAD")


def test_unknown_model_is_one_clear_line(registry: Registry) -> None:
    registry.register("churn", 0)
    for args in (["status", "nope"], ["history", "nope"]):
        result = registry.run(*args)
        assert result.exit_code == 2
        assert result.stderr.strip() == "modelreg: error: unknown model 'nope' (known: churn)"


def test_schema_prints_each_kind_as_json_schema(registry: Registry) -> None:
    for kind in ("model", "version", "stage", "stages", "policy"):
        doc = json.loads(registry.ok("schema", kind).output)
        assert doc["$schema"].startswith("https://json-schema.org/")


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import sys, modelreg.cli; "
        "heavy = [m for m in ('sklearn', 'scipy', 'pandas', 'dvc', 'github3', 'jsonschema') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_outside_a_git_repository_is_a_usage_error(tmp_path: Path) -> None:
    reg = make_registry(tmp_path, init=False)
    result = reg.run("status", cwd=tmp_path)
    assert result.exit_code == 2
    assert "is not inside a Git repository" in result.stderr


def test_a_remote_inside_the_repository_ships_its_objects_in_the_commit(tmp_path: Path) -> None:
    reg = make_registry(tmp_path, init=False)
    reg.ok("init", "--dvc-remote", str(reg.root / ".dvc" / "storage"))
    reg.git("push", "-q", "-u", "origin", "main")
    reg.register("churn", 0, "--push")
    committed = reg.git("show", "--name-only", "--format=", "HEAD").split()
    rec = yaml.safe_load((reg.root / "models/churn/versions/v1.0.0.yaml").read_text())
    md5 = rec["artifact"]["md5"]
    assert f".dvc/storage/files/md5/{md5[:2]}/{md5[2:]}" in committed
    assert reg.git("status", "--porcelain") == ""
