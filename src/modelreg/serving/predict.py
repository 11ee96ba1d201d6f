"""`predict`: batch scoring from a local deployment, split by a stable hash, logged for drift.

Rows go to the canary candidate when the bucket of their key (blake2b of the key's text,
mod 100) is below the candidate's weight, so a key keeps its version across runs and row
orders, and raising the weight only moves keys from stable to candidate, never back.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.adapters import artifacts
from modelreg.adapters.files import write_atomic
from modelreg.adapters.git import first_line
from modelreg.errors import UsageError, plural
from modelreg.registry.names import check_name
from modelreg.serving.manifest import MANIFEST, Share, read_manifest

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_DEPLOY_DIR = Path(".modelreg/deploy")
DEFAULT_LOG_DIR = Path(".modelreg/logs")
OUTPUT_COLUMNS = ("prediction", "version")
LOG_FIELDS = ("timestamp", "model", "stage", "version", "prediction")


@dataclass(frozen=True)
class PredictResult:
    """One scoring run: rows per version, where the output and the prediction log went."""

    model: str
    stage: str
    rows: int
    counts: Mapping[str, int]
    weights: Mapping[str, int]
    key: str | None
    output: str
    log: str | None
    manifest: str


def bucket(key: str) -> int:
    """0..99 from a stable hash of a routing key: a key always lands in the same bucket."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def entity_key(root: Path, model: str) -> str | None:
    """`entity_key:` of the working tree's models/<model>/model.yaml (ModelSpec.entity_key):
    the field whose `bucket` routes a request (`serve`) or a row (`predict`). None when the
    model does not name one or its model.yaml cannot be read here (outside a registry)."""
    from modelreg.errors import ModelregError
    from modelreg.registry.records import ModelSpec
    from modelreg.registry.yamlio import parse_yaml

    path = root / "models" / model / "model.yaml"
    try:
        data = parse_yaml(path.read_bytes(), str(path))
        return ModelSpec.from_dict(data).entity_key if isinstance(data, dict) else None
    except (OSError, ModelregError, KeyError, TypeError, ValueError):
        return None


def route(keys: Iterable[str], served: Sequence[Share]) -> list[str]:
    """The version each key goes to: the candidate when its bucket is below its weight."""
    stable = next(s for s in served if s.role == "stable")
    candidate = next((s for s in served if s.role == "candidate"), None)
    if candidate is None or candidate.weight <= 0:
        return [stable.version for _ in keys]
    w, cand, stab = candidate.weight, candidate.version, stable.version
    return [cand if bucket(k) < w else stab for k in keys]


def predict(
    root: Path,
    *,
    model: str,
    stage: str,
    input: Path,
    output: Path | None = None,
    log_dir: Path | None = None,
    key: str | None = None,
    deploy_dir: Path | None = None,
) -> PredictResult:
    """Score a CSV with the versions deployed for `model` in `stage`; write output and log."""
    check_name(model)
    check_name(stage, "--stage")
    manifest = find_manifest(root, stage, deploy_dir)
    served = read_served(manifest, model, stage)
    header = _header(input)
    key_col = _key_column(header, key, input, entity_key(root, model))
    active = [s for s in served if s.weight > 0]
    _check_columns(input, header, active, model)
    df = _read(input, key_col)
    keys = _keys(df, key_col)
    versions = route(keys, served)
    preds, features = _score(df, served, versions, key_col, (model, input, manifest))
    out = output or _default_output(input)
    _write_output(df, preds, versions, out)
    folder = log_dir or root / DEFAULT_LOG_DIR / model / stage
    log = _write_log(df, preds, versions, features, key_col, folder, (model, stage))
    counts = {s.version: versions.count(s.version) for s in served}
    return PredictResult(
        model=model,
        stage=stage,
        rows=len(df),
        counts=counts,
        weights={s.version: s.weight for s in served},
        key=key_col,
        output=str(out),
        log=str(log) if log else None,
        manifest=str(manifest),
    )


# -- the deployment -------------------------------------------------------------------


