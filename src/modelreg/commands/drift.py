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
@click.option(
    "--engine",
    type=click.Choice(("memory", "partitions", "dask")),
    default="memory",
    show_default=True,
    help="memory: read the data whole; partitions: Parquet files a chunk at a time, in "
    "bounded memory; dask: per-file sketches on a Dask cluster (pip install 'modelreg[dask]').",
)
@click.option(
    "--scheduler",
    metavar="ADDR",
    help="Dask scheduler for --engine dask, e.g. tcp://10.0.0.5:8786 "
    "(default: a LocalCluster on this machine).",
)
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
    engine: str,
    scheduler: str | None,
) -> None:
    """Per-column drift and data quality of production data; exit 1 when critical."""
    _check_engine(engine, scheduler, labels)
    if model is None:
        if engine != "memory":
            from modelreg.errors import UsageError

            raise UsageError(
                f"--engine {engine} needs MODEL: it judges partitions against the reference "
                "profile of a registered version",
                hint="without a model, compare two files with the default --engine memory",
            )
        registry_only = {"--stage": stage, "--open-pr": open_pr, "--textfile-dir": textfile_dir}
        _files_only(current, reference, labels, key, task, window, fmt, output, registry_only)
        return
    from modelreg.monitoring.check import check_drift
    from modelreg.monitoring.render import render
    from modelreg.registry.workspace import Workspace

    with Workspace.open() as ws:
        if engine != "memory":
            from modelreg.monitoring.scaled import check_scaled

            result = check_scaled(
                ws, model=model, current=current, reference=reference, window=window,
                stage=stage, engine=engine, scheduler=scheduler,
            )  # fmt: skip
        else:
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


def _check_engine(engine: str, scheduler: str | None, labels: Path | None) -> None:
    """Refuse --scheduler without Dask, --labels beyond memory (the join needs the rows in
    memory), and Dask when its extra is missing, before any work."""
    from modelreg.errors import UsageError

    if scheduler is not None and engine != "dask":
        raise UsageError("--scheduler needs --engine dask", hint="add --engine dask")
    if labels is not None and engine != "memory":
        raise UsageError(
            f"--labels needs --engine memory: joining outcomes needs the rows in memory "
            f"(--engine {engine} reads them a chunk at a time)",
            hint="run concept drift on a window that fits in memory: --window 7d",
        )
    if engine == "dask":
        from modelreg.monitoring.dask_engine import require_dask

        require_dask()
