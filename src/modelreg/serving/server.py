"""`serve`: online inference from a local deployment, on KServe's V1 and V2 protocols.

What serves is what the deployment manifests say, loaded through the one verified loader.
A watcher thread polls the manifests; a changed one is loaded and verified beside the
running models and swapped in with one assignment, so a request in flight finishes on the
models it started with, and a version that fails to verify or load is never swapped in.
Requests split between stable and canary with `predict`'s stable hash of the entity key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelreg.errors import ServiceError, UsageError
from modelreg.serving.manifest import MANIFEST, Share, read_manifest
from modelreg.serving.predict import (
    DEFAULT_DEPLOY_DIR,
    DEFAULT_LOG_DIR,
    bucket,
    entity_key,
    load_verified,
)

if TYPE_CHECKING:
    import asyncio

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from modelreg.serving.metrics import Metrics, StatsHistory
    from modelreg.serving.predlog import LogWriter

CONFIG_ENV = "MODELREG_SERVE_CONFIG"
POLL_SECONDS = 0.5
FEEDBACK_MEMORY = 100_000  # request ids remembered for feedback
ROLES = {"stable": "stable", "candidate": "canary"}
V2_TYPES = {"float": "FP64", "int": "INT64", "bool": "BOOL"}


@dataclass(frozen=True)
class ServeConfig:
    """Everything a worker needs, passed to uvicorn's workers through the environment."""

    root: str
    manifests: tuple[tuple[str, str], ...]  # (stage, manifest path)
    log_dir: str
    drift_files: tuple[str, ...] = ()
    log_max_bytes: int = 64 * 1024 * 1024
    poll_seconds: float = POLL_SECONDS
    # (model, version) -> share of its requests answered 500 on purpose (`--inject-errors`)
    faults: tuple[tuple[str, str, float], ...] = ()

    def to_env(self) -> str:
        return json.dumps(
            {
                "root": self.root,
                "manifests": [list(m) for m in self.manifests],
                "log_dir": self.log_dir,
                "drift_files": list(self.drift_files),
                "log_max_bytes": self.log_max_bytes,
                "poll_seconds": self.poll_seconds,
                "faults": [list(f) for f in self.faults],
            }
        )

    @classmethod
    def from_env(cls, text: str) -> ServeConfig:
        d = json.loads(text)
        return cls(
            root=d["root"],
            manifests=tuple((str(s), str(p)) for s, p in d["manifests"]),
            log_dir=d["log_dir"],
            drift_files=tuple(d.get("drift_files", ())),
            log_max_bytes=int(d.get("log_max_bytes", 64 * 1024 * 1024)),
            poll_seconds=float(d.get("poll_seconds", POLL_SECONDS)),
            faults=tuple((str(m), str(v), float(r)) for m, v, r in d.get("faults", ())),
        )


def resolve(
    root: Path,
    *,
    stages: Sequence[str] = (),
    deploy_dir: Path | None = None,
    log_dir: Path | None = None,
    drift_dir: Path | None = None,
    log_max_bytes: int = 64 * 1024 * 1024,
    faults: Sequence[tuple[str, str, float]] = (),
) -> ServeConfig:
    """The manifests to serve: DIR/manifest.json, else DIR/<stage>/manifest.json per stage."""
    base = deploy_dir if deploy_dir is not None else root / DEFAULT_DEPLOY_DIR
    found: list[tuple[str, Path]] = []
    if (base / MANIFEST).is_file():
        data = read_manifest(base)
        stage = data.stage if data is not None and data.stage else base.name
        found.append((stage, base / MANIFEST))
    else:
        names = list(stages)
        if not names and base.is_dir():
            names = sorted(p.name for p in base.iterdir() if (p / MANIFEST).is_file())
        for stage in names:
            path = base / stage / MANIFEST
            if not path.is_file():
                raise UsageError(
                    f"no local deployment for {stage} in {base}",
                    hint=f"run `modelreg deploy --stage {stage}` first",
                )
            found.append((stage, path))
    if stages:
        found = [(s, p) for s, p in found if s in stages]
    if not found:
        raise UsageError(
            f"nothing to serve: no deployment manifest in {base}",
            hint="run `modelreg deploy --stage STAGE` first",
        )
    drift_base = drift_dir if drift_dir is not None else base
    drift = [drift_base / "modelreg_drift.prom"] + [
        drift_base / s / "modelreg_drift.prom" for s, _ in found
    ]
    return ServeConfig(
        root=str(root),
        manifests=tuple((s, str(p)) for s, p in found),
        log_dir=str(log_dir if log_dir is not None else root / DEFAULT_LOG_DIR),
        drift_files=tuple(str(p) for p in drift),
        log_max_bytes=log_max_bytes,
        faults=tuple(faults),
    )


def parse_fault(text: str) -> tuple[str, str, float]:
    """`MODEL@VERSION=SHARE` (`--inject-errors`): a version that fails SHARE of its requests."""
    from modelreg.registry.names import check_name, check_version

    target, sep, share = text.partition("=")
    model, at, version = target.partition("@")
    if not sep or not at:
        raise UsageError(
            f"--inject-errors {text!r}: expected MODEL@VERSION=SHARE",
            hint="for example --inject-errors churn@v1.1.0=0.1 fails 10% of v1.1.0's requests",
        )
    check_name(model, "--inject-errors")
    check_version(version, "--inject-errors")
    try:
        rate = float(share)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise UsageError(f"--inject-errors {text!r}: SHARE must be a number from 0 to 1")
    return model, version, rate


