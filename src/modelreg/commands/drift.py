"""`modelreg drift`: per-column drift of production data; with --open-pr, retrain on it.

A command that spans concerns: it checks drift (monitoring) and, on critical drift,
retrains and opens the pull request (training, promotion). Without MODEL it compares two
files and needs no registry at all.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import click

from modelreg.commands._options import forge_option, format_option, stage_option


@click.command()
@click.argument("model", required=False)
@click.option(
    "--current",
    required=True,
    type=click.Path(path_type=Path),
    help="Recent production data: CSV, JSONL or Parquet, one file or a folder.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="Reference data (default: the serving version's profile or training data; "
    "required without MODEL).",
)
@click.option(
    "--labels",
    type=click.Path(path_type=Path),
    help="Outcomes for concept drift, joined to the current rows on --key: serve's "
    "feedback JSON Lines, or a CSV/JSONL/Parquet file (or folder) with a label column.",
)
@click.option(
    "--key",
    default="request_id",
    show_default=True,
    help="Column that joins --labels to the current (and reference) rows; "
    "never compared as a column.",
)
@click.option(
    "--task",
    type=click.Choice(("classification", "regression")),
    help="Task for concept drift when no model.yaml says (default: inferred from the labels).",
)
@click.option(
    "--window",
    metavar="DURATION",
    help="Only rows whose timestamp is in the last DURATION, e.g. 7d.",
)
@stage_option("Stage whose version is checked (default: the last one serving).")
@format_option(("text", "markdown", "json", "html"))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Write the report to a file instead of stdout.",
)
@click.option(
    "--textfile-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the verdict as modelreg_drift.prom (node-exporter textfile) here "
    "(default: next to --output, when given).",
)
@click.option(
    "--open-pr",
    is_flag=True,
    help="Act as drift.action and retrain.triggers say: retrain PR, issue or nothing.",
)
@forge_option()
def drift(
    model: str | None,
    current: Path,
    reference: Path | None,
    labels: Path | None,
    key: str,
    task: str | None,
    window: str | None,
    stage: str | None,
    fmt: str,
    output: Path | None,
    textfile_dir: Path | None,
    open_pr: bool,
    forge: str | None,
) -> None:
    """Per-column drift and data quality of production data; exit 1 when critical."""
    if model is None:
        registry_only = {"--stage": stage, "--open-pr": open_pr, "--textfile-dir": textfile_dir}
        _files_only(current, reference, labels, key, task, window, fmt, output, registry_only)
        return
    from modelreg.monitoring.check import check_drift
    from modelreg.monitoring.render import render
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        result = check_drift(
            ws,
            model=model,
            current=current,
            reference=reference,
            window=window,
            stage=stage,
            labels=labels,
            key=key,
            task=task,
        )
        if result.stage is None and (open_pr or textfile_dir is not None):
            from modelreg.errors import UsageError

            what = "--open-pr" if open_pr else "--textfile-dir"
            raise UsageError(f"{what}: {model} serves in no stage yet; nothing to retrain or gauge")
        from modelreg.monitoring.report import Sources

        where = f"in {result.stage}" if result.stage else "(serves in no stage)"
        title = " ".join(x for x in (model, result.version, where) if x)
        sources = Sources(
            reference=result.reference,
            current=str(current),
            model=model,
            version=result.version,
            stage=result.stage,
            window=window,
        )
        text = render(result.report, fmt, title=title, sources=sources)
        if output is not None:
            from modelreg.adapters.files import write_text

            write_text(output, "--output", text)
            click.echo(f"{result.report.verdict}: report written to {output}")
        else:
            click.echo(text)
        folder = textfile_dir or (output.parent if output is not None else None)
        if folder is not None and result.stage is not None:
            from modelreg.adapters.files import write_text
            from modelreg.monitoring.textfile import TEXTFILE, drift_textfile

            prom = drift_textfile(model, result.stage, result.report.verdict)
            write_text(folder / TEXTFILE, "--textfile-dir", prom)
        if open_pr:
            from modelreg.forge import select_forge
            from modelreg.training.retrain import act_on_drift, describe

            click.echo(describe(act_on_drift(ws, select_forge(ws.git, forge), result)))
    sys.exit(1 if result.report.verdict == "critical" else 0)


def _files_only(
    current: Path,
    reference: Path | None,
    labels: Path | None,
    key: str,
    task: str | None,
    window: str | None,
    fmt: str,
    output: Path | None,
    registry_only: Mapping[str, object],
) -> None:
    """`drift --reference A --current B` with no MODEL: two files, no registry, default rules."""
    from modelreg.errors import UsageError

    if reference is None:
        raise UsageError(
            "drift: give MODEL, or --reference PATH to compare two files without a registry"
        )
    for name, given in registry_only.items():
        if given:
            raise UsageError(f"drift: {name} needs MODEL (a registered model)")
    from modelreg.monitoring.check import check_files
    from modelreg.monitoring.render import render
    from modelreg.monitoring.report import Sources

    report = check_files(
        current=current, reference=reference, window=window, labels=labels, key=key, task=task
    )
    sources = Sources(
        reference=str(reference),
        current=str(current),
        window=window,
        rules="the defaults (no model, no policy)",
    )
    text = render(report, fmt, title=f"{current.name} against {reference.name}", sources=sources)
    if output is not None:
        from modelreg.adapters.files import write_text

        write_text(output, "--output", text)
        click.echo(f"{report.verdict}: report written to {output}")
    else:
        click.echo(text)
    sys.exit(1 if report.verdict == "critical" else 0)