def find_manifest(root: Path, stage: str, deploy_dir: Path | None) -> Path:
    """The manifest of a stage's local deployment: DIR/manifest.json or DIR/STAGE/manifest.json."""
    base = deploy_dir if deploy_dir is not None else root / DEFAULT_DEPLOY_DIR
    if deploy_dir is not None and (base / MANIFEST).is_file():
        return base / MANIFEST
    path = base / stage / MANIFEST
    if not path.is_file():
        raise UsageError(
            f"no local deployment for {stage}: run `modelreg deploy --stage {stage}` first"
        )
    return path


def read_served(manifest: Path, model: str, stage: str) -> list[Share]:
    """The versions `model` serves according to `manifest`, stable first."""
    data = read_manifest(manifest.parent)
    if data is None:
        raise UsageError(
            f"{manifest}: not a deployment manifest",
            hint=f"run `modelreg deploy --stage {stage}` again",
        )
    entry = data.models.get(model)
    if not entry or not entry.versions:
        known = ", ".join(sorted(data.models)) or "none"
        raise UsageError(f"{model} is not deployed in {stage} (deployed there: {known})")
    try:
        for s in entry.versions:
            s.path(manifest.parent)
    except ValueError:
        raise UsageError(
            f"{manifest}: models.{model}: malformed entry",
            hint=f"run `modelreg deploy --stage {stage}` again",
        ) from None
    return sorted(entry.versions, key=lambda s: s.role != "stable")


def load_verified(served: Share, manifest: Path) -> Any:
    """Load a deployed artifact through the verified loader, if it matches the manifest."""
    expected = artifacts.Expected(
        md5=served.md5,
        source=str(manifest),
        sha256=served.sha256,
        format=served.format,
        name=served.version,
    )
    return artifacts.load(
        served.path(manifest.parent),
        expected,
        hint="refusing to load it; re-run `modelreg deploy` for this stage",
    )


# -- the input ------------------------------------------------------------------------


def _header(path: Path) -> list[str]:
    import pandas as pd

    if not path.is_file():
        raise UsageError(f"--input {path}: no such file")
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UsageError(f"--input {path}: cannot be read as CSV: {first_line(exc)}") from exc


def _key_column(
    header: Sequence[str], key: str | None, path: Path, declared: str | None = None
) -> str | None:
    """--key, else model.yaml's entity_key (as `serve` routes), else a column named id."""
    if key is not None:
        if key not in header:
            raise UsageError(f"--key {key!r}: {path} has no such column (columns: {_cols(header)})")
        return key
    if declared is not None:
        if declared not in header:
            raise UsageError(
                f"model.yaml's entity_key {declared!r}: {path} has no such column "
                f"(columns: {_cols(header)})",
                hint="add the column (serve routes by it), or pass --key COLUMN",
            )
        return declared
    return next((c for c in header if c.lower() == "id"), None)


