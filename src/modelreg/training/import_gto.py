"""`import gto`: gto's annotated tags replayed as version records and stage files.

gto (1.x) keeps a registry in Git tags: `name@v1.2.0` registers, `name@v1.2.0!`
deregisters, `name#stage#N` assigns, `name#stage!#N` unassigns, `name@deprecated`
deprecates the artifact and `name@created` creates it (gto/constants.py `tag_re`;
N counts the artifact's tags as gto creates them). Each tag becomes one commit, at the
tag's time and by its tagger, carrying the trailer `Imported-From-Gto: <tag> <object>`
so that a re-run imports only tags it has not seen.

What the stage files hold after each commit is what `gto show` answers (its default
`--sort timestamp`, one version per stage): per stage, of the versions that are still
registered and whose last event in that stage is an assignment, the one assigned last.
A deregistered version is retired (`deprecated:` in model.yaml); a deprecated artifact
serves nowhere and all its versions are retired, as `gto show` hides it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelreg.adapters.lock import writing
from modelreg.errors import GitError, UsageError
from modelreg.registry import checkpoints
from modelreg.registry.names import VERSION_MAX, is_name, is_version
from modelreg.registry.records import StageAssignment, version_key
from modelreg.registry.schemas import schema_problems
from modelreg.registry.snapshot import model_yaml, policy_yaml, stage_yaml, version_yaml
from modelreg.registry.stages import render_stage
from modelreg.registry.workspace import Workspace
from modelreg.registry.yamlio import dump_yaml, parse_yaml
from modelreg.training.register import FORMATS

TRAILER = "Imported-From-Gto"
POLICY = "gto"  # imported models follow policies/gto.yaml: gto's stages, no gates
_TEMP_REF = "refs/modelreg/import-gto"

# gto/constants.py (1.10): names, semver, and the tag grammar, `:` written `=` in tags.
_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
TAG_RE = re.compile(
    rf"^(?P<artifact>(?:[a-zA-Z0-9-_./]+=)?{_NAME})"
    rf"(((#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?))"
    r"|@((?P<deprecated>deprecated)|(?P<created>created)))(#(?P<counter>[0-9]+))?$"
)

# Order of event kinds within one second of one artifact: gto's own priorities
# (gto/base.py), with assignment and unassignment as one class that its counter orders.
_RANK = {"create": 0, "deprecate": 1, "register": 2, "deregister": 3, "assign": 4, "unassign": 4}


@dataclass(frozen=True)
class Event:
    """One gto tag, parsed."""

    tag: str
    object: str  # the tag object's id
    kind: str  # create, deprecate, register, deregister, assign, unassign
    artifact: str  # gto's name (`dir:name` for names in a subfolder)
    commit: str  # the commit the tag points at
    time: int  # the tagger's time, seconds since the epoch
    offset: str  # the tagger's time zone, `+0000`
    tagger: str
    email: str
    message: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None

    @property
    def key(self) -> tuple[int, str, int, int, str]:
        return (self.time, self.artifact, _RANK[self.kind], self.counter or 0, self.tag)


@dataclass(frozen=True)
class Tie:
    """Tags of one artifact that share a second: gto orders them by time alone."""

    artifact: str
    time: int
    tags: tuple[str, ...]  # in the order imported


@dataclass(frozen=True)
class Imported:
    tag: str
    commit: str | None  # None in a dry run
    summary: str


@dataclass(frozen=True)
class GtoImport:
    """What one run found and did."""

    models: Mapping[str, str]  # gto artifact → modelreg model
    stages: Mapping[str, str]  # gto stage → modelreg stage
    versions: Mapping[str, str]  # gto version → modelreg version, where they differ
    imported: tuple[Imported, ...]
    already: int  # tags imported by an earlier run
    ties: tuple[Tie, ...]
    problems: tuple[str, ...]
    dry_run: bool
    order: str = (
        "tags by their tagger time; within one second of one artifact, in gto's own "
        "priority (creation, deprecation, registration, deregistration, then stage tags "
        "by their #N counter, which gto numbers in the order it creates them). "
        "`gto show` sorts by the time alone, so where seconds tie its answer depends on "
        "its sort's stability and may differ"
    )


# -- reading the tags ---------------------------------------------------------------------

_FIELDS = (
    "%(refname:strip=2)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objectname)",
    "%(taggername)",
    "%(taggeremail:trim)",
    "%(taggerdate:raw)",
    "%(contents)",
)


def read_events(ws: Workspace) -> list[Event]:
    """Every annotated gto tag in the repository, in the order the import applies them."""
    out = ws.git.run("for-each-ref", "refs/tags", "--format=" + "%00".join(_FIELDS) + "%00")
    parts = out.split("\0")
    events = []
    for i in range(0, len(parts) - len(_FIELDS) + 1, len(_FIELDS)):
        name, kind, obj, target, tagger, email, date, message = parts[i : i + len(_FIELDS)]
        event = _parse(name.lstrip("\n"), kind, obj, target, tagger, email, date, message)
        if event is not None:
            events.append(event)
    return sorted(events, key=lambda e: e.key)


def _parse(
    name: str, kind: str, obj: str, target: str, tagger: str, email: str, date: str, msg: str
) -> Event | None:
    m = TAG_RE.match(name)
    if not m or kind != "tag":  # gto ignores lightweight tags too
        return None
    if m["deprecated"] or m["created"]:
        action = "deprecate" if m["deprecated"] else "create"
    elif m["version"]:
        action = "deregister" if m["cancel"] else "register"
    else:
        action = "unassign" if m["cancel"] else "assign"
    seconds, _, offset = date.partition(" ")
    return Event(
        tag=name,
        object=obj,
        kind=action,
        artifact=m["artifact"].replace("=", ":"),
        commit=target,
        time=int(seconds or 0),
        offset=offset or "+0000",
        tagger=tagger,
        email=email,
        message=msg.strip(),
        version=m["version"],
        stage=m["stage"],
        counter=int(m["counter"]) if m["counter"] else None,
    )


def find_ties(events: Sequence[Event]) -> list[Tie]:
    groups: dict[tuple[str, int], list[str]] = {}
    for e in events:
        groups.setdefault((e.artifact, e.time), []).append(e.tag)
    return [Tie(a, t, tuple(tags)) for (a, t), tags in groups.items() if len(tags) > 1]


# -- names ----------------------------------------------------------------------------------


def map_name(name: str) -> str:
    """A gto name (`Churn_Model`, `dir/sub:name`) under DESIGN.md §6's name rule.

    Lowercase; every run of characters the rule refuses (`/`, `:`, `.`) becomes one `-`;
    ends trimmed; longer than 40 characters: cut, `-` and 8 hex of the name's SHA-256.
    """
    text = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
    text = re.sub(r"-{2,}", "-", text).strip("-_")
    if is_name(text):
        return text
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    head = text[:31].strip("-_")
    return f"{head}-{digest}" if head else f"m{digest}"


def map_version(version: str) -> str | None:
    """`v1.2.0-RC.1` → `v1.2.0-rc.1`; None when the rule cannot hold it (`+build`)."""
    text = version.lower()
    return text if is_version(text) and len(text) <= VERSION_MAX else None


def _mapping(names: Iterable[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    taken: dict[str, str] = {}
    for name in sorted(set(names)):
        mapped = map_name(name)
        if mapped in taken:
            raise UsageError(
                f"gto {what}s '{taken[mapped]}' and '{name}' both map to '{mapped}'",
                hint=f"rename one in gto first (modelreg {what} names are lowercase "
                "[a-z0-9_-]); nothing was written",
            )
        taken[mapped] = name
        out[name] = mapped
    return out


# -- gto's state, replayed ------------------------------------------------------------------


@dataclass
class _Artifact:
    """One artifact's state as gto computes it, and what it projects to."""

    active: bool = True  # False after `@deprecated` until any later event
    deprecated_by: str = ""
    registered: dict[str, str] = field(default_factory=dict)  # version → commit, active ones
    retired: dict[str, str] = field(default_factory=dict)  # version → deregistering tag
    known: dict[str, str] = field(default_factory=dict)  # every version ever → its commit
    assigned: dict[tuple[str, str], int] = field(default_factory=dict)  # (v, stage) → seq

    def apply(self, e: Event, seq: int) -> None:
        self.active = e.kind != "deprecate"
        if e.kind == "deprecate":
            self.deprecated_by = e.tag
        elif e.kind == "register" and e.version:
            self.registered[e.version] = e.commit
            self.known[e.version] = e.commit
            self.retired.pop(e.version, None)
        elif e.kind == "deregister" and e.version:
            self.registered.pop(e.version, None)
            self.retired[e.version] = e.tag
        elif e.kind in ("assign", "unassign") and e.stage:
            version = self.version_at(e.commit)
            if version is None:
                return
            if e.kind == "assign":
                self.assigned[(version, e.stage)] = seq
            else:
                self.assigned.pop((version, e.stage), None)

    def version_at(self, commit: str) -> str | None:
        """The version a stage tag names: gto finds it by the tag's commit."""
        found = [v for v, c in self.registered.items() if c == commit]
        found = found or [v for v, c in self.known.items() if c == commit]
        return max(found, key=version_key) if found else None

    def stages(self) -> dict[str, str]:
        """Stage → the version `gto show` names there."""
        if not self.active:
            return {}
        best: dict[str, tuple[int, str]] = {}
        for (version, stage), seq in self.assigned.items():
            if version in self.registered and seq > best.get(stage, (-1, ""))[0]:
                best[stage] = (seq, version)
        return {s: v for s, (_, v) in best.items()}

    def deprecated(self) -> dict[str, str]:
        """Version → why it is retired."""
        out = {
            v: f"deregistered in gto ({tag})" for v, tag in self.retired.items() if v in self.known
        }
        if not self.active:
            reason = f"artifact deprecated in gto ({self.deprecated_by})"
            out.update(dict.fromkeys(self.known, reason))
        return out


