"""`modelreg import mlflow`: migrate an MLflow model registry into this repository."""

from __future__ import annotations

import click

from modelreg.commands._options import json_option


def _alias_map(text: str | None) -> dict[str, str]:
    """`champion=production,challenger=staging` as alias → stage."""
    from modelreg.errors import UsageError
    from modelreg.registry.names import check_name

    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        alias, sep, stage = item.partition("=")
        if not sep or not alias.strip() or not stage.strip():
            raise UsageError(
                f"--alias-map {item.strip()!r}: not ALIAS=STAGE",
                hint="e.g. --alias-map champion=production,challenger=staging",
            )
        out[alias.strip()] = check_name(stage.strip(), "--alias-map")
    return out


@click.command("mlflow")
@click.option(
    "--tracking-uri",
    metavar="URI",
    help="MLflow tracking store: sqlite:///mlflow.db, ./mlruns, http://host:5000 "
    "(default: MLFLOW_TRACKING_URI).",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="NAME",
    help="Import only this MLflow registered model (repeatable; default: all).",
)
@click.option(
    "--alias-map",
    metavar="ALIAS=STAGE,…",
    help="Which stage each MLflow alias sets, e.g. champion=production,challenger=staging "
    "(an alias named like a stage maps to it; others are skipped with a notice).",
)
@json_option("what was imported")
def mlflow(
    tracking_uri: str | None, models: tuple[str, ...], alias_map: str | None, as_json: bool
) -> None:
    """Import an MLflow model registry: every version, then the current aliases."""
    from modelreg.errors import CheckFailed
    from modelreg.output import emit
    from modelreg.registry.workspace import Workspace
    from modelreg.training.import_mlflow import import_mlflow

    aliases = _alias_map(alias_map)
    with Workspace.open() as ws:
        out = import_mlflow(ws, tracking_uri=tracking_uri, models=models, alias_map=aliases)
    lines = [f"{name!r} → {model}" for name, model in out.names.items() if name != model]
    lines += [f"imported {m} {v} (MLflow version {n})" for m, n, v in out.imported]
    lines += [
        f"{mv.model}: {mv.stage} → {mv.version} (alias {mv.alias}; time approximate)"
        for mv in out.moved
    ]
    lines += [f"notice: {n}" for n in out.notices]
    lines += [f"NOT IMPORTED: {f}" for f in out.failures]
    lines.append(
        f"{len(out.imported)} versions imported, {out.already} already imported, "
        f"{len(out.moved)} stage changes, {len(out.failures)} failed"
    )
    emit(
        {
            "names": out.names,
            "imported": [
                {"model": m, "mlflow_version": n, "version": v} for m, n, v in out.imported
            ],
            "moved": [vars(mv) for mv in out.moved],
            "notices": out.notices,
            "failures": out.failures,
            "already": out.already,
        },
        as_json,
        "\n".join(lines),
    )
    if out.failures:
        raise CheckFailed(
            f"{len(out.failures)} MLflow versions or aliases could not be imported (listed above)",
            hint="restore or re-log the missing artifacts in MLflow, then re-run: "
            "what is imported already is kept",
        )
