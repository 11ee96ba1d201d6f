"""Stage-event checkpoints (`models/.stage-events/<C>.json`) and the parsed-files
checkpoints beside them (`<C>.files.json`): reads that use one answer exactly what the
walk of history and the YAML files answer, reads skip one they cannot use, `validate`
catches a wrong one, and `register` writes both when due without hurting rollback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from conftest import PROFILE, Prebuilt, Registry, churn_v1, trials
from modelreg.adapters.git import Git
from modelreg.registry import checkpoints, events_file, history, parsed_files
from modelreg.registry.cache import BlobCache
from modelreg.registry.history import StageEvent, last_assignments, stage_events, walked_rows
from modelreg.registry.snapshot import Snapshot, model_roots
from modelreg.registry.status import status
from modelreg.registry.workspace import Workspace

MODELS = ("churn", "fraud")
STAGES = ("staging", "production")
VERSIONS = ("v1.0.0", "v1.1.0", None)


@pytest.fixture
def reg(churn_pushed: Registry) -> Registry:
    """conftest's churn v1.0.0, registered and pushed, with one stage change of it."""
    _stage(churn_pushed, "churn", "staging", "v1.0.0", "promote churn (#1)")
    return churn_pushed


def _stage(reg: Registry, model: str, stage: str, version: str | None, message: str) -> str:
    path = reg.root / f"models/{model}/stages/{stage}.yaml"
    if version is None:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"version: {version}\n")
    reg.git("add", "-A", "models")
    reg.git("commit", "-q", "--allow-empty", "-m", message)
    return reg.git("rev-parse", "HEAD").strip()


def _ws(reg: Registry) -> Workspace:
    return Workspace(Git(reg.root), BlobCache(None))


def _checkpoint(reg: Registry) -> str:
    """A checkpoint at HEAD, committed as the imports commit one; returns its commit C."""
    head = reg.git("rev-parse", "HEAD").strip()
    checkpoints.commit_due(_ws(reg), force=True)  # none right after another one
    return head


def _events(reg: Registry, rev: str, model: str | None = None) -> list[StageEvent]:
    roots = model_roots(model) if model else ("models", "policies")
    return stage_events(Snapshot(Git(reg.root), rev, BlobCache(None), roots), model)


def _walked(reg: Registry, rev: str, model: str | None = None) -> list[StageEvent]:
    rows = walked_rows(Snapshot(Git(reg.root), rev, BlobCache(None)), rev)
    return [StageEvent(*r) for r in rows if model is None or r[0] == model]


@contextmanager
def _walks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str | None]]]:
    """Record every history walk git is asked for: (kind, the commit it starts after)."""
    seen: list[tuple[str, str | None]] = []
    log, stream = Git.log_changes, Git.iter_changes

    def log_changes(self: Git, rev: str, paths: Any, *, since: str | None = None) -> Any:
        seen.append(("log", since))
        return log(self, rev, paths, since=since)

    def iter_changes(self: Git, rev: str, paths: Any) -> Any:
        seen.append(("stream", rev))
        return stream(self, rev, paths)

    with monkeypatch.context() as m:
        m.setattr(Git, "log_changes", log_changes)
        m.setattr(Git, "iter_changes", iter_changes)
        yield seen


def _status_json(reg: Registry, *args: str) -> Any:
    return json.loads(reg.ok("status", *args, "--json").stdout)


# -- reads ------------------------------------------------------------------------------