# -- the import -----------------------------------------------------------------------------


@dataclass
class _Writer:
    """Files per model as the import leaves them, and the commits of a fast-import stream."""

    ws: Workspace
    head: str
    files: dict[str, bytes | None] = field(default_factory=dict)  # path → text (None: gone)
    stream: list[bytes] = field(default_factory=list)
    marks: int = 0
    roots: tuple[str, ...] = ()  # folders preloaded: a path under them not read is absent

    def preload(self, roots: Sequence[str]) -> None:
        """HEAD's files under `roots`, read in two git calls; any other path is absent."""
        tree = self.ws.git.ls_tree(self.head, roots)
        blobs = self.ws.git.read_blobs(tree.values())
        self.files.update({path: blobs.get(blob) for path, blob in tree.items()})
        self.roots = tuple(r.rstrip("/") + "/" for r in roots)

    def current(self, path: str) -> bytes | None:
        if path not in self.files:
            known = path.startswith(self.roots)
            self.files[path] = None if known else self.ws.git.show(self.head, path)
        return self.files[path]

    def commit(self, e: Event, message: str, changes: Mapping[str, bytes | None]) -> None:
        self.marks += 1
        who = f"{e.tagger or e.email} <{e.email}> {e.time} {e.offset}".encode()
        body = message.encode()
        out = [b"commit " + _TEMP_REF.encode() + b"\n", b"mark :%d\n" % self.marks]
        out += [b"author " + who + b"\n", b"committer " + who + b"\n"]
        out += [b"data %d\n" % len(body), body, b"\n"]
        if self.marks == 1:
            out.append(f"from {self.head}\n".encode())
        for path, data in sorted(changes.items()):
            self.files[path] = data
            if data is None:
                out.append(f"D {path}\n".encode())
            else:
                out += [f"M 100644 inline {path}\n".encode(), b"data %d\n" % len(data), data, b"\n"]
        self.stream += out

    def finish(self) -> list[str]:
        """Write the commits, move the branch to the last one; the new commits, oldest first."""
        if not self.marks:
            return []
        data = b"".join(self.stream)
        self.ws.git.run("fast-import", "--quiet", "--force", input=data)
        tip = self.ws.git.run("rev-parse", _TEMP_REF).strip()
        try:
            self.ws.git.run("merge", "--ff-only", "-q", tip)
        except GitError as exc:
            raise UsageError(
                f"cannot bring the imported commits into the checkout: {exc.message}",
                hint="commit or move aside local changes under models/ and policies/, "
                "then re-run; nothing was imported",
            ) from None
        finally:
            self.ws.git.run("update-ref", "-d", _TEMP_REF)
        out = self.ws.git.run("rev-list", "--reverse", f"{self.head}..{tip}")
        return out.split()


