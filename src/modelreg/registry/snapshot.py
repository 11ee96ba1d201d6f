"""The registry as it is at one revision (or on disk), read through the blob cache."""

from __future__ import annotations

import marshal
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelreg.errors import NotFound, ValidationError
from modelreg.registry import parsed_files
from modelreg.registry.cache import BlobCache, encode
from modelreg.registry.events_file import EVENTS_DIR
from modelreg.registry.records import (
    ModelSpec,
    StageAssignment,
    Stages,
    VersionRecord,
    version_key,
)
from modelreg.registry.schemas import Problem, schema_problems

if TYPE_CHECKING:
    from modelreg.adapters.git import Git
    from modelreg.registry.policy import Policy

ROOTS = ("models", "policies")
_MD5_RE = re.compile(r"^\s*-?\s*md5:\s*['\"]?([0-9a-f]{32}(?:\.dir)?)", re.M)
_SIZE_RE = re.compile(r"^\s*-?\s*size:\s*(\d+)", re.M)
# Cache keys of files a parsed-files checkpoint answered (not parsed here): reads only.
_CHECKPOINTED = "checkpointed:"
_PARALLEL_THRESHOLD = 1000  # below it, starting worker processes costs more than it saves


def model_roots(*models: str) -> tuple[str, ...]:
    """Snapshot roots holding only these models' files, and the policies they name."""
    return (*(f"models/{m}" for m in models), "policies")


def model_yaml(model: str) -> str:
    return f"models/{model}/model.yaml"


def stage_yaml(model: str, stage: str) -> str:
    """The file holding the desired state of one stage of a model."""
    return f"models/{model}/stages/{stage}.yaml"


def stages_dir(model: str) -> str:
    return f"models/{model}/stages"


def legacy_stages_yaml(model: str) -> str:
    """Where registries written before one file per stage kept every stage of a model."""
    return f"models/{model}/stages.yaml"


def version_yaml(model: str, version: str) -> str:
    return f"models/{model}/versions/{version}.yaml"


def policy_yaml(name: str) -> str:
    return f"policies/{name}.yaml"


@dataclass(frozen=True)
class Pointer:
    """What a DVC `.dvc` file says about the bytes it tracks."""

    md5: str | None
    size: int | None


@dataclass
class _ModelFiles:
    versions: dict[str, str]  # version → record path
    stage_files: dict[str, str] = field(default_factory=dict)  # stage → its file
    stray: list[str] = field(default_factory=list)  # anything else under stages/
    has_spec: bool = False
    has_legacy_stages: bool = False  # the one-file layout: models/<model>/stages.yaml


