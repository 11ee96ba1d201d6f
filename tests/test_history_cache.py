"""The cached stage history answers exactly what a fresh walk of Git history answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Registry
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
