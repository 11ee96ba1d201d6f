"""`migrate`: move a registry written in an older layout to the current one, in one commit.

Today that is one step: every model's `stages.yaml` (all its stages in one file) becomes
`stages/<stage>.yaml`, one file per stage, holding the same assignments. The commit
changes no stage, so history reads straight across it; `init`'s CODEOWNERS block, if the
repository has one, follows the new files in the same commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelreg.adapters.git import commit_paths, identity, unstage
from modelreg.errors import UsageError, ValidationError, plural
from modelreg.registry.records import StageAssignment
from modelreg.registry.snapshot import Snapshot, legacy_stages_yaml, stage_yaml, stages_dir
from modelreg.registry.stages import render_stage
from modelreg.registry.workspace import Workspace
from modelreg.registry.yamlio import parse_yaml

MESSAGE = (
    "modelreg migrate: one file per stage\n\n"
    "Each models/<model>/stages.yaml becomes models/<model>/stages/<stage>.yaml with the\n"
    "same assignments, so a promotion or a rollback changes one stage's file and a\n"
    "`git revert` of one stage's change never conflicts with another stage's.\n"
)


@dataclass(frozen=True)
class MigrateResult:
    models: tuple[str, ...]  # the models converted
    commit: str | None  # None: already current, nothing changed

    @property
    def changed(self) -> bool:
        return self.commit is not None


def migrate(ws: Workspace) -> MigrateResult:
    """Convert every model's `stages.yaml` into stage files in one commit; a registry
    already in the current layout is left alone."""
    if not ws.git.has_commits():
        return MigrateResult((), None)
    snap = ws.snapshot("HEAD")
    models = snap.legacy_layout()
    if not models:
        return MigrateResult((), None)
    identity(ws.git)
    from modelreg.registry.scaffold import CODEOWNERS, has_codeowners_block

    owners = [CODEOWNERS] if has_codeowners_block(ws.root) else []
    _refuse_dirty(ws, models, owners)
    old = [legacy_stages_yaml(m) for m in models]
    new = {path: text for m in models for path, text in _converted(snap, m).items()}
    try:
        _write(ws, old, new)
        if owners:
            from modelreg.registry.scaffold import refresh_codeowners

            owners = owners if refresh_codeowners(ws) else []
        sha = commit_paths(ws.git, [*old, *new, *owners], MESSAGE)
    except BaseException:
        _restore(ws, old, list(new), owners)
        raise
    return MigrateResult(tuple(models), sha)


def _refuse_dirty(ws: Workspace, models: list[str], extra: list[str]) -> None:
    """Migration commits what HEAD holds: uncommitted edits of these files would be lost
    or committed under its name, so they must be committed or stashed first."""
    paths = [*(legacy_stages_yaml(m) for m in models), *(stages_dir(m) for m in models), *extra]
    out = ws.git.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
    dirty = sorted(e[3:] for e in out.split("\0") if len(e) > 3)
    if dirty:
        raise UsageError(
            f"{dirty[0]}: uncommitted changes"
            + (f" (and {plural(len(dirty) - 1, 'more file')})" if len(dirty) > 1 else ""),
            hint="commit or stash them, then run `modelreg migrate` again",
        )


def _converted(snap: Snapshot, model: str) -> dict[str, str]:
    """Stage file → text holding exactly the assignments of the model's `stages.yaml`."""
    path = legacy_stages_yaml(model)
    if snap.stage_files(model):
        raise UsageError(
            f"{path}: {stages_dir(model)}/ already holds stage files",
            hint="keep one layout: delete whichever is wrong, then run `modelreg migrate` again",
        )
    try:
        stages = snap.stages(model)
    except ValidationError as exc:
        raise ValidationError(
            exc.message, hint="fix it, then run `modelreg migrate` again"
        ) from None
    out: dict[str, str] = {}
    for stage, a in stages.assignments.items():
        target = stage_yaml(model, stage)
        out[target] = render_stage(model, stage, a)
        if StageAssignment.from_dict(parse_yaml(out[target], target)) != a:
            raise AssertionError(f"{target} would not hold what {path} says for {stage}")
    return out


def _write(ws: Workspace, old: list[str], new: dict[str, str]) -> None:
    for path in old:
        (ws.root / path).unlink()
    for path, text in new.items():
        (ws.root / path).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / path).write_text(text)


def _restore(ws: Workspace, old: list[str], new: list[str], owners: list[str]) -> None:
    """Put the checkout back as HEAD has it: nothing staged, nothing left over."""
    unstage(ws.git, [*new, *old, *owners])
    for path in new:
        (ws.root / path).unlink(missing_ok=True)
    ws.git.run("checkout", "HEAD", "--", *old, *owners, check=False)