class Snapshot:
    """Every registry file at `rev` (None: the working tree, uncommitted edits included)."""

    def __init__(
        self,
        git: Git,
        rev: str | None,
        cache: BlobCache | None = None,
        roots: Sequence[str] = ROOTS,
        *,
        artifacts: bool = True,
    ) -> None:
        """`roots` narrows the listing, e.g. to one model's folder and the policies: the
        snapshot then knows only those files, and costs a fraction to open.

        `artifacts=False` leaves every `models/<model>/artifacts/` folder out of the
        listing, for reads that never open a DVC pointer (`status`): they are two files
        in three of a registry, and the folders are skipped without being listed."""
        self.git = git
        self.rev = rev
        self.cache = cache if cache is not None else BlobCache(None)
        self.roots = tuple(roots)
        self.artifacts = artifacts
        if rev and artifacts:
            self.files = git.ls_tree(rev, self.roots)
        elif rev:
            self.files = git.walk_tree(rev, self.roots, is_artifacts_dir)
        else:
            files = git.worktree_files(self.roots)
            self.files = files if artifacts else _without_artifacts(files)
        self._index: dict[str, _ModelFiles] | None = None
        self._sorted: dict[str, list[str]] = {}
        self._text: dict[str, bytes] = {}
        self._policies: dict[str, Policy] = {}
        # Read commands may take files from a parsed-files checkpoint (parsed_files.py);
        # `validate` never does, not even through the blob cache.
        self.trust_checkpoint = False
        self._events: dict[str, str] | None = None
        self._parsed: dict[str, Any] | None = None  # the checkpoint's entries, once read

    # -- listing ------------------------------------------------------------------------

    @property
    def index(self) -> dict[str, _ModelFiles]:
        if self._index is None:
            self._index = _index_models(self.files)
        return self._index

    def models(self) -> list[str]:
        return sorted(self.index)

    def has_model(self, model: str) -> bool:
        return model in self.index

    def versions(self, model: str) -> list[str]:
        """Registered versions of a model, oldest first by semantic version."""
        if model not in self._sorted:
            entry = self.index.get(model)
            self._sorted[model] = sorted(entry.versions, key=version_key) if entry else []
        return list(self._sorted[model])

    def stage_files(self, model: str) -> dict[str, str]:
        """Stage → file of a model's stages in the per-stage layout, by stage name."""
        entry = self.index.get(model)
        return dict(sorted(entry.stage_files.items())) if entry else {}

    def stray_stage_files(self, model: str) -> list[str]:
        """Files under a model's stages/ folder that are not `<stage>.yaml`."""
        entry = self.index.get(model)
        return sorted(entry.stray) if entry else []

    def has_legacy_stages(self, model: str) -> bool:
        """Whether the model still has the one-file `stages.yaml` of older registries."""
        entry = self.index.get(model)
        return entry is not None and entry.has_legacy_stages

    def stage_key(self, model: str, stage: str, key: str) -> tuple[str, str]:
        """The file and key path holding `key` of one stage, in the layout this revision has
        (for messages: `models/churn/stages/production.yaml: version: …`)."""
        if self.stage_files(model) or not self.has_legacy_stages(model):
            return stage_yaml(model, stage), key
        return legacy_stages_yaml(model), f"{stage}.{key}"

    def legacy_layout(self) -> list[str]:
        """The models still kept in the one-file layout (a registry not yet migrated)."""
        return [m for m, entry in sorted(self.index.items()) if entry.has_legacy_stages]

    def policies(self) -> list[str]:
        names = (p[len("policies/") : -len(".yaml")] for p in self.files if _is_policy(p))
        return sorted(names)

    def require_model(self, model: str) -> None:
        if model not in self.index:
            known = ", ".join(self.models()[:10]) or "none yet"
            raise NotFound(f"unknown model '{model}'", hint=f"known: {known}")

    # -- reading ------------------------------------------------------------------------

    def raw(self, path: str) -> bytes:
        """A file's bytes in this snapshot."""
        if path not in self._text:
            blob = self.files.get(path)
            if blob is None:
                raise NotFound(
                    f"{path}: no such file" + (f" at {self.rev[:12]}" if self.rev else "")
                )
            self._text.update(self._fetch({path: blob}))
        return self._text[path]

    def _fetch(self, wanted: dict[str, str]) -> dict[str, bytes]:
        """Bytes for path → blob, from Git objects, or from disk for uncommitted edits."""
        got = self.git.read_blobs(wanted.values())
        out: dict[str, bytes] = {}
        for path, blob in wanted.items():
            data = got.get(blob)
            out[path] = data if data is not None else (self.git.root / path).read_bytes()
        return out

    def checked(self, kind: str, path: str) -> tuple[Any, list[Problem]]:
        """Parsed data and schema problems of one file (cached by blob id)."""
        return self.checked_many(kind, [path])[path]

    def checked_many(self, kind: str, paths: Iterable[str]) -> dict[str, tuple[Any, list[Problem]]]:
        """Like `checked` for many files: one batch read, parallel parsing when cold."""
        wanted: dict[str, str] = {}
        for path in paths:
            blob = self.files.get(path)
            if blob is None:
                raise NotFound(f"{path}: no such file")
            wanted[path] = blob
        return self.check_blobs(kind, wanted)

    def check_blobs(
        self, kind: str, wanted: dict[str, str]
    ) -> dict[str, tuple[Any, list[Problem]]]:
        """Parsed data and problems for label → blob id (labels name files in messages)."""
        out: dict[str, tuple[Any, list[Problem]]] = {}
        misses: dict[str, str] = {}
        for path, blob in wanted.items():
            hit = self.cache.get(f"{kind}:{blob}")
            if hit is None:
                misses[path] = blob
            else:
                out[path] = (hit[0], [Problem(path, *p) for p in hit[1]])
        if misses and self.trust_checkpoint:
            for path, data in self._checkpointed(kind, misses).items():
                out[path] = (data, [])
                del misses[path]
        if misses:
            for path, encoded, value in _check_all(kind, self._fetch(misses)):
                if encoded is not None:
                    self.cache.put_encoded(f"{kind}:{misses[path]}", encoded)
                data, probs = value if value is not None else marshal.loads(encoded or b"")
                out[path] = (data, [Problem(path, *p) for p in probs])
        return out

    def _checkpointed(self, kind: str, misses: dict[str, str]) -> dict[str, Any]:
        """Path → data of the missed files a parsed-files checkpoint holds. The checkpoint
        is read once enough files miss together; what it answers is cached apart
        (`checkpointed:` keys), where only reads that trust it look, never `validate`.
        Its data is shared, not copied: reads only build typed views from it."""
        out: dict[str, Any] = {}
        todo: dict[str, str] = {}
        for path, blob in misses.items():
            key = f"{kind}:{blob}"
            hit = self.cache.get(_CHECKPOINTED + key)
            if hit is None:
                todo[path] = key
            else:
                out[path] = hit
        if self._parsed is None:
            if len(todo) < parsed_files.MIN_MISSES:
                return out
            self._parsed = self._read_parsed_checkpoint()
        parsed = self._parsed
        for path, key in todo.items():
            if key in parsed:
                out[path] = parsed[key]
                self.cache.put(_CHECKPOINTED + key, parsed[key])
        return out

    def events_files(self) -> dict[str, str]:
        """Path → blob of the listed files in `models/.stage-events/` (the checkpoints)."""
        if self._events is None:
            prefix = EVENTS_DIR + "/"
            self._events = {p: b for p, b in self.files.items() if p.startswith(prefix)}
        return self._events

    def _read_parsed_checkpoint(self) -> dict[str, Any]:
        """The entries of the first well-formed parsed-files checkpoint listed (any will
        do: entries are keyed by blob id), or none."""
        for path in sorted(self.events_files()):
            commit = parsed_files.commit_of(path)
            if commit is not None:
                entries = parsed_files.parse(self.raw(path), commit).entries
                self._text.pop(path, None)
                if entries is not None:
                    return entries
        return {}

    def precheck(self, kind: str, paths: Iterable[str]) -> None:
        """Parse and check many files into the cache (in parallel when there are many)
        without holding on to their data: how a check of the whole registry starts."""
        misses: dict[str, str] = {}
        for path in paths:
            blob = self.files.get(path)
            if blob is not None and not self.cache.has(f"{kind}:{blob}"):
                misses[path] = blob
        if misses:
            for path, encoded, _value in _check_all(kind, self._fetch(misses)):
                if encoded is not None:
                    self.cache.put_encoded(f"{kind}:{misses[path]}", encoded)

    def load(self, kind: str, path: str) -> Any:
        """Parsed, schema-valid data of one file; ValidationError if it is not."""
        data, problems = self.checked(kind, path)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ValidationError(str(problems[0]) + more)
        return data

    # -- typed -------------------------------------------------------------------------

    def model(self, model: str) -> ModelSpec:
        self.require_model(model)
        path = model_yaml(model)
        if path not in self.files:
            return ModelSpec(name=model)
        return ModelSpec.from_dict(self.load("model", path))

    def stages(self, model: str) -> Stages:
        """The model's desired state, from whichever layout this revision has (per-stage
        files win when both are there); ValidationError if a file is not valid."""
        files = self.stage_files(model)
        if files:
            return Stages(
                {s: StageAssignment.from_dict(self.load("stage", p)) for s, p in files.items()}
            )
        if self.has_legacy_stages(model):
            return Stages.from_dict(self.load("stages", legacy_stages_yaml(model)))
        return Stages({})

    def preload_stages(self, models: Iterable[str]) -> dict[str, Stages | None]:
        """Every model's stages in one batch read per layout; None for a model whose
        stage files have problems (`validate` reports them)."""
        per_stage: dict[str, tuple[str, str]] = {}
        legacy: dict[str, str] = {}
        out: dict[str, Stages | None] = {}
        for model in models:
            files = self.stage_files(model)
            per_stage.update({p: (model, s) for s, p in files.items()})
            if not files and self.has_legacy_stages(model):
                legacy[legacy_stages_yaml(model)] = model
            out[model] = Stages({})
        found: dict[str, dict[str, StageAssignment]] = {}
        for path, (data, probs) in self.checked_many("stage", per_stage).items():
            model, stage = per_stage[path]
            if probs:
                out[model] = None
            elif out[model] is not None:
                found.setdefault(model, {})[stage] = StageAssignment.from_dict(data)
        for path, (data, probs) in self.checked_many("stages", legacy).items():
            out[legacy[path]] = None if probs else Stages.from_dict(data)
        for model, assignments in found.items():
            if out[model] is not None:
                out[model] = Stages(assignments)
        return out

    def record(self, model: str, version: str) -> VersionRecord:
        path = version_yaml(model, version)
        if path not in self.files:
            self.require_model(model)
            known = ", ".join(self.versions(model)[-8:]) or "none"
            raise NotFound(f"{model} has no version '{version}'", hint=f"known: {known}")
        return VersionRecord.from_dict(self.load("version", path))

    def records(self, model: str, versions: Iterable[str]) -> dict[str, VersionRecord]:
        paths = {version_yaml(model, v): v for v in versions}
        loaded = self.checked_many("version", paths)
        return {
            paths[p]: VersionRecord.from_dict(data)
            for p, (data, probs) in loaded.items()
            if not probs
        }

    def policy_stage_names(self, name: str) -> list[str]:
        """The stages a policy names, in its order, from its schema-valid data: for
        listings, which need no more of the policy (its rules, and importing the code that
        parses them, cost a one-model `status` a tenth of its time)."""
        if name in self._policies:
            return [s.name for s in self._policies[name].stages]
        stages = self.load("policy", self._policy_path(name)).get("stages") or []
        return [s["name"] for s in stages if isinstance(s, dict) and isinstance(s.get("name"), str)]

    def policy(self, name: str) -> Policy:
        from modelreg.registry.policy import parse_policy

        if name in self._policies:
            return self._policies[name]
        data = self.load("policy", self._policy_path(name))
        policy = self._policies[name] = parse_policy(name, data)
        return policy

    def _policy_path(self, name: str) -> str:
        """The file of a policy, or NotFound naming the policies there are."""
        path = policy_yaml(name)
        if path not in self.files:
            known = ", ".join(self.policies()) or "none"
            raise NotFound(f"{path}: no such policy", hint=f"known: {known}")
        return path

    def pointer(self, path: str) -> Pointer | None:
        """The DVC pointer `path.dvc` for a tracked file, or None if there is none."""
        if not self.artifacts:
            raise RuntimeError("a snapshot listed without artifacts has no DVC pointers")
        dvc_path = path + ".dvc"
        if dvc_path not in self.files:
            return None
        text = self.raw(dvc_path).decode(errors="replace")
        md5, size = _MD5_RE.search(text), _SIZE_RE.search(text)
        return Pointer(md5.group(1) if md5 else None, int(size.group(1)) if size else None)

    def pointers(self, paths: Iterable[str]) -> dict[str, Pointer | None]:
        """Pointers for many tracked files, read in one batch."""
        paths = list(paths)
        self.prefetch(p + ".dvc" for p in paths)
        return {p: self.pointer(p) for p in paths}

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read many files in one batch, ahead of `raw` and `pointer` calls."""
        files, text = self.files, self._text
        wanted = {p: files[p] for p in paths if p in files and p not in text}
        if wanted:
            text.update(self._fetch(wanted))


def _p(problem: Problem) -> tuple[str, str, str | None, int | None, bool]:
    return (problem.key, problem.message, problem.fix, problem.line, problem.syntax)


def is_artifacts_dir(path: str) -> bool:
    """Whether `path` is a model's artifacts folder, `models/<model>/artifacts`."""
    return path.endswith("/artifacts") and path.startswith("models/") and path.count("/") == 2