class InjectedError(Exception):
    """A failure `--inject-errors` asked for: answered 500 and counted like a model failure."""

    def __init__(self, version: Loaded) -> None:
        super().__init__(f"error injected by --inject-errors into {version.share.version}")
        self.version = version


def injected(request_id: str, rate: float) -> bool:
    """Whether this request is one of the `rate` share that fails: a stable hash of its id,
    independent of the split's (so the failing requests are not one slice of keys)."""
    digest = hashlib.blake2b(b"inject-errors:" + request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < rate * 10_000


# -- what serves ----------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """One verified, loaded version."""

    share: Share
    estimator: Any
    features: tuple[str, ...]
    types: tuple[str, ...]
    classifier: bool
    frame: bool  # the estimator was fitted on a DataFrame and wants one

    @property
    def role(self) -> str:
        return ROLES.get(self.share.role, self.share.role)


@dataclass(frozen=True)
class Endpoint:
    """One model of one stage: its versions (stable first) and what failed to load."""

    model: str
    stage: str
    entity_key: str | None
    versions: tuple[Loaded, ...]
    failures: Mapping[str, str] = field(default_factory=dict)
    commit: str = ""

    @property
    def stable(self) -> Loaded:
        return self.versions[0]

    @property
    def canary(self) -> Loaded | None:
        c = next((v for v in self.versions[1:] if v.share.role == "candidate"), None)
        return c if c is not None and c.share.weight > 0 else None

    def pick(self, key: str) -> Loaded:
        c = self.canary
        return c if c is not None and bucket(key) < c.share.weight else self.stable


class RequestError(Exception):
    """A client mistake: the status, the message and the field it concerns."""

    def __init__(self, status: int, message: str, field: str | None = None, problem: str = ""):
        super().__init__(message)
        self.status, self.message, self.field, self.problem = status, message, field, problem


def _load(share: Share, manifest: Path) -> Loaded:
    est = load_verified(share, manifest)
    names = getattr(est, "feature_names_in_", None)
    if share.inputs:
        features = tuple(n for n, _ in share.inputs)
        types = tuple(t for _, t in share.inputs)
    elif names is not None:
        features = tuple(str(n) for n in names)
        types = tuple("float" for _ in features)
    else:
        raise UsageError(f"{share.version}: no input signature recorded and none in the model")
    return Loaded(
        share=share,
        estimator=est,
        features=features,
        types=types,
        classifier=hasattr(est, "classes_"),
        frame=names is not None,
    )


# -- the state and its reloads --------------------------------------------------------


class State:
    """The endpoints being served; `endpoints` is replaced whole, never changed in place."""

    def __init__(self, config: ServeConfig, metrics: Metrics) -> None:
        self.config = config
        self.metrics = metrics
        self.endpoints: dict[str, Endpoint] = {}
        self.names: dict[str, tuple[str, str]] = {}
        self.failures: dict[tuple[str, str], dict[str, str]] = {}
        self._seen: dict[str, tuple[tuple[int, ...], bytes]] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._reloading = False
        self.reload()

    def stop(self) -> None:
        self._stopped = True

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Poll the manifests from the event loop: a `stat` per manifest and poll, no
        thread; only a changed manifest is read, and the loading runs in a thread of its
        own (the requests go on meanwhile on the models they have)."""
        if self._stopped:
            return
        manifests = self.config.manifests
        if not self._reloading and any(self._changed(Path(p), peek=True) for _, p in manifests):
            self._reloading = True

            def done(_: Any) -> None:
                self._reloading = False

            loop.run_in_executor(None, self._reload_quietly).add_done_callback(done)
        loop.call_later(self.config.poll_seconds, self.watch, loop)

    def _reload_quietly(self) -> None:
        with contextlib.suppress(Exception):  # never let a reload kill the watch: next poll retries
            self.reload()

    def _changed(self, path: Path, *, peek: bool = False) -> bool:
        """Whether the manifest changed since it was last loaded. Its stat decides, except
        within two seconds of its mtime, when a rewrite with the same size can keep the
        same mtime: then its bytes decide."""
        try:
            st = path.stat()
        except OSError:
            return False
        sig = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_ctime_ns)
        seen = self._seen.get(str(path))
        if seen is not None and seen[0] == sig and time.time() - st.st_mtime > 2.0:
            return False
        try:
            data = path.read_bytes()
        except OSError:
            return False
        if seen is not None and seen[1] == data:
            self._seen[str(path)] = (sig, data)
            return False
        if not peek:
            self._seen[str(path)] = (sig, data)
        return True

    def reload(self) -> None:
        """Load what changed in any manifest, then swap the whole table at once."""
        with self._lock:
            changed = [
                (stage, Path(p)) for stage, p in self.config.manifests if self._changed(Path(p))
            ]
            if not changed:
                return
            table = dict(self.endpoints_by_stage())
            for stage, path in changed:
                data = read_manifest(path.parent)
                if data is None:
                    continue  # unreadable: keep serving what was loaded
                for model in [m for (m, s) in table if s == stage and m not in data.models]:
                    del table[(model, stage)]
                for model, dep in data.models.items():
                    ep = self._endpoint(model, stage, dep.versions, dep.commit, path, table)
                    if ep is not None:
                        table[(model, stage)] = ep
            self._publish(table)

    def endpoints_by_stage(self) -> dict[tuple[str, str], Endpoint]:
        return {(e.model, e.stage): e for e in self.endpoints.values()}

    def _endpoint(
        self,
        model: str,
        stage: str,
        shares: Sequence[Share],
        commit: str,
        manifest: Path,
        table: Mapping[tuple[str, str], Endpoint],
    ) -> Endpoint | None:
        old = table.get((model, stage))
        have = {(v.share.version, v.share.md5): v for v in old.versions} if old else {}
        loaded: list[Loaded] = []
        failures: dict[str, str] = {}
        for share in sorted(shares, key=lambda s: s.role != "stable"):
            prev = have.get((share.version, share.md5))
            if prev is not None and prev.share.sha256 == share.sha256:
                loaded.append(Loaded(**{**prev.__dict__, "share": share}))
                continue
            try:
                loaded.append(_load(share, manifest))
            except Exception as exc:  # a failed md5/SHA-256 check, unpickling, a bad row
                failures[share.version] = str(exc).splitlines()[0] if str(exc) else repr(exc)
                self.metrics.child(self.metrics.load_failures, model, share.version, stage).inc()
                self.metrics.child(self.metrics.ready, model, share.version, stage).set(0)
        self.failures[(model, stage)] = failures
        if failures or not loaded:
            return old  # not swapped in: keep serving what was loaded before
        for v in loaded:
            self.metrics.child(self.metrics.ready, model, v.share.version, stage).set(1)
            self.metrics.prime(model, v.share.version, stage, v.role)
        if old is not None:
            for v in old.versions:
                if v.share.version not in {n.share.version for n in loaded}:
                    self.metrics.child(self.metrics.ready, model, v.share.version, stage).set(0)
        key = entity_key(Path(self.config.root), model)
        return Endpoint(model, stage, key, tuple(loaded), {}, commit)

    def _publish(self, table: Mapping[tuple[str, str], Endpoint]) -> None:
        stages_of: dict[str, int] = {}
        for model, _ in table:
            stages_of[model] = stages_of.get(model, 0) + 1
        endpoints: dict[str, Endpoint] = {}
        for (model, stage), ep in table.items():
            endpoints[f"{model}-{stage}"] = ep
        for (model, _), ep in table.items():
            if stages_of[model] == 1 and model not in endpoints:
                endpoints[model] = ep
        self.endpoints = endpoints  # the swap: one assignment

    def get(self, name: str) -> Endpoint:
        ep = self.endpoints.get(name)
        if ep is None:
            known = ", ".join(sorted(self.endpoints)) or "none"
            raise RequestError(404, f"model {name!r} is not served here (served: {known})")
        return ep

    def model_failures(self, ep: Endpoint) -> Mapping[str, str]:
        return self.failures.get((ep.model, ep.stage), {})


# -- input ----------------------------------------------------------------------------


# Integers beyond this cannot become the float64 a model is given.
_LARGEST = 2**1023


def _convert(value: Any, kind: str, name: str) -> Any:
    if value is None:
        raise RequestError(422, f"feature {name!r} is missing (null)", name, "missing")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and not (math.isfinite(value) if isinstance(value, float) else abs(value) < _LARGEST):
        got = json.dumps(value)[:60]
        raise RequestError(
            422, f"feature {name!r} must be a finite number, got {got}", name, "invalid"
        )
    if kind == "float":
        if number:
            return float(value)
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif isinstance(value, (str, int, float)):
        return value
    raise RequestError(
        422, f"feature {name!r} must be {kind}, got {json.dumps(value)[:60]}", name, "invalid"
    )


def _typed(rows: list[list[Any]], types: Sequence[str], features: Sequence[str]) -> list[Any]:
    """Rows checked against the signature; all-float rows of finite JSON numbers pass as
    they are (the common case, without a call per value), anything else value by value.

    A number too large for a float (`1e400` parses as infinity) is the client's mistake,
    a 422 naming the feature: it never reaches the model to fail there as a 500, which
    would count against the version serving it.
    """
    if all(t == "float" for t in types) and set(map(type, chain.from_iterable(rows))) <= {
        float,
        int,
    }:
        with contextlib.suppress(OverflowError):  # an integer too large for a float
            if math.isfinite(sum(chain.from_iterable(rows))):  # inf or nan stays in a sum
                return rows
    return [
        [_convert(v, t, f) for v, t, f in zip(row, types, features, strict=True)] for row in rows
    ]


def _rows_v1(body: Any, features: Sequence[str]) -> tuple[list[list[Any]], list[Any] | None]:
    """V1 rows as lists in signature order; each row's own object when given as objects."""
    if not isinstance(body, dict) or "instances" not in body:
        raise RequestError(400, 'the body must be a JSON object with "instances"', "instances")
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise RequestError(400, '"instances" must be a non-empty list of rows', "instances")
    f = len(features)
    if set(map(type, instances)) == {list} and set(map(len, instances)) == {f}:
        return instances, None  # rows in signature order: the common case, checked in C
    rows: list[list[Any]] = []
    objects: list[Any] | None = [] if isinstance(instances[0], dict) else None
    for i, inst in enumerate(instances):
        if isinstance(inst, dict):
            if objects is None:
                raise RequestError(400, f"instances[{i}]: mix of lists and objects", "instances")
            missing = next((f for f in features if f not in inst), None)
            if missing is not None:
                raise RequestError(
                    422, f"instances[{i}]: feature {missing!r} is missing", missing, "missing"
                )
            rows.append([inst[f] for f in features])
            objects.append(inst)
        elif isinstance(inst, list):
            if objects is not None:
                raise RequestError(400, f"instances[{i}]: mix of lists and objects", "instances")
            if len(inst) != len(features):
                raise RequestError(
                    422,
                    f"instances[{i}] has {len(inst)} values, the signature {len(features)} "
                    f"({', '.join(features)})",
                    "instances",
                    "invalid",
                )
            rows.append(inst)
        else:
            raise RequestError(400, f"instances[{i}] must be a list or an object", "instances")
    return rows, objects


def _flat(data: Any) -> list[Any]:
    if isinstance(data, list) and data and isinstance(data[0], list):
        return [x for row in data for x in (row if isinstance(row, list) else [row])]
    if not isinstance(data, list):
        raise RequestError(400, '"data" must be a list', "data")
    return data


def _rows_v2(
    body: Any, features: Sequence[str], entity_key: str | None
) -> tuple[list[list[Any]], list[str] | None]:
    """V2 rows: one input per feature, or one [N, F] tensor in signature order."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise RequestError(400, 'the body must be a JSON object with a list of "inputs"', "inputs")
    inputs = body["inputs"]
    by_name: dict[str, Any] = {}
    for i, inp in enumerate(inputs):
        if not isinstance(inp, dict) or "name" not in inp or "data" not in inp:
            raise RequestError(400, f"inputs[{i}] needs a name and data", "inputs")
        by_name[str(inp["name"])] = inp
    keys = None
    if entity_key is not None and entity_key in by_name and entity_key not in features:
        keys = [str(k) for k in _flat(by_name.pop(entity_key)["data"])]
    if len(by_name) == 1 and next(iter(by_name)) not in features:
        inp = next(iter(by_name.values()))
        shape = inp.get("shape") or []
        flat = _flat(inp["data"])
        f = len(features)
        if len(shape) != 2 or shape[1] != f or len(flat) != shape[0] * f:
            raise RequestError(
                422,
                f"input {inp['name']!r} must be one [N, {f}] tensor in signature order "
                f"({', '.join(features)}), got shape {shape} with {len(flat)} values",
                str(inp["name"]),
                "invalid",
            )
        return [flat[r * f : (r + 1) * f] for r in range(shape[0])], keys
    columns = []
    for name in features:
        inp = by_name.get(name)
        if inp is None:
            raise RequestError(422, f"input {name!r} is missing", name, "missing")
        columns.append(_flat(inp["data"]))
    n = len(columns[0])
    for name, col in zip(features, columns, strict=True):
        if len(col) != n:
            raise RequestError(
                422, f"input {name!r} has {len(col)} values, others {n}", name, "invalid"
            )
    if keys is not None and len(keys) != n:
        raise RequestError(422, f"input {entity_key!r} has {len(keys)} values", entity_key)
    return [list(r) for r in zip(*columns, strict=True)], keys


# -- the app --------------------------------------------------------------------------


class Server:
    """One worker: the state, the metrics, the log, and the request handlers."""

    def __init__(self, config: ServeConfig) -> None:
        from modelreg.serving.metrics import Metrics, StatsHistory
        from modelreg.serving.predlog import LogWriter

        self.config = config
        self.metrics: Metrics = Metrics(tuple(Path(p) for p in config.drift_files))
        self.state = State(config, self.metrics)
        self.log: LogWriter = LogWriter(
            Path(config.log_dir), max_bytes=config.log_max_bytes, on_failure=self.log_failed
        )
        self.stats: StatsHistory = StatsHistory(self.metrics.scrape)
        # request id -> model, stage, version(s), role(s), predictions: one version and role
        # for the whole request, or one per row
        self.recent: OrderedDict[str, tuple[str, str, Any, Any, tuple[Any, ...]]] = OrderedDict()
        self.faults = {(m, v): r for m, v, r in config.faults}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """The timers on the event loop: the manifest poll and the stats snapshots."""
        loop.call_later(self.config.poll_seconds, self.state.watch, loop)
        self.stats.start(loop)
        self.log.attach(loop)

    def log_failed(self, message: str) -> None:
        """The prediction log writer died: said on stderr and counted, never silent."""
        import sys

        self.metrics.log_failures.inc()
        print(f"modelreg serve: error: {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.state.stop()
        self.stats.stop()
        self.log.close()

    # -- inference --

    def infer(
        self, ep: Endpoint, typed: list[list[Any]], keys: list[str] | None, request_id: str
    ) -> tuple[list[Any], Loaded | list[Loaded]]:
        """Predictions in row order and the version that made them: one for the whole
        request (split by its id or one key), else one per row. `typed`: rows checked
        against the signature (`_typed`)."""
        pick = ep.pick
        if keys is None:
            v = pick(request_id)
            self._fault(ep, v, request_id)
            return _predict(v, typed), v
        chosen = [pick(k) for k in keys]
        first = chosen[0]
        if all(c is first for c in chosen):
            self._fault(ep, first, request_id)
            return _predict(first, typed), first
        versions = {id(c): c for c in chosen}.values()
        for v in versions:
            self._fault(ep, v, request_id)
        preds: list[Any] = [None] * len(typed)
        for v in versions:
            idx = [i for i, c in enumerate(chosen) if c is v]
            out = _predict(v, [typed[i] for i in idx])
            for i, p in zip(idx, out, strict=True):
                preds[i] = p
        return preds, chosen

    def _fault(self, ep: Endpoint, v: Loaded, request_id: str) -> None:
        if self.faults:
            rate = self.faults.get((ep.model, v.share.version), 0.0)
            if rate > 0 and injected(request_id, rate):
                raise InjectedError(v)

    def record(
        self,
        ep: Endpoint,
        rows: list[list[Any]],
        preds: list[Any],
        chosen: Loaded | list[Loaded],
        request_id: str,
        keys: list[str] | None,
        raw: bytes | None = None,
    ) -> None:
        """Count the predictions, remember them for feedback, send them to the log (`raw`:
        the V1 body the rows are, rows of numbers in signature order)."""
        from modelreg.serving.predlog import Batch

        m = self.metrics
        versions: str | list[str]
        roles: str | list[str]
        if isinstance(chosen, Loaded):  # the common case: counted per class, not per row
            v = chosen
            if v.classifier:
                for cls, n in Counter(map(str, preds)).items():
                    m.child(m.predictions, ep.model, v.share.version, ep.stage, v.role, cls).inc(n)
            else:
                hist = m.child(m.values, ep.model, v.share.version, ep.stage, v.role)
                for p in preds:
                    if isinstance(p, (int, float)):
                        hist.observe(p)
            versions, roles = v.share.version, v.role
        else:
            classes: Counter[tuple[int, str]] = Counter()
            for v, p in zip(chosen, preds, strict=True):
                if v.classifier:
                    classes[id(v), str(p)] += 1
                elif isinstance(p, (int, float)):
                    m.child(m.values, ep.model, v.share.version, ep.stage, v.role).observe(p)
            by_id = {id(c): c for c in chosen}
            for (vid, cls), n in classes.items():
                v = by_id[vid]
                m.child(m.predictions, ep.model, v.share.version, ep.stage, v.role, cls).inc(n)
            roles = [c.role for c in chosen]
            versions = [c.share.version for c in chosen]
        # tuples of strings and numbers only: the garbage collector stops tracking them, so
        # the FEEDBACK_MEMORY requests remembered do not lengthen every full collection
        self.recent[request_id] = (
            ep.model,
            ep.stage,
            versions if isinstance(versions, str) else tuple(versions),
            roles if isinstance(roles, str) else tuple(roles),
            tuple(preds),
        )
        if len(self.recent) > FEEDBACK_MEMORY:
            self.recent.popitem(last=False)
        self.log.put(
            Batch(
                ts=time.time(),
                model=ep.model,
                stage=ep.stage,
                request_id=request_id,
                features=ep.stable.features,
                rows=rows,
                versions=versions,
                roles=roles,
                predictions=preds,
                key_name=ep.entity_key if keys is not None else None,
                keys=keys,
                raw=raw,
            )
        )

    def count(self, ep: Endpoint, v: Loaded, code: int, seconds: float) -> None:
        m = self.metrics
        labels = (ep.model, v.share.version, ep.stage, v.role)
        m.child(m.requests, *labels, str(code)).inc()
        m.child(m.duration, *labels).observe(seconds)

    # -- feedback --

    def feedback(self, item: Any) -> bool:
        """Record one label; True when this worker predicted the request it names."""
        from modelreg.serving.predlog import Feedback

        if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
            raise RequestError(400, 'each feedback needs "request_id" and "label"', "request_id")
        rid, label = str(item["request_id"]), item["label"]
        known = self.recent.get(rid)
        if known is None:
            self.log.put(Feedback(time.time(), rid, label, item.get("model"), item.get("stage")))
            return False
        model, stage, versions, roles, preds = known
        if isinstance(versions, str):
            versions, roles = [versions] * len(preds), [roles] * len(preds)
        rows = list(zip(versions, roles, preds, strict=True))
        labels = label if isinstance(label, list) and len(rows) > 1 else [label]
        ep = self.state.endpoints_by_stage().get((model, stage))
        classifier = ep.stable.classifier if ep is not None else True
        for (version, role, pred), lab in zip(rows, labels, strict=False):
            self._outcome(model, stage, version, role, pred, lab, classifier)
        version, role = rows[0][0], rows[0][1]
        self.log.put(Feedback(time.time(), rid, label, model, stage, version, role))
        return True

    def _outcome(
        self, model: str, stage: str, version: str, role: str, pred: Any, label: Any, cls: bool
    ) -> None:
        m = self.metrics
        if cls:
            outcome = "correct" if _same(pred, label) else "wrong"
            m.child(m.feedback, model, version, stage, role, outcome).inc()
            return
        try:
            err = abs(float(pred) - float(label))
        except (TypeError, ValueError):
            return
        m.child(m.abs_error, model, version, stage, role).observe(err)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return str(a) == str(b)


def _predict(v: Loaded, rows: list[list[Any]]) -> list[Any]:
    import numpy as np

    if v.frame:
        import pandas as pd

        x: Any = pd.DataFrame(rows, columns=list(v.features))
    elif all(t in ("float", "int", "bool") for t in v.types):
        x = np.asarray(rows, dtype=float)
    else:
        x = np.asarray(rows, dtype=object)
    out: list[Any] = np.asarray(v.estimator.predict(x)).tolist()
    return out


# -- HTTP -----------------------------------------------------------------------------


_DUMPS = json.JSONEncoder(separators=(",", ":"), default=str).encode
Answer = tuple[int, Any, dict[str, str]]  # status, JSON body, headers
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    from starlette.responses import Response

    ctype = "application/json"
    return Response(_DUMPS(data), status, headers=dict(headers or {}), media_type=ctype)


def _error_answer(exc: RequestError, request_id: str | None = None) -> Answer:
    body: dict[str, Any] = {"error": exc.message}
    if exc.field is not None:
        body["field"] = exc.field
    return exc.status, body, {"x-request-id": request_id} if request_id else {}


def _respond(ans: Answer) -> Response:
    status, body, headers = ans
    return _json(body, status, headers)


def _error(exc: RequestError, request_id: str | None = None) -> Response:
    return _respond(_error_answer(exc, request_id))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (RFC 8259 has no NaN or Infinity)")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except ValueError as exc:
        raise RequestError(400, f"the body is not JSON: {exc}", "body") from None


async def _body(request: Request) -> Any:
    return _parse(await request.body())


def _request_id(header: str, body: Any) -> str:
    rid = header
    if not rid and isinstance(body, dict) and isinstance(body.get("id"), str):
        rid = body["id"]
    return rid or uuid.uuid4().hex


def _top_key(body: Any, ep: Endpoint) -> str | None:
    """An entity key given once for the whole request (body field or V2 parameter)."""
    if ep.entity_key is None or not isinstance(body, dict):
        return None
    for where in (body, body.get("parameters")):
        if isinstance(where, dict) and where.get(ep.entity_key) is not None:
            return str(where[ep.entity_key])
    return None


def answer(server: Server, name: str, v2: bool, rid: str, raw: bytes) -> Answer:
    """One inference request, V1 or V2, from its body to the status, body and headers."""
    start = time.perf_counter()
    try:
        ep = server.state.get(name)
    except RequestError as exc:
        return _error_answer(exc)
    served: Loaded | None = None
    try:
        body = _parse(raw)
        rid = _request_id(rid, body)
        top = _top_key(body, ep)
        served = ep.pick(top or rid)
        objects = None
        if v2:
            rows, keys = _rows_v2(body, ep.stable.features, ep.entity_key)
        else:
            rows, objects = _rows_v1(body, ep.stable.features)
            keys = _object_keys(objects, ep, server)
        if keys is None and top is not None:
            keys = [top] * len(rows)
        typed = _typed(rows, ep.stable.types, ep.stable.features)
        preds, chosen = server.infer(ep, typed, keys, rid)
    except RequestError as exc:
        if exc.problem and exc.field:
            server.metrics.problem(ep.model, ep.stage, exc.problem, exc.field)
        served = served or ep.stable
        server.count(ep, served, exc.status, time.perf_counter() - start)
        return _error_answer(exc, rid)
    except InjectedError as exc:  # asked for by --inject-errors: a 500 like any other
        server.count(ep, exc.version, 500, time.perf_counter() - start)
        headers = {"x-request-id": rid, "x-model-version": exc.version.share.version}
        return 500, {"error": str(exc)}, headers
    except Exception as exc:  # the model itself failed: a server error, counted as one
        served = served or ep.stable
        server.count(ep, served, 500, time.perf_counter() - start)
        msg = f"{ep.model} {served.share.version} failed: {type(exc).__name__}: {exc}"
        return 500, {"error": msg}, {"x-request-id": rid}
    # rows of JSON numbers as they were sent (the common case): the log writer takes them
    # from the body's text, so the worker does not pickle them
    numbers = not v2 and objects is None and typed is rows
    server.record(ep, rows, preds, chosen, rid, keys, raw if numbers else None)
    if isinstance(chosen, Loaded):
        versions = [chosen.share.version]
        server.count(ep, chosen, 200, time.perf_counter() - start)
    else:
        versions = sorted({c.share.version for c in chosen})
        elapsed = time.perf_counter() - start
        for v in {id(c): c for c in chosen}.values():
            server.count(ep, v, 200, elapsed)
    headers = {"x-request-id": rid, "x-model-version": ",".join(versions)}
    out = _v2_response(name, ep, versions, rid, preds) if v2 else {"predictions": preds}
    return 200, out, headers


def _inference_target(path: str) -> tuple[str, bool] | None:
    """(model, is V2) for the inference paths, as Starlette's routes would match them."""
    if path.startswith("/v1/models/") and path.endswith(":predict"):
        name = path[11:-8]
        return (name, False) if name and "/" not in name else None
    if path.startswith("/v2/models/") and path.endswith("/infer"):
        parts = path[11:-6].split("/")
        if len(parts) == 1 and parts[0]:
            return parts[0], True
        if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
            return parts[0], True
    return None


def _header_value(value: str) -> bytes:
    if value.isascii() and value.isprintable():
        return value.encode("ascii")
    return "".join(c if c.isprintable() else "?" for c in value).encode("latin-1", "replace")


def build_app(server: Server) -> ASGIApp:
    """The ASGI app: KServe V1 and V2 inference, health, metadata, metrics, stats.

    Inference requests are answered by a plain ASGI function, without Starlette's
    routing, request and response objects (their cost is most of a small request's);
    everything else goes to the Starlette app.
    """
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    state = server.state

    async def predict(request: Request, v2: bool) -> Response:
        raw = await request.body()
        rid = request.headers.get("x-request-id") or ""
        return _respond(answer(server, request.path_params["model"], v2, rid, raw))

    async def v1_predict(request: Request) -> Response:
        return await predict(request, v2=False)

    async def v2_infer(request: Request) -> Response:
        return await predict(request, v2=True)

    async def live(_: Request) -> Response:
        return _json({"live": True})

    async def ready(_: Request) -> Response:
        eps = state.endpoints
        found = {name: dict(state.model_failures(ep)) for name, ep in eps.items()}
        failures = {name: f for name, f in found.items() if f}
        body: dict[str, Any] = {"ready": bool(eps), "models": sorted(eps)}
        if failures:
            body["failures"] = failures
        return _json(body, 200 if eps else 503)

    async def model_ready(request: Request) -> Response:
        try:
            ep = state.get(request.path_params["model"])
        except RequestError as exc:
            return _error(exc)
        failures = dict(state.model_failures(ep))
        body: dict[str, Any] = {
            "name": request.path_params["model"],
            "ready": not failures,
            "serving": [v.share.version for v in ep.versions],
        }
        if failures:
            body["failures"] = failures
        return _json(body, 503 if failures else 200)

    async def metadata(request: Request) -> Response:
        try:
            ep = state.get(request.path_params["model"])
        except RequestError as exc:
            return _error(exc)
        return _json(_metadata(request.path_params["model"], ep, state.model_failures(ep)))

    async def metrics(_: Request) -> Response:
        data, ctype = server.metrics.exposition()
        return Response(data, headers={"Content-Type": ctype})

    async def stats(request: Request) -> Response:
        q = request.query_params
        model, stage = q.get("model"), q.get("stage")
        if not model or not stage:
            return _json({"error": "give model= and stage=", "field": "model"}, 400)
        try:
            interval = float(q.get("interval", "300"))
        except ValueError:
            return _json({"error": "interval= must be seconds", "field": "interval"}, 400)
        data = server.stats.window(model, stage, interval)
        data["interval_seconds"] = int(interval) if interval.is_integer() else interval
        for ep in state.endpoints.values():
            if ep.model == model and ep.stage == stage:
                for v in ep.versions:
                    data["versions"].setdefault(v.share.version, _empty(v.role))
        return _json(data)

    async def feedback(request: Request) -> Response:
        try:
            body = await _body(request)
            items = body if isinstance(body, list) else [body]
            matched = sum(server.feedback(item) for item in items)
        except RequestError as exc:
            return _error(exc)
        return _json({"recorded": len(items), "matched": matched})

    async def not_prometheus(_: Request) -> Response:
        return PlainTextResponse("not Prometheus: this is modelreg serve", 404)

    routes = [
        Route("/v1/models/{model}:predict", v1_predict, methods=["POST"]),
        Route("/v2/models/{model}/infer", v2_infer, methods=["POST"]),
        Route("/v2/models/{model}/versions/{version}/infer", v2_infer, methods=["POST"]),
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route("/v2/models/{model}/ready", model_ready),
        Route("/v2/models/{model}", metadata),
        Route("/v1/models/{model}", model_ready),
        Route("/v2", lambda _: _json({"name": "modelreg", "extensions": []})),
        Route("/metrics", metrics),
        Route("/v1/stats", stats),
        Route("/v1/feedback", feedback, methods=["POST"]),
        Route("/api/v1/status/buildinfo", not_prometheus),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        import asyncio

        server.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            server.close()

    inner = Starlette(routes=routes, lifespan=lifespan)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            target = _inference_target(scope["path"])
            if target is not None:
                chunks = []
                more = True
                while more:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away
                    chunks.append(message.get("body", b""))
                    more = message.get("more_body", False)
                rid = ""
                for key, value in scope["headers"]:
                    if key == b"x-request-id":
                        rid = value.decode("latin-1")
                        break
                status, out, headers = answer(server, target[0], target[1], rid, b"".join(chunks))
                data = _DUMPS(out).encode()
                raw_headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ]
                raw_headers += [(k.encode(), _header_value(v)) for k, v in headers.items()]
                start = {"type": "http.response.start", "status": status, "headers": raw_headers}
                await send(start)
                await send({"type": "http.response.body", "body": data})
                return
        await inner(scope, receive, send)

    return app


def _object_keys(objects: list[Any] | None, ep: Endpoint, server: Server) -> list[str] | None:
    """Per-row entity keys of V1 object rows; unknown fields counted as input problems."""
    if objects is None:
        return None
    known = set(ep.stable.features)
    if ep.entity_key:
        known.add(ep.entity_key)
    for obj in objects[:1]:
        for name in obj:
            if name not in known:
                server.metrics.problem(ep.model, ep.stage, "unknown", str(name))
    if ep.entity_key is None or not all(ep.entity_key in o for o in objects):
        return None
    return [str(o[ep.entity_key]) for o in objects]


def _empty(role: str) -> dict[str, Any]:
    from modelreg.serving.metrics import LATENCY_BUCKETS

    buckets = {str(float(b)): 0 for b in LATENCY_BUCKETS}
    buckets["+Inf"] = 0
    return {
        "role": role,
        "requests": 0,
        "errors": 0,
        "latency_buckets": buckets,
        "feedback_total": 0,
        "feedback_correct": 0,
    }


def _v2_type(values: Sequence[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def _v2_response(
    name: str, ep: Endpoint, versions: Sequence[str], rid: str, preds: list[Any]
) -> dict[str, Any]:
    return {
        "model_name": name,
        "model_version": ",".join(versions),
        "id": rid,
        "outputs": [
            {"name": "predict", "shape": [len(preds)], "datatype": _v2_type(preds), "data": preds}
        ],
    }


def _metadata(name: str, ep: Endpoint, failures: Mapping[str, str]) -> dict[str, Any]:
    s = ep.stable
    return {
        "name": name,
        "versions": [v.share.version for v in ep.versions],
        "platform": "sklearn",
        "inputs": [
            {"name": f, "datatype": V2_TYPES.get(t, "BYTES"), "shape": [-1]}
            for f, t in zip(s.features, s.types, strict=True)
        ],
        "outputs": [
            {"name": "predict", "datatype": "INT64" if s.classifier else "FP64", "shape": [-1]}
        ],
        "parameters": {
            "model": ep.model,
            "stage": ep.stage,
            "commit": ep.commit,
            "entity_key": ep.entity_key,
            "signature": {
                "inputs": [{"name": f, "type": t} for f, t in zip(s.features, s.types, strict=True)]
            },
            "served": [
                {
                    "version": v.share.version,
                    "role": v.role,
                    "weight": v.share.weight,
                    "record": v.share.record,
                }
                for v in ep.versions
            ],
            "failures": dict(failures),
        },
    }


def create_app() -> ASGIApp:
    """uvicorn's app factory: the configuration comes from the environment."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise UsageError(f"{CONFIG_ENV} is not set: start the server with `modelreg serve`")
    import gc

    server = Server(ServeConfig.from_env(text))
    # What is loaded now (the libraries, the models) lives as long as the worker: moved out
    # of the collector's generations, so that a full collection, which stops the event
    # loop, does not walk it every time (a worker's own process: `running` does not).
    gc.freeze()
    return build_app(server)


def run(config: ServeConfig, *, host: str, port: int, workers: int) -> None:
    """Start uvicorn with `workers` processes; returns when the server stops."""
    import shutil
    import tempfile

    import uvicorn

    os.environ[CONFIG_ENV] = config.to_env()
    mpdir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mpdir = tempfile.mkdtemp(prefix="modelreg-prom-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = mpdir
    try:
        uvicorn.run(
            "modelreg.serving.server:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_level="warning",
        )
    finally:
        if mpdir is not None:
            shutil.rmtree(mpdir, ignore_errors=True)


@contextlib.contextmanager
def running(config: ServeConfig, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `config` from a thread of this process while the block runs; yields its URL.

    The port is a free one the OS picks (the socket is bound before the server starts, so
    no other process can take it in between). Leaving the block, normally, by an
    exception or by Ctrl-C, stops the server and waits for it and its prediction log
    writer: nothing outlives the caller (the writer, the one other process, ignores Ctrl-C
    and exits when its pipe closes, which this process's death does too).
    """
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    app = build_app(Server(config))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="modelreg-serve", daemon=True
    )
    thread.start()
    url = f"http://{host}:{port}"
    try:
        _wait_ready(url, thread)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _wait_ready(url: str, thread: threading.Thread, timeout: float = 30.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise ServiceError(f"the server at {url} stopped while starting")
        try:
            with urllib.request.urlopen(url + "/v2/health/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise ServiceError(f"the server at {url} was not ready after {timeout:.0f}s")
