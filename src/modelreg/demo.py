"""`demo`: the whole lifecycle on one machine, no network, no account.

It drives the real command line in-process against a registry it builds in a fresh
folder (a bare `origin`, a local DVC remote, scikit-learn's bundled data), and checks
after every step that the step did what it says: the demo fails loudly, not politely.

The command line it drives is handed in (the root group the `demo` command runs under),
so this module sits beside `modelreg.cli` and neither imports the other.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from modelreg.errors import CheckFailed, UsageError, plural

MODEL = "cancer"
# Fixed dates make every run train on the same rows, so every run tells the same story.
FIRST_DATA = datetime(2026, 3, 1, tzinfo=timezone.utc)
NEW_DATA = datetime(2026, 3, 15, tzinfo=timezone.utc)
ONLINE_DATA = datetime(2026, 3, 22, tzinfo=timezone.utc)
ONLINE_REQUESTS = 500  # one request per row: about 100 reach the 20% canary
FAULT_SHARE = 0.1  # of the candidate's requests answered 500 (serve --inject-errors)
POLICY = """\
# The demo's policy: gated stages, a canary in production, drift that retrains.
stages:
  - name: staging
    gates:
      - {metric: accuracy, min: 0.9}
  - name: production
    from: staging
    gates:
      - {metric: accuracy, min: 0.9}
      - {metric: f1, max_regression: 0.05}
    rollout:
      strategy: canary
      steps: [{weight: 20}, {weight: 100}]
      analysis:
        - {metric: error_rate, max: 0.02}
        - {metric: accuracy_online, max_regression: 0.02}
      on_failure: rollback
      min_requests: 80       # the demo's traffic is small; the default is 200
drift:
  schedule: "0 6 * * *"
  critical_columns: [mean_radius]
  action: retrain_pr
retrain:
  triggers: [drift]
  window: {last: 10d}        # retrain on the recent data only
  must_beat_current: true
"""


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    detail: str


@dataclass(frozen=True)
class DemoResult:
    root: Path
    steps: tuple[Step, ...]


class _Run:
    """Runs modelreg commands in the demo repository and keeps the timeline."""

    def __init__(self, root: Path, report: Callable[[Step], None], command: click.Command) -> None:
        self.root = root
        self.report = report
        self.command = command
        self.steps: list[Step] = []

    def cli(self, *args: str, expect: int = 0) -> str:
        """One modelreg command, in-process; a surprising exit code stops the demo."""
        out, err = io.StringIO(), io.StringIO()
        with _cwd(self.root), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                self.command.main(args=list(args), prog_name="modelreg", standalone_mode=False)
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
        if code != expect:
            said = (err.getvalue() or out.getvalue()).strip().splitlines()
            raise CheckFailed(
                f"demo: `modelreg {' '.join(args)}` exited {code}, expected {expect}: "
                + (said[-1] if said else "(no output)")
            )
        return out.getvalue()

    def git(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=cwd or self.root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CheckFailed(f"demo: git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def done(self, title: str, detail: str) -> None:
        step = Step(len(self.steps) + 1, title, detail)
        self.steps.append(step)
        self.report(step)

    def merge(self, branch: str) -> None:
        # Production needs one approval by someone other than the branch's author.
        with _reviewer():
            self.cli("pr", "approve", branch, "--comment", "reviewed in the demo")
        self.cli("pr", "merge", branch)
        self.git("pull", "-q", "--ff-only")

    def stage(self, stage: str) -> dict[str, Any]:
        rows = json.loads(self.cli("status", MODEL, "--json"))["rows"]
        found = [r for r in rows if r["stage"] == stage]
        return found[0] if found else {}

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            raise CheckFailed(f"demo: {what}")


@contextlib.contextmanager
def _reviewer() -> Iterator[None]:
    """Act as a second git identity, the demo's reviewer."""
    ident = {
        f"GIT_{who}_{what}": value
        for who in ("AUTHOR", "COMMITTER")
        for what, value in (("NAME", "Demo Reviewer"), ("EMAIL", "reviewer@example.com"))
    }
    saved = {k: os.environ.get(k) for k in ident}
    os.environ.update(ident)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@click.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    help="Where to build the demo (default: a new temp folder).",
)
@click.option(
    "--keep/--no-keep",
    default=True,
    show_default=True,
    help="Keep the folder to explore afterwards.",
)
@click.pass_context
def demo(ctx: click.Context, folder: Path | None, keep: bool) -> None:
    """The whole lifecycle on this machine: no network, no account (about a minute)."""
    import shutil
    import tempfile

    where = folder or Path(tempfile.mkdtemp(prefix="modelreg-demo-"))
    click.echo(f"modelreg demo in {where}\n")

    def show(step: Step) -> None:
        click.echo(f"  ✓ {step.number:2d}. {step.title:<32} {step.detail}")

    try:
        result = run_demo(where, ctx.find_root().command, show)
    finally:
        if not keep:
            shutil.rmtree(where, ignore_errors=True)
    if keep:
        me = _invoked_as()
        click.echo(
            f"\nThe registry is in {result.root}. Explore it:\n"
            f"  cd {result.root}\n"
            f"  {me} status\n"
            f"  {me} history cancer\n"
            f"  {me} serve --stage production   # then POST /v1/models/cancer:predict\n"
            "  git log --graph --oneline\n"
            f"  {me} drift cancer --current .modelreg/logs/cancer/production "
            "--format html -o drift.html"
        )
    else:
        click.echo("\nAll steps did what they said (the folder was removed: --no-keep).")


