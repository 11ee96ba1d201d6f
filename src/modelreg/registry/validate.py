"""`validate`: schemas, references, DVC pointers and immutability of version records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from modelreg.adapters.artifacts import pointer_problem
from modelreg.errors import ModelregError, NotFound, RuleError
from modelreg.registry import checkpoints
from modelreg.registry.drift_rules import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    SIGNATURE_KINDS,
    methods_for,
)
from modelreg.registry.events_file import EVENTS_DIR, in_events_dir
from modelreg.registry.history import PendingWalk
from modelreg.registry.names import is_name, is_readable_name, is_version
from modelreg.registry.records import (
    ModelSpec,
    StageAssignment,
    Stages,
    VersionRecord,
    version_key,
)
from modelreg.registry.schemas import Problem, brief, brief_text
from modelreg.registry.snapshot import (
    Snapshot,
    legacy_stages_yaml,
    model_roots,
    model_yaml,
    policy_yaml,
    stages_dir,
    version_yaml,
)
from modelreg.registry.workspace import Workspace


@dataclass(frozen=True)
class Report:
    """Every problem found, and what was looked at."""

    problems: tuple[Problem, ...]
    base: str | None
    incremental: bool
    files_checked: int
    # Models whose stage files the branch changes: promotion.pr_check gates them.
    staged: tuple[str, ...] = ()
    # Not problems (exit 0): what is weaker than new writes make, e.g. md5-only records.
    warnings: tuple[str, ...] = ()
    # The working tree as validate read it (every staged model included), for the gates.
    tree: Snapshot | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        if any(p.syntax for p in self.problems):
            return 2
        return 1 if self.problems else 0

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict of the verdict and every problem, one line each."""
        return {
            "ok": self.ok,
            "base": self.base,
            "incremental": self.incremental,
            "files_checked": self.files_checked,
            "problems": [str(p) for p in self.problems],
            "warnings": list(self.warnings),
        }


def validate(
    ws: Workspace, *, base: str | None = None, files: Sequence[str] | None = None
) -> Report:
    """Check the registry on disk; with `base`, schema-check only what changed since it.

    `files` (repository-relative paths, as pre-commit passes them) narrows the check to
    those files and what they refer to: only the touched records are parsed.
    """
    base_sha = _resolve_base(ws, base)
    changed = ws.git.diff_names(base_sha, ["models", "policies"]) if base_sha else None
    touched = [p for _, p in changed] if base is not None and changed is not None else None
    if files is not None:
        touched = [p for p in dict.fromkeys(files) if _in_registry(p)]
        if changed is not None:  # immutability: only of the files named
            changed = [c for c in changed if c[1] in set(touched)]
    incremental = touched is not None
    if touched is not None:
        # A PR check lists only the models the branch touches: not one file more is read.
        roots = model_roots(*_models_in(touched))
        if any(in_events_dir(p) for p in touched):
            roots = (*roots, EVENTS_DIR)
        snap = Snapshot(ws.git, None, ws.cache, roots)
        checker = _Checker(snap)
        checker.check_changed(touched)
    else:
        snap = ws.snapshot(None)
        checker = _Checker(snap)
        checker.check_all()
    staged: tuple[str, ...] = ()
    if changed is not None and base_sha is not None:
        checker.problems.extend(_immutability(snap, base_sha, changed))
        seen = {p.file for p in checker.problems}
        named = set(touched) if files is not None and touched is not None else None
        checker.problems.extend(
            p for p in _rewritten(ws) if p.file not in seen and (named is None or p.file in named)
        )
        staged = tuple(
            sorted({p.split("/")[1] for _, p in changed if is_stage_path(p) and p in snap.files})
        )
    return Report(
        tuple(checker.problems),
        base_sha,
        incremental,
        checker.files_checked,
        staged,
        checker.warnings(),
        snap,
    )


def _resolve_base(ws: Workspace, base: str | None) -> str | None:
    git = ws.git
    if base is not None:
        sha = git.resolve(base)
        if sha is None:
            raise NotFound(f"--base '{base}' is not a revision", hint="fetch it or name a branch")
        return git.merge_base(sha, "HEAD") or sha if git.has_commits() else sha
    return git.resolve(ws.base())


