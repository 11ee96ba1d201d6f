"""modelreg's public Python API: the same operations as the command line, as functions.

Every function takes `repo` (a path inside a registry's Git checkout, default the current
directory) and keyword arguments, and returns a frozen dataclass; none prints or exits.
Errors are `modelreg.errors.ModelregError` subclasses whose `exit_code` says what kind
of failure it was. Only the names in `__all__` are public; `import modelreg` stays cheap
because `modelreg/__init__.py` loads this module on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelreg.forge.base import Forge
    from modelreg.monitoring.check import DriftCheck
    from modelreg.promotion.gates import GateReport
    from modelreg.promotion.propose import Proposal
    from modelreg.registry.history import StageEvent
    from modelreg.registry.status import Status
    from modelreg.registry.workspace import Workspace
    from modelreg.training.register import Registered

__all__ = [
    "Registry",
    "check_drift",
    "gate",
    "history",
    "load_model",
    "open_registry",
    "promote",
    "register",
    "status",
]

PathLike = str | Path


class Registry:
    """An opened registry: the Git checkout at `root` plus its blob cache.

    Use it as a context manager (`with open_registry(".") as reg: ...`) so the cache of
    parsed files is saved once at the end; the module-level functions do that for you.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def root(self) -> Path:
        return self.workspace.root

    def close(self) -> None:
        """Save the blob cache (parsed, validated files keyed by Git blob id)."""
        self.workspace.__exit__(None, None, None)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_registry(repo: PathLike = ".") -> Registry:
    """The registry whose Git checkout contains `repo`."""
    from modelreg.registry.workspace import Workspace

    return Registry(Workspace.open(Path(repo)))


@contextmanager
def _opened(repo: PathLike) -> Iterator[Workspace]:
    with open_registry(repo) as reg:
        yield reg.workspace


def status(repo: PathLike = ".", *, model: str | None = None, at: str = "HEAD") -> Status:
    """Every model × stage → version, headline metrics, since when and through which PR.

    `at` is a revision or a date (`2026-11-01`): the registry as it was then.
    """
    from modelreg.registry.status import status as run

    with _opened(repo) as ws:
        return run(ws, model=model, at=at)


def history(repo: PathLike = ".", *, model: str, stage: str | None = None) -> list[StageEvent]:
    """The audit trail from Git: every stage change of `model` in commit order."""
    from modelreg.registry.status import history as run

    with _opened(repo) as ws:
        return list(run(ws, model=model, stage=stage))


def register(
    repo: PathLike = ".",
    *,
    model: str,
    artifact: PathLike,
    metrics: PathLike,
    params: PathLike | None = None,
    data: PathLike | None = None,
    sample: PathLike | None = None,
    version: str | None = None,
    bump: str = "minor",
    message: str | None = None,
    trigger: str = "manual",
    fmt: str | None = None,
    push: bool = False,
) -> Registered:
    """Track `artifact` with DVC, write the immutable version record and commit it."""
    from modelreg.training.register import Registration
    from modelreg.training.register import register as run

    def path(p: PathLike | None) -> Path | None:
        return Path(p) if p is not None else None

    reg = Registration(
        model=model,
        artifact=Path(artifact),
        metrics=Path(metrics),
        params=path(params),
        data=path(data),
        sample=path(sample),
        version=version,
        bump=bump,
        message=message,
        trigger=trigger,
        fmt=fmt,
    )
    with _opened(repo) as ws:
        return run(ws, reg, push=push)


def promote(
    repo: PathLike = ".",
    *,
    model: str,
    version: str,
    stage: str,
    forge: str | Forge | None = None,
    dry_run: bool = False,
    strict: bool = False,
) -> Proposal | None:
    """Open (or find) the pull request that puts `version` in `stage`.

    Returns None when the version already serves there. `forge` is "github", "local",
    a Forge object, or None to choose as the command line does.
    """
    from modelreg.forge import select_forge
    from modelreg.promotion.propose import plan_promotion, propose

    with _opened(repo) as ws:
        change = plan_promotion(ws, model=model, version=version, stage=stage, strict=strict)
        if change is None:
            return None
        chosen: Forge | None
        if dry_run:
            chosen = None
        elif forge is None or isinstance(forge, str):
            chosen = select_forge(ws.git, forge)
        else:
            chosen = forge
        return propose(ws, chosen, change, dry_run=dry_run)


def gate(
    repo: PathLike = ".", *, model: str, version: str, stage: str, base: str | None = None
) -> GateReport:
    """Evaluate the policy's gates for `version` entering `stage` (`.passed` says it)."""
    from modelreg.promotion.gate_runs import gate_version

    with _opened(repo) as ws:
        return gate_version(ws, model=model, version=version, stage=stage, base=base)


def check_drift(
    repo: PathLike = ".",
    *,
    model: str,
    current: PathLike,
    reference: PathLike | None = None,
    window: str | None = None,
    stage: str | None = None,
) -> DriftCheck:
    """Per-column drift, data quality and concept drift of `current` against the reference
    profile of the version serving in `stage` (or the `reference` data given)."""
    from modelreg.monitoring.check import check_drift

    with _opened(repo) as ws:
        return check_drift(
            ws,
            model=model,
            current=Path(current),
            reference=Path(reference) if reference is not None else None,
            window=window,
            stage=stage,
        )


def load_model(
    ref: str,
    repo: PathLike | None = None,
    *,
    rev: str | None = None,
    remote: str | None = None,
) -> Any:
    """The model `ref` (`"churn@production"`, `"churn@v1.4.0"`) names, deserialised by its
    recorded format once its bytes match the version record's SHA-256 and md5.

    `repo` is the registry's Git repository: a path (a checkout or a bare repository) or
    any Git URL; None reads the checkout containing the current directory. `rev` reads
    the registry at a revision or date (default HEAD), `remote` replaces the DVC remote
    its `.dvc/config` names. The artifact is fetched through DVC into the artifact cache
    (`$XDG_CACHE_HOME/modelreg/artifacts`) and verified again on every call.

    Unpickling runs code: load only from registries you trust.
    """
    from modelreg.registry.source import open_source
    from modelreg.serving.fetch import load

    with open_source(str(repo) if repo is not None else None) as source:
        return load(source, ref, rev=rev, remote=remote)
