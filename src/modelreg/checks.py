"""The required checks of a pull request: the same ones CI runs and `pr merge` enforces."""

from __future__ import annotations

from modelreg.cache import BlobCache
from modelreg.git import Git
from modelreg.validate import validate
from modelreg.workspace import Workspace


def required(tree: Git, base_ref: str) -> list[str]:
    """Problems that block merging the checked-out tree into `base_ref` (empty: mergeable)."""
    ws = Workspace(tree, BlobCache.for_git_dir(tree.git_dir))
    report = validate(ws, base=base_ref)
    return [str(p) for p in report.problems]
