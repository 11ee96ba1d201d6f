"""Issue 11 §1: over random histories, any single-stage change reverts cleanly and
`status --at` every commit prints what `status` printed there.

A history is a run of promotions, canary starts, steps, completions and aborts, and
rollbacks (real `git revert`s), across two models and two stages, each applied as the
local forge leaves it: a direct commit, or a branch merged with `git merge --no-ff`. The
stage files are written by modelreg's own renderer, so they are what modelreg writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from conftest import PROFILE, Prebuilt, Registry, trials
from modelreg.registry.records import Rollout, StageAssignment
from modelreg.registry.stages import render_stage

pytestmark = pytest.mark.slow

MODELS = ("churn", "fraud")
STAGES = ("staging", "production")
VERSIONS = ("v1.0.0", "v1.1.0", "v1.2.0")
ACTIONS = ("promote", "canary", "step", "complete", "abort", "rollback")


# The histories are random, so no stage order or review can hold for them; the property
# is about Git and the files, so the models follow a policy with two open stages.
OPEN_POLICY = "stages:\n  - name: staging\n    gates: []\n  - name: production\n    gates: []\n"


def _build(reg: Registry) -> None:
    """Both models with three registered versions each, under the open policy, pushed."""
    for model in MODELS:
        for seed in range(len(VERSIONS)):
            reg.register(model, seed)
    reg.write("policies/open.yaml", OPEN_POLICY)
    for model in MODELS:
        spec = reg.root / f"models/{model}/model.yaml"
        spec.write_text(spec.read_text().replace("policy: default", "policy: open"))
    reg.git("add", "-A")
    reg.git("commit", "-qm", "Use the open policy")
    reg.git("push", "-q", "origin", "main")
    assert reg.run("validate").exit_code == 0


@dataclass(frozen=True)
class Op:
    model: str
    stage: str
    action: str
    version: int
    weight: int
    merge: bool


ops = st.builds(
    Op,
    st.sampled_from(MODELS),
    st.sampled_from(STAGES),
    st.sampled_from(ACTIONS),
    st.integers(0, len(VERSIONS) - 1),
    st.sampled_from((10, 25, 50, 90)),
    st.booleans(),
)


@dataclass
class Applied:
    """One stage change on main: the commit that made it (a merge or a direct commit)."""

    model: str
    stage: str
    commit: str
    merge: bool
    before: str | None  # the stage file's text before the change (None: no file)


@dataclass
class Run:
    reg: Registry
    changes: list[Applied] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # sha → what `status` printed
    serial: int = 0

    def path(self, model: str, stage: str) -> str:
        return f"models/{model}/stages/{stage}.yaml"

    def read(self, model: str, stage: str) -> str | None:
        file = self.reg.root / self.path(model, stage)
        return file.read_text() if file.exists() else None

    def record_status(self) -> None:
        """What `status` prints with HEAD where it is now."""
        sha = self.reg.git("rev-parse", "HEAD").strip()
        if sha not in self.seen:
            self.seen[sha] = self.reg.ok("status").stdout

    def apply(self, op: Op) -> None:
        before = self.read(op.model, op.stage)
        if op.action == "rollback":
            self._rollback(op, before)
            return
        current = StageAssignment.from_dict(yaml.safe_load(before)) if before else None
        new = _next(op, current)
        if new is None or new == current:
            return
        text = render_stage(op.model, op.stage, new)

        def edit() -> None:
            self.reg.write(self.path(op.model, op.stage), text)
            self.reg.git("add", self.path(op.model, op.stage))
            self.reg.git("commit", "-qm", f"{op.action} {op.model} {op.stage}")

        self._land(op, before, edit)

    def _rollback(self, op: Op, before: str | None) -> None:
        """`git revert` of the change that last touched this stage, as `rollback` makes."""
        last = [c for c in self.changes if (c.model, c.stage) == (op.model, op.stage)]
        if not last:
            return
        target = last[-1]

        def revert() -> None:
            mainline = ["-m", "1"] if target.merge else []
            self.reg.git("revert", "--no-edit", *mainline, target.commit)

        self._land(op, before, revert)

    def _land(self, op: Op, before: str | None, make: Callable[[], None]) -> None:
        if op.merge:
            self.serial += 1
            branch = f"modelreg/{op.action}/{op.model}/{op.stage}/{self.serial}"
            self.reg.git("checkout", "-q", "-b", branch)
            make()
            self.record_status()
            self.reg.git("checkout", "-q", "main")
            title = f"{op.action} {op.model} in {op.stage}"
            self.reg.git(
                "merge", "-q", "--no-ff", branch, "-m", f"Merge pull request {branch}: {title}"
            )
        else:
            make()
        sha = self.reg.git("rev-parse", "HEAD").strip()
        self.changes.append(Applied(op.model, op.stage, sha, op.merge, before))
        self.record_status()


def _next(op: Op, current: StageAssignment | None) -> StageAssignment | None:
    """The stage's assignment after `op` (canary actions on a stage without one promote)."""
    version = VERSIONS[op.version]
    ro = current.rollout if current else None
    if op.action == "canary" and current and version != current.version:
        return StageAssignment(
            current.version, Rollout(version, op.weight, 0, "2026-11-20T09:00:00Z")
        )
    if op.action == "step" and current and ro:
        return StageAssignment(
            current.version, Rollout(ro.candidate, op.weight, ro.step + 1, ro.started_at)
        )
    if op.action == "complete" and ro:
        return StageAssignment(ro.candidate)
    if op.action == "abort" and current and ro:
        return StageAssignment(current.version)
    return StageAssignment(version)