def import_gto(ws: Workspace, *, dry_run: bool = False) -> GtoImport:
    """Replay every gto tag not imported yet as one commit each, on the current branch."""
    head = ws.git.head()
    if (
        head is None
        or not (ws.root / ".dvc").is_dir()
        or not ws.git.ok("cat-file", "-e", f"{head}:policies")
    ):
        raise UsageError(
            f"{ws.root} is not a modelreg registry yet",
            hint="run `modelreg init` first (one commit), then re-run the import",
        )
    events = read_events(ws)
    models = _mapping((e.artifact for e in events), "model")
    stages = _mapping((e.stage for e in events if e.stage), "stage")
    versions, problems = _versions(events)
    seen = _imported_tags(ws, head)
    state: dict[str, _Artifact] = {}
    writer = _Writer(ws, head)
    writer.preload([*(f"models/{m}" for m in models.values()), "policies"])
    artifacts = _ArtifactFinder(ws)
    artifacts.prefetch([(e.artifact, e.commit) for e in events if e.kind == "register"])
    done: list[tuple[Event, str]] = []
    for seq, e in enumerate(events):
        art = state.setdefault(e.artifact, _Artifact())
        before = (art.stages(), art.deprecated())
        if e.version and e.version not in versions:
            continue
        record: dict[str, bytes] | None = None
        if e.kind == "register" and e.tag not in seen:
            held = version_yaml(models[e.artifact], versions[e.version or ""])
            found = (
                f"{e.tag}: {held} exists already (records are immutable): not imported"
                if writer.current(held) is not None
                else _record(e, models, versions, art, artifacts)
            )
            if isinstance(found, str):
                problems.append(found)
                continue
            record = found
        if e.kind in ("assign", "unassign") and art.version_at(e.commit) is None:
            problems.append(
                f"{e.tag}: commit {e.commit[:12]} has no registered version of {e.artifact} "
                "(gto assign --skip-registration?); modelreg versions are semver: not imported"
            )
            continue
        art.apply(e, seq)
        if e.tag in seen:
            continue
        model = models[e.artifact]
        changes = _changes(writer, e, model, art, before, stages, versions, record)
        summary = _summary(e, model, stages, versions, art)
        if not dry_run:
            writer.commit(e, _message(e, summary), changes)
        done.append((e, summary))
    commits = [] if dry_run else writer.finish()
    if commits:
        with writing(ws.git.git_dir):
            checkpoints.commit_due(ws)  # a stage-event checkpoint, when one is due
    imported = [
        Imported(e.tag, commits[i] if commits else None, s) for i, (e, s) in enumerate(done)
    ]
    return GtoImport(
        models=models,
        stages={k: v for k, v in stages.items()},
        versions={k: v for k, v in versions.items() if k != v},
        imported=tuple(imported),
        already=len(seen),
        ties=tuple(find_ties(events)),
        problems=tuple(problems),
        dry_run=dry_run,
    )


