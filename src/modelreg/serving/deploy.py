"""`deploy`: reconcile the desired state (every stage file at HEAD) into a serving target.

Two targets: `local` (serving/local.py, a deployment folder `predict` serves from) and
`kserve` (serving/kserve.py, InferenceService manifests for Argo CD or Flux).

Invariant: no artifact is written into a deployment unless its bytes match the hashes in
its version record, so nothing downstream can load bytes the registry did not approve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelreg.errors import UsageError
from modelreg.registry.workspace import Workspace
from modelreg.serving import kserve, local
from modelreg.serving.desired import ModelPlan, StageResult, desired, stages
from modelreg.serving.manifest import Share

TARGETS = ("local", "kserve")
DEFAULT_OUT = {"local": Path(".modelreg/deploy"), "kserve": Path("deploy/kserve")}


@dataclass(frozen=True)
class DeployResult:
    target: str
    plan: bool
    commit: str
    stages: tuple[StageResult, ...]


def deploy(
    ws: Workspace, *, stage: str | None, target: str, plan: bool, out: Path | None
) -> DeployResult:
    """Reconcile one stage (or every stage) at HEAD into `target`; `plan` only compares."""
    if target not in TARGETS:
        raise UsageError(f"--target {target!r} is unknown (known: {', '.join(TARGETS)})")
    snap = ws.snapshot("HEAD")
    assert snap.rev is not None
    base = (out if out is not None else ws.root / DEFAULT_OUT[target]).resolve()
    reconcile = local.reconcile if target == "local" else kserve.reconcile
    wanted = {name: desired(snap, name) for name in stages(snap, stage)}
    if target == "kserve":
        # one namespace may hold every stage: refuse a shared name before writing anything
        every = {name: desired(snap, name) for name in stages(snap, None)}
        kserve.check_unique((m, s) for s, d in every.items() for m in d)
    results = [reconcile(ws, snap, name, base / name, d, plan) for name, d in wanted.items()]
    return DeployResult(target, plan, snap.rev, tuple(results))


# -- text for people ------------------------------------------------------------------


def shares_text(shares: Sequence[Share]) -> str:
    return ", ".join(str(s) for s in shares) or "-"


def describe(result: DeployResult) -> str:
    """The result as lines a person reads."""
    lines: list[str] = []
    for s in result.stages:
        lines.append(_stage_line(s, result.plan))
        shown = s.models if result.plan else [m for m in s.models if m.action != "unchanged"]
        lines += [f"  {m.model}: {_change(m)}" + (f" ({m.note})" if m.note else "") for m in shown]
    return "\n".join(lines) if lines else "no stages to deploy"


def _change(m: ModelPlan) -> str:
    if m.action == "updated":
        return f"updated {shares_text(m.current)} → {shares_text(m.desired)}"
    if m.action == "removed":
        return f"removed (was {shares_text(m.current)})"
    return f"{m.action} {shares_text(m.desired)}"


def _stage_line(s: StageResult, plan: bool) -> str:
    if not s.models:
        return f"{s.stage}: nothing to deploy (0 models)"
    n = s.serving
    models = f"{n} model{'s' if n != 1 else ''}"
    if not s.changed:
        return f"{s.stage}: up to date ({models})"
    where = f"{s.target} at {_shown_path(s.out)}"
    if plan:
        k = sum(1 for m in s.models if m.action != "unchanged")
        return f"{s.stage}: plan: {k} change{'s' if k != 1 else ''}, then {models} ({where})"
    return f"{s.stage}: deployed {models} ({where})"


def _shown_path(path: str) -> str:
    """A path relative to the current directory when it lies below it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path
