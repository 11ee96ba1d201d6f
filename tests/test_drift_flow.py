"""drift on the local forge: a shifted prediction log → critical → one retrain PR, updated."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from conftest import Prebuilt, Registry, git
from github_api import GitHubAPI
from modelreg.registry.workspace import Workspace
from modelreg.training.examples import add_batch, create, dataset, recalibrated
from reviewing import approve

pytestmark = pytest.mark.slow

# Fixed dates: every run trains on the same rows, so the retrain outcome is reproducible.
FIRST = datetime(2026, 3, 1, tzinfo=timezone.utc)
NEW = datetime(2026, 3, 15, tzinfo=timezone.utc)
RETRAIN = "modelreg/retrain/cancer"


@pytest.fixture
def prod(prebuilt: Prebuilt) -> Registry:
    """cancer v1.0.0 trained by its DVC pipeline and serving in production (a copy)."""
    return prebuilt.registry(serving_cancer)


def serving_cancer(reg: Registry) -> None:
    """Train cancer v1.0.0 by its DVC pipeline and promote it to production."""
    policy = reg.root / "policies/default.yaml"
    text = policy.read_text().replace(
        "  action: retrain_pr", "  critical_columns: [mean_radius]\n  action: retrain_pr"
    )
    policy.write_text(text.replace("window: {last: 90d}", "window: {last: 10d}"))
    reg.git("commit", "-qam", "mean_radius drift is critical; retrain on the last 10 days")
    create(Workspace.open(reg.root), model="cancer", kind="classifier", owner="@ml-team", now=FIRST)
    reg.git("push", "-q", "origin", "main")
    reg.ok("train", "cancer", "--register", "--push", "--window", "10")  # as the policy retrains
    for stage in ("staging", "production"):
        reg.ok("promote", "cancer", "v1.0.0", "--to", stage)
        approve(reg, f"modelreg/promote/cancer/{stage}/v1.0.0")
        reg.ok("pr", "merge", f"modelreg/promote/cancer/{stage}/v1.0.0")
        reg.git("pull", "-q")


def _log(reg: Registry, name: str, *, shift: float = 1.0, rows: int = 400) -> Path:
    """A prediction log: features, plus id, timestamp and prediction columns."""
    frame = dataset("classifier", now=FIRST).head(rows).drop(columns=["target"])
    frame = recalibrated(frame, shift)
    frame.insert(0, "id", range(len(frame)))
    frame["prediction"] = 1
    folder = reg.work / "logs"
    folder.mkdir(exist_ok=True)
    path = folder / name
    frame.to_csv(path, index=False)
    return folder


def _new_labelled_batch(reg: Registry) -> None:
    frame = recalibrated(dataset("classifier", now=NEW, days=7).head(300))
    add_batch(reg.root, "cancer", frame, "batch-0002")


def test_the_serving_version_has_a_stored_reference_profile(prod: Registry) -> None:
    rec = yaml.safe_load((prod.root / "models/cancer/versions/v1.0.0.yaml").read_text())
    assert rec["profile"] == "models/cancer/artifacts/v1.0.0/profile.json"
    assert (prod.root / (rec["profile"] + ".dvc")).exists()


def test_unshifted_production_data_is_ok(prod: Registry) -> None:
    result = prod.run("drift", "cancer", "--current", str(_log(prod, "a.csv")), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "ok"
    assert set(report["ignored_columns"]) == {"id", "timestamp", "prediction"}


def test_a_shifted_log_opens_one_retrain_pr_and_a_rerun_updates_it(prod: Registry) -> None:
    logs = _log(prod, "a.csv", shift=1.5)
    _new_labelled_batch(prod)
    result = prod.run("drift", "cancer", "--current", str(logs), "--open-pr")
    assert result.exit_code == 1, result.output
    assert "critical" in result.output and "mean_radius" in result.output, result.output
    assert f"opened pull request {RETRAIN}" in result.output
    record = prod.root / "models/cancer/versions/v1.1.0.yaml"
    assert record.exists(), result.output
    rec = yaml.safe_load(record.read_text())
    assert rec["trigger"] == "drift" and rec["parent"] == "v1.0.0"
    assert rec["lineage"]["pipeline"] == "pipelines/cancer"
    prs = json.loads(prod.ok("pr", "list", "--json").output)
    assert [p["head"] for p in prs] == [RETRAIN], result.output
    body = git(prod.origin, "log", "-1", "--format=%B", RETRAIN)
    assert "mean_radius" in body and "| accuracy |" in body and "(current)" in body
    assert "**Metrics on the same rows**" in body and body.count("| metric |") == 1
    first_tip = git(prod.origin, "rev-parse", RETRAIN)

    again = prod.run("drift", "cancer", "--current", str(logs), "--open-pr")
    assert again.exit_code == 1
    assert f"found open pull request {RETRAIN}" in again.output
    assert [p["head"] for p in json.loads(prod.ok("pr", "list", "--json").output)] == [RETRAIN]
    assert git(prod.origin, "rev-parse", RETRAIN) != first_tip  # the same PR, updated

    prod.ok("pr", "merge", RETRAIN)
    prod.git("pull", "-q")
    rows = json.loads(prod.ok("status", "cancer", "--json").output)["rows"]
    assert ("staging", "v1.1.0") in [(r["stage"], r["version"]) for r in rows]


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("missing.csv", "id,mean_radius\n1,2.0\n", "lacks column"),
        ("types.csv", None, "is not a number"),
        ("empty.csv", "", "empty"),
        ("header.csv", "id,mean_radius\n", "no rows"),
        ("broken.parquet", "not parquet", "cannot be read"),
    ],
)
def test_bad_logs_are_one_line_exit_2_and_nothing_is_opened(
    prod: Registry, name: str, content: str | None, needle: str
) -> None:
    folder = prod.work / "bad"
    folder.mkdir()
    if content is None:
        logs = _log(prod, "t.csv")
        frame_path = logs / "t.csv"
        text = frame_path.read_text().splitlines()
        header = text[0].split(",")
        col = header.index("mean_texture")
        cells = text[1].split(",")
        cells[col] = "abc"
        frame_path.write_text("\n".join([text[0], ",".join(cells), *text[2:]]) + "\n")
        path = frame_path
    else:
        path = folder / name
        path.write_text(content)
    versions = sorted((prod.root / "models/cancer/versions").iterdir())
    result = prod.run("drift", "cancer", "--current", str(path), "--open-pr")
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and result.stderr.count("\n") == 1
    assert sorted((prod.root / "models/cancer/versions").iterdir()) == versions
    assert prod.ok("pr", "list").output.strip() == "no open pull requests"


def test_the_html_report_is_one_self_contained_file(prod: Registry) -> None:
    out = prod.work / "report.html"
    logs = _log(prod, "a.csv", shift=1.5)
    prod.run("drift", "cancer", "--current", str(logs), "--format", "html", "-o", str(out))
    html = out.read_text()
    assert "<svg" in html and "mean_radius" in html and "http://" not in html


def _triggers(reg: Registry, text: str) -> None:
    policy = reg.root / "policies/default.yaml"
    policy.write_text(policy.read_text().replace("  triggers: [drift]", f"  triggers: {text}"))
    reg.git("commit", "-qam", "retrain triggers")
    reg.git("push", "-q", "origin", "main")


def test_the_data_volume_trigger_waits_for_enough_new_rows(
    prod: Registry, github_api: GitHubAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retrain PR goes to GitHub (the loopback API), so the same retrain also checks
    issue 11 §6: the PR body linked version records by relative path, which GitHub
    resolves against the PR's URL (a 404); they link at the pushed head commit."""
    for key, value in github_api.env().items():
        monkeypatch.setenv(key, value)
    _triggers(prod, "[drift, data-volume]\n  min_new_rows: 200")
    out = prod.ok("retrain", "cancer", "--trigger", "data-volume", "--forge", "github").output
    assert "0 new rows since the serving version, 200 needed" in out
    assert github_api.requests_to("POST", r"/pulls$") == []
    _new_labelled_batch(prod)
    out = prod.ok("retrain", "cancer", "--trigger", "data-volume", "--forge", "github").output
    assert "retrained cancer v1.1.0" in out
    rec = yaml.safe_load((prod.root / "models/cancer/versions/v1.1.0.yaml").read_text())
    assert rec["trigger"] == "data-volume"
    (create,) = github_api.requests_to("POST", r"/pulls$")
    assert create.json["head"] == RETRAIN
    head = git(prod.origin, "rev-parse", RETRAIN).strip()
    web = f"{github_api.origin}/{github_api.full_name}/blob/{head}"
    record = "models/cancer/versions/v1.1.0.yaml"
    assert f"[`{record}`]({web}/{record})" in create.json["body"]
    assert "](models/" not in create.json["body"]