def _versions(events: Sequence[Event]) -> tuple[dict[str, str], list[str]]:
    out: dict[str, str] = {}
    problems: list[str] = []
    for e in events:
        if e.version and e.version not in out:
            mapped = map_version(e.version)
            if mapped is None:
                problems.append(
                    f"{e.tag}: version {e.version} has build metadata or is too long; "
                    "modelreg versions are v + semver without +build: not imported"
                )
                continue
            out[e.version] = mapped
    return out, problems


def _imported_tags(ws: Workspace, head: str) -> set[str]:
    out = ws.git.run("log", f"--format=%(trailers:key={TRAILER},valueonly)", head)
    return {line.split(" ")[0] for line in out.splitlines() if line.strip()}


def _summary(
    e: Event, model: str, stages: Mapping[str, str], versions: Mapping[str, str], art: _Artifact
) -> str:
    v = versions.get(e.version or "", "")
    if e.kind in ("assign", "unassign"):
        v = versions.get(art.version_at(e.commit) or "", "")
        stage = stages[e.stage or ""]
        return f"{'assign' if e.kind == 'assign' else 'unassign'} {model} {v} {stage}"
    return {
        "create": f"create {model}",
        "deprecate": f"deprecate {model}",
        "register": f"register {model} {v}",
        "deregister": f"deregister {model} {v}",
    }[e.kind]


def _message(e: Event, summary: str) -> str:
    lines = [f"{summary} (imported from gto)", ""]
    if e.message:
        lines += [e.message, ""]
    lines.append(f"{TRAILER}: {e.tag} {e.object}")
    return "\n".join(lines) + "\n"