def _invoked_as() -> str:
    """How to run modelreg again from anywhere: this very executable, venv or not."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "modelreg":
        return str(argv0.resolve())
    return f"{sys.executable} -m modelreg"


def run_demo(
    folder: Path, command: click.Command, report: Callable[[Step], None] = lambda s: None
) -> DemoResult:
    """Build a registry in `folder` and walk it through the whole lifecycle, driving
    `command` (modelreg's root group) as a user would."""
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(f"{folder} is not empty", hint="pick a new folder with --dir")
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    folder.mkdir(parents=True, exist_ok=True)
    run = _setup(folder, report, command)
    _first_version(run)
    logs = _production_traffic(run, folder)
    _drift_and_retrain(run, logs)
    _canary_and_rollback(run)
    return DemoResult(run.root, tuple(run.steps))


def _setup(folder: Path, report: Callable[[Step], None], command: click.Command) -> _Run:
    root = folder / "registry"
    run = _Run(folder, report, command)
    run.git("init", "-q", "--bare", "-b", "main", "origin.git")
    run.git("init", "-q", "-b", "main", "registry")
    run.root = root
    for key, value in (("user.name", "Demo User"), ("user.email", "demo@example.com")):
        run.git("config", key, value)
    run.git("remote", "add", "origin", str(folder / "origin.git"))
    run.cli("init", "--dvc-remote", str(folder / "dvc-remote"))
    (root / "policies/default.yaml").write_text(POLICY)
    run.git("commit", "-qam", "policy: gates, a canary in production, drift retraining")
    run.git("push", "-q", "-u", "origin", "main")
    run.git("remote", "set-head", "origin", "main")
    run.done("init", f"registry with a bare origin and a local DVC remote in {folder}")
    return run


def _first_version(run: _Run) -> None:
    from modelreg.registry.workspace import Workspace
    from modelreg.training.examples import create

    with _cwd(run.root), Workspace.open(run.root) as ws:
        create(
            ws,
            model=MODEL,
            kind="classifier",
            owner="@demo-team",
            now=FIRST_DATA,
        )
    run.git("push", "-q", "origin", "main")
    out = json.loads(run.cli("train", MODEL, "--register", "--push", "--json"))
    acc = out["metrics"]["accuracy"]
    run.expect(out["registered"]["record"]["version"] == "v1.0.0", "train registered v1.0.0")
    run.done(
        "train v1 → register",
        f"dvc repro ran {', '.join(out['stages_run'])}; v1.0.0 registered (accuracy {acc:.3f})",
    )
    run.cli("promote", MODEL, "v1.0.0", "--to", "staging", "--forge", "local")
    run.done("promote to staging", "pull request modelreg/promote/cancer/staging/v1.0.0")
    run.cli("check", "--base", "origin/main")
    run.merge("modelreg/promote/cancer/staging/v1.0.0")
    run.done("gate → merge", "validate + staging gates passed; merged with --no-ff")
    run.cli("promote", MODEL, "v1.0.0", "--to", "production", "--forge", "local")
    run.merge("modelreg/promote/cancer/production/v1.0.0")
    run.expect(run.stage("production").get("version") == "v1.0.0", "v1.0.0 serves production")
    run.done("promote to production → merge", "v1.0.0 serves production (first version: direct)")
    run.cli("deploy", "--stage", "production")
    manifest = _manifest(run.root)
    run.expect(_served(manifest) == {"v1.0.0": 100}, "deploy serves v1.0.0")
    run.done(
        "deploy",
        "artifact pulled through DVC, sha256 and md5 verified, .modelreg/deploy/production",
    )


def _production_traffic(run: _Run, folder: Path) -> Path:
    from modelreg.training.examples import dataset, recalibrated

    frame = dataset("classifier", now=FIRST_DATA).drop(columns=["target", "timestamp"]).head(300)
    frame.insert(0, "id", range(len(frame)))
    normal = folder / "traffic-week-1.csv"
    frame.to_csv(normal, index=False)
    run.cli("predict", MODEL, "--stage", "production", "--input", str(normal))
    run.done("batch predictions", f"{plural(len(frame), 'row')} scored, logged to .modelreg/logs")
    shifted = recalibrated(frame).assign(id=frame["id"] + 10_000)
    week2 = folder / "traffic-week-2.csv"
    shifted.to_csv(week2, index=False)
    run.cli("predict", MODEL, "--stage", "production", "--input", str(week2))
    run.done("drift appears", "week 2: a recalibrated scanner reports every size ×1.5")
    return run.root / ".modelreg" / "logs" / MODEL / "production"


def _drift_and_retrain(run: _Run, logs: Path) -> None:
    from modelreg.training.examples import add_batch, dataset, recalibrated

    labelled = recalibrated(dataset("classifier", now=NEW_DATA, days=7))
    add_batch(run.root, MODEL, labelled, "batch-0002")
    out = run.cli("drift", MODEL, "--current", str(logs), "--open-pr", "--forge", "local", expect=1)
    run.expect("modelreg/retrain/cancer" in out, "drift opened the retrain PR")
    run.done(
        "scheduled drift check",
        "critical: mean_radius drifted; labelled week-2 data "
        "arrived, so the pipeline retrained on the window",
    )
    run.done(
        "retrain PR",
        "v1.1.0 (trigger drift) → staging, with the drift report and "
        "both models scored on the same holdout",
    )
    run.merge("modelreg/retrain/cancer")
    run.expect(run.stage("staging").get("version") == "v1.1.0", "v1.1.0 serves staging")
    run.done("gate → merge", "v1.1.0 passed the staging gates and serves staging")


def _canary_and_rollback(run: _Run) -> None:
    from modelreg.serving.server import resolve, running

    run.cli("promote", MODEL, "v1.1.0", "--to", "production", "--forge", "local")
    run.merge("modelreg/promote/cancer/production/v1.1.0")
    prod = run.stage("production")
    run.expect(prod.get("candidate") == "v1.1.0" and prod.get("weight") == 20, "canary at 20%")
    run.cli("deploy", "--stage", "production")
    run.expect(_served(_manifest(run.root)) == {"v1.0.0": 80, "v1.1.0": 20}, "80/20 split")
    run.done("canary rollout", "v1.1.0 takes 20% of production, v1.0.0 stays stable (80%)")
    # `modelreg serve`'s app, in a thread of this process on a free loopback port, so no
    # server outlives the demo. The candidate is made to fail a share of its requests with
    # serve's documented chaos knob (`--inject-errors`): the 500s are real answers, counted
    # by the server like any failure, and the rollout reads them from its /v1/stats.
    config = resolve(run.root, stages=("production",), faults=[(MODEL, "v1.1.0", FAULT_SHARE)])
    with running(config) as url:
        split = _online_traffic(url)
        status = json.loads(run.cli("rollout", "status", MODEL, "--metrics", url, "--json"))
        counts = status["online"]["counts"]
        live = {
            role: _rate(counts[role]["errors"], counts[role]["requests"])
            for role in ("candidate", "stable")
        }
        canary = split.get("v1.1.0", 0)
        total = sum(split.values())
        run.expect(
            canary + split.get("v1.0.0", 0) == total and abs(canary / total - 0.2) <= 0.05,
            f"the server split about 20% to the canary (got {canary} of {total})",
        )
        run.expect(
            round(counts["candidate"]["requests"]) == canary,
            "the server's own stats count the canary requests the demo sent",
        )
        run.done(
            "serve the canary",
            f"modelreg serve at {url}: {canary} of {total} requests "
            f"({canary / total:.1%}) went to v1.1.0 by the stable hash; live error rate "
            f"v1.1.0 {live['candidate']:.1%}, v1.0.0 {live['stable']:.1%}",
        )
        adv = json.loads(
            run.cli(
                "rollout",
                "advance",
                MODEL,
                "--metrics",
                url,
                "--forge",
                "local",
                "--json",
                expect=1,
            )
        )
        decision = adv["decision"]
        run.expect(decision["action"] == "rollback" and adv["pr"], "rollback PR opened")
        failed = [c for c in decision["checks"] if c["verdict"] == "fail"]
        run.expect(bool(failed), "the live analysis has a failing check")
        said = "; ".join(f"{c['metric']} {c['observed']:.3f} (bound {c['bound']})" for c in failed)
        run.done("a failing online check", f"live {said}: rollback PR opened")
        run.merge("modelreg/rollback/cancer/production/v1.0.0")
        reverted = run.git("log", "-1", "--format=%B", "HEAD^2")
        run.expect("This reverts commit" in reverted, "the rollback is a git revert")
        run.done("rollback by git revert", "merged: the commit that started the canary, reverted")
        run.cli("deploy", "--stage", "production")
        run.expect(_served(_manifest(run.root)) == {"v1.0.0": 100}, "deploy serves v1.0.0 only")
        run.expect(_reloaded(url, ["v1.0.0"]), "the running server reloaded v1.0.0 alone")
    run.cli("validate")
    run.done(
        "deploy",
        "production serves the stable v1.0.0 only (the running server hot-reloaded it, "
        "then stopped); the registry validates",
    )


def _online_traffic(url: str) -> dict[str, int]:
    """Score week-3 patients one request each, then send their true labels as feedback.

    Returns how many requests each version answered, from the server's own headers."""
    import http.client
    from urllib.parse import urlsplit

    from modelreg.training.examples import dataset, recalibrated

    frame = recalibrated(dataset("classifier", now=ONLINE_DATA, days=7))
    labels = [int(y) for y in frame["target"]]
    rows = frame.drop(columns=["target", "timestamp"]).values.tolist()
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)
    split: dict[str, int] = {}
    feedback = []
    try:
        for i in range(ONLINE_REQUESTS):  # more requests than rows: some patients return
            rid = f"patient-{i:05d}"
            body = json.dumps({"instances": [rows[i % len(rows)]]})
            headers = {"Content-Type": "application/json", "X-Request-Id": rid}
            conn.request("POST", f"/v1/models/{MODEL}:predict", body, headers)
            resp = conn.getresponse()
            resp.read()
            version = resp.getheader("X-Model-Version") or f"HTTP {resp.status}"
            split[version] = split.get(version, 0) + 1
            if resp.status == 200:
                feedback.append({"request_id": rid, "label": labels[i % len(labels)]})
        conn.request(
            "POST", "/v1/feedback", json.dumps(feedback), {"Content-Type": "application/json"}
        )
        conn.getresponse().read()
    finally:
        conn.close()
    return split


def _rate(errors: float, requests: float) -> float:
    return errors / requests if requests else 0.0


def _reloaded(url: str, versions: list[str], timeout: float = 10.0) -> bool:
    """Wait until the server serves exactly `versions` (it polls the manifest)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/v2/models/{MODEL}/ready", timeout=5) as resp:
            if json.loads(resp.read())["serving"] == versions:
                return True
        time.sleep(0.1)
    return False


def _manifest(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (root / ".modelreg/deploy/production/manifest.json").read_text()
    )
    return data


def _served(manifest: dict[str, Any]) -> dict[str, int]:
    versions = manifest["models"][MODEL]["versions"]
    return {v["version"]: int(v["weight"]) for v in versions}
