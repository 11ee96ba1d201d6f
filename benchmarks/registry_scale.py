"""Registry scale: modelreg on 1,000 models x 20 versions, and against gto on equal content.

Builds (once, with `git fast-import`) a registry repository the way a team would grow it:
one commit per `modelreg register` (record, DVC pointer, artifact .gitignore) and stage
changes interleaved in time -- GitHub merge commits, squash merges and direct commits.
Then times the real CLI in subprocesses, with the blob cache cold (`.git/modelreg/`
deleted) and warm, and reports medians and peak RSS.

    python benchmarks/registry_scale.py                # measure, print the table
    python benchmarks/registry_scale.py --update-docs  # ...and rewrite docs

The repositories live under benchmarks/.work/ (gitignored) and are reused while their
parameters match; `--rebuild` makes them again. gto is installed only into its own
virtual environment, benchmarks/.work/gto-venv, created when missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
DOC = ROOT / "docs" / "benchmarks.md"
GTO_VENV = WORK / "gto-venv"
GENERATOR = 13  # bump when the generated content changes, so old repos are rebuilt
START = int(dt.datetime(2023, 1, 2, 9, 0, tzinfo=dt.timezone.utc).timestamp())
NAMES = ("Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena")
PEOPLE = [f"{n} <{n.lower()}@example.com>" for n in NAMES]
LOADS: list[float] = []  # 1-minute load averages seen while measuring
SPEED: list[float] = []  # seconds of a fixed pure-Python loop, taken as loads are


def reference_loop() -> float:
    """Seconds a fixed pure-Python loop takes in a fresh interpreter: how fast this
    (shared) machine is running at the moment, as a scale for every other figure. It
    was 0.215 s at 2026-12-07 04:17 and 0.34 s ten minutes later, idle both times."""
    code = "import time; s = time.perf_counter(); sum(i * i for i in range(3_000_000)); "
    code += "print(time.perf_counter() - s)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(out.stdout)


WORDS = ("churn", "fraud", "ranker", "forecast", "pricing", "intent", "spam", "ltv", "eta")


@dataclass(frozen=True)
class Shape:
    """What a generated registry holds."""

    models: int
    versions: int
    changes: int
    canaries: bool = True  # gto has no canaries: without them, one change is one gto tag
    seed: int = 7

    @property
    def name(self) -> str:
        return f"{self.models}x{self.versions}-{self.changes}"


BIG = Shape(models=1000, versions=20, changes=2000)
SMALL = Shape(models=20, versions=50, changes=300, canaries=False)  # the gto comparison


# -- content ---------------------------------------------------------------------------


def model_name(i: int) -> str:
    return f"{WORDS[i % len(WORDS)]}-{i:04d}"


def version_name(i: int) -> str:
    return f"v{1 + i // 8}.{i % 8}.0"


def record_text(
    rng: random.Random,
    model: str,
    version: str,
    parent: str | None,
    when: int,
    who: str,
    artifact: tuple[str, int],
) -> bytes:
    """A version record as `modelreg register` writes it (same keys, order and quoting)."""
    md5, size = artifact
    stamp = dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    acc = round(rng.uniform(0.80, 0.97), 4)
    parent = f"parent: {parent}\n" if parent else ""
    email = who.split("<")[1].rstrip(">")
    text = (
        f"# {model} {version}: written once by `modelreg register`.\n"
        "# Immutable once merged; retire it with `deprecated:` in model.yaml.\n"
        f"model: {model}\nversion: {version}\ncreated_at: '{stamp}'\ncreated_by: {email}\n"
        f"code_commit: {rng.getrandbits(160):040x}\n"
        f"trigger: {rng.choice(('manual', 'schedule', 'schedule', 'drift'))}\n{parent}"
        f"artifact:\n  path: models/{model}/artifacts/{version}/model.pkl\n  md5: {md5}\n"
        f"  size: {size}\n  format: sklearn-pickle\n"
        f"params:\n  C: {rng.choice((0.1, 0.5, 1.0))}\n  max_iter: {rng.choice((500, 2000))}\n"
        f"metrics:\n  dataset: holdout-{stamp[:7]}\n  accuracy: {acc}\n"
        f"  f1: {round(acc - rng.uniform(0.02, 0.06), 4)}\n"
        f"  roc_auc: {round(min(acc + rng.uniform(0.01, 0.04), 0.999), 4)}\n"
        "signature:\n  inputs:\n  - name: tenure\n    type: float\n"
        "  - name: plan\n    type: category\n"
    )
    return text.encode()


def pointer_text(md5: str, size: int) -> bytes:
    return f"outs:\n- md5: {md5}\n  size: {size}\n  hash: md5\n  path: model.pkl\n".encode()


def model_text(model: str, who: str) -> bytes:
    email = who.split("<")[1].rstrip(">")
    return (
        f"name: {model}\nowner: {email}\ndescription: ''\npolicy: default\n"
        "headline_metrics:\n- accuracy\n- f1\n- roc_auc\n"
    ).encode()


@dataclass
class StageState:
    """One model's stages while the history is generated."""

    staging: str | None = None
    production: str | None = None
    candidate: str | None = None
    weight: int = 0
    past: list[str] = field(default_factory=list)  # earlier production versions

    def files(self, model: str) -> dict[str, bytes]:
        """Path → text of every stage file the model has, as `modelreg promote` writes it."""
        from modelreg.registry.records import Rollout, StageAssignment
        from modelreg.registry.stages import render_stage

        out: dict[str, bytes] = {}
        if self.staging:
            a = StageAssignment(self.staging)
            out[f"models/{model}/stages/staging.yaml"] = render_stage(model, "staging", a).encode()
        if self.production:
            step = 1 if self.weight == 10 else 2
            ro = Rollout(self.candidate, self.weight, step) if self.candidate else None
            a = StageAssignment(self.production, ro)
            text = render_stage(model, "production", a)
            out[f"models/{model}/stages/production.yaml"] = text.encode()
        return out

    def step(self, rng: random.Random, latest: str, canaries: bool) -> str | None:
        """Make one realistic change; return its title, or None if nothing is due."""
        if self.candidate:
            if self.weight == 10 and rng.random() < 0.6:
                self.weight = 50
                return f"advance the canary of {self.candidate} to 50%"
            self.past.append(self.production or "")
            self.production, self.candidate, self.weight = self.candidate, None, 0
            return f"complete the rollout of {self.production} in production"
        if self.past and rng.random() < 0.05:
            self.production = self.past.pop()
            return f"roll back production to {self.production}"
        if self.staging != latest and (self.staging == self.production or rng.random() < 0.6):
            self.staging = latest
            return f"promote {latest} to staging"
        if self.staging and self.staging != self.production:
            if self.production and rng.random() < 0.2 and canaries:
                self.candidate, self.weight = self.staging, 10
                return f"start a canary of {self.staging} in production"
            if self.production:
                self.past.append(self.production)
            self.production = self.staging
            return f"promote {self.staging} to production"
        return None