def test_reads_start_from_the_checkpoint_and_walk_only_the_commits_after_it(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (_status_json(reg), reg.ok("history", "churn", "--json").stdout)
    monkeypatch.setenv("MODELREG_NO_CACHE", "1")
    c = _checkpoint(reg)
    _stage(reg, "churn", "production", "v1.0.0", "promote churn (#2)")
    with _walks(monkeypatch) as seen:
        events = json.loads(reg.ok("history", "churn", "--json").stdout)
        assert seen == [("log", c)]
        seen.clear()
        rows = _status_json(reg)["rows"]
        head = reg.git("rev-parse", "HEAD").strip()
        assert seen == [("stream", f"{c}..{head}")]  # newest first, down to C at most
    assert [(e["stage"], e["version"]) for e in events] == [
        ("staging", "v1.0.0"),
        ("production", "v1.0.0"),
    ]
    assert [(r["stage"], r["version"]) for r in rows] == [
        ("staging", "v1.0.0"),
        ("production", "v1.0.0"),
    ]
    # status --at the commit before the checkpoint's: the checkpoint is not in that tree
    at = _status_json(reg, "--at", f"{c}")
    assert at == {**before[0], "rev": c} or at["rows"] == before[0]["rows"]
    assert json.loads(before[1]) == events[:1]


def test_a_checkpoint_written_on_a_merged_side_branch_is_ignored(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELREG_NO_CACHE", "1")
    reg.git("checkout", "-q", "-b", "side")
    _stage(reg, "churn", "staging", None, "on the side")
    side = _checkpoint(reg)  # C is a side commit: not on main's first-parent line
    reg.git("checkout", "-q", "main")
    _stage(reg, "churn", "production", "v1.0.0", "promote churn (#3)")
    reg.git("merge", "-q", "--no-ff", "-m", "Merge pull request #4 from a/side", "side")
    head = reg.git("rev-parse", "HEAD").strip()
    assert (reg.root / events_file.events_path(side)).is_file()
    snap = Snapshot(Git(reg.root), head, BlobCache(None))
    assert history.usable_checkpoint(snap, head) is None
    assert _events(reg, head) == _walked(reg, head)
    assert [e.version for e in _events(reg, head, "churn")] == ["v1.0.0", "v1.0.0", None]
    reg.git("push", "-q", "origin", "main")  # validate gates what origin lacks
    result = reg.run("validate")
    assert result.exit_code == 0, result.output
    assert "not on the first-parent line" in result.output


@pytest.mark.parametrize(
    ("text", "code", "what"),
    [
        (b"{not json", 2, "not valid JSON"),
        (b'{"format": 99}', 1, "format 99 is not one this modelreg reads"),
    ],
)
def test_a_malformed_checkpoint_is_ignored_by_reads_and_reported_by_validate(
    reg: Registry, monkeypatch: pytest.MonkeyPatch, text: bytes, code: int, what: str
) -> None:
    monkeypatch.setenv("MODELREG_NO_CACHE", "1")
    head = reg.git("rev-parse", "HEAD").strip()
    reg.write(events_file.events_path(head), text.decode())
    reg.git("add", "-A")
    reg.git("commit", "-qm", "a broken checkpoint")
    new = reg.git("rev-parse", "HEAD").strip()
    assert _events(reg, new) == _walked(reg, new)
    assert [r["version"] for r in _status_json(reg)["rows"]] == ["v1.0.0"]
    result = reg.run("validate")
    assert result.exit_code == code
    assert f"models/.stage-events/{head}.json: {what}" in result.output


def test_a_hand_edited_checkpoint_fails_validate_naming_what_differs(reg: Registry) -> None:
    c = _checkpoint(reg)
    path = reg.root / events_file.events_path(c)
    path.write_text(path.read_text().replace('"Test User"', '"Someone Else"', 1))
    reg.git("commit", "-qam", "edit the checkpoint")
    result = reg.run("validate")
    assert result.exit_code == 1, result.output
    assert f"models/.stage-events/{c}.json: events[0] differs from history: author" in (
        result.output
    )
    assert "delete the file" in result.output
    base = reg.run("validate", "--base", "HEAD~1")
    assert base.exit_code == 1 and "differs from history" in base.output
    named = reg.run("validate", events_file.events_path(c))
    assert named.exit_code == 1 and "differs from history" in named.output


def test_models_listing_and_validate_leave_the_checkpoint_folder_alone(reg: Registry) -> None:
    head = reg.git("rev-parse", "HEAD").strip()
    assert "wrote a stage-event checkpoint" in reg.ok("migrate", "--stage-events").stdout
    assert (reg.root / events_file.events_path(head)).is_file()
    assert "nothing to do" in reg.ok("migrate", "--stage-events").stdout  # HEAD added it
    assert [r["model"] for r in _status_json(reg, "--all")["rows"]] == ["churn"]
    assert reg.run("validate").exit_code == 0
    assert reg.run("validate", "--base", "HEAD~1").exit_code == 0


# -- parsed files -----------------------------------------------------------------------


def _parsed(reg: Registry, commit: str) -> dict[str, Any]:
    path = reg.root / parsed_files.files_path(commit)
    read = parsed_files.parse(path.read_bytes(), commit)
    assert read.entries is not None, read.what
    return read.entries


def _record_key(reg: Registry, version: str) -> str:
    blob = reg.git("rev-parse", f"HEAD:models/churn/versions/{version}.yaml").strip()
    return f"version:{blob}"


def test_status_reads_the_parsed_files_and_validate_catches_a_hand_edit(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELREG_NO_CACHE", "1")
    monkeypatch.setattr(parsed_files, "MIN_MISSES", 1)  # a registry of one model
    before = _status_json(reg)
    c = _checkpoint(reg)
    entries = _parsed(reg, c)
    key = _record_key(reg, "v1.0.0")
    assert entries[key]["version"] == "v1.0.0"
    assert {k.split(":")[0] for k in entries} == {"policy", "model", "stage", "version"}
    assert _status_json(reg)["rows"] == before["rows"]
    assert reg.run("validate").exit_code == 0
    # A hand edit that stays well-formed: a read believes it (that is the point of the
    # file: nothing is parsed), validate does not.
    path = reg.root / parsed_files.files_path(c)
    metric = next(iter(entries[key]["metrics"].items()))
    edited = json.loads(path.read_text())
    edited["files"][key]["metrics"][metric[0]] = 0.001
    path.write_text(json.dumps(edited))
    reg.git("commit", "-qam", "edit the parsed files")
    shown = _status_json(reg)["rows"][0]["metrics"]
    assert shown[metric[0]] == 0.001
    result = reg.run("validate")
    assert result.exit_code == 1, result.output
    assert f"{parsed_files.files_path(c)}: files['{key}']: differs from what the file" in (
        result.output
    )
    assert "delete the file" in result.output
    assert reg.run("validate", "--base", "HEAD~1").exit_code == 1


def test_what_a_checkpoint_answered_is_cached_for_reads_and_never_for_validate(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the blob cache on disk: what the checkpoint answered a read is cached under
    keys only reads look at; validate, run after, still parses the files itself."""
    monkeypatch.setattr(parsed_files, "MIN_MISSES", 1)
    c = _checkpoint(reg)
    key = _record_key(reg, "v1.0.0")
    path = reg.root / parsed_files.files_path(c)
    edited = json.loads(path.read_text())
    edited["files"][key]["created_by"] = "someone-else@example.com"
    path.write_text(json.dumps(edited))
    reg.git("commit", "-qam", "edit the parsed files")
    shutil.rmtree(reg.root / ".git" / "modelreg", ignore_errors=True)
    assert _status_json(reg)["rows"][0]["version"] == "v1.0.0"  # fills the cache
    cache = BlobCache.for_git_dir(reg.root / ".git")
    assert cache.get(f"checkpointed:{key}")["created_by"] == "someone-else@example.com"
    assert not cache.has(key)  # the plain key is what validate reads: parsed files only
    result = reg.run("validate")
    assert result.exit_code == 1, result.output
    assert "differs from what the file parses to" in result.output


@pytest.mark.parametrize(
    ("edit", "code", "what"),
    [
        (lambda d: "{not json", 2, "not valid JSON"),
        (lambda d: json.dumps({**d, "files": []}), 1, "files: not an object"),
        (lambda d: json.dumps({**d, "files": {"x": 1}}), 1, "'x' is not <kind>:<blob id>"),
        (
            lambda d: json.dumps({**d, "files": {"model:" + "0" * 40: {"name": "churn"}}}),
            1,
            "no such blob in this repository",
        ),
        (lambda d: json.dumps({**d, "semantics": "older"}), 0, "reads ignore it"),
    ],
)
def test_a_broken_or_stale_parsed_files_checkpoint_is_skipped_by_reads(
    reg: Registry, monkeypatch: pytest.MonkeyPatch, edit: Any, code: int, what: str
) -> None:
    monkeypatch.setenv("MODELREG_NO_CACHE", "1")
    monkeypatch.setattr(parsed_files, "MIN_MISSES", 1)
    before = _status_json(reg)["rows"]
    c = _checkpoint(reg)
    path = reg.root / parsed_files.files_path(c)
    path.write_text(edit(json.loads(path.read_text())))
    reg.git("commit", "-qam", "break the parsed files")
    assert _status_json(reg)["rows"] == before
    result = reg.run("validate")
    assert result.exit_code == code, result.output
    assert f"{parsed_files.files_path(c)}: " in result.output and what in result.output


@given(
    st.binary(max_size=64)
    | st.recursive(
        st.none() | st.integers() | st.text(),
        lambda v: st.lists(v) | st.dictionaries(st.text(), v),
        max_leaves=8,
    ).map(lambda v: json.dumps(v).encode())
)
def test_the_parsed_files_parser_never_raises(text: bytes) -> None:
    read = parsed_files.parse(text, "c" * 40)
    assert (read.entries is None) == bool(read.what)


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        max_size=4,
    )
)
def test_only_data_json_carries_exactly_is_stored(data: dict[str, Any]) -> None:
    text = parsed_files.canonical(data)
    if text is None:
        assert any(
            (isinstance(v, float) and v != v) or v in (float("inf"), -float("inf"))
            for v in data.values()
        )
    else:
        c = "c" * 40
        key = "model:" + "d" * 40
        read = parsed_files.parse(parsed_files.render(c, {key: text}), c)
        assert read.entries == {key: data}


# -- writes -----------------------------------------------------------------------------


def test_register_writes_a_checkpoint_when_due_and_rollback_still_reverts(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_file, "EVERY", 4)
    first = _checkpoint(reg)
    _stage(reg, "churn", "production", "v1.0.0", "promote churn (#2)")
    reg.register("churn", 1)  # 2 commits past the checkpoint's: not due
    assert (reg.root / events_file.events_path(first)).is_file()
    _stage(reg, "churn", "production", "v1.1.0", "promote churn (#3)")
    head = reg.git("rev-parse", "HEAD").strip()
    reg.register("churn", 2)  # 4: due
    files = reg.git("show", "--name-status", "--no-renames", "--format=", "HEAD").split("\n")
    assert f"A\tmodels/.stage-events/{head}.json" in files
    assert f"A\tmodels/.stage-events/{head}.files.json" in files
    assert f"D\tmodels/.stage-events/{first}.json" in files
    assert f"D\tmodels/.stage-events/{first}.files.json" in files
    reg.git("push", "-q", "origin", "main")
    result = reg.run("validate")
    assert result.exit_code == 0, result.output
    out = json.loads(reg.ok("rollback", "churn", "--stage", "production", "--json").stdout)
    assert out["method"] == "revert"


# -- the property ---------------------------------------------------------------------

ops = st.tuples(
    st.sampled_from(["direct", "merge", "revert", "checkpoint", "side-checkpoint"]),
    st.sampled_from(MODELS),
    st.sampled_from(STAGES),
    st.sampled_from(VERSIONS),
)


def _apply(reg: Registry, n: int, op: tuple[str, str, str, str | None]) -> None:
    kind, model, stage, version = op
    if kind == "direct":
        _stage(reg, model, stage, version, f"{model}: {stage} (#{n})")
    elif kind == "revert":
        merge = len(reg.git("rev-list", "--parents", "-n", "1", "HEAD").split()) > 2
        if not reg.git("diff", "--name-only", "HEAD~1", "HEAD").strip():
            return  # an empty commit (a stage removed that was never set): nothing to revert
        reg.git("revert", "--no-edit", *(["-m", "1"] if merge else []), "HEAD")
    elif kind == "checkpoint":
        _checkpoint(reg)
    else:
        reg.git("checkout", "-q", "-b", f"side-{n}")
        _stage(reg, model, stage, version, f"{model}: {stage}")
        if kind == "side-checkpoint":
            _checkpoint(reg)
        reg.git("checkout", "-q", "main")
        reg.git("merge", "-q", "--no-ff", "-m", f"Merge pull request #{n} from a/b", f"side-{n}")


@settings(
    max_examples=trials(thorough=200, ci=1),
    derandomize=PROFILE != "thorough",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(history_ops=st.lists(ops, min_size=1, max_size=6))
@example(  # every kind of step once: the one history the ci profile always runs
    history_ops=[
        ("direct", "fraud", "staging", "v1.0.0"),
        ("checkpoint", "churn", "staging", None),
        ("side-checkpoint", "churn", "production", "v1.1.0"),
        ("merge", "fraud", "production", "v1.0.0"),
        ("revert", "churn", "staging", None),
        ("direct", "churn", "staging", None),
    ]
)
def test_reads_with_checkpoints_answer_what_the_walk_answers(
    prebuilt: Prebuilt, history_ops: list[tuple[str, str, str, str | None]]
) -> None:
    reg = prebuilt.registry(churn_v1)
    for n, op in enumerate(history_ops):
        _apply(reg, n, op)
    line = reg.git("rev-list", "--first-parent", "HEAD").split()
    for rev in line if PROFILE == "thorough" else line[:2]:  # HEAD and the one before
        walked = _walked(reg, rev)
        assert _events(reg, rev) == walked
        for model in MODELS:
            assert _events(reg, rev, model) == [e for e in walked if e.model == model]
        snap = Snapshot(Git(reg.root), rev, BlobCache(None))
        wanted = {(m, s) for m in MODELS for s in STAGES}
        last = {(e.model, e.stage): e for e in walked if e.version != e.previous}
        assert last_assignments(snap, wanted) == {k: v for k, v in last.items() if k in wanted}
    original, misses = history.usable_checkpoint, parsed_files.MIN_MISSES
    try:
        parsed_files.MIN_MISSES = 1  # the parsed files answer whatever they hold
        with_checkpoints = status(_ws(reg))
        history.usable_checkpoint = lambda snap, rev: None  # type: ignore[assignment]
        parsed_files.MIN_MISSES = 10**9
        assert status(_ws(reg)) == with_checkpoints
    finally:
        history.usable_checkpoint, parsed_files.MIN_MISSES = original, misses


def test_the_format_parser_refuses_rows_of_the_wrong_shape(tmp_path: Path) -> None:
    c = "a" * 40
    good = events_file.render(
        c, [("m", "s", "v1.0.0", None, None, None, c, "A", "a@x", "d", "t", None, None)]
    )
    assert events_file.parse(good, c)[0] is not None
    assert events_file.parse(good, "b" * 40)[1].startswith("commit")
    bad = good.replace(b'"v1.0.0"', b"7")
    assert events_file.parse(bad, c)[1] == "events[0]: version: 7 is not a valid value"
