"""Paired evaluation: two versions scored on the same rows by the pipeline's evaluate.py.

Registered metrics come from each version's own holdout, so comparing them says little;
scoring both artifacts on the candidate's holdout does. A retrain records the result in
the candidate's version record, and `modelreg gate` runs it for a `compare: paired`
stage. Each artifact is verified against its record (md5 and SHA-256) before the script
sees its bytes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from modelreg.adapters import artifacts
from modelreg.adapters import dvc as dvcio
from modelreg.adapters.git import first_line
from modelreg.errors import CheckFailed, UsageError
from modelreg.promotion.gate_runs import Evaluator
from modelreg.registry.records import Comparison, VersionRecord
from modelreg.registry.snapshot import version_yaml
from modelreg.registry.workspace import Workspace
from modelreg.serving.desired import expected

HOLDOUT = "out/test.csv"  # what the bundled pipelines' evaluate.py scores


def holdout(ws: Workspace, model: str) -> tuple[Path, str] | None:
    """The pipeline folder and its holdout's repository path, when both are there."""
    from modelreg.training.train import read_pipeline

    folder = ws.root / read_pipeline(ws, model).folder
    if not (folder / "evaluate.py").is_file():
        return None
    return folder, f"{read_pipeline(ws, model).folder}/{HOLDOUT}"


def score(ws: Workspace, folder: Path, data: bytes, record: VersionRecord) -> dict[str, float]:
    """`record`'s metrics on the pipeline's holdout: its verified `data` run by evaluate.py."""
    from modelreg.training.register import read_metrics

    with tempfile.TemporaryDirectory(prefix="modelreg-eval-") as tmp:
        name = "model" + (Path(record.artifact.path).suffix or ".pkl")
        artifact, out = Path(tmp) / name, Path(tmp) / "metrics.json"
        artifact.write_bytes(data)
        proc = subprocess.run(
            [sys.executable, "evaluate.py", str(artifact), str(out)],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        script = f"{folder.relative_to(ws.root).as_posix()}/evaluate.py"
        if proc.returncode != 0 or not out.exists():
            why = (proc.stderr.strip().splitlines() or ["wrote no metrics"])[-1]
            raise CheckFailed(
                f"{script}: scoring {record.version} failed: {why}",
                hint="run it by hand: `python evaluate.py MODEL_FILE METRICS_FILE` in that folder",
            )
        return {k: float(v) for k, v in read_metrics(out).items() if k != "dataset"}


def comparison(
    ws: Workspace,
    candidate: tuple[VersionRecord, bytes],
    baseline: tuple[VersionRecord, bytes],
) -> Comparison | None:
    """Both versions scored on the candidate's holdout; None when the pipeline has none."""
    found = holdout(ws, candidate[0].model)
    if found is None or not (ws.root / found[1]).is_file():
        return None
    folder, rows = found
    return Comparison(
        against=baseline[0].version,
        dataset_path=rows,
        dataset_md5=dvcio.md5_file(ws.root / rows),
        metrics=score(ws, folder, candidate[1], candidate[0]),
        baseline_metrics=score(ws, folder, baseline[1], baseline[0]),
        by=f"{folder.relative_to(ws.root).as_posix()}/evaluate.py",
    )


def verified(ws: Workspace, rev: str | None, record: VersionRecord) -> bytes:
    """The artifact's bytes at `rev` (None: the working tree), checked against its record."""
    path = record.artifact.path
    pointer = ws.git.show(rev, path + ".dvc") if rev else _read(ws.root / (path + ".dvc"))
    return artifacts.fetch_verified(
        ws.root,
        rev,
        path,
        expected(record),
        pointer=pointer,
        record=version_yaml(record.model, record.version),
        hint="refusing to score it; restore the artifact with `dvc pull` or re-register",
    )


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def evaluator(ws: Workspace, base_rev: str) -> Evaluator:
    """What `gate` gives a `compare: paired` stage: the candidate from the working tree,
    the current version from `base_rev`, both scored on the candidate's holdout."""

    def run(candidate: VersionRecord, current: VersionRecord) -> Comparison:
        _check_holdout(ws, candidate)
        data = verified(ws, None, candidate), verified(ws, base_rev, current)
        result = comparison(ws, (candidate, data[0]), (current, data[1]))
        if result is None:  # _check_holdout saw it; a race at worst
            raise UsageError(f"{candidate.model}: the pipeline's holdout disappeared")
        return result

    return run


def _check_holdout(ws: Workspace, candidate: VersionRecord) -> None:
    """UsageError unless the working tree holds the holdout the candidate was scored on."""
    found = holdout(ws, candidate.model)
    if found is None:
        raise UsageError(
            f"{candidate.model}: compare: paired needs the pipeline's evaluate.py",
            hint="use compare: recorded, or scaffold the pipeline with `modelreg example`",
        )
    folder, rows = found
    lock = folder / "dvc.lock"
    want = candidate.lineage.dvc_lock_md5
    if want and lock.is_file() and dvcio.md5_file(lock) != want:
        raise UsageError(
            f"{lock.relative_to(ws.root)}: is not the one {candidate.version} was trained with "
            f"(its record says md5 {want})",
            hint="check out the commit that registered it, or re-run "
            f"`modelreg train {candidate.model}`",
        )
    if not (ws.root / rows).is_file():
        try:
            dvcio.pull(ws.root, [ws.root / rows])
        except Exception as exc:  # DVC raises many kinds; the fix is the same
            raise UsageError(
                f"{rows}: the candidate's holdout is not here and could not be pulled: "
                f"{first_line(exc)}",
                hint=f"`dvc pull {rows}` or `modelreg train {candidate.model}` first",
            ) from None
    if not (ws.root / rows).is_file():
        raise UsageError(
            f"{rows}: the candidate's holdout is not here",
            hint=f"`modelreg train {candidate.model}` writes it",
        )


def recorded(
    ws: Workspace, candidate_metrics: Mapping[str, float], serving: VersionRecord
) -> Comparison | None:
    """A retrain's comparison: the freshly trained model (its metrics already computed by
    the pipeline on the holdout) against `serving`, scored there by evaluate.py."""
    found = holdout(ws, serving.model)
    if found is None or not (ws.root / found[1]).is_file():
        return None
    folder, rows = found
    data = verified(ws, "HEAD", serving)  # a tampered artifact stops the retrain
    try:
        base = score(ws, folder, data, serving)
    except CheckFailed:
        return None  # the serving version cannot be scored here: no comparison to record
    metrics = {k: float(v) for k, v in candidate_metrics.items() if k != "dataset"}
    return Comparison(
        against=serving.version,
        dataset_path=rows,
        dataset_md5=dvcio.md5_file(ws.root / rows),
        metrics=metrics,
        baseline_metrics=base,
        by=f"{folder.relative_to(ws.root).as_posix()}/evaluate.py",
    )