# -- generation with git fast-import ---------------------------------------------------


class Stream:
    """A git fast-import stream, written straight into the running importer."""

    def __init__(self, repo: Path) -> None:
        self.proc = subprocess.Popen(
            ["git", "fast-import", "--quiet", "--done"],
            cwd=repo,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.out = self.proc.stdin
        self.replies = self.proc.stdout
        self.mark = 0

    def commit(
        self,
        ref: str,
        who: str,
        when: int,
        message: str,
        files: dict[str, bytes],
        parent: int | None,
        merge: int | None = None,
        deleted: Sequence[str] = (),
    ) -> int:
        self.mark += 1
        msg = message.encode()
        head = f"commit {ref}\nmark :{self.mark}\nauthor {who} {when} +0000\n"
        head += f"committer {who} {when} +0000\ndata {len(msg)}\n"
        parts = [head.encode(), msg, b"\n"]
        if parent is not None:
            parts.append(f"from :{parent}\n".encode())
        if merge is not None:
            parts.append(f"merge :{merge}\n".encode())
        for path, data in files.items():
            parts.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode())
            parts += [data, b"\n"]
        parts += [f"D {path}\n".encode() for path in deleted]
        parts.append(b"\n")
        self.out.write(b"".join(parts))
        return self.mark

    def flush(self) -> None:
        """Have the importer write what it has and update its refs, and wait until it
        did, so other git processes can read the history so far."""
        self.out.write(f"checkpoint\n\nprogress flushed {self.mark}\n\n".encode())
        self.out.flush()
        line = self.replies.readline()
        if not line.startswith(b"progress flushed"):
            raise SystemExit(f"git fast-import: unexpected reply {line!r}")

    def tag(self, name: str, target: int, who: str, when: int, message: str) -> None:
        msg = message.encode()
        head = f"tag {name}\nfrom :{target}\ntagger {who} {when} +0000\ndata {len(msg)}\n"
        self.out.write(head.encode() + msg + b"\n")

    def close(self) -> None:
        self.out.write(b"done\n")
        self.out.close()
        if self.proc.wait() != 0:
            raise SystemExit("git fast-import failed")


