"""`deprecate` and `describe`: pull requests that change a model's `model.yaml`.

They go through `propose` like promotions: a temporary worktree at the remote default
branch, one commit, a pushed branch and its PR, found again on a re-run.
"""

from __future__ import annotations

from typing import Any

from modelreg.adapters.git import fetch_default_branch
from modelreg.errors import UsageError
from modelreg.promotion.propose import Change
from modelreg.registry.names import check_readable_name, check_readable_version
from modelreg.registry.snapshot import Snapshot, model_yaml
from modelreg.registry.workspace import Workspace
from modelreg.registry.yamlio import dump_yaml


def _spec_data(ws: Workspace, model: str) -> tuple[str, Snapshot, dict[str, Any]]:
    base, sha = fetch_default_branch(ws.git)
    snap = Snapshot(ws.git, sha, ws.cache)
    snap.require_model(model)
    path = model_yaml(model)
    data = dict(snap.load("model", path)) if path in snap.files else {"name": model}
    return base, snap, data


def plan_deprecation(ws: Workspace, *, model: str, version: str, reason: str) -> Change | None:
    """The change adding `version: reason` to `deprecated:`; None when it is already there."""
    check_readable_name(model)
    check_readable_version(version)
    if not reason.strip():
        raise UsageError("--reason is empty", hint="say why the version is retired")
    base, snap, data = _spec_data(ws, model)
    snap.record(model, version)  # NotFound names the known versions
    serving = [s for s, a in snap.stages(model).assignments.items() if a.version == version]
    if serving:
        raise UsageError(
            f"{model} {version} serves in {', '.join(serving)}",
            hint="promote or roll back to another version first",
        )
    dep = data.get("deprecated") or {}
    dep = {v: None for v in dep} if isinstance(dep, list) else dict(dep)
    if dep.get(version) == reason:
        return None
    dep[version] = reason
    data["deprecated"] = dep
    title = f"Deprecate {model} {version}"
    body = (
        f"Retires `{version}` of **{model}**: {reason}\n\nA deprecated version may not be promoted."
    )
    return _change(
        model, "deprecation", f"modelreg/deprecate/{model}/{version}", base, title, body, data
    )


def plan_description(
    ws: Workspace, *, model: str, owners: tuple[str, ...], description: str | None
) -> Change | None:
    """The change setting the model's owners and/or description; None when unchanged."""
    check_readable_name(model)
    if not owners and description is None:
        raise UsageError("nothing to change", hint="give --owner and/or --description")
    base, _, data = _spec_data(ws, model)
    new = dict(data)
    if owners:
        new["owner"] = list(owners)
    if description is not None:
        new["description"] = description
    if new == data:
        return None
    title = f"Describe {model}"
    what = [f"owners: {', '.join(owners)}"] if owners else []
    what += [f"description: {description}"] if description is not None else []
    body = f"Updates `models/{model}/model.yaml`:\n\n" + "\n".join(f"- {w}" for w in what)
    return _change(model, "description", f"modelreg/describe/{model}", base, title, body, new)


def _change(
    model: str, kind: str, branch: str, base: str, title: str, body: str, data: dict[str, Any]
) -> Change:
    return Change(
        model, "", kind, branch, base, title, body, dump_yaml(data), file=model_yaml(model)
    )