def test_a_trigger_the_policy_does_not_name_is_refused(prod: Registry) -> None:
    result = prod.run("retrain", "cancer", "--trigger", "schedule")
    assert result.exit_code == 2
    assert "does not retrain on schedule (retrain.triggers: drift)" in result.stderr


def test_critical_drift_without_new_data_opens_nothing_and_leaves_the_tree_clean(
    prod: Registry,
) -> None:
    before = prod.git("rev-parse", "HEAD")
    result = prod.run(
        "drift", "cancer", "--current", str(_log(prod, "a.csv", shift=1.5)), "--open-pr"
    )
    assert result.exit_code == 1, result.output
    assert "retraining reproduced cancer v1.0.0" in result.output
    assert prod.ok("pr", "list").output.strip() == "no open pull requests"
    assert prod.git("status", "--porcelain") == "" and prod.git("rev-parse", "HEAD") == before


def test_an_unwritable_drift_output_is_one_line_and_exit_2(prod: Registry) -> None:
    """Issue 9: an unwritable `drift -o` path raised a traceback."""
    blocker = prod.work / "not-a-folder"
    blocker.write_text("a file where a folder is needed")
    logs = _log(prod, "today.csv")
    result = prod.run("drift", "cancer", "--current", str(logs), "-o", str(blocker / "r.html"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--output" in lines[0] and "cannot write" in lines[0]


def _policy(reg: Registry, old: str, new: str) -> None:
    policy = reg.root / "policies/default.yaml"
    text = policy.read_text()
    assert old in text
    policy.write_text(text.replace(old, new))
    reg.git("commit", "-qam", f"policy: {new.strip()}")
    reg.git("push", "-q", "origin", "main")


def _open_pr_changes_nothing(reg: Registry, needle: str) -> None:
    """Critical drift with --open-pr: exit 1, `needle` said, no version, branch or PR."""
    _new_labelled_batch(reg)
    versions = sorted((reg.root / "models/cancer/versions").iterdir())
    result = reg.run(
        "drift", "cancer", "--current", str(_log(reg, "a.csv", shift=1.5)), "--open-pr"
    )
    assert result.exit_code == 1, result.output
    assert needle in result.output, result.output
    assert sorted((reg.root / "models/cancer/versions").iterdir()) == versions
    assert reg.ok("pr", "list").output.strip() == "no open pull requests"
    assert RETRAIN not in git(reg.origin, "branch", "--list", RETRAIN)


def test_drift_action_none_reports_the_verdict_and_does_nothing_else(prod: Registry) -> None:
    _policy(prod, "  action: retrain_pr", "  action: none")
    _open_pr_changes_nothing(
        prod, "policies/default.yaml drift.action is none; no issue, no retrain"
    )


def test_drift_action_issue_on_the_local_forge_says_it_cannot_hold_one(prod: Registry) -> None:
    _policy(prod, "  action: retrain_pr", "  action: issue")
    _open_pr_changes_nothing(
        prod,
        "policies/default.yaml drift.action: issue asks for a tracking issue, and the local "
        "forge cannot hold issues; nothing opened, no retrain",
    )


def test_critical_drift_retrains_only_when_drift_is_a_retrain_trigger(prod: Registry) -> None:
    _triggers(prod, "[]")
    _open_pr_changes_nothing(
        prod, "policies/default.yaml retrain.triggers (none) does not include drift; no retrain"
    )


def test_drift_action_issue_opens_one_tracking_issue_on_github(
    prod: Registry, github_api: GitHubAPI
) -> None:
    from modelreg.forge.github import GitHubForge
    from modelreg.monitoring.check import check_drift
    from modelreg.training.retrain import act_on_drift

    _policy(prod, "  action: retrain_pr", "  action: issue")
    _new_labelled_batch(prod)
    versions = sorted((prod.root / "models/cancer/versions").iterdir())
    forge = GitHubForge.from_env(None, github_api.env(), sleep=lambda _: None)
    logs = _log(prod, "a.csv", shift=1.5)
    with Workspace.open(prod.root) as ws:
        for _ in range(2):  # a re-run updates the same issue
            outcome = act_on_drift(ws, forge, check_drift(ws, model="cancer", current=logs))
            assert (
                outcome.note == "drift critical for cancer: tracking issue #1 updated; no retrain"
            )
    (issue,) = github_api.plain_issues("open")
    assert issue.title == "modelreg: drift in cancer" and "mean_radius" in issue.body
    assert sorted((prod.root / "models/cancer/versions").iterdir()) == versions
    assert github_api.requests_to("POST", r"/pulls$") == []


def test_drift_writes_its_verdict_for_node_exporters_textfile_collector(prod: Registry) -> None:
    textfiles = prod.work / "textfiles"
    textfiles.mkdir()
    shifted = _log(prod, "shifted.csv", shift=1.5)
    args = ("drift", "cancer", "--current", str(shifted))
    result = prod.run(*args, "--textfile-dir", str(textfiles))
    assert result.exit_code == 1, result.output
    prom = (textfiles / "modelreg_drift.prom").read_text()
    assert "# TYPE modelreg_drift_status gauge" in prom
    assert 'modelreg_drift_status{model="cancer",stage="production"} 2' in prom
    report = prod.work / "out" / "report.json"
    report.parent.mkdir()
    assert prod.run(*args, "--format", "json", "-o", str(report)).exit_code == 1
    assert (report.parent / "modelreg_drift.prom").read_text() == prom  # next to the report