def _init_repo(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.name", "Bench")
    _git(path, "config", "user.email", "bench@example.com")
    _git(path, "config", "gc.auto", "0")  # no surprise repacking while we time


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def _scaffold() -> dict[str, bytes]:
    from modelreg.registry.policy import DEFAULT_POLICY_YAML

    return {
        "policies/default.yaml": DEFAULT_POLICY_YAML.encode(),
        ".gitignore": b".modelreg/\n",
        ".dvc/config": b"[core]\n    analytics = False\n    remote = storage\n"
        b"['remote \"storage\"']\n    url = s3://models-dvc/registry\n",
        ".dvc/.gitignore": b"/config.local\n/tmp\n/cache\n",
        ".dvcignore": b"# Add patterns of files dvc should ignore\n",
        "models/.gitkeep": b"",
        "pipelines/.gitkeep": b"",
    }


def _schedule(plan: random.Random, shape: Shape) -> Iterator[tuple[str, list[int], int, str]]:
    """(event, models, time, person): registrations and stage changes as a team makes them.

    A registration names its model; a stage change names recently registered models in
    random order, and changes the first one that has a change due (see `_stage_change`).

    Only this and StageState.step draw from `plan`, so the modelreg and gto builders see
    the very same events and stage decisions; content draws from another generator.
    """
    regs = [m for _ in range(shape.versions) for m in _shuffled(plan, shape.models)]
    recent: list[int] = []
    when = START
    for n, m in enumerate(regs, 1):
        when += plan.randint(600, 5400)
        yield "register", [m], when, plan.choice(PEOPLE)
        recent = [*recent[-40:], m]
        due = n * shape.changes // len(regs) - (n - 1) * shape.changes // len(regs)
        for _ in range(due):
            when += plan.randint(600, 5400)
            seen = regs[:n]  # if none of the recent ones has a change due, any other
            fallback = plan.sample(seen, min(len(seen), 200))
            yield "stage", plan.sample(recent, len(recent)) + fallback, when, plan.choice(PEOPLE)


def _stage_change(
    plan: random.Random,
    states: list[StageState],
    latest: list[str],
    models: list[int],
    canaries: bool,
) -> tuple[int, str] | None:
    """The first of `models` with a change due, after making it; its title."""
    for m in models:
        title = states[m].step(plan, latest[m], canaries)
        if title is not None:
            return m, title
    return None


def _shuffled(rng: random.Random, n: int) -> list[int]:
    items = list(range(n))
    rng.shuffle(items)
    return items


def build_registry(path: Path, shape: Shape) -> dict[str, str]:
    """Generate the registry repository; return facts the timings need."""
    plan, rng = random.Random(shape.seed), random.Random(shape.seed + 1)  # see _schedule
    _init_repo(path)
    stream = Stream(path)
    when = START
    tip = stream.commit(
        "refs/heads/main",
        PEOPLE[0],
        when,
        "modelreg init: scaffold the registry\n",
        _scaffold(),
        None,
    )
    registered = [0] * shape.models
    latest = [""] * shape.models
    states = [StageState() for _ in range(shape.models)]
    stage_commits, pr, dates = 0, 100, []
    written: dict[str, bytes] = {}  # stage file → its text at the tip
    events = _Checkpoints(path)
    for kind, models, when, who in _schedule(plan, shape):
        dates.append(when)
        if kind == "register":
            events.line += 1  # main's first-parent line, this commit included
            m, model = models[0], model_name(models[0])
            i = registered[m]
            files = _registration(rng, model, i, when, who)
            if i == 0:
                files[f"models/{model}/model.yaml"] = model_text(model, who)
            registered[m] += 1
            latest[m] = version_name(i)
            msg = f"register {model} {latest[m]}\n"
            deleted = events.add_if_due(stream, files)
            tip = stream.commit("refs/heads/main", who, when, msg, files, tip, deleted=deleted)
            continue
        change = _stage_change(plan, states, latest, models, shape.canaries)
        if change is None:
            continue
        (m, title), model = change, model_name(change[0])
        stage_commits += 1
        now = states[m].files(model)  # only the stage files this change rewrites
        files = {p: t for p, t in now.items() if written.get(p) != t}
        written.update(files)
        pr += 1
        tip = _stage_commit(stream, rng, tip, who, when, f"{model}: {title}", files, pr)
        events.line += 1
    stream.close()
    _git(path, "update-ref", "-d", "refs/heads/pr")
    _git(path, "checkout", "-q", "-f", "main")
    mid = dt.datetime.fromtimestamp(dates[len(dates) // 2], dt.timezone.utc)
    busiest = max(range(shape.models), key=lambda k: (len(states[k].past), -k))
    return {
        "model": model_name(busiest),
        "mid_date": mid.strftime("%Y-%m-%dT%H:%M:%S"),
        "stage_commits": str(stage_commits),
        "commits": _git(path, "rev-list", "--count", "HEAD").strip(),
        "checkpoints": str(events.written),
    }


class _Checkpoints:
    """Stage-event checkpoints as `modelreg register` adds them: when a registration's
    parent is `events_file.EVERY` or more first-parent commits past the last checkpoint
    (or the root), its commit also adds `models/.stage-events/<parent>.json` and
    `<parent>.files.json` and deletes the older two. Both are computed by modelreg's own
    code on the history imported so far, so they are exactly what `validate` compares
    them with."""

    def __init__(self, repo: Path) -> None:
        from modelreg.registry.cache import BlobCache

        self.repo = repo
        self.line = 1  # the init commit
        self.last: str | None = None
        self.written = 0
        self.cache = BlobCache(None)  # one command's memory across the whole build

    def add_if_due(self, stream: Stream, files: dict[str, bytes]) -> list[str]:
        """Add the checkpoint to `files` if due; the paths the commit deletes."""
        from modelreg.adapters.git import Git
        from modelreg.registry import events_file, parsed_files
        from modelreg.registry.checkpoints import shown_files
        from modelreg.registry.history import stage_events
        from modelreg.registry.snapshot import Snapshot

        # `line` counts this registration's commit too: the parent is line - 1 past.
        if self.line - 1 < events_file.EVERY:
            return []
        stream.flush()
        head = _git(self.repo, "rev-parse", "refs/heads/main").strip()
        snap = Snapshot(Git(self.repo), head, self.cache, (events_file.EVENTS_DIR,))
        rows = [[getattr(e, f) for f in events_file.FIELDS] for e in stage_events(snap)]
        files[events_file.events_path(head)] = events_file.render(head, [tuple(r) for r in rows])
        shown = shown_files(Snapshot(Git(self.repo), head, self.cache))
        files[parsed_files.files_path(head)] = parsed_files.render(head, shown)
        deleted = (
            [events_file.events_path(self.last), parsed_files.files_path(self.last)]
            if self.last
            else []
        )
        self.last, self.line, self.written = head, 1, self.written + 1
        return deleted


def _registration(rng: random.Random, model: str, i: int, when: int, who: str) -> dict[str, bytes]:
    version = version_name(i)
    md5 = hashlib.md5(f"{model}{version}".encode()).hexdigest()
    size = rng.randint(20_000, 9_000_000)
    folder = f"models/{model}/artifacts/{version}"
    return {
        f"models/{model}/versions/{version}.yaml": record_text(
            rng, model, version, version_name(i - 1) if i else None, when, who, (md5, size)
        ),
        f"{folder}/model.pkl.dvc": pointer_text(md5, size),
        f"{folder}/.gitignore": b"/model.pkl\n",
    }


def _stage_commit(
    stream: Stream,
    rng: random.Random,
    tip: int,
    who: str,
    when: int,
    title: str,
    files: dict[str, bytes],
    pr: int,
) -> int:
    """A GitHub merge (two parents), a squash merge, or a direct commit."""
    roll = rng.random()
    if roll < 0.5:
        branch = stream.commit("refs/heads/pr", who, when - 60, title + "\n", files, tip)
        merger = rng.choice(PEOPLE)
        user = who.split()[0].lower()
        msg = f"Merge pull request #{pr} from {user}/modelreg/promote-{pr}\n\n{title}\n"
        return stream.commit("refs/heads/main", merger, when, msg, files, tip, merge=branch)
    msg = f"{title} (#{pr})\n" if roll < 0.85 else title + "\n"
    return stream.commit("refs/heads/main", who, when, msg, files, tip)


def build_gto(path: Path, shape: Shape) -> dict[str, str]:
    """The same registrations and assignments as gto keeps them: annotated tags.

    `gto register` tags `<name>@<version>` with "Registering artifact <name> version
    <version>"; `gto assign` tags `<name>#<stage>#<N>` (N counts the artifact's tags)
    with "Assigning stage <stage> to artifact <name> version <version>" (gto 1.10,
    gto/registry.py and gto/tag.py). gto needs no artifacts.yaml for this (its
    annotations moved to dvc.yaml, which `gto show` does not read), so there is none.
    """
    plan, rng = random.Random(shape.seed), random.Random(shape.seed + 1)  # see _schedule
    _init_repo(path)
    stream = Stream(path)
    tip = stream.commit(
        "refs/heads/main", PEOPLE[0], START, "init\n", {".gitignore": b"*.pkl\n"}, None
    )
    registered: list[list[tuple[str, int]]] = [[] for _ in range(shape.models)]
    counters = [0] * shape.models
    latest = [""] * shape.models
    states = [StageState() for _ in range(shape.models)]
    for kind, models, when, who in _schedule(plan, shape):
        if kind == "register":
            m, model = models[0], model_name(models[0])
            i = len(registered[m])
            md5 = hashlib.md5(f"{model}{i}".encode()).hexdigest()
            size = rng.randint(20_000, 9_000_000)
            files = {f"models/{model}/model.pkl.dvc": pointer_text(md5, size)}
            tip = stream.commit("refs/heads/main", who, when, f"train {model}\n", files, tip)
            version = version_name(i)
            registered[m].append((version, tip))
            latest[m] = version
            msg = f"Registering artifact {model} version {version}"
            stream.tag(f"{model}@{version}", tip, who, when + 1, msg)
            continue
        before = [(s.staging, s.production) for s in states]
        change = _stage_change(plan, states, latest, models, shape.canaries)
        if change is None:
            continue
        m, model = change[0], model_name(change[0])
        after = (states[m].staging, states[m].production)
        commits = dict(registered[m])
        for stage, old, new in zip(("staging", "production"), before[m], after, strict=True):
            if new and new != old:
                counters[m] += 1
                msg = f"Assigning stage {stage} to artifact {model} version {new}"
                stream.tag(f"{model}#{stage}#{counters[m]}", commits[new], who, when, msg)
    stream.close()
    _git(path, "checkout", "-q", "-f", "main")
    return {"assignments": str(sum(counters)), "registrations": str(sum(map(len, registered)))}


def ensure_repo(kind: str, shape: Shape, rebuild: bool) -> tuple[Path, dict[str, str]]:
    """The generated repo for `shape`, reused when it was built with the same parameters."""
    path = WORK / f"{kind}-{shape.name}"
    stamp = path / ".git" / "bench-shape.json"
    want = {"generator": GENERATOR, "shape": shape.__dict__}
    if not rebuild and stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved.get("want") == want:
            return path, saved["facts"]
    started = time.perf_counter()
    facts = build_gto(path, shape) if kind == "gto" else build_registry(path, shape)
    facts["build_seconds"] = f"{time.perf_counter() - started:.1f}"
    stamp.write_text(json.dumps({"want": want, "facts": facts}))
    print(f"built {path.relative_to(ROOT)} in {facts['build_seconds']} s", file=sys.stderr)
    return path, facts


def ensure_gto() -> Path:
    """gto in its own virtual environment (never in modelreg's)."""
    exe = GTO_VENV / "bin" / "gto"
    if not exe.exists():
        subprocess.run(["python3", "-m", "venv", str(GTO_VENV)], check=True)
        pip = str(GTO_VENV / "bin" / "pip")
        subprocess.run([pip, "install", "--quiet", "gto"], check=True)
    return exe


def make_pr_branch(repo: Path, model: str) -> str:
    """A branch that registers one version and puts it in staging: 3 files."""
    versions = sorted(
        (repo / "models" / model / "versions").glob("*.yaml"),
        key=lambda p: tuple(int(x) for x in p.stem[1:].split(".")),
    )
    last = versions[-1].stem
    major, minor, _ = (int(x) for x in last[1:].split("."))
    new = f"v{major}.{minor + 1}.0"
    _git(repo, "checkout", "-q", "-B", "bench-pr", "main")
    md5, size = hashlib.md5(new.encode()).hexdigest(), 123_456
    when = int(time.time())
    text = record_text(random.Random(1), model, new, last, when, PEOPLE[1], (md5, size))
    (repo / "models" / model / "versions" / f"{new}.yaml").write_bytes(text)
    art = repo / "models" / model / "artifacts" / new
    art.mkdir(parents=True, exist_ok=True)
    (art / "model.pkl.dvc").write_bytes(pointer_text(md5, size))
    from modelreg.registry.records import StageAssignment
    from modelreg.registry.stages import render_stage

    staging = repo / "models" / model / "stages" / "staging.yaml"
    staging.parent.mkdir(exist_ok=True)
    staging.write_text(render_stage(model, "staging", StageAssignment(new)))
    _git(repo, "add", "-A", "models")
    _git(repo, "commit", "-q", "-m", f"register {model} {new} and stage it")
    changed = _git(repo, "diff", "--name-only", "main", "HEAD").split()
    assert len(changed) == 3, changed
    return "bench-pr"


# -- timing ----------------------------------------------------------------------------


@dataclass
class Timing:
    """Medians of one command's runs, cold and warm (None: not measured that way)."""

    label: str
    cold: float | None
    warm: float | None
    cold_cpu: float | None
    warm_cpu: float | None
    rss_mb: float
    target: float | None = None
    fresh: float | None = None  # the first run in a fresh clone (no cache, no commit-graph)
    fresh_cpu: float | None = None
    fresh_target: float | None = None

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.warm if self.warm is not None else self.cold
        return measured is not None and measured < self.target


def run_once(cmd: Sequence[str], cwd: Path, expect: int = 0) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of a command and its child processes.

    CPU time counts git and worker processes too; the peak is the largest single process.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()  # small: errors only; read before waiting
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != expect:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err.strip()[-500:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(
    label: str,
    cmd: Sequence[str],
    repo: Path,
    runs: int,
    *,
    target: float | None = None,
    cold: bool = True,
    warm: bool = True,
) -> Timing:
    """Median of `runs` with the blob cache deleted before each, then of `runs` warm ones."""
    cache = repo / ".git" / "modelreg"
    _settle()
    LOADS.append(os.getloadavg()[0])
    SPEED.append(reference_loop())
    samples: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
    peak = 0.0
    for _ in range(runs if cold else 0):
        shutil.rmtree(cache, ignore_errors=True)
        seconds, cpu, rss = run_once(cmd, repo)
        samples["cold"].append((seconds, cpu))
        peak = max(peak, rss)
    if warm:
        run_once(cmd, repo)  # fills the cache
        for _ in range(runs):
            seconds, cpu, rss = run_once(cmd, repo)
            samples["warm"].append((seconds, cpu))
            peak = max(peak, rss)
    med = {
        kind: (
            statistics.median(w for w, _ in got) if got else None,
            statistics.median(c for _, c in got) if got else None,
        )
        for kind, got in samples.items()
    }
    result = Timing(
        label, med["cold"][0], med["warm"][0], med["cold"][1], med["warm"][1], peak, target
    )
    LOADS.append(os.getloadavg()[0])
    SPEED.append(reference_loop())
    print(
        f"  {label}: cold {_s(result.cold)} (cpu {_s(result.cold_cpu)}) "
        f"warm {_s(result.warm)} (cpu {_s(result.warm_cpu)}) rss {peak:.0f} MB",
        file=sys.stderr,
    )
    return result


MAX_LOAD: list[float] = []  # --max-load, when given


def _settle(patience: float = 300) -> None:
    """On a shared machine, wait (a while) for other jobs' load to drop before timing."""
    deadline = time.monotonic() + patience
    while MAX_LOAD and os.getloadavg()[0] > MAX_LOAD[0] and time.monotonic() < deadline:
        time.sleep(5)


def _s(value: float | None) -> str:
    return "-" if value is None else (f"{value:.3f} s" if value < 10 else f"{value:.1f} s")


# -- the run ---------------------------------------------------------------------------


USER_ENV = WORK / "user-env"


def modelreg_cmd() -> list[str]:
    """`modelreg` as a user who installed only modelreg starts it.

    The development environment also holds the test extra, whose pre-commit-uv puts a
    `.pth` file in site-packages that imports it at every Python start (30-40 ms here),
    which a user's installation does not pay. So the CLI runs from a virtual environment
    of its own (benchmarks/.work/user-env) that sees this checkout's `src/` and the
    packages already installed, without running their `.pth` files: the same code and
    libraries, a user's start-up. Its `modelreg` script is the one pip writes.
    """
    python = USER_ENV / "bin" / "python"
    exe = USER_ENV / "bin" / "modelreg"
    if not exe.exists():
        import site
        import sysconfig

        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(USER_ENV)], check=True)
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirs = [str(ROOT / "src"), *site.getsitepackages(), sysconfig.get_paths()["purelib"]]
        lines = "\n".join(dict.fromkeys(d for d in dirs if Path(d).is_dir()))
        Path(purelib, "modelreg-benchmark.pth").write_text(lines + "\n")
        exe.write_text(
            f"#!{python}\nimport sys\nfrom modelreg.cli import main\n"
            "if __name__ == '__main__':\n    sys.exit(main())\n"
        )
        exe.chmod(0o755)
    # As pip leaves an installed package: its bytecode written (a run with
    # PYTHONDONTWRITEBYTECODE set would otherwise compile every edited module each time).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], env=env)
    return [str(exe)]


def bench_big(runs: int, rebuild: bool) -> tuple[list[Timing], dict[str, str]]:
    repo, facts = ensure_repo("registry", BIG, rebuild)
    mr = modelreg_cmd()
    model = facts["model"]
    print(f"registry {BIG.name}: {facts['commits']} commits", file=sys.stderr)
    _git(repo, "checkout", "-q", "-f", "main")
    firsts = {
        "status": [*mr, "status"],
        "status MODEL": [*mr, "status", model],
        "history MODEL": [*mr, "history", model],
    }
    fresh = fresh_clone_firsts(repo, firsts, runs)
    _drop_commit_graph(repo)
    facts["walk_model_bare"] = _walk_seconds(repo, f"models/{model}/stages")
    started = time.perf_counter()
    _git(repo, "commit-graph", "write", "--reachable", "--changed-paths")
    facts["graph_seconds"] = f"{time.perf_counter() - started:.2f}"
    out = [
        measure("`modelreg --help`", [*mr, "--help"], repo, runs, target=0.3, warm=False),
        measure("`modelreg status`", [*mr, "status"], repo, runs, target=1.0),
        measure(f"`modelreg status {model}`", [*mr, "status", model], repo, runs, target=0.3),
        measure(f"`modelreg history {model}`", [*mr, "history", model], repo, runs, target=0.3),
        measure(
            f"`modelreg status --at {facts['mid_date'][:10]}`",
            [*mr, "status", "--at", facts["mid_date"]],
            repo,
            runs,
        ),
        measure("`modelreg validate` (20,000 records)", [*mr, "validate"], repo, runs, target=10),
    ]
    for t, (key, target) in zip(out[1:4], FRESH_TARGETS.items(), strict=True):
        t.fresh, t.fresh_cpu, t.fresh_target = *fresh[key], target
    facts["walk_model"] = _walk_seconds(repo, f"models/{model}/stages")
    facts["walk_all"] = _walk_seconds(repo, ":(glob)models/*/stages/*.yaml")
    make_pr_branch(repo, model)
    try:
        check = subprocess.run(
            [*mr, "validate", "--base", "main", "--json"], cwd=repo, capture_output=True
        )
        report = json.loads(check.stdout)
        if not report["ok"] or not report["incremental"]:
            raise SystemExit(f"validate --base failed: {report}")
        facts["base_files"] = str(report["files_checked"])
        cmd = [*mr, "validate", "--base", "main"]
        out.append(
            measure("`modelreg validate --base main` (3 files)", cmd, repo, runs, target=0.5)
        )
    finally:
        _git(repo, "checkout", "-q", "-f", "main")
    return out, facts


FRESH_TARGETS = {"status": 0.5, "status MODEL": 0.2, "history MODEL": 0.2}


def fresh_clone_firsts(
    origin: Path, cmds: dict[str, list[str]], runs: int
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command run first in a fresh clone of `origin`.

    One `git clone --no-local` (a full pack transfer, as from a server: no commit-graph,
    no modelreg cache), then each run in its own copy of that clone's `.git`, taken
    before anything ran in it (the work tree is left out: read commands never open it).
    A run waits for any git process it left behind (the commit-graph modelreg may start
    writing) before the next, so no run pays for an earlier one.
    """
    pristine = WORK / "fresh-clone"
    head = _git(origin, "rev-parse", "main").strip()
    stamp = WORK / "fresh-clone.head"
    if not stamp.exists() or stamp.read_text() != head or not pristine.exists():
        shutil.rmtree(pristine, ignore_errors=True)
        _git(WORK, "clone", "-q", "--no-local", "--no-checkout", str(origin), str(pristine))
        stamp.write_text(head)
    _drop_commit_graph(pristine)
    out: dict[str, tuple[float, float]] = {}
    for label, cmd in cmds.items():
        samples = []
        _settle()
        LOADS.append(os.getloadavg()[0])
        SPEED.append(reference_loop())
        for _ in range(runs):
            run = WORK / "fresh-run"
            shutil.rmtree(run, ignore_errors=True)
            run.mkdir()
            shutil.copytree(pristine / ".git", run / ".git", symlinks=True)
            seconds, cpu, _rss = run_once(cmd, run)
            samples.append((seconds, cpu))
            _wait_for_git(run)
        shutil.rmtree(WORK / "fresh-run", ignore_errors=True)
        out[label] = (
            statistics.median(w for w, _ in samples),
            statistics.median(c for _, c in samples),
        )
        print(f"  fresh clone, first {label}: {_s(out[label][0])}", file=sys.stderr)
    return out


def _wait_for_git(repo: Path, patience: float = 120) -> None:
    """Wait until no process runs in `repo` (Linux: /proc), e.g. a detached git."""
    deadline = time.monotonic() + patience
    proc = Path("/proc")
    while proc.is_dir() and time.monotonic() < deadline:
        busy = False
        for entry in proc.iterdir():
            try:
                busy = entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == repo
            except OSError:
                continue
            if busy:
                break
        if not busy:
            return
        time.sleep(0.1)


def _drop_commit_graph(repo: Path) -> None:
    info = repo / ".git" / "objects" / "info"
    (info / "commit-graph").unlink(missing_ok=True)
    shutil.rmtree(info / "commit-graphs", ignore_errors=True)


def _walk_seconds(repo: Path, pathspec: str) -> str:
    """How long git alone takes to walk main's first-parent history of `pathspec`."""
    cmd = ["git", "log", "--first-parent", "--raw", "--no-abbrev", "main", "--", pathspec]
    times = [run_once(cmd, repo)[0] for _ in range(3)]
    return f"{statistics.median(times):.2f}"


def bench_gto(runs: int, rebuild: bool) -> tuple[list[Timing], dict[str, str]]:
    gto = ensure_gto()
    gto_repo, gto_facts = ensure_repo("gto", SMALL, rebuild)
    mr_repo, facts = ensure_repo("registry", SMALL, rebuild)
    mr = modelreg_cmd()
    model = model_name(0)
    print(f"gto comparison {SMALL.name}", file=sys.stderr)
    version = subprocess.run([str(gto), "--version"], capture_output=True, text=True).stdout
    facts["gto_version"] = version.split()[-1]
    facts["gto_assignments"] = gto_facts["assignments"]
    same_state(gto, gto_repo, mr, mr_repo)
    out = [
        measure("`gto show`", [str(gto), "show"], gto_repo, runs, warm=False),
        measure("`modelreg status`", [*mr, "status"], mr_repo, runs),
        measure(f"`gto show {model}`", [str(gto), "show", model], gto_repo, runs, warm=False),
        measure(f"`modelreg status {model}`", [*mr, "status", model], mr_repo, runs),
    ]
    return out, facts


def same_state(gto: Path, gto_repo: Path, mr: list[str], mr_repo: Path) -> None:
    """Check that both registries hold the same latest versions and stage assignments."""
    shown = json.loads(_out([str(gto), "show", "--json"], gto_repo))
    theirs = {
        name: {"latest": d["version"], **{k: v for k, v in d["stage"].items() if v}}
        for name, d in shown.items()
    }
    ours: dict[str, dict[str, str]] = {}
    for row in json.loads(_out([*mr, "status", "--json"], mr_repo))["rows"]:
        ours.setdefault(row["model"], {})[row["stage"] or "latest"] = row["version"]
    for state in ours.values():
        state.setdefault("latest", max(state.values(), key=_semver))
    if ours != theirs:
        raise SystemExit(f"gto and modelreg registries differ: {theirs} vs {ours}")


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version[1:].split("."))


def _out(cmd: Sequence[str], cwd: Path) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def machine(argv: Sequence[str]) -> dict[str, Any]:
    mem = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
    git = _git(ROOT, "--version").split()[-1]
    return {
        "args": _args(argv),
        "cpus": str(os.cpu_count()),
        "mem": f"{mem / 1024 / 1024:.0f} GiB",
        "python": platform.python_version(),
        "git": git,
        "date": _out(["date"], ROOT).strip(),
        "load": f"{min(LOADS):.1f}-{max(LOADS):.1f}" if LOADS else "?",
        "speed": f"{min(SPEED):.3f}-{max(SPEED):.3f}" if SPEED else "?",
    }


def _args(argv: Sequence[str]) -> list[str]:
    """The options of this run as a reader would repeat it (a rebuild is not needed)."""
    return [a for a in argv if a != "--rebuild"]


def render(
    big: list[Timing],
    big_facts: dict[str, str],
    cmp: list[Timing],
    cmp_facts: dict[str, str],
    host: dict[str, Any],
    runs: int,
) -> str:
    """The docs/benchmarks.md section."""
    peak = max(t.rss_mb for t in big)
    lines = [
        "## Registry scale",
        "",
        f"`benchmarks/registry_scale.py` generates a registry of {BIG.models:,} models x "
        f"{BIG.versions} versions ({BIG.models * BIG.versions:,} version records of about "
        "650 bytes as `modelreg register` writes them, each with its DVC pointer) and "
        f"{int(big_facts['stage_commits']):,} stage changes, {int(big_facts['commits']):,} "
        "commits in "
        "all: one per registration, and the stage changes as GitHub merge commits, "
        "squash merges and direct commits, interleaved in time; every stage lives in its "
        "own file, `models/<model>/stages/<stage>.yaml`; every 100 first-parent commits a "
        "registration also adds a stage-event and a parsed-files checkpoint, as "
        f"`register` does ({big_facts.get('checkpoints', '?')} of each in all, the newest "
        "kept). Each figure is the "
        f"median of {runs} runs of the installed CLI in a subprocess. *Fresh clone* is "
        "the first command run in a fresh `git clone --no-local` of the registry (each run "
        "in its own copy of that clone's `.git`, made before anything ran in it): no "
        "cache, no commit-graph, as in CI. *Cold* deletes the cache (`.git/modelreg/`) "
        "before every run but keeps the commit-graph with changed-path filters that "
        "the first slow history walk has git write in the background (here written "
        f"beforehand, which took {big_facts['graph_seconds']} s); *warm* "
        "runs with the cache an earlier run left. CPU counts every process of the "
        "command (git, and validate's two workers); peak RSS is its largest process.",
        "",
        "| command | fresh clone | cold | warm | CPU fresh / cold / warm | peak RSS "
        "| target | warm | cold | fresh-clone target |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for t in big:
        target = f"< {t.target:g} s" if t.target else "-"
        fresh = f"< {t.fresh_target:g} s: {_fresh_verdict(t)}" if t.fresh_target else "-"
        lines.append(
            f"| {t.label} | {_s(t.fresh)} | {_s(t.cold)} | {_s(t.warm)} | "
            f"{_s(t.fresh_cpu)} / {_s(t.cold_cpu)} / {_s(t.warm_cpu)} | {t.rss_mb:.0f} MB "
            f"| {target} | {_verdict(t, t.warm)} | {_verdict(t, t.cold)} | {fresh} |"
        )
    lines += [
        "",
        f"Peak memory: {peak:.0f} MB at most, against a budget of 300 MB "
        f"({'pass' if peak < 300 else '**FAIL**'}). "
        "`validate --base main` runs on a branch that registers one version (record and "
        f"pointer) and puts it in staging; it checked {big_facts.get('base_files', '?')} "
        "files, the reference checks of the model it touches, and the staging gates.",
        "",
        "Where cold time goes: `status` reads the spec and stage files of every model, "
        "the records its stages serve and each model's latest (not all 20,000), and for "
        "each stage the commit that last set its version. That commit comes from the "
        "newest stage-event checkpoint (`models/.stage-events/<C>.json`, one blob) and "
        "a walk of the first-parent commits after C (fewer than 100), newest first, "
        "stopping once every stage's is found. Without a checkpoint git would read two "
        "trees per commit of the whole history: one model's stage folder "
        f"takes git alone {big_facts['walk_model_bare']} s without a commit-graph and "
        f"{big_facts['walk_model']} s with changed-path filters; every model's stage "
        f"files take {big_facts['walk_all']} s either way, since git {host['git']} uses "
        "the filters only for one literal pathspec. The files `status` shows at C come "
        "parsed from the parsed-files checkpoint beside it (`<C>.files.json`); only "
        "those changed since C are read as YAML. `modelreg --help` (Python start-up, "
        "click and the command table) is the floor of every command and a measure of "
        "the machine's speed that day.",
        "",
        "### Against gto",
        "",
        f"Equal content: {SMALL.models} models x {SMALL.versions} versions and "
        f"{cmp_facts['gto_assignments']} stage assignments -- for gto "
        f"{cmp_facts['gto_version']} as annotated tags in its own format (`name@v1.2.0`, "
        '"Registering artifact ..."; `name#stage#N`, "Assigning stage ..."), for '
        "modelreg as records and stage-file commits. The script checks that "
        "`gto show --json` and `modelreg status --json` agree on every latest version "
        "and assignment. gto keeps no cache, so it is always cold.",
        "",
        "| command | cold | warm | peak RSS |",
        "|---|---:|---:|---:|",
    ]
    for t in cmp:
        lines.append(f"| {t.label} | {_s(t.cold)} | {_s(t.warm)} | {t.rss_mb:.0f} MB |")
    gto, mr = cmp[0].cold or 0.0, cmp[1]
    lines += [
        "",
        f"**`modelreg status` / `gto show` = {(mr.warm or 0) / gto:.2f} warm, "
        f"{(mr.cold or 0) / gto:.2f} cold** (below 1: modelreg is faster). At "
        f"{BIG.models * BIG.versions:,} versions, fifty times gto's content, `modelreg "
        f"status` takes {_s(big[1].warm)} warm and {_s(big[1].cold)} cold.",
        "",
        "Reproduce (builds the repositories under `benchmarks/.work/` on first use and "
        "reuses them, `--rebuild` to regenerate; installs gto into "
        "`benchmarks/.work/gto-venv`):",
        "",
        "```bash",
        " ".join(["python benchmarks/registry_scale.py", *host["args"]]),
        "```",
        "",
        f"Measured {host['date']} on a {host['cpus']}-core machine with {host['mem']} of "
        f"RAM, Python {host['python']}, git {host['git']}; load average "
        f"{host['load']} over the run (the machine is shared, and its speed varies: a "
        f"fixed pure-Python loop, `reference_loop`, took {host['speed']} s during the "
        "run). Generating the "
        f"{BIG.models * BIG.versions:,}-version registry with `git fast-import` took "
        f"{big_facts.get('build_seconds', '?')} s.",
        "",
    ]
    return "\n".join(lines)


def _fresh_verdict(t: Timing) -> str:
    if t.fresh is None or t.fresh_target is None:
        return "-"
    if t.fresh < t.fresh_target:
        return "pass"
    return f"**miss** ({t.fresh / t.fresh_target:.1f}x)"


def _verdict(t: Timing, measured: float | None) -> str:
    if t.target is None or measured is None:
        return "-"
    return "pass" if measured < t.target else "**miss**"


def update_doc(section: str) -> None:
    """Replace the '## Registry scale' section of docs/benchmarks.md, keeping the rest."""
    head = "# Benchmarks\n\nSpeed and memory targets, measured by the scripts in `benchmarks/`.\n\n"
    text = DOC.read_text() if DOC.exists() else head
    pattern = re.compile(r"^## Registry scale\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text.rstrip("\n") + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Runs per figure (median).")
    parser.add_argument("--rebuild", action="store_true", help="Regenerate the repositories.")
    parser.add_argument("--no-gto", action="store_true", help="Skip the gto comparison.")
    parser.add_argument("--update-docs", action="store_true", help="Rewrite docs/benchmarks.md.")
    parser.add_argument(
        "--max-load",
        type=float,
        help="Before each command, wait up to 5 minutes for the load average to drop below this.",
    )
    args = parser.parse_args(argv)
    if args.max_load is not None:
        MAX_LOAD.append(args.max_load)
    WORK.mkdir(parents=True, exist_ok=True)
    big, big_facts = bench_big(args.runs, args.rebuild)
    if args.no_gto:
        for t in big:
            print(
                f"{t.label}: fresh clone {_s(t.fresh)} cold {_s(t.cold)} warm {_s(t.warm)}; "
                f"CPU {_s(t.fresh_cpu)} / {_s(t.cold_cpu)} / {_s(t.warm_cpu)}; {t.rss_mb:.0f} MB"
            )
        print(f"facts: {big_facts}; load averages seen: {LOADS}; reference loop: {SPEED}")
        return 0 if all(t.passed is not False for t in big) else 1
    cmp, cmp_facts = bench_gto(args.runs, args.rebuild)
    section = render(big, big_facts, cmp, cmp_facts, machine(argv or sys.argv[1:]), args.runs)
    print(section)
    if args.update_docs:
        update_doc(section)
    return 0 if all(t.passed is not False for t in big) else 1


if __name__ == "__main__":
    sys.exit(main())
