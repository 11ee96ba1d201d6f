"""The cached stage history answers exactly what a fresh walk of Git history answers."""

from __future__ import annotations

import json
import marshal
import time
from pathlib import Path

import pytest

from conftest import Registry, git
from modelreg.adapters.git import Git
from modelreg.errors import GitError
from modelreg.registry import history
from modelreg.registry.cache import BlobCache
from modelreg.registry.history import StageEvent, last_assignments, stage_events
from modelreg.registry.snapshot import ROOTS, Snapshot, model_roots
from stagefiles import write_stages


def _stage(reg: Registry, text: str, message: str) -> str:
    write_stages(reg.root, "churn", text)
    reg.git("add", "-A", "models/churn/stages")
    reg.git("commit", "-q", "-m", message)
    return reg.git("rev-parse", "HEAD").strip()


def _views(reg: Registry, *at: str) -> list[str]:
    """status (whole registry and one model) and history, at each revision."""
    out = []
    for rev in at:
        out.append(reg.ok("status", "--at", rev, "--json").stdout)
        out.append(reg.ok("status", "churn", "--at", rev, "--json").stdout)
    out.append(reg.ok("history", "churn", "--json").output)
    return out


def _uncached(reg: Registry, monkeypatch: pytest.MonkeyPatch, *at: str) -> list[str]:
    with monkeypatch.context() as m:
        m.setenv("MODELREG_NO_CACHE", "1")
        return _views(reg, *at)


def _clear(reg: Registry) -> None:
    for path in (reg.root / ".git" / "modelreg").glob("*"):
        path.unlink()


