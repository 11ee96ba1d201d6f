"""Stage files: `models/<model>/stages/<stage>.yaml`, one per stage.

A promotion, a rollback or a canary step rewrites exactly one stage's file, so a `git
revert` of one stage's change applies cleanly unless that same stage changed since, and
CODEOWNERS can name different reviewers per stage. Registries written before kept every
stage in one `stages.yaml`; they stay readable, but nothing writes that layout: a write
refuses until `modelreg migrate` has converted it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelreg.errors import UsageError
from modelreg.registry.records import Rollout, StageAssignment
from modelreg.registry.snapshot import legacy_stages_yaml

if TYPE_CHECKING:
    from modelreg.registry.snapshot import Snapshot

HEADER = (
    "# Desired state of model {model} in stage {stage}: the version that serves there.\n"
    "# Change it only through pull requests (`modelreg promote`, `modelreg rollback`).\n"
)


def render_stage(model: str, stage: str, a: StageAssignment) -> str:
    """The whole text of one stage's file."""
    lines = [HEADER.format(model=model, stage=stage), f"version: {a.version}\n"]
    if a.rollout:
        lines += _rollout_lines(a.rollout)
    return "".join(lines)


def _rollout_lines(r: Rollout) -> list[str]:
    lines = [
        "rollout:\n",
        f"  candidate: {r.candidate}\n",
        f"  weight: {r.weight}\n",
        f"  step: {r.step}\n",
    ]
    if r.started_at:
        lines.append(f"  started_at: '{r.started_at}'\n")
    if r.failures:
        lines.append(f"  failures: {r.failures}\n")
    return lines


def require_stage_files(snap: Snapshot, model: str) -> None:
    """Refuse to write a stage of a registry that still keeps the one-file layout.

    Writing a per-stage file beside an old `stages.yaml` would leave two answers to
    "what serves here"; the fix is one `modelreg migrate` commit.
    """
    legacy = snap.legacy_layout()
    if not legacy:
        return
    path = legacy_stages_yaml(model if model in legacy else legacy[0])
    raise UsageError(
        f"{path}: this registry uses the old one-file stage layout; "
        "run `modelreg migrate` (one commit) first"
    )