def _immutability(snap: Snapshot, base: str, changed: list[tuple[str, str]]) -> list[Problem]:
    out = []
    records = [(s, p) for s, p in changed if _is_record(p) and s in ("M", "D", "T")]
    for status, path in records:
        if snap.git.show(base, path) is None:
            continue
        verb = "was deleted" if status == "D" else "was changed"
        out.append(
            Problem(
                path,
                "",
                f"version record {verb} after it was registered (on {base[:12]})",
                "records are immutable: restore it with `git checkout "
                f"{base[:12]} -- {path}`; retire a version with `deprecated:` in model.yaml",
            )
        )
    return out


def _rewritten(ws: Workspace) -> list[Problem]:
    """Records that a force-push to origin's default branch changed or deleted.

    The merge-base moves with a rewrite, so comparing with it misses one; what this clone
    last saw of the branch (its reflog) does not. A clone that never saw the old commit
    cannot tell: branch protection against force-pushes is the real guard.
    """
    default = ws.git.default_branch()
    if default is None:
        return []
    ref = f"refs/remotes/origin/{default}"
    out: dict[str, Problem] = {}
    for old, new in ws.git.forced_updates(ref):
        # check=False: an old tip pruned from the object store has nothing left to compare.
        diff = ws.git.run(
            "diff", "--name-status", "--no-renames", old, "HEAD", "--", "models", check=False
        )
        for line in diff.splitlines():
            status, _, path = line.partition("\t")
            if status in ("M", "D", "T") and _is_record(path) and path not in out:
                out[path] = Problem(
                    path,
                    "",
                    f"version record {'deleted' if status == 'D' else 'changed'} by a "
                    f"force-push to origin/{default} (this clone saw it at {old[:12]}, "
                    f"rewritten to {new[:12]})",
                    f"records are immutable: restore it with `git checkout {old[:12]} -- "
                    f"{path}` and push; protect {default} against force-pushes",
                )
    return list(out.values())


def _in_registry(path: str) -> bool:
    """A file `validate FILE…` checks: a policy, or a file in a model's folder."""
    parts = path.split("/")
    return (parts[0] == "policies" and len(parts) == 2) or (parts[0] == "models" and len(parts) > 2)


def _models_in(paths: Iterable[str]) -> list[str]:
    paths = (p for p in paths if p.startswith("models/") and p.count("/") > 1)
    paths = (p for p in paths if not in_events_dir(p))
    return sorted({p.split("/")[1] for p in paths})