def test_history_cached_at_one_commit_serves_later_and_earlier_ones(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.register("churn", 0)
    registry.register("churn", 1)
    first = _stage(registry, "staging:\n  version: v1.0.0\n", "Merge pull request #1 from a/b")
    middle = _stage(registry, "staging:\n  version: v1.1.0\n", "promote (#2)")
    registry.ok("status")  # caches the events up to `middle`
    registry.register("churn", 2)
    last = _stage(registry, "staging:\n  version: v1.2.0\n\nproduction:\n  version: v1.1.0\n", "p")
    cached = _views(registry, first, middle, last)  # later: extends; earlier: trims
    assert cached == _uncached(registry, monkeypatch, first, middle, last)
    assert json.loads(cached[-1])[-1]["commit"] == last


def test_a_cached_side_branch_is_not_taken_for_the_first_parent_line(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.register("churn", 0)
    registry.register("churn", 1)
    base = _stage(registry, "staging:\n  version: v1.0.0\n", "stage")
    registry.git("checkout", "-q", "-b", "side")
    side = _stage(registry, "staging:\n  version: v1.1.0\n", "on a branch")
    registry.ok("status")  # caches the events up to the branch's commit
    registry.git("checkout", "-q", "main")
    registry.register("churn", 2)
    registry.git("merge", "-q", "--no-ff", "-m", "Merge pull request #7 from o/side", "side")
    head = registry.git("rev-parse", "HEAD").strip()
    cached = _views(registry, base, side, head)
    assert cached == _uncached(registry, monkeypatch, base, side, head)
    _clear(registry)
    assert _views(registry, head) == _uncached(registry, monkeypatch, head)


def test_a_torn_cache_file_is_a_cold_cache(registry: Registry) -> None:
    registry.register("churn", 0)
    _stage(registry, "staging:\n  version: v1.0.0\n", "stage")
    before = registry.ok("status", "--json").output
    for path in Path(registry.root / ".git" / "modelreg").glob("*.marshal"):
        path.write_bytes(path.read_bytes()[:100])
    assert registry.ok("status", "--json").output == before


# -- the newest-first walk status uses -------------------------------------------------


def _git_repo(root: Path) -> Git:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "T")
    git(root, "config", "user.email", "t@example.com")
    return Git(root)


def _put(repo: Git, message: str, files: dict[str, str | None]) -> None:
    """Commit files (None deletes one) as one commit."""
    for name, text in files.items():
        path = repo.root / name
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-m", message)


def _full_last(snap: Snapshot, model: str | None) -> dict[tuple[str, str], StageEvent]:
    last = {}
    for ev in stage_events(snap, model):
        if ev.version != ev.previous:
            last[(ev.model, ev.stage)] = ev
    return last


def _history_of_every_kind(tmp_path: Path) -> Git:
    """Both layouts and the migration between them, PR merges (first parent), squash
    merges, direct commits, canary steps, an emptied stage, a stage never changed since
    the first commit, and enough later commits that the walk stops early."""
    repo = _git_repo(tmp_path / "reg")
    churn, fraud = "models/churn/stages.yaml", "models/fraud/stages.yaml"
    one = "models/{}/stages/{}.yaml"
    _put(
        repo,
        "modelreg init",
        {churn: "production:\n  version: v1.0.0\n", fraud: "staging:\n  version: v1.0.0\n"},
    )
    churn_two = "production:\n  version: v1.0.0\nstaging:\n  version: v1.1.0\n"
    _put(repo, "stage churn directly", {churn: churn_two})
    git(repo.root, "checkout", "-q", "-b", "pr")
    _put(repo, "promote fraud", {fraud: "staging:\n  version: v1.1.0\n"})
    git(repo.root, "checkout", "-q", "main")
    _put(repo, "register something", {"models/fraud/versions/v1.1.0.yaml": "x: 1\n"})
    git(repo.root, "merge", "-q", "--no-ff", "-m", "Merge pull request #3 from a/pr", "pr")
    fraud_two = "staging:\n  version: v1.1.0\nproduction:\n  version: v1.0.0\n"
    _put(repo, "promote fraud to production (#4)", {fraud: fraud_two})
    migrated = {
        churn: None,
        fraud: None,
        one.format("churn", "production"): "version: v1.0.0\n",
        one.format("churn", "staging"): "version: v1.1.0\n",
        one.format("fraud", "staging"): "version: v1.1.0\n",
        one.format("fraud", "production"): "version: v1.0.0\n",
    }
    _put(repo, "modelreg migrate: one file per stage", migrated)
    _put(repo, "stage churn v1.2.0", {one.format("churn", "staging"): "version: v1.2.0\n"})
    canary = "version: v1.2.0\nrollout:\n  candidate: v1.3.0\n  weight: 10\n"
    _put(repo, "canary (#7)", {one.format("churn", "staging"): canary})
    _put(repo, "unstage fraud", {one.format("fraud", "staging"): None})
    for i in range(20):  # many later changes of another model
        text = f"version: v{i}.0.0\n"
        _put(repo, f"spam {i} (#{10 + i})", {one.format("spam", "staging"): text})
    return repo


def test_the_newest_first_walk_finds_what_the_full_walk_finds_at_every_commit(
    tmp_path: Path,
) -> None:
    repo = _history_of_every_kind(tmp_path)
    newest_first = git(repo.root, "rev-list", "--first-parent", "HEAD").split()
    # the 20 newest commits each change spam's staging alike: three of them stand for all
    for rev in [newest_first[0], newest_first[9], newest_first[19], *newest_first[20:]]:
        for model in (None, "churn", "fraud", "spam"):
            roots = model_roots(model) if model else ROOTS
            snap = Snapshot(repo, rev, BlobCache(None), roots)
            if model and not snap.has_model(model):
                continue
            current = snap.preload_stages([model] if model else snap.models())
            wanted = {(m, s) for m, st in current.items() if st for s in st.assignments}
            fast = last_assignments(snap, wanted, model)
            full = _full_last(Snapshot(repo, rev, BlobCache(None), roots), model)
            assert {k: fast[k] for k in wanted} == {k: full[k] for k in wanted}, (rev, model)


def test_a_stage_set_in_the_first_commit_is_found_after_the_migration(tmp_path: Path) -> None:
    repo = _history_of_every_kind(tmp_path)
    first = git(repo.root, "rev-list", "--max-parents=0", "HEAD").strip()
    snap = Snapshot(repo, "HEAD", BlobCache(None))
    snap.rev = git(repo.root, "rev-parse", "HEAD").strip()
    last = last_assignments(snap, {("churn", "production"), ("fraud", "production")})
    assert last[("churn", "production")].commit == first
    assert last[("fraud", "production")].pr == "#4"
    merged = last_assignments(snap, {("churn", "staging")})[("churn", "staging")]
    assert merged.subject == "stage churn v1.2.0"


def test_a_pr_merged_on_the_first_parent_line_is_the_change(tmp_path: Path) -> None:
    repo = _history_of_every_kind(tmp_path)
    rev = git(repo.root, "rev-parse", "HEAD").strip()
    events = stage_events(Snapshot(repo, rev, BlobCache(None)), "fraud")
    merge = next(ev for ev in events if ev.version == "v1.1.0")
    assert (merge.pr, merge.subject) == ("#3", "Merge pull request #3 from a/pr")


def test_a_slow_walk_has_git_write_changed_path_filters_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _history_of_every_kind(tmp_path)
    assert not repo.has_changed_path_filters()
    monkeypatch.setattr(history, "SLOW_WALK", -1.0)
    rev = git(repo.root, "rev-parse", "HEAD").strip()
    stage_events(Snapshot(repo, rev, BlobCache(None), model_roots("churn")), "churn")
    deadline = time.monotonic() + 30
    while not repo.has_changed_path_filters() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert repo.has_changed_path_filters()
    again = stage_events(Snapshot(repo, rev, BlobCache(None), model_roots("churn")), "churn")
    assert again == stage_events(Snapshot(repo, rev, BlobCache(None)), "churn")


def test_a_walk_of_a_revision_git_refuses_is_an_error_not_a_hang(tmp_path: Path) -> None:
    repo = _history_of_every_kind(tmp_path)
    stream = repo.iter_changes("no-such-branch", ["models"])
    try:
        with pytest.raises(GitError, match="no-such-branch"):
            list(stream)
    finally:
        stream.close()


def test_a_cold_status_reads_only_the_records_it_shows(registry: Registry) -> None:
    for seed in range(5):
        registry.register("churn", seed)
    _stage(registry, "staging:\n  version: v1.1.0\n", "stage (#1)")
    _clear(registry)
    registry.ok("status")
    cache = next(Path(registry.root / ".git" / "modelreg").glob("cache-*.marshal"))
    kinds = [key.split(":", 1)[0] for key in marshal.loads(cache.read_bytes())]
    assert kinds.count("version") == 2  # the staged one and the latest, of five
