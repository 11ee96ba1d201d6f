"""Editing `stages.yaml` one stage block at a time, so each change is one small hunk.

A promotion rewrites only its stage's block and leaves every other byte alone; with a
blank line between blocks, `git revert` of one stage's change never touches another's.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelreg.registry.records import Rollout, StageAssignment

HEADER = (
    "# Desired state of model {model}: the version that serves in each stage.\n"
    "# Change it only through pull requests (`modelreg promote`, `modelreg rollback`).\n"
)


def render_block(stage: str, a: StageAssignment) -> list[str]:
    """The lines of one stage's block."""
    lines = [f"{stage}:\n", f"  version: {a.version}\n"]
    if a.rollout:
        lines += _rollout_lines(a.rollout)
    return lines


def _rollout_lines(r: Rollout) -> list[str]:
    lines = [
        "  rollout:\n",
        f"    candidate: {r.candidate}\n",
        f"    weight: {r.weight}\n",
        f"    step: {r.step}\n",
    ]
    if r.started_at:
        lines.append(f"    started_at: '{r.started_at}'\n")
    if r.failures:
        lines.append(f"    failures: {r.failures}\n")
    return lines


def set_stage(
    text: str | None,
    model: str,
    stage: str,
    assignment: StageAssignment | None,
    order: Sequence[str] = (),
) -> str:
    """`text` with one stage's block replaced, inserted in policy order, or removed."""
    lines = (text or HEADER.format(model=model)).splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    blocks = _blocks(lines)
    if stage in blocks:
        start, end = blocks[stage]
        if assignment is None:
            end += 1 if end < len(lines) and not lines[end].strip() else 0
            start -= 1 if end >= len(lines) and start > 0 and not lines[start - 1].strip() else 0
            return "".join(lines[:start] + lines[end:])
        return "".join(lines[:start] + render_block(stage, assignment) + lines[end:])
    if assignment is None:
        return "".join(lines)
    return "".join(_insert(lines, blocks, stage, render_block(stage, assignment), order))


def _blocks(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Top-level key → (first line, line after its last indented line)."""
    out: dict[str, tuple[int, int]] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if line[:1].strip() and not line.startswith("#") and ":" in line:
            key = line.split(":", 1)[0].strip().strip("'\"")
            j = i + 1
            while j < len(lines) and lines[j][:1] in (" ", "\t") and lines[j].strip():
                j += 1
            out[key] = (i, j)
            i = j
        else:
            i += 1
    return out


def _insert(
    lines: list[str],
    blocks: dict[str, tuple[int, int]],
    stage: str,
    block: list[str],
    order: Sequence[str],
) -> list[str]:
    later = list(order[order.index(stage) + 1 :]) if stage in order else []
    for other in later:
        if other in blocks:
            start = blocks[other][0]
            return lines[:start] + block + ["\n"] + lines[start:]
    sep = ["\n"] if lines and lines[-1].strip() else []
    return lines + sep + block