def _without_artifacts(files: dict[str, str]) -> dict[str, str]:
    return {p: b for p, b in files.items() if not _in_artifacts(p)}


def _in_artifacts(path: str) -> bool:
    parts = path.split("/", 3)
    return len(parts) == 4 and parts[0] == "models" and parts[2] == "artifacts"


def _is_policy(path: str) -> bool:
    return path.startswith("policies/") and path.endswith(".yaml") and path.count("/") == 1


def _index_models(files: Iterable[str]) -> dict[str, _ModelFiles]:
    index: dict[str, _ModelFiles] = {}
    for path in files:
        parts = path.split("/")
        if parts[0] != "models" or len(parts) < 3 or parts[1].startswith("."):
            continue  # not a model: models/.stage-events/ (no model name starts with ".")
        entry = index.get(parts[1])
        if entry is None:
            entry = index[parts[1]] = _ModelFiles({})
        if len(parts) == 3:
            entry.has_spec |= parts[2] == "model.yaml"
            entry.has_legacy_stages |= parts[2] == "stages.yaml"
        elif len(parts) == 4 and parts[2] == "stages" and parts[3].endswith(".yaml"):
            entry.stage_files[parts[3][:-5]] = path
        elif parts[2] == "stages" and len(parts) > 3:
            entry.stray.append(path)
        elif len(parts) == 4 and parts[2] == "versions" and parts[3].endswith(".yaml"):
            entry.versions[parts[3][:-5]] = path
    return index