def is_stage_path(path: str) -> bool:
    """A stage file, or the one `stages.yaml` of the older layout."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "models":
        return False
    return parts[2] == "stages.yaml" if len(parts) == 3 else parts[2] == "stages"


def _is_record(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 4 and parts[0] == "models" and parts[2] == "versions"


class _Checker:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.problems: list[Problem] = []
        self.files_checked = 0
        self.md5_only: list[str] = []
        self._pointers_to_check: list[VersionRecord] = []
        self.legacy_names: list[str] = []
        self.notes: list[str] = []  # warnings about stage-event checkpoints

    def check_all(self) -> None:
        for name in self.snap.policies():
            self._check_policy(policy_yaml(name))
        models = self.snap.models()
        events = [p for p in self.snap.files if in_events_dir(p)]
        walks = checkpoints.start_walks(self.snap, events, self._rev()) if events else {}
        try:  # git walks for the checkpoints while the files are parsed
            self._prefetch(models)
            for model in models:
                self.check_model(model, self.snap.versions(model))
            self.check_pointers()
            self.check_checkpoints(events, walks)
        finally:
            for walk in walks.values():
                walk.close()

    def _rev(self) -> str | None:
        return self.snap.rev or self.snap.git.head()

    def check_checkpoints(
        self, paths: Iterable[str], walks: dict[str, PendingWalk] | None = None
    ) -> None:
        """Each stage-event checkpoint against the walk of history up to its commit."""
        paths = [p for p in paths if p in self.snap.files]
        if not paths:
            return
        rev = self._rev()
        for path in sorted(paths):
            walk = (walks or {}).get(path)
            problems, notes = checkpoints.check(self.snap, path, rev, walk)
            self.files_checked += 1
            self.problems += problems
            self.notes += notes

    def _prefetch(self, models: list[str]) -> None:
        """Read and check every file in one batch per kind (in parallel when cold), so the
        checks of each model below only look their results up."""
        snap = self.snap
        snap.precheck("model", map(model_yaml, models))
        snap.precheck("stage", (p for m in models for p in snap.stage_files(m).values()))
        snap.precheck("stages", map(legacy_stages_yaml, models))
        snap.precheck("version", (p for m in models for p in snap.index[m].versions.values()))

    def check_changed(self, paths: Iterable[str]) -> None:
        touched: dict[str, set[str]] = {}
        paths = list(paths)
        for path in paths:
            parts = path.split("/")
            if in_events_dir(path):
                continue  # checked below
            if parts[0] == "policies" and path in self.snap.files:
                self._check_policy(path)
            elif parts[0] == "models" and len(parts) > 2:
                versions = touched.setdefault(parts[1], set())
                if parts[2] == "versions" and parts[-1].endswith(".yaml"):
                    versions.add(parts[-1][:-5])
                elif parts[2] == "artifacts" and len(parts) > 3:
                    versions.add(parts[3])
        for model, versions in sorted(touched.items()):
            if self.snap.has_model(model):
                self.check_model(model, [v for v in versions if v in self.snap.versions(model)])
        self.check_pointers()
        self.check_checkpoints(p for p in paths if in_events_dir(p))

    def check_model(self, model: str, versions: list[str]) -> None:
        spec = self._spec(model)
        records = self._records(model, versions)
        self._pointers_to_check += records
        self._note_weaker(model, records)
        if spec is not None:
            self._check_stages(model, spec)
            self._check_drift_rules(spec, records)

    def _check_policy(self, path: str) -> None:
        """Schema problems, then what only the typed rules can see (durations, drift)."""
        if path not in self._checked("policy", [path]):
            return
        try:
            self.snap.policy(path[len("policies/") : -len(".yaml")])
        except RuleError as exc:
            self._once(Problem(exc.file or path, exc.key, exc.what, exc.fix))

    def _check_drift_rules(self, spec: ModelSpec, records: list[VersionRecord]) -> None:
        """The policy's drift rules against what this model is: its task, and the types
        of the newest checked version's inputs (a method must fit its column's kind)."""
        try:
            rules = self.snap.policy(spec.policy).drift
        except ModelregError:
            return  # reported with the policy file or model.yaml
        path = policy_yaml(spec.policy)
        tasks = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}
        metrics = tasks.get(spec.task or "")
        if rules.concept_metric is not None and metrics and rules.concept_metric not in metrics:
            self._once(
                Problem(
                    path,
                    "drift.concept.metric",
                    f"{rules.concept_metric!r} does not fit {spec.task} model {spec.name}",
                    "use one of: " + ", ".join(metrics),
                )
            )
        signed = [r for r in records if r.signature is not None]
        latest = max(signed, key=lambda r: version_key(r.version), default=None)
        if latest is None or latest.signature is None:
            return
        types = latest.signature.types()
        for column, rule in rules.columns.items():
            kind = SIGNATURE_KINDS.get(types.get(column, ""))
            if rule.method is None or kind is None or rule.method in methods_for(kind):
                continue
            self._once(
                Problem(
                    path,
                    f"drift.columns.{column}.method",
                    f"{rule.method!r} does not apply to {kind} column {column} "
                    f"({latest.model} {latest.version} takes it as {types[column]})",
                    "use one of: " + ", ".join(methods_for(kind)),
                )
            )

    def _once(self, problem: Problem) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def _note_weaker(self, model: str, records: list[VersionRecord]) -> None:
        """Records checked by md5 alone, and names an older release allowed (warnings)."""
        self.md5_only += [version_yaml(model, r.version) for r in records if not r.artifact.sha256]
        found = [("model", model, model_yaml(model))] if not is_name(model) else []
        found += [
            ("version", r.version, version_yaml(model, r.version))
            for r in records
            if not is_version(r.version)
        ]
        try:
            stages = list(self.snap.stages(model).assignments)
        except ModelregError:
            stages = []  # a broken stages file is reported as a problem elsewhere
        found += [
            ("stage", s, self.snap.stage_key(model, s, "version")[0])
            for s in stages
            if not is_name(s)
        ]
        self.legacy_names += [
            f"{path}: {kind} name {brief(name)} is not allowed for new writes (still readable; "
            "see docs/formats.md, Names)"
            for kind, name, path in found
        ]

    def warnings(self) -> tuple[str, ...]:
        """One line per kind of weakness found, then one per legacy name."""
        out = []
        if self.md5_only:
            shown = ", ".join(self.md5_only[:3]) + (", ..." if len(self.md5_only) > 3 else "")
            out.append(
                f"{len(self.md5_only)} record(s) carry only an md5, no sha256 "
                f"(weaker; see docs/formats.md): {shown}"
            )
        return (*out, *self.legacy_names, *self.notes)

    def _checked(self, kind: str, paths: list[str]) -> dict[str, object]:
        loaded = self.snap.checked_many(kind, paths)
        self.files_checked += len(paths)
        good = {}
        for path, (data, probs) in loaded.items():
            self.problems.extend(probs)
            if not probs:
                good[path] = data
        return good

    def _spec(self, model: str) -> ModelSpec | None:
        path = model_yaml(model)
        if path not in self.snap.files:
            self.problems.append(
                Problem(path, "", "missing", "every model folder needs a model.yaml; run register")
            )
            return None
        data = self._checked("model", [path]).get(path)
        if not isinstance(data, dict):
            return None
        spec = ModelSpec.from_dict(data)
        if spec.name != model:
            self.problems.append(
                Problem(
                    path,
                    "name",
                    f"{brief(spec.name)} differs from folder '{model}'",
                    f"set name: {model}",
                )
            )
        if policy_yaml(spec.policy) not in self.snap.files:
            self.problems.append(
                Problem(
                    path,
                    "policy",
                    f"no policy file {brief_text(policy_yaml(spec.policy), 120)}",
                    "create it or name an existing policy",
                )
            )
        return spec

    def _records(self, model: str, versions: list[str]) -> list[VersionRecord]:
        paths = {version_yaml(model, v): v for v in versions}
        good = self._checked("version", list(paths))
        out = []
        for path, data in good.items():
            rec = VersionRecord.from_dict(data)  # type: ignore[arg-type]
            out.append(rec)
            if rec.model != model:
                self.problems.append(
                    Problem(path, "model", f"{brief(rec.model)} differs from folder '{model}'")
                )
            if rec.version != paths[path]:
                self.problems.append(
                    Problem(
                        path,
                        "version",
                        f"{brief(rec.version)} differs from file name '{paths[path]}'",
                    )
                )
        return out

    def check_pointers(self) -> None:
        """Check the pointers of every version the model checks collected, in one batch."""
        records, self._pointers_to_check = self._pointers_to_check, []
        self._check_pointers(records)

    def _check_pointers(self, records: list[VersionRecord]) -> None:
        """Each version's pointer tracks exactly its artifact: the file beside it, by the
        record's md5 and size (artifacts.pointer_problem). Verdicts are cached by the
        pointer's blob id and what the record says: parsing 20,000 pointers costs more
        than the rest of a warm validate."""
        wanted = [(r, r.artifact.path + ".dvc") for r in records]
        keys = {p: self._pointer_key(r, p) for r, p in wanted}
        verdicts = {p: self.snap.cache.get(k) if k else None for p, k in keys.items()}
        self.snap.prefetch(p for p, v in verdicts.items() if v is None and keys[p])
        for rec, dvc_file in wanted:
            found = verdicts[dvc_file]
            if found is None:
                found = self._pointer_verdict(rec, dvc_file)
                key = keys[dvc_file]
                if key:
                    self.snap.cache.put(key, found)
            if found:
                self.problems.append(Problem(*found))

    def _pointer_key(self, rec: VersionRecord, dvc_file: str) -> str | None:
        blob = self.snap.files.get(dvc_file)
        art = rec.artifact
        return f"pointer:{blob}:{art.path}:{art.md5}:{art.size}:{rec.model}" if blob else None

    def _pointer_verdict(self, rec: VersionRecord, dvc_file: str) -> list[str | None]:
        """The problem with one version's pointer as [file, key, what, fix], or []."""
        record = version_yaml(rec.model, rec.version)
        text = self.snap.raw(dvc_file) if dvc_file in self.snap.files else None
        found = pointer_problem(text, rec.artifact.path, rec.artifact.md5, record)
        if found is not None:
            return [found.file, found.key, found.message, found.fix]
        size = self.snap.pointer(rec.artifact.path)
        if size is not None and size.size is not None and size.size != rec.artifact.size:
            what = f"record says {rec.artifact.size} bytes but the pointer says {size.size}"
            return [record, "artifact.size", what, None]
        return []

    def _check_stages(self, model: str, spec: ModelSpec) -> None:
        files = self.snap.stage_files(model)
        self._check_stage_folder(model, files)
        assigned: dict[str, tuple[str, str, StageAssignment]] = {}  # stage → file, key, it
        for stage, path in files.items():
            data = self._checked("stage", [path]).get(path, False)
            if isinstance(data, dict):
                assigned[stage] = (path, "", StageAssignment.from_dict(data))
        legacy = legacy_stages_yaml(model)
        if self.snap.has_legacy_stages(model) and not files:
            data = self._checked("stages", [legacy]).get(legacy, False)
            if data is not False:
                stages = Stages.from_dict(data)  # type: ignore[arg-type]
                assigned = {s: (legacy, f"{s}.", a) for s, a in stages.assignments.items()}
        known = self.snap.versions(model)
        policy_stages = self._policy_stages(spec)
        for stage, (path, prefix, a) in assigned.items():
            self._check_assignment(path, prefix + "version", a.version, known, spec)
            if a.rollout:
                key = prefix + "rollout.candidate"
                self._check_assignment(path, key, a.rollout.candidate, known, spec)
            if policy_stages is not None and stage not in policy_stages:
                self.problems.append(
                    Problem(
                        path,
                        prefix.rstrip("."),
                        f"stage '{stage}' is not in policy '{spec.policy}'",
                        "stages: " + ", ".join(policy_stages),
                    )
                )

    def _check_stage_folder(self, model: str, files: dict[str, str]) -> None:
        """Stage files are named after a stage; nothing else lives beside them."""
        folder = stages_dir(model) + "/"
        for path in self.snap.stray_stage_files(model):
            self.problems.append(
                Problem(path, "", "not a stage file", "name it <stage>.yaml in " + folder)
            )
        for stage, path in files.items():
            if not is_readable_name(stage):
                self.problems.append(
                    Problem(path, "", f"'{stage}' is not a valid stage name", "rename the file")
                )
        if files and self.snap.has_legacy_stages(model):
            self.problems.append(
                Problem(
                    legacy_stages_yaml(model),
                    "",
                    f"the old one-file layout beside {folder}",
                    "the stage files win; delete this file",
                )
            )

    def _check_assignment(
        self, path: str, key: str, version: str, known: list[str], spec: ModelSpec
    ) -> None:
        if version not in known:
            tail = ", ".join(known[-6:]) or "none"
            self.problems.append(
                Problem(
                    path,
                    key,
                    f"{brief(version)} is not a registered version",
                    f"known: {tail}",
                )
            )
        elif version in spec.deprecated:
            self.problems.append(
                Problem(
                    path,
                    key,
                    f"'{version}' is deprecated",
                    "promote a supported version or remove it from deprecated: in model.yaml",
                )
            )

    def _policy_stages(self, spec: ModelSpec) -> list[str] | None:
        try:
            return [s.name for s in self.snap.policy(spec.policy).stages]
        except ModelregError:
            return None