def _changes(
    writer: _Writer,
    e: Event,
    model: str,
    art: _Artifact,
    before: tuple[dict[str, str], dict[str, str]],
    stages: Mapping[str, str],
    versions: Mapping[str, str],
    record: dict[str, bytes] | None,
) -> dict[str, bytes | None]:
    changes: dict[str, bytes | None] = dict(record or {})
    spec = writer.current(model_yaml(model))
    deprecated = {versions[v]: why for v, why in art.deprecated().items() if v in versions}
    if spec is None or deprecated != {
        versions[v]: w for v, w in before[1].items() if v in versions
    }:
        changes[model_yaml(model)] = _spec(spec, model, e, deprecated)
    now = art.stages()
    if e.kind == "assign" and e.stage:
        policy = _policy(writer.current(policy_yaml(POLICY)), stages[e.stage])
        if policy is not None:
            changes[policy_yaml(POLICY)] = policy
    for stage in set(now) | set(before[0]):
        path = stage_yaml(model, stages[stage])
        if stage not in now:
            if writer.current(path) is not None:
                changes[path] = None
            continue
        text = render_stage(model, stages[stage], StageAssignment(versions[now[stage]])).encode()
        if writer.current(path) != text:
            changes[path] = text
    return changes


def _policy(text: bytes | None, stage: str) -> bytes | None:
    """policies/gto.yaml with `stage` added, or None when it names it already."""
    data = dict(parse_yaml(text, policy_yaml(POLICY)) or {}) if text else {}
    names = [s.get("name") for s in data.get("stages") or []]
    if stage in names:
        return None
    data["stages"] = [*(data.get("stages") or []), {"name": stage}]
    head = (
        "# The stages gto used, in the order they were first assigned (`modelreg import gto`).\n"
        "# gto has no gates: add them here before promoting with modelreg.\n"
    )
    return (head + dump_yaml(data)).encode()


def _spec(spec: bytes | None, model: str, e: Event, deprecated: Mapping[str, str]) -> bytes:
    data: dict[str, Any]
    if spec is None:
        data = {"name": model, "owner": e.email or e.tagger, "description": "", "policy": POLICY}
    else:
        data = dict(parse_yaml(spec, model_yaml(model)) or {})
    data.pop("deprecated", None)
    if deprecated:
        data["deprecated"] = dict(sorted(deprecated.items(), key=lambda kv: version_key(kv[0])))
    return dump_yaml(data).encode()


def _record(
    e: Event,
    models: Mapping[str, str],
    versions: Mapping[str, str],
    art: _Artifact,
    finder: _ArtifactFinder,
) -> dict[str, bytes] | str:
    """The files registering one version, or why it cannot be imported."""
    model, version = models[e.artifact], versions[e.version or ""]
    found = finder.find(e.artifact, e.commit)
    if isinstance(found, str):
        return f"{e.tag}: {found}: {model} {version} not imported"
    source, md5, size, sha256, data = found
    suffix = "".join(Path(source).suffixes[-1:]) or ""
    folder = f"models/{model}/artifacts/{version}"
    target = f"{folder}/model{suffix}"
    if data is not None:
        finder.cache_put(md5, data)
    earlier = [versions[v] for v in art.known if v in versions and v != e.version]
    rec: dict[str, Any] = {
        "model": model,
        "version": version,
        "created_at": _iso(e.time),
        "created_by": e.email or e.tagger,
        "code_commit": e.commit,
        "trigger": "manual",
        "parent": max(earlier, key=version_key) if earlier else None,
        "message": e.message or None,
        "artifact": {
            "path": target,
            **({"sha256": sha256} if sha256 else {}),
            "md5": md5,
            "size": size,
            "format": FORMATS.get(suffix, "file"),
        },
        "params": {},
        "metrics": {},
    }
    rec = {k: v for k, v in rec.items() if v is not None}
    problems = schema_problems("version", rec, version_yaml(model, version))
    if problems:
        return f"{e.tag}: {problems[0]}"
    head = (
        f"# {model} {version}: imported from gto tag {e.tag} by `modelreg import gto`.\n"
        f"# gto artifact path: {source} at commit {e.commit[:12]}. Immutable once merged.\n"
    )
    pointer = f"outs:\n- md5: {md5}\n  size: {size}\n  hash: md5\n  path: model{suffix}\n"
    return {
        version_yaml(model, version): (head + dump_yaml(rec)).encode(),
        f"{target}.dvc": pointer.encode(),
        f"{folder}/.gitignore": f"/model{suffix}\n".encode(),
    }


