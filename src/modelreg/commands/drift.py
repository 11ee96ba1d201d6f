"""`modelreg drift`: per-column drift of production data; with --open-pr, retrain on it.

A command that spans concerns: it checks drift (monitoring) and, on critical drift,
retrains and opens the pull request (training, promotion).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelreg.commands._options import forge_option, format_option, stage_option


@click.command()
@click.argument("model")
@click.option(
    "--current",
    required=True,
    type=click.Path(path_type=Path),
    help="Recent production data: CSV, JSONL or Parquet, one file or a folder.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="Reference data (default: the serving version's profile or training data).",
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
    model: str,
    current: Path,
    reference: Path | None,
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
    from modelreg.monitoring.check import check_drift
    from modelreg.monitoring.render import render
    from modelreg.registry.workspace import Workspace

    _check_engine(engine, scheduler)
    with Workspace.open() as ws:
        if engine != "memory":
            from modelreg.monitoring.scaled import check_scaled

            result = check_scaled(
                ws, model=model, current=current, reference=reference, window=window,
                stage=stage, engine=engine, scheduler=scheduler,
            )  # fmt: skip
        else:
            result = check_drift(
                ws, model=model, current=current, reference=reference, window=window, stage=stage
            )
        from modelreg.monitoring.report import Sources

        title = f"{model} {result.version} in {result.stage}"
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
        if folder is not None:
            from modelreg.adapters.files import write_text
            from modelreg.monitoring.textfile import TEXTFILE, drift_textfile

            prom = drift_textfile(model, result.stage, result.report.verdict)
            write_text(folder / TEXTFILE, "--textfile-dir", prom)
        if open_pr:
            from modelreg.forge import select_forge
            from modelreg.training.retrain import act_on_drift, describe

            click.echo(describe(act_on_drift(ws, select_forge(ws.git, forge), result)))
    sys.exit(1 if result.report.verdict == "critical" else 0)


def _check_engine(engine: str, scheduler: str | None) -> None:
    """Refuse --scheduler without Dask, and Dask when its extra is missing, before any work."""
    from modelreg.errors import UsageError

    if scheduler is not None and engine != "dask":
        raise UsageError("--scheduler needs --engine dask", hint="add --engine dask")
    if engine == "dask":
        from modelreg.monitoring.dask_engine import require_dask

        require_dask()