def _cols(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


def _check_columns(path: Path, header: Sequence[str], active: Sequence[Share], model: str) -> None:
    taken = [c for c in header if c in OUTPUT_COLUMNS]
    if taken:
        raise UsageError(
            f"{path}: column(s) {_cols(taken)} would be overwritten by predict's output",
            hint="rename them",
        )
    for s in active:
        _require(path, header, s.input_names or (), model, s)


def _require(
    path: Path, header: Sequence[str], inputs: Sequence[str], model: str, s: Share
) -> None:
    missing = [c for c in inputs if c not in header]
    if missing:
        where = f" (signature in {s.record})" if s.record else ""
        raise UsageError(
            f"{path}: missing column(s) {_cols(missing)} that {model} {s.version} takes{where}"
        )
    clash = [c for c in inputs if c in LOG_FIELDS]
    if clash:
        raise UsageError(
            f"{model} {s.version}: input(s) {_cols(clash)} collide with the prediction log's "
            f"own fields ({_cols(LOG_FIELDS)})",
            hint="rename the feature",
        )


def _read(path: Path, key_col: str | None) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(path, dtype={key_col: str} if key_col else None)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UsageError(f"--input {path}: cannot be read as CSV: {first_line(exc)}") from exc


def _keys(df: pd.DataFrame, key_col: str | None) -> list[str]:
    if key_col is None:
        return [str(i) for i in range(len(df))]
    return [str(k) for k in df[key_col].fillna("").tolist()]


def _default_output(path: Path) -> Path:
    name = path.name
    for suffix in (".csv.gz", ".csv"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(f"{name}.predictions.csv")


# -- scoring --------------------------------------------------------------------------


def _score(
    df: pd.DataFrame,
    served: Sequence[Share],
    versions: Sequence[str],
    key_col: str | None,
    where: tuple[str, Path, Path],
) -> tuple[np.ndarray[Any, Any], list[str]]:
    """Predictions in row order, and the union of feature columns the versions used."""
    import numpy as np

    model, input, manifest = where

    header = [str(c) for c in df.columns]
    parts: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
    features: list[str] = []
    chosen = np.asarray(versions, dtype=object)
    for s in served:
        idx = np.flatnonzero(chosen == s.version)
        if idx.size == 0:
            continue
        estimator = load_verified(s, manifest)
        cols = _features(estimator, s, header, key_col)
        _require(input, header, cols, model, s)
        features += [c for c in cols if c not in features]
        parts.append((idx, _predict_rows(estimator, df.iloc[idx][cols], model, s)))
    return _assemble(len(df), parts), [c for c in header if c in features]


def _features(estimator: Any, s: Share, header: Sequence[str], key_col: str | None) -> list[str]:
    if s.input_names:
        return list(s.input_names)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [c for c in header if c != key_col]


def _predict_rows(estimator: Any, x: pd.DataFrame, model: str, s: Share) -> np.ndarray[Any, Any]:
    import numpy as np

    data = x if getattr(estimator, "feature_names_in_", None) is not None else x.to_numpy()
    try:
        return np.asarray(estimator.predict(data))
    except Exception as exc:  # scikit-learn raises ValueError, TypeError and friends
        raise UsageError(
            f"{model} {s.version} could not score the input: {type(exc).__name__}: "
            f"{first_line(exc)}",
            hint="check the columns' values and types against the model's signature",
        ) from exc


def _assemble(
    n: int, parts: Sequence[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]
) -> np.ndarray[Any, Any]:
    import numpy as np

    flat = all(p.ndim == 1 for _, p in parts)
    try:
        dtype = np.result_type(*[p.dtype for _, p in parts]) if parts and flat else object
    except TypeError:
        dtype = object
    out = np.empty(n, dtype=dtype)
    for idx, pred in parts:
        if pred.ndim == 1:
            out[idx] = pred
        else:
            for i, row in zip(idx, pred, strict=True):
                out[i] = row.tolist()
    return out


# -- output and log -------------------------------------------------------------------


def _write_output(
    df: pd.DataFrame, preds: np.ndarray[Any, Any], versions: Sequence[str], path: Path
) -> None:
    out = df.assign(prediction=preds, version=list(versions))
    write_atomic(path, "--output", lambda tmp: out.to_csv(tmp, index=False))


def _write_log(
    df: pd.DataFrame,
    preds: np.ndarray[Any, Any],
    versions: Sequence[str],
    features: Sequence[str],
    key_col: str | None,
    folder: Path,
    model_stage: tuple[str, str],
) -> Path | None:
    """One JSON Lines file per run: what drift checks read back as the current data."""
    import pandas as pd

    model, stage = model_stage

    if len(df) == 0:
        return None
    now = datetime.now(timezone.utc)
    columns: dict[str, Any] = {
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "model": model,
        "stage": stage,
        "version": list(versions),
    }
    if key_col is not None and key_col not in features and key_col not in LOG_FIELDS:
        columns[key_col] = df[key_col].to_numpy()
    for name in features:
        columns[name] = df[name].to_numpy()
    columns["prediction"] = preds
    log = pd.DataFrame(columns, index=df.index)
    path = folder / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}.jsonl"
    # The temporary name is not *.jsonl, so a reader never sees half a file.
    write_atomic(path, "--log", lambda tmp: _to_jsonl(log, tmp))
    return path


def _to_jsonl(frame: pd.DataFrame, path: Path) -> None:
    frame.to_json(path, orient="records", lines=True, double_precision=15)


def describe(result: PredictResult) -> str:
    """The run as one line a person reads."""
    total = result.rows or 1
    split = ", ".join(
        f"{v} {n} ({100 * n / total:.1f}%, weight {result.weights.get(v, 0)}%)"
        for v, n in result.counts.items()
    )
    log = f"; log {result.log}" if result.log else ""
    return (
        f"scored {plural(result.rows, 'row')} with {result.model} in {result.stage}: {split} "
        f"→ {result.output}{log}"
    )
