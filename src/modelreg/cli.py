"""The command line: parse, call one core function, print its result. Nothing else."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from modelreg import __version__
from modelreg.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, ModelregError

FORMATS = ("text", "markdown", "json")


class _Group(click.Group):
    """Maps modelreg's errors to exit codes and one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModelregError as exc:
            _fail(ctx, exc, exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "modelreg"
            _fail(ctx, _Usage(f"{exc.format_message()} (see `{where} --help`)"), EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("modelreg: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug or an environment modelreg did not foresee
            _fail(ctx, _Internal(exc), EXIT_INTERNAL)


class _Internal(ModelregError):
    """Anything modelreg did not raise on purpose: one line, and how to report it."""

    def __init__(self, exc: Exception) -> None:
        text = str(exc).strip().splitlines()
        super().__init__(
            f"internal error: {type(exc).__name__}" + (f": {text[0]}" if text else ""),
            hint="re-run with --traceback and report it",
        )


class _Usage(ModelregError):
    """A command-line usage mistake click caught, shown as one line like every other error."""


def _fail(ctx: click.Context, exc: BaseException, code: int) -> NoReturn:
    if _debug(ctx):
        traceback.print_exc()
    click.echo(f"modelreg: error: {exc}", err=True)
    sys.exit(code)


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool((root.params or {}).get("traceback")) or bool(os.environ.get("MODELREG_DEBUG"))


def _ws() -> Any:
    from modelreg.registry.workspace import Workspace

    return Workspace.open(Path.cwd())


def _emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        from modelreg.output import to_json

        click.echo(to_json(data))
    else:
        click.echo(text)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="modelreg")
@click.option(
    "--traceback", is_flag=True, help="Show the full stack on errors (or MODELREG_DEBUG=1)."
)
def cli(traceback: bool) -> None:
    """modelreg: a Git repository as your model registry.

    Versions, stage assignments and policies are YAML in Git; artifacts are tracked by
    DVC; promotions are pull requests and rollbacks are `git revert`.
    """


@cli.command()
@click.option("--dvc-remote", metavar="PATH_OR_URL", help="Default DVC remote (a folder or URL).")
def init(dvc_remote: str | None) -> None:
    """Scaffold a registry in this Git repository (idempotent)."""
    from modelreg.registry.scaffold import init as run

    result = run(_ws(), dvc_remote=dvc_remote)
    if result.commit is None:
        click.echo("registry already initialised; nothing changed")
    else:
        click.echo(
            f"initialised registry ({len(result.created)} files) in commit {result.commit[:8]}"
        )


@cli.command()
@click.argument("model")
@click.option(
    "--artifact", required=True, type=click.Path(path_type=Path), help="Model file to register."
)
@click.option(
    "--metrics",
    required=True,
    type=click.Path(path_type=Path),
    help="JSON/YAML file of metric name → number.",
)
@click.option(
    "--params", type=click.Path(path_type=Path), help="JSON/YAML file of training parameters."
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    help="Training data (its DVC pointer or bytes give the digest).",
)
@click.option(
    "--sample",
    type=click.Path(path_type=Path),
    help="CSV sample of inputs; its columns become the signature.",
)
@click.option("--version", "version", help="Exact version, e.g. v1.4.0.")
@click.option(
    "--bump",
    type=click.Choice(["major", "minor", "patch"]),
    default="minor",
    show_default=True,
    help="Bump from the latest version when --version is not given.",
)
@click.option("--message", "-m", help="Commit message and record note.")
@click.option(
    "--trigger",
    type=click.Choice(["manual", "schedule", "drift", "data-volume"]),
    default="manual",
    show_default=True,
    help="Why this version was trained.",
)
@click.option("--format", "fmt", help="Artifact format (default from the file extension).")
@click.option(
    "--push",
    is_flag=True,
    help="Also push the commit to origin and the artifact to the DVC remote.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def register(
    model: str,
    artifact: Path,
    metrics: Path,
    params: Path | None,
    data: Path | None,
    sample: Path | None,
    version: str | None,
    bump: str,
    message: str | None,
    trigger: str,
    fmt: str | None,
    push: bool,
    as_json: bool,
) -> None:
    """Track an artifact with DVC, write its version record and commit."""
    from modelreg.training.register import Registration
    from modelreg.training.register import register as run

    reg = Registration(
        model=model,
        artifact=artifact,
        metrics=metrics,
        params=params,
        data=data,
        sample=sample,
        version=version,
        bump=bump,
        message=message,
        trigger=trigger,
        fmt=fmt,
    )
    out = run(_ws(), reg, push=push)
    rec = out.record
    verb = "already registered" if out.already else "registered"
    pushed = " and pushed" if out.pushed else ""
    _emit(
        rec,
        as_json,
        f"{verb} {rec.model} {rec.version}{pushed} (md5 {rec.artifact.md5}, "
        f"commit {out.commit[:8]})",
    )


@cli.command()
@click.argument("model", required=False)
@click.option(
    "--at",
    default="HEAD",
    show_default=True,
    metavar="REV|DATE",
    help="Show the registry as it was at a revision or date.",
)
@click.option("--json", "as_json", is_flag=True, help="Print rows as JSON.")
def status(model: str | None, at: str, as_json: bool) -> None:
    """Every model × stage → version, metrics, since when and through which PR."""
    from modelreg.output import day, metrics_text, short, table
    from modelreg.registry.status import status as run

    result = run(_ws(), model=model, at=at)
    rows = [
        [
            r.model,
            r.stage or "(latest)",
            r.version + (" (deprecated)" if r.deprecated else ""),
            f"{r.candidate}@{r.weight}%" if r.candidate else "-",
            metrics_text(r.metrics),
            day(r.since),
            short(r.commit),
            r.pr or "-",
        ]
        for r in result.rows
    ]
    headers = ["MODEL", "STAGE", "VERSION", "CANARY", "METRICS", "SINCE", "COMMIT", "PR"]
    _emit(result, as_json, table(headers, rows) if rows else "no models registered yet")


@cli.command()
@click.argument("model")
@click.option("--stage", help="Only this stage.")
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON.")
def history(model: str, stage: str | None, as_json: bool) -> None:
    """The audit trail from Git: every stage change with commit, author, date and PR."""
    from modelreg.output import day, short, table
    from modelreg.registry.status import history as run

    events = run(_ws(), model=model, stage=stage)
    rows = [
        [
            day(e.date),
            e.stage,
            e.kind,
            e.previous or "-",
            e.version or "-",
            f"{e.candidate}@{e.weight}%" if e.candidate else "-",
            short(e.commit),
            e.author,
            e.pr or "-",
        ]
        for e in events
    ]
    headers = ["DATE", "STAGE", "CHANGE", "FROM", "TO", "CANARY", "COMMIT", "AUTHOR", "PR"]
    _emit(events, as_json, table(headers, rows) if rows else f"no stage changes for {model} yet")


@cli.command()
@click.option("--base", metavar="REF", help="Check only what changed since REF (a PR's base).")
@click.option("--json", "as_json", is_flag=True, help="Print problems as JSON.")
def validate(base: str | None, as_json: bool) -> None:
    """Schemas, references, DVC pointers and immutability of version records."""
    from modelreg.registry.validate import validate as run

    report = run(_ws(), base=base)
    if as_json:
        from modelreg.output import to_json

        click.echo(
            to_json(
                {
                    "ok": report.ok,
                    "base": report.base,
                    "incremental": report.incremental,
                    "files_checked": report.files_checked,
                    "problems": [str(p) for p in report.problems],
                    "warnings": list(report.warnings),
                }
            )
        )
    else:
        for problem in report.problems:
            click.echo(str(problem))
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        summary = f"{len(report.problems)} problem(s)" if report.problems else "registry is valid"
        click.echo(f"{summary} ({report.files_checked} files checked)", err=bool(report.problems))
    sys.exit(report.exit_code)


@cli.command()
@click.argument("kind", type=click.Choice(["model", "version", "stages", "policy"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of a file kind (for editors and CI)."""
    import json

    from modelreg.registry.schemas import schema as load

    click.echo(json.dumps(load(kind), indent=2))


def _forge(name: str | None) -> Any:
    from modelreg.forge import select_forge

    return select_forge(_ws().git, name)


FORGE_OPTION = click.option(
    "--forge",
    type=click.Choice(["github", "local"]),
    help="Where PRs live (default: github for a GitHub origin or GITHUB_API_URL, else local).",
)


def _print_proposal(proposal: Any, as_json: bool) -> None:
    change, pr = proposal.change, proposal.pr
    if as_json:
        from modelreg.output import to_json

        click.echo(
            to_json(
                {
                    "branch": change.branch,
                    "title": change.title,
                    "body": change.body,
                    "method": "revert" if change.revert else "edit",
                    "pr": pr,
                    "created": proposal.created,
                    "dry_run": proposal.dry_run,
                }
            )
        )
        return
    if proposal.dry_run:
        click.echo(f"would push {change.branch} and open: {change.title}\n\n{change.body}\n")
        click.echo(
            f"--- models/{change.model}/stages.yaml after the change ---\n{change.stages_text}"
        )
        return
    verb = "opened" if proposal.created else "found open"
    click.echo(f"{verb} pull request {pr.ref}: {pr.title}" + (f"\n{pr.url}" if pr.url else ""))
    if change is not None and change.gate_passed is False:
        click.echo(
            "policy gates FAILED: the pull request cannot merge until they pass "
            "(details in its body)"
        )


def _print_outcome(outcome: Any) -> None:
    """What a retrain did, and the PR it opened or updated."""
    click.echo(outcome.note)
    if outcome.proposal is not None and outcome.proposal.pr is not None:
        _print_proposal(outcome.proposal, False)


@cli.command()
@click.argument("model")
@click.argument("version")
@click.option("--to", "stage", required=True, help="Stage to promote into, e.g. production.")
@click.option("--dry-run", is_flag=True, help="Show the change and PR body; push nothing.")
@click.option("--strict", is_flag=True, help="Refuse (exit 1) when a policy gate fails.")
@FORGE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the proposal as JSON.")
def promote(
    model: str,
    version: str,
    stage: str,
    dry_run: bool,
    strict: bool,
    forge: str | None,
    as_json: bool,
) -> None:
    """Open a pull request that puts VERSION in a stage (the only way in)."""
    from modelreg.promotion.propose import plan_promotion, propose

    ws = _ws()
    change = plan_promotion(ws, model=model, version=version, stage=stage, strict=strict)
    if change is None:
        click.echo(f"{model} {version} already serves in {stage}; nothing to do")
        return
    _print_proposal(
        propose(ws, _forge(forge) if not dry_run else None, change, dry_run=dry_run), as_json
    )


@cli.command()
@click.argument("model")
@click.option("--stage", required=True, help="Stage to roll back.")
@click.option("--to", "to", help="Version to pin instead of the previous one.")
@click.option("--dry-run", is_flag=True, help="Show the change and PR body; push nothing.")
@FORGE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the proposal as JSON.")
def rollback(
    model: str, stage: str, to: str | None, dry_run: bool, forge: str | None, as_json: bool
) -> None:
    """Open a pull request that reverts the change that brought the current version."""
    from modelreg.promotion.propose import plan_rollback, propose

    ws = _ws()
    change = plan_rollback(ws, model=model, stage=stage, to=to)
    _print_proposal(
        propose(ws, _forge(forge) if not dry_run else None, change, dry_run=dry_run), as_json
    )


@cli.command()
@click.argument("model")
@click.argument("version")
@click.option("--stage", required=True, help="Stage the version would enter.")
@click.option(
    "--base",
    metavar="REF",
    help="Where the current state is read (default: origin's default branch).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Report format.",
)
def gate(model: str, version: str, stage: str, base: str | None, fmt: str) -> None:
    """Evaluate the policy's gates for VERSION entering a stage; exit 1 if any fails."""
    from modelreg.promotion.gate_runs import gate_version
    from modelreg.promotion.gates import render

    report = gate_version(_ws(), model=model, version=version, stage=stage, base=base)
    click.echo(render(report, fmt))
    sys.exit(0 if report.passed else 1)


@cli.command()
@click.option("--base", metavar="REF", help="The PR's base (default: origin's default branch).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--comment",
    "comment",
    type=int,
    metavar="PR",
    help="Post (or update) the report as one comment on this GitHub PR.",
)
def check(base: str | None, fmt: str, comment: int | None) -> None:
    """A PR's required check: validate against the base and gate every stage change."""
    from modelreg.promotion.pr_check import MARKER, markdown
    from modelreg.promotion.pr_check import check as run

    ws = _ws()
    report = run(ws, base=base)
    text = markdown(report)
    if comment is not None:
        from modelreg.forge import PullRequest, select_forge

        pr_ref = PullRequest(
            ref=f"#{comment}", title="", head="", base="", body="", state="open", number=comment
        )
        select_forge(ws.git, "github").upsert_comment(pr_ref, marker=MARKER, body=text)
    if fmt == "json":
        from modelreg.output import to_json

        click.echo(
            to_json(
                {
                    "passed": report.ok,
                    "base": report.base,
                    "problems": [str(p) for p in report.problems],
                    "gates": [
                        {
                            "model": g.model,
                            "stage": g.stage,
                            "version": g.version,
                            **g.report.to_dict(),
                        }
                        for g in report.gates
                    ],
                }
            )
        )
    elif fmt == "markdown":
        click.echo(text)
    else:
        for p in report.problems:
            click.echo(str(p))
        for g in report.gates:
            click.echo(
                f"{g.model} {g.version} -> {g.stage}: gates "
                + ("pass" if g.report.passed else "FAIL")
            )
        click.echo("check passed" if report.ok else "check failed")
    sys.exit(report.exit_code)


@cli.command()
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
@click.option("--stage", help="Stage whose version is checked (default: the last one serving).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json", "html"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Write the report to a file instead of stdout.",
)
@click.option(
    "--open-pr", is_flag=True, help="On critical drift retrain and open (or update) the retrain PR."
)
@FORGE_OPTION
def drift(
    model: str,
    current: Path,
    reference: Path | None,
    window: str | None,
    stage: str | None,
    fmt: str,
    output: Path | None,
    open_pr: bool,
    forge: str | None,
) -> None:
    """Per-column drift and data quality of production data; exit 1 when critical."""
    from modelreg.monitoring.check import check_drift
    from modelreg.monitoring.render import render

    ws = _ws()
    result = check_drift(
        ws, model=model, current=current, reference=reference, window=window, stage=stage
    )
    title = f"Drift: {model} {result.version} in {result.stage}"
    text = render(result.report, fmt, title=title)
    if output is not None:
        from modelreg.adapters.files import write_text

        write_text(output, "--output", text)
        click.echo(f"{result.report.verdict}: report written to {output}")
    else:
        click.echo(text)
    if open_pr:
        from modelreg.training.retrain import act_on_drift

        _print_outcome(act_on_drift(ws, _forge(forge), result))
    sys.exit(1 if result.report.verdict == "critical" else 0)


@cli.command()
@click.argument("model")
@click.option(
    "--trigger",
    type=click.Choice(["schedule", "data-volume"]),
    required=True,
    help="Which of the policy's retrain triggers fired.",
)
@FORGE_OPTION
def retrain(model: str, trigger: str, forge: str | None) -> None:
    """Retrain on the policy's window and open (or update) the model's retrain PR.

    data-volume retrains only when the data pool grew by retrain.min_new_rows since the
    serving version; both open the PR only when the candidate beats the serving version
    on the candidate's holdout (retrain.must_beat_current).
    """
    from modelreg.training.retrain import scheduled

    ws = _ws()
    _print_outcome(scheduled(ws, _forge(forge), model=model, trigger=trigger))


@cli.group()
def rollout() -> None:
    """Canary rollouts recorded in stages.yaml: see one, move it a step."""


@rollout.command("status")
@click.argument("model")
@click.option("--stage", help="Stage of the canary (default: the one that has one).")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
def rollout_status(model: str, stage: str | None, as_json: bool) -> None:
    """Show a canary in progress: stable, candidate, weight, step and since when."""
    from modelreg.output import day
    from modelreg.promotion.canary import status as run

    st = run(_ws(), model=model, stage=stage)
    ro = st.rollout
    steps = " → ".join(f"[{w}%]" if i == ro.step else f"{w}%" for i, w in enumerate(st.steps))
    _emit(
        st,
        as_json,
        f"{model} {st.stage}: {ro.candidate} at {ro.weight}% "
        f"(stable {st.stable}), step {ro.step + 1} of {len(st.steps)}: {steps}; "
        f"failures {ro.failures}; at this weight since {day(st.entered_step_at)}",
    )


@rollout.command("advance")
@click.argument("model")
@click.option("--stage", help="Stage of the canary (default: the one that has one).")
@click.option(
    "--metrics",
    required=True,
    metavar="FILE|URL",
    help="Online metrics: JSON/YAML {candidate: {...}, stable: {...}} or a Prometheus URL.",
)
@click.option("--dry-run", is_flag=True, help="Decide and show the change; push nothing.")
@FORGE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def rollout_advance(
    model: str, stage: str | None, metrics: str, dry_run: bool, forge: str | None, as_json: bool
) -> None:
    """Run the step's analysis; open the PR for the next weight, completion or rollback.

    Exits 1 when the analysis failed (the rollback PR is opened, or the canary is held).
    """
    from modelreg.promotion.canary import advance

    ws = _ws()
    result = advance(
        ws,
        None if dry_run else _forge(forge),
        model=model,
        stage=stage,
        metrics=metrics,
        dry_run=dry_run,
    )
    d = result.decision
    if as_json:
        from modelreg.output import to_json

        click.echo(
            to_json(
                {
                    "decision": d.to_dict(),
                    "pushed": result.pushed,
                    "pr": result.proposal.pr if result.proposal else None,
                }
            )
        )
    else:
        click.echo(f"{d.action}: {d.reason}")
        if result.pushed:
            click.echo("pushed to the default branch (the policy allows auto_advance)")
        elif result.proposal is not None:
            _print_proposal(result.proposal, False)
    sys.exit(1 if d.action in ("rollback", "hold") else 0)


@cli.group()
def pr() -> None:
    """The local forge's pull requests: branches on origin."""


def _local() -> Any:
    from modelreg.forge.local import LocalForge

    return LocalForge(_ws().git)


@pr.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print PRs as JSON.")
def pr_list(as_json: bool) -> None:
    """Open pull requests (branches on origin not yet merged)."""
    from modelreg.output import table

    prs = _local().list_open()
    rows = [[p.head, p.title] for p in prs]
    _emit(prs, as_json, table(["BRANCH", "TITLE"], rows) if rows else "no open pull requests")


@pr.command("show")
@click.argument("branch")
def pr_show(branch: str) -> None:
    """Title, body, comments and diff of one pull request."""
    forge = _local()
    p = forge.get(branch)
    comments = forge.comments(p)
    click.echo(f"{p.title}\n{p.head} → {p.base}\n\n{p.body}\n")
    if comments:
        click.echo(f"--- comments ---\n{comments}\n")
    click.echo(f"--- diff ---\n{forge.diff(p)}")


@pr.command("merge")
@click.argument("branch")
def pr_merge(branch: str) -> None:
    """Run the required checks, then merge --no-ff into the default branch and push."""
    from modelreg.promotion.pr_check import required

    merged = _local().merge(branch, required)
    click.echo(
        f"merged {branch} into {merged.pr.base} as {merged.commit[:8]} "
        "(git pull to update your checkout)"
    )


@pr.command("close")
@click.argument("branch")
def pr_close(branch: str) -> None:
    """Close a pull request without merging (deletes its branch on origin)."""
    _local().close(branch)
    click.echo(f"closed {branch}")


@cli.command()
@click.option("--stage", help="Only this stage (default: every stage).")
@click.option(
    "--target",
    type=click.Choice(["local", "kserve"]),
    default="local",
    show_default=True,
    help="local: a deployment folder with manifest.json; kserve: InferenceService YAML.",
)
@click.option("--plan", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Base folder; each stage goes to DIR/STAGE (default .modelreg/deploy or deploy/kserve).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def deploy(stage: str | None, target: str, plan: bool, out: Path | None, as_json: bool) -> None:
    """Reconcile the desired state at HEAD: fetch with DVC, verify md5, render the target."""
    from modelreg.serving.deploy import deploy as run
    from modelreg.serving.deploy import describe

    result = run(_ws(), stage=stage, target=target, plan=plan, out=out)
    _emit(result, as_json, describe(result))


@cli.command()
@click.argument("model")
@click.option("--stage", required=True, help="Stage whose local deployment scores the rows.")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV of rows to score.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="CSV to write: input + prediction + version (default INPUT.predictions.csv).",
)
@click.option(
    "--log",
    "log_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Folder for the prediction log (default .modelreg/logs/MODEL/STAGE).",
)
@click.option("--key", help="Column whose hash routes rows (default: a column named id).")
@click.option(
    "--deploy-dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Deployment folder, as given to `deploy --out` (default .modelreg/deploy).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def predict(
    model: str,
    stage: str,
    input_path: Path,
    output: Path | None,
    log_dir: Path | None,
    key: str | None,
    deploy_dir: Path | None,
    as_json: bool,
) -> None:
    """Batch-score a CSV from a local deployment, split by canary weight, and log it."""
    from modelreg.errors import UsageError
    from modelreg.serving.predict import describe
    from modelreg.serving.predict import predict as run

    try:
        root = _ws().root
    except UsageError:  # outside a repository: defaults resolve from here
        root = Path.cwd()
    result = run(
        root,
        model=model,
        stage=stage,
        input=input_path,
        output=output,
        log_dir=log_dir,
        key=key,
        deploy_dir=deploy_dir,
    )
    _emit(result, as_json, describe(result))


@cli.command("train")
@click.argument("model")
@click.option(
    "--register",
    "do_register",
    is_flag=True,
    help="Register the output as a version, committed with the pipeline as it ran.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a value in the pipeline's params.yaml first, e.g. train.C=0.5 (repeatable).",
)
@click.option(
    "--trigger",
    type=click.Choice(["manual", "schedule", "drift", "data-volume"]),
    default="manual",
    show_default=True,
    help="Why this version was trained (recorded with it).",
)
@click.option(
    "--window",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Train on the last DAYS days of data (sets prepare.window_days; 0 = all).",
)
@click.option("--message", "-m", help="Commit message and record note.")
@click.option(
    "--push", is_flag=True, help="With --register: push data, outputs, artifact and commit."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def train_cmd(
    model: str,
    do_register: bool,
    sets: tuple[str, ...],
    trigger: str,
    window: int | None,
    message: str | None,
    push: bool,
    as_json: bool,
) -> None:
    """Run the model's DVC pipeline (cached stages are reused); optionally register it."""
    from modelreg.output import metrics_text
    from modelreg.training.train import train as run

    out = run(
        _ws(),
        model=model,
        register=do_register,
        sets=sets,
        trigger=trigger,
        window_days=window,
        message=message,
        push=push,
    )
    ran = ", ".join(out.stages_run) or "none (every stage was up to date)"
    numbers = {k: v for k, v in out.metrics.items() if k != "dataset"}
    lines = [
        f"stages run: {ran}",
        f"metrics ({out.metrics.get('dataset', '?')}): " + metrics_text(numbers),
    ]
    reg = out.registered
    if reg is not None and reg.already:
        lines.append(f"already registered as {model} {reg.record.version} (same model bytes)")
    elif reg is not None:
        rec = reg.record
        pushed = " and pushed" if reg.pushed else ""
        lines.append(
            f"registered {model} {rec.version}{pushed} (parent {rec.parent or '-'}, "
            f"commit {reg.commit[:8]})"
        )
    if out.uncommitted:
        lines.append(
            "not committed: "
            + ", ".join(out.uncommitted)
            + (" (commit them, or re-run with --register)" if reg is None else "")
        )
    _emit(out, as_json, "\n".join(lines))


@cli.command()
@click.argument("model")
@click.option(
    "--kind",
    type=click.Choice(["classifier", "regressor"]),
    required=True,
    help="classifier: breast-cancer data; regressor: diabetes data (both bundled).",
)
@click.option("--owner", metavar="@HANDLE", help="Owner in model.yaml (default: your git e-mail).")
@click.option("--policy", default="default", show_default=True, help="Policy for the model.")
@click.option(
    "--batches",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Number of timestamped batch files the data is split into.",
)
@click.option(
    "--data-dir",
    metavar="PATH",
    help="Folder inside the repository for the data batches (default: data/MODEL/batches).",
)
def example(
    model: str, kind: str, owner: str | None, policy: str, batches: int, data_dir: str | None
) -> None:
    """Scaffold an example model: DVC pipeline, data batches and model.yaml, one commit."""
    from modelreg.training.examples import create

    out = create(
        _ws(),
        model=model,
        kind=kind,
        owner=owner,
        policy=policy,
        batches=batches,
        # A path as typed: relative to where the user stands, like every path option.
        data_dir=os.path.abspath(data_dir) if data_dir else None,
    )
    click.echo(
        f"scaffolded {kind} {model} in commit {out.commit[:8]}: pipelines/{model}, "
        f"{out.data} (DVC), models/{model}/model.yaml\n"
        f"next: modelreg train {model} --register"
    )


@cli.command()
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
def demo(folder: Path | None, keep: bool) -> None:
    """The whole lifecycle on this machine: no network, no account (about a minute)."""
    import shutil
    import tempfile

    from modelreg.demo import run_demo

    where = folder or Path(tempfile.mkdtemp(prefix="modelreg-demo-"))
    click.echo(f"modelreg demo in {where}\n")

    def show(step: Any) -> None:
        click.echo(f"  ✓ {step.number:2d}. {step.title:<32} {step.detail}")

    try:
        result = run_demo(where, show)
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


def main() -> None:
    """Console entry point."""
    cli(prog_name="modelreg")
