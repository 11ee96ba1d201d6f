"""The required checks of a pull request: the same ones CI runs and `pr merge` enforces."""

from __future__ import annotations

from modelreg.adapters.git import Git
from modelreg.promotion.gates import markdown_table
from modelreg.registry.cache import BlobCache
from modelreg.registry.schemas import Problem
from modelreg.registry.validate import Report, validate
from modelreg.registry.workspace import Workspace

MARKER = "<!-- modelreg:check -->"


def check(ws: Workspace, *, base: str | None = None) -> Report:
    """Validate the tree against `base`, gating each version it newly puts in a stage."""
    return validate(ws, base=ws.base(base))


def markdown(report: Report) -> str:
    """One PR comment: the verdict, validate's problems, then each gate's table."""
    mark = "✅" if report.ok else "❌"
    lines = [MARKER, f"### {mark} modelreg check", ""]
    if report.problems:
        lines += (
            ["**Problems**", ""] + [f"- `{p.file}`: {_rest(p)}" for p in report.problems] + [""]
        )
    else:
        lines += [f"Registry valid ({report.files_checked} files checked).", ""]
    for run in report.gates:
        verdict = "passes" if run.report.passed else "fails"
        lines += [f"**{run.model} {run.version} → {run.stage}** {verdict} its gates", ""]
        lines += [*markdown_table(run.report.results), ""]
    if not report.gates:
        lines.append("No stage changes to gate.")
    return "\n".join(lines).rstrip() + "\n"


def _rest(p: Problem) -> str:
    return str(p)[len(p.file) + 2 :]


def required(tree: Git, base_ref: str) -> list[str]:
    """Problems that block merging the checked-out tree into `base_ref` (empty: mergeable)."""
    with Workspace(tree, BlobCache.for_git_dir(tree.git_dir)) as ws:
        report = validate(ws, base=base_ref)
    return [str(p) for p in report.problems]