def _iso(seconds: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _ArtifactFinder:
    """Where a gto artifact's bytes are at a commit: artifacts.yaml, or dvc.yaml's
    `artifacts:`, names the path; the path is a Git blob or a DVC pointer (`.dvc`)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._cache_dir: Path | None = None
        self._shown: dict[tuple[str, str], bytes | None] = {}
        self._parsed: dict[bytes, Any] = {}

    def prefetch(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Read every index, then every artifact path, of these registrations in batches."""
        self._batch([(c, i) for a, c in pairs for i in self._indexes(a)])
        paths = [(c, p) for a, c in pairs if (p := self._path(a, c))]
        self._batch([(c, q) for c, p in paths for q in (p, p + ".dvc")])

    def _batch(self, wanted: Sequence[tuple[str, str]]) -> None:
        wanted = [w for w in dict.fromkeys(wanted) if w not in self._shown]
        if not wanted:
            return
        specs = "".join(f"{c}:{p}\n" for c, p in wanted)
        out = self.ws.git.run("cat-file", "--batch-check=%(objectname) %(objecttype)", input=specs)
        ids = [line.split(" ") for line in out.splitlines()]
        blobs = self.ws.git.read_blobs(i[0] for i in ids if i[-1] == "blob")
        for w, i in zip(wanted, ids, strict=True):
            self._shown[w] = blobs.get(i[0]) if i[-1] == "blob" else None

    def show(self, commit: str, path: str) -> bytes | None:
        if (commit, path) not in self._shown:
            self._shown[(commit, path)] = self.ws.git.show(commit, path)
        return self._shown[(commit, path)]

    @staticmethod
    def _indexes(artifact: str) -> list[str]:
        folder = artifact.rpartition(":")[0].strip("/")
        return [f"{folder}/dvc.yaml"] if folder else ["artifacts.yaml", "dvc.yaml"]

    def find(
        self, artifact: str, commit: str
    ) -> tuple[str, str, int, str | None, bytes | None] | str:
        path = self._path(artifact, commit)
        if path is None:
            return (
                f"artifacts.yaml (or dvc.yaml artifacts:) at commit {commit[:12]} "
                f"names no path for {artifact}"
            )
        blob = self.show(commit, path)
        if blob is not None:
            md5 = hashlib.md5(blob).hexdigest()
            return path, md5, len(blob), hashlib.sha256(blob).hexdigest(), blob
        pointer = self.show(commit, path + ".dvc")
        if pointer is None:
            return (
                f"{path} does not exist at commit {commit[:12]} (neither in Git nor as {path}.dvc)"
            )
        outs = (parse_yaml(pointer, path + ".dvc") or {}).get("outs") or [{}]
        md5, size = outs[0].get("md5"), outs[0].get("size")
        if not md5 or size is None or str(md5).endswith(".dir"):
            return f"{path}.dvc at commit {commit[:12]} is not a DVC pointer to one file"
        cached = self.cache_dir() / "files" / "md5" / md5[:2] / md5[2:]
        sha = hashlib.sha256(cached.read_bytes()).hexdigest() if cached.is_file() else None
        return path, str(md5), int(size), sha, None

    def _path(self, artifact: str, commit: str) -> str | None:
        folder, _, name = artifact.rpartition(":")
        prefix = f"{folder.strip('/')}/" if folder else ""
        for index in self._indexes(artifact):
            text = self.show(commit, index)
            if text is None:
                continue
            if text not in self._parsed:
                try:
                    self._parsed[text] = parse_yaml(text, index) or {}
                except UsageError:
                    self._parsed[text] = {}
            data = self._parsed[text]
            table = data if index == "artifacts.yaml" else data.get("artifacts") or {}
            entry = table.get(name) if isinstance(table, dict) else None
            if isinstance(entry, dict) and entry.get("path"):
                return prefix + str(entry["path"]).strip("/")
        return None

    def cache_dir(self) -> Path:
        if self._cache_dir is None:
            from dvc.repo import Repo

            repo = Repo(str(self.ws.root))
            try:
                self._cache_dir = Path(repo.cache.local.path).parent.parent
            finally:
                repo.close()
        return self._cache_dir

    def cache_put(self, md5: str, data: bytes) -> None:
        """The bytes into DVC's local cache, where `dvc push` and `dvc pull` find them."""
        path = self.cache_dir() / "files" / "md5" / md5[:2] / md5[2:]
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
