"""Consumers of the registry: `status --all`, `show`."""

from __future__ import annotations

import json

import pytest

from conftest import Prebuilt, Registry
from modelreg.registry.workspace import Workspace


def _three_versions(reg: Registry) -> None:
    reg.register("churn", 0, accuracy=0.90, f1=0.85)
    reg.register("churn", 1, accuracy=0.92, f1=0.86)
    reg.register("churn", 2, accuracy=0.91, f1=0.88)
    reg.git("push", "-q", "origin", "main")


def test_status_all_lists_every_version(prebuilt: Prebuilt) -> None:
    reg = prebuilt.registry(_staged)  # one build shared with the show tests
    plain = json.loads(reg.ok("status", "--json").output)
    assert [(r["stage"], r["version"]) for r in plain["rows"]] == [
        ("staging", "v1.0.0"),
        (None, "v1.2.0"),
    ]
    every = json.loads(reg.ok("status", "--all", "--json").output)
    assert [r["version"] for r in every["rows"]] == ["v1.0.0", "v1.2.0", "v1.1.0"]
    text = reg.ok("status", "--all").output
    assert "(latest)" in text and "v1.1.0" in text


def test_status_lists_no_artifacts_yet_prints_what_the_full_listing_prints(
    prebuilt: Prebuilt, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = prebuilt.registry(_staged)
    # Shapes the model index must read alike either way: a stray file in a stage folder,
    # a dot folder under models/, a folder left holding only an artifact.
    reg.write("models/churn/stages/notes/readme.md", "not a stage\n")
    reg.write("models/.scratch/x/artifacts/v1/model.pkl.dvc", "outs: []\n")
    reg.write("models/gone/artifacts/v1.0.0/model.pkl.dvc", "outs: []\n")
    reg.git("add", "-A")
    reg.git("commit", "-q", "-m", "odd shapes")
    with Workspace.open(reg.root) as ws:
        lean, full = ws.snapshot("HEAD", artifacts=False), ws.snapshot("HEAD")
    pointers = {p for p in full.files if p.split("/")[2:3] == ["artifacts"]}
    assert "models/churn/artifacts/v1.0.0/model.pkl.dvc" in pointers
    assert lean.files == {p: b for p, b in full.files.items() if p not in pointers}
    views = [("status",), ("status", "--all", "--json"), ("status", "--at", "HEAD~1", "--json")]
    seen = [reg.ok(*view).output for view in views]
    full_listing = Workspace.snapshot
    monkeypatch.setattr(
        Workspace, "snapshot", lambda ws, rev="HEAD", artifacts=True: full_listing(ws, rev)
    )
    assert [reg.ok(*view).output for view in views] == seen


def _staged(reg: Registry) -> None:
    """churn v1.0.0 to v1.2.0; v1.0.0 promoted to staging through a merged local PR."""
    _three_versions(reg)
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    reg.ok("pr", "merge", "modelreg/promote/churn/staging/v1.0.0")
    reg.git("pull", "-q", "--ff-only")


def test_show_reads_a_stage_ref_with_where_it_serves_and_the_next_gate(
    prebuilt: Prebuilt,
) -> None:
    reg = prebuilt.registry(_staged)
    out = json.loads(reg.ok("show", "churn@staging", "--json").output)
    assert out["record"]["version"] == "v1.0.0"
    assert out["serving"] == ["staging"]
    assert [e["stage"] for e in out["served"]] == ["staging"]
    assert out["served"][0]["pr"] == "modelreg/promote/churn/staging/v1.0.0"
    assert out["next_stage"] == "production"
    assert out["gate"]["stage"] == "production"
    assert out["deprecated"] is None
    text = reg.ok("show", "churn@v1.1.0").output
    assert "churn v1.1.0" in text and "serves   nowhere" in text and "next stage staging" in text


def test_show_refuses_a_stage_nothing_serves_in(prebuilt: Prebuilt) -> None:
    reg = prebuilt.registry(_staged)
    result = reg.run("show", "churn@production")
    assert result.exit_code in (1, 2)
    assert "nothing serves churn in 'production'" in result.output


def test_compare_gives_deltas_with_their_better_direction(prebuilt: Prebuilt) -> None:
    reg = prebuilt.registry(_staged)
    out = json.loads(reg.ok("compare", "churn", "staging", "v1.2.0", "--json").output)
    assert (out["a"], out["b"]) == ("v1.0.0", "v1.2.0")
    acc = next(m for m in out["metrics"] if m["name"] == "accuracy")
    assert acc["better"] == "higher" and acc["winner"] == "b"
    assert abs(acc["delta"] - 0.01) < 1e-9
    assert all(k in ("a", "b", "same") for k in out["data"])
    assert "higher is better" in reg.ok("compare", "churn", "v1.0.0", "v1.1.0").output


def test_params_diff_names_changed_nested_leaves_only() -> None:
    from modelreg.promotion.inspect import _flat

    a = _flat({"model": {"C": 0.5, "max_iter": 100}, "seed": 1})
    b = _flat({"model": {"C": 1.0, "max_iter": 100}, "seed": 1})
    assert [k for k in sorted(a) if a[k] != b.get(k)] == ["model.C"]


def test_deprecate_and_describe_open_prs_once_and_merge_to_a_valid_registry(
    prebuilt: Prebuilt,
) -> None:
    reg = prebuilt.registry(_staged)
    first = reg.ok("deprecate", "churn", "v1.1.0", "--reason", "leaks the label").output
    assert "opened pull request" in first
    again = reg.ok("deprecate", "churn", "v1.1.0", "--reason", "leaks the label").output
    assert "found open" in again
    assert reg.run("deprecate", "churn", "v1.0.0", "--reason", "x").exit_code == 2  # serves
    reg.ok("describe", "churn", "--owner", "@ana", "--description", "Churn risk")
    reg.ok("pr", "merge", "modelreg/deprecate/churn/v1.1.0")
    reg.ok("pr", "merge", "modelreg/describe/churn")
    reg.git("pull", "-q", "--ff-only")
    reg.ok("validate")
    shown = json.loads(reg.ok("show", "churn@v1.1.0", "--json").output)
    assert shown["deprecated"] == "leaks the label"
    assert "Churn risk" in (reg.root / "models/churn/model.yaml").read_text()
