"""The command line's root: the group, the one error handler, the table of commands.

Each command lives in `modelreg.commands.<name>` and is imported the first time it is
looked up, so `modelreg --help` and the read-only commands start without the heavy
libraries the write paths need.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, NoReturn

import click

from modelreg import __version__
from modelreg.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, ModelregError

# name → ("module:attribute" of its click command, its one-line summary). The summary
# is the first line of the command's docstring (a test keeps them equal): `modelreg
# --help` lists every command without importing any.
COMMANDS: Mapping[str, tuple[str, str]] = {
    "init": (
        "modelreg.commands.init:init",
        "Scaffold a registry in this Git repository (idempotent).",
    ),
    "register": (
        "modelreg.commands.register:register",
        "Track an artifact with DVC, write its version record and commit.",
    ),
    "status": (
        "modelreg.commands.status:status",
        "Every model × stage → version, metrics, since when and through which PR.",
    ),
    "show": (
        "modelreg.commands.show:show",
        "One version in full: record, where it serves and served, next stage's gates.",
    ),
    "compare": (
        "modelreg.commands.compare:compare",
        "Two versions (or stages) side by side: metric deltas, params, signature, data.",
    ),
    "get": (
        "modelreg.commands.get:get",
        "Fetch a version's artifact into the local cache, verified against its record.",
    ),
    "history": (
        "modelreg.commands.history:history",
        "The audit trail from Git: every stage change with commit, author, date and PR.",
    ),
    "site": (
        "modelreg.commands.site:site",
        "Render the registry as a static site: models, stages, timelines, metric charts.",
    ),
    "validate": (
        "modelreg.commands.validate:validate",
        "Schemas, references, DVC pointers and immutability of version records.",
    ),
    "migrate": (
        "modelreg.commands.migrate:migrate",
        "Move a registry written in an older layout to the current one (one commit).",
    ),
    "schema": (
        "modelreg.commands.schema:schema",
        "Print the JSON Schema of a file kind (for editors and CI).",
    ),
    "promote": (
        "modelreg.commands.promote:promote",
        "Open a pull request that puts VERSION in a stage (the only way in).",
    ),
    "rollback": (
        "modelreg.commands.rollback:rollback",
        "Open a pull request that reverts the change that brought the current version.",
    ),
    "deprecate": (
        "modelreg.commands.deprecate:deprecate",
        "Open a pull request that retires VERSION (deprecated: in model.yaml).",
    ),
    "describe": (
        "modelreg.commands.describe:describe",
        "Open a pull request that sets a model's owners and description in model.yaml.",
    ),
    "gate": (
        "modelreg.commands.gate:gate",
        "Evaluate the policy's gates for VERSION entering a stage; exit 1 if any fails.",
    ),
    "check": (
        "modelreg.commands.check:check",
        "A PR's required check: validate against the base and gate every stage change.",
    ),
    "protect": (
        "modelreg.commands.protect:protect",
        "Apply the GitHub branch protection that modelreg's guarantees rely on.",
    ),
    "drift": (
        "modelreg.commands.drift:drift",
        "Per-column drift and data quality of production data; exit 1 when critical.",
    ),
    "retrain": (
        "modelreg.commands.retrain:retrain",
        "Retrain on the policy's window and open (or update) the model's retrain PR.",
    ),
    "rollout": (
        "modelreg.commands.rollout:rollout",
        "Canary rollouts recorded in stage files: see one, move it a step.",
    ),
    "pr": ("modelreg.commands.pr:pr", "The local forge's pull requests: branches on origin."),
    "deploy": (
        "modelreg.commands.deploy:deploy",
        "Reconcile the desired state at HEAD: fetch with DVC, verify md5, render the target.",
    ),
    "predict": (
        "modelreg.commands.predict:predict",
        "Batch-score a CSV from a local deployment, split by canary weight, and log it.",
    ),
    "serve": (
        "modelreg.commands.serve:serve",
        "Serve the local deployment online: KServe V1/V2, canary split, /metrics, hot reload.",
    ),
    "train": (
        "modelreg.commands.train:train",
        "Run the model's DVC pipeline (cached stages are reused); optionally register it.",
    ),
    "example": (
        "modelreg.commands.example:example",
        "Scaffold a model's DVC pipeline, data batches and model.yaml, one commit.",
    ),
    "add-batch": (
        "modelreg.commands.add_batch:add_batch",
        "Add a batch of labelled rows to a model's training data (DVC), one commit.",
    ),
    "import": (
        "modelreg.commands.import_cmd:import_",
        "Migrate another registry in: MLflow's model registry, or gto's Git tags.",
    ),
    # The demo drives this very group, so it sits beside the CLI, not below it.
    "demo": (
        "modelreg.demo:demo",
        "The whole lifecycle on this machine: no network, no account (about a minute).",
    ),
}


class _LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands: every name is listed, each module imported when looked up.

    click's `Group.list_commands` and `get_command` read this mapping, so listing costs
    nothing and `modelreg status` imports only `modelreg.commands.status`.
    """

    def __init__(self, table: Mapping[str, tuple[str, str]]) -> None:
        self._table = dict(table)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, _, attr = self._table[name][0].partition(":")
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command), self._table[name]
            self._loaded[name] = command
        return self._loaded[name]

    def summary(self, name: str) -> str:
        """The command's one-line help, without importing it when it is not loaded yet."""
        if name in self._loaded:
            return self._loaded[name].help or ""
        return self._table[name][1]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._table[name] = ("", command.help or "")
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._table[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


class _Group(click.Group):
    """Loads commands on demand; maps modelreg's errors to exit codes and one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = _LazyCommands(COMMANDS)
        self.commands = self.lazy

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The root's list of commands, from the table: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        # A bare Command shortens the summary exactly as the real one would.
        rows = [
            (n, click.Command(n, help=self.lazy.summary(n)).get_short_help_str(limit))
            for n in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
        import traceback

        traceback.print_exc()
    click.echo(f"modelreg: error: {exc}", err=True)
    sys.exit(code)


def _debug(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool((root.params or {}).get("traceback")) or bool(os.environ.get("MODELREG_DEBUG"))


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


def main() -> None:
    """Console entry point."""
    cli(prog_name="modelreg")