def check_text(kind: str, path: str, text: bytes) -> tuple[Any, list[Problem]]:
    """Parse and schema-check one file's bytes; unparsable YAML is one problem."""
    from modelreg.registry.yamlio import parse_yaml  # PyYAML only when a file is parsed

    try:
        data = parse_yaml(text, path)
    except ValidationError as exc:
        return None, [Problem(path, "", exc.what, exc.hint, exc.where.line, syntax=True)]
    return data, schema_problems(kind, data, path)


# A checked file travels as (data, [(key, message, fix)]): the problems' file is the
# label it is read under, which a cached blob may not share.
_Checked = tuple[Any, list[tuple[str, str, str | None, int | None, bool]]]


def _check_chunk(
    args: tuple[str, list[tuple[str, bytes]], bool],
) -> list[tuple[str, bytes | None, _Checked | None]]:
    """(path, the cache's encoding, the value): in a worker, only the encoding travels
    back, unless marshal cannot hold the data."""
    kind, items, in_worker = args
    out: list[tuple[str, bytes | None, _Checked | None]] = []
    for path, text in items:
        data, probs = check_text(kind, path, text)
        value: _Checked = (data, [_p(p) for p in probs])
        encoded = encode(value)
        out.append((path, encoded, None if in_worker and encoded is not None else value))
    return out


def _check_all(
    kind: str, texts: dict[str, bytes]
) -> list[tuple[str, bytes | None, _Checked | None]]:
    items = list(texts.items())
    if len(items) < _PARALLEL_THRESHOLD:
        return _check_chunk((kind, items, False))
    return _check_parallel(kind, items)


def _check_parallel(
    kind: str, items: list[tuple[str, bytes]]
) -> list[tuple[str, bytes | None, _Checked | None]]:
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(os.cpu_count() or 1, 8))
    size = -(-len(items) // (workers * 4))
    chunks = [(kind, items[i : i + size], True) for i in range(0, len(items), size)]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return [r for chunk in pool.map(_check_chunk, chunks) for r in chunk]
