"""`modelreg serve`: online inference from the local deployment, with metrics and a log."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--stage",
    "stages",
    multiple=True,
    help="Stage whose local deployment to serve (repeatable; default every deployed stage).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (metrics are shared through prometheus-client's multiprocess mode).",
)
@click.option(
    "--deploy-dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Deployment folder, as given to `deploy --out` (default .modelreg/deploy).",
)
@click.option(
    "--log-dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Folder for prediction logs and feedback (default .modelreg/logs).",
)
@click.option(
    "--drift-dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Folder holding modelreg_drift.prom to re-export (default the deployment folder).",
)
@click.option(
    "--log-max-mb",
    default=64,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Start a new prediction log file past this size (and every UTC day).",
)
def serve(
    stages: tuple[str, ...],
    host: str,
    port: int,
    workers: int,
    deploy_dir: Path | None,
    log_dir: Path | None,
    drift_dir: Path | None,
    log_max_mb: int,
) -> None:
    """Serve the local deployment online: KServe V1/V2, canary split, /metrics, hot reload."""
    from modelreg.errors import UsageError
    from modelreg.registry.names import check_name
    from modelreg.registry.workspace import Workspace
    from modelreg.serving.server import resolve, run

    for s in stages:
        check_name(s, "--stage")
    try:
        root = Workspace.open().root
    except UsageError:  # outside a repository: defaults resolve from here
        root = Path.cwd()
    config = resolve(
        root,
        stages=stages,
        deploy_dir=deploy_dir,
        log_dir=log_dir,
        drift_dir=drift_dir,
        log_max_bytes=log_max_mb * 1024 * 1024,
    )
    served = ", ".join(stage for stage, _ in config.manifests)
    click.echo(f"serving {served} on http://{host}:{port} ({workers} worker(s))", err=True)
    run(config, host=host, port=port, workers=workers)