def _check_reverts(run: Run) -> None:
    """(a): every change whose stage has not changed since reverts cleanly and validates."""
    reg = run.reg
    for i, change in enumerate(run.changes):
        later = run.changes[i + 1 :]
        if any((c.model, c.stage) == (change.model, change.stage) for c in later):
            continue
        mainline = ["-m", "1"] if change.merge else []
        reg.git("revert", "--no-edit", *mainline, change.commit)  # raises on a conflict
        touched = reg.git("diff", "--name-only", "HEAD~1", "HEAD").split()
        assert touched == [run.path(change.model, change.stage)]
        assert run.read(change.model, change.stage) == change.before
        result = reg.run("validate")
        assert result.exit_code == 0, result.output
        reg.git("reset", "-q", "--hard", "HEAD~1")


def _check_status_at(run: Run) -> None:
    """(b): `status --at X` prints what `status` printed when X was HEAD."""
    for sha, text in run.seen.items():
        result = run.reg.ok("status", "--at", sha)
        assert result.stdout == text
        assert sha[:12] in result.stderr


# Two histories that always run: every kind of step, merged and direct, and rollbacks of
# a merge, of a direct commit and of a canary step.
EVERY_STEP = [
    Op("churn", "staging", "promote", 0, 10, True),
    Op("churn", "staging", "canary", 1, 25, True),
    Op("fraud", "production", "promote", 2, 10, False),
    Op("churn", "staging", "step", 1, 50, False),
    Op("churn", "staging", "rollback", 0, 10, True),
    Op("churn", "staging", "complete", 1, 90, True),
]
ROLLBACKS = [
    Op("fraud", "staging", "promote", 1, 10, False),
    Op("fraud", "staging", "rollback", 0, 10, False),
    Op("churn", "production", "canary", 2, 10, True),
    Op("churn", "production", "promote", 2, 10, True),
    Op("churn", "production", "abort", 0, 10, False),
    Op("churn", "production", "rollback", 0, 10, True),
]


@example(history=EVERY_STEP)
@example(history=ROLLBACKS)
@settings(
    max_examples=trials(thorough=200, ci=12),
    derandomize=PROFILE != "thorough",  # the same 12 histories (and time) every CI run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a shrink costs minutes
)
@given(history=st.lists(ops, min_size=1, max_size=6))
def test_any_unchanged_stage_change_reverts_cleanly_and_status_at_replays_every_commit(
    prebuilt: Prebuilt, history: list[Op]
) -> None:
    """§1 of issue 11: `git revert` (with `-m 1` for merges) of any single-stage change
    whose stage has not changed since applies without conflict and `validate` accepts
    the result; `status --at` every commit prints exactly what `status` printed there."""
    run = Run(prebuilt.registry(_build))
    run.record_status()
    for op in history:
        run.apply(op)
    _check_status_at(run)
    _check_reverts(run)
