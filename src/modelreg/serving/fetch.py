"""`get` and `load_model`: one version's artifact from any registry, fetched through DVC
into the local artifact cache and verified against its record on every read."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreg.adapters import artifacts
from modelreg.adapters import dvc as dvcio
from modelreg.errors import CheckFailed, ForgeError, UsageError
from modelreg.promotion.inspect import resolve
from modelreg.registry.names import parse_ref
from modelreg.registry.records import VersionRecord
from modelreg.registry.snapshot import version_yaml
from modelreg.registry.source import Source, relative_remote_base
from modelreg.serving.desired import expected as expected_of


@dataclass(frozen=True)
class Fetched:
    """A version's artifact, verified, in the cache (or where `-o` put it)."""

    model: str
    version: str
    stage: str | None  # the stage the ref named, None for a version
    record: VersionRecord
    path: Path
    cached: bool  # found in the cache: nothing was downloaded
    replaced: bool  # a cache entry that did not match the record was discarded first

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        return {
            "model": self.model,
            "version": self.version,
            "stage": self.stage,
            "sha256": self.record.artifact.sha256,
            "md5": self.record.artifact.md5,
            "format": self.record.artifact.format,
            "path": str(self.path),
            "cached": self.cached,
        }


@dataclass(frozen=True)
class _Plan:
    model: str
    version: str
    stage: str | None
    record: VersionRecord
    expected: artifacts.Expected
    download: Callable[[Path], None]
    where: str  # what is fetched from where, for a refusal


def fetch(
    source: Source, ref: str, *, rev: str | None = None, remote: str | None = None
) -> Fetched:
    """The artifact `MODEL@STAGE` or `MODEL@VERSION` names at `rev`, verified in the cache."""
    plan = _plan(source, ref, rev, remote)
    got = artifacts.cached(plan.expected, plan.download, where=plan.where, hint=_REFUSED)
    return Fetched(
        plan.model, plan.version, plan.stage, plan.record, got.path, got.hit, got.replaced
    )


def load(source: Source, ref: str, *, rev: str | None = None, remote: str | None = None) -> Any:
    """The model `ref` names, deserialised by its recorded format after verification."""
    plan = _plan(source, ref, rev, remote)
    got = artifacts.cached(plan.expected, plan.download, where=plan.where, hint=_REFUSED)
    return artifacts.load(got.path, plan.expected, hint=_REFUSED)


def export(fetched: Fetched, out: Path) -> Fetched:
    """Copy a fetched artifact to `out` (into it, when it is a folder) and verify the copy."""
    name = fetched.record.artifact.path.rsplit("/", 1)[-1]
    dest = out / name if out.is_dir() else out
    if fetched.path.is_dir():
        if dest.exists():
            raise UsageError(f"-o {out}: {dest} exists", hint="name a new path or remove it")
        shutil.copytree(fetched.path, dest)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fetched.path, dest)
    artifacts.verify_path(dest, expected_of(fetched.record), hint=_REFUSED)
    return Fetched(
        fetched.model,
        fetched.version,
        fetched.stage,
        fetched.record,
        dest,
        fetched.cached,
        fetched.replaced,
    )


_REFUSED = "refusing it; re-push the true bytes with `dvc push` where it was registered"


def _plan(source: Source, ref: str, rev: str | None, remote: str | None) -> _Plan:
    _, version_ref, stage = parse_ref(ref)
    if version_ref is None and stage is None:
        raise UsageError(
            f"{ref}: name a stage or a version (`{ref}@production`, `{ref}@v1.0.0`)",
            hint="a bare model name would pick whatever version is newest",
        )
    snap = source.ws.snapshot(rev or "HEAD")
    assert snap.rev is not None
    model, version = resolve(snap, ref)
    rec = snap.record(model, version)
    path, sha = rec.artifact.path, snap.rev
    artifacts.check_pointer(
        source.ws.git.show(sha, path + ".dvc"), path, rec.artifact.md5, version_yaml(model, version)
    )
    url, shown = _remote(source, sha, remote)
    exp = expected_of(rec)
    exp = artifacts.Expected(
        exp.md5, exp.source, exp.sha256, artifacts.format_for(path, exp.format), exp.name
    )

    def download(dest: Path) -> None:
        try:
            dvcio.download(source.ws.root, sha, path, dest, remote=url, scratch=source.scratch)
        except CheckFailed as exc:
            raise CheckFailed(
                f"{model} {version}: {path} (md5 {rec.artifact.md5}) is neither in DVC's "
                f"cache nor on the DVC remote {shown}",
                hint=f"push it from where it was registered (`dvc push {path}`); DVC "
                "reports a remote it cannot reach the same way",
            ) from exc
        except ForgeError as exc:
            raise ForgeError(
                f"{model} {version}: the DVC remote {shown} could not be read: {exc.message}",
                hint="check the remote's URL and your credentials for it, then run again",
            ) from exc

    where = f"{model} {version} as fetched from the DVC remote {shown}"
    return _Plan(model, version, stage, rec, exp, download, where)


def _remote(source: Source, rev: str, override: str | None) -> tuple[str | None, str]:
    """The URL to give DVC for the registry's remote (None: its `.dvc/config` as is), and
    the URL to name in messages."""
    if override:
        url = override if "://" in override else str(Path(override).expanduser().resolve())
        return url, url
    found = dvcio.default_remote(source.ws.git.show(rev, ".dvc/config"))
    if found is None:
        raise UsageError(
            f"{source.name}: .dvc/config at {rev[:12]} names no default DVC remote",
            hint="pass --remote URL (the DVC remote the artifacts were pushed to)",
        )
    name, url = found
    if not dvcio.is_relative_remote(url):
        return None, url
    base = relative_remote_base(source)
    if base is None:
        raise UsageError(
            f"{source.name}: .dvc/config: remote.{name}.url: {url!r} is a path relative to "
            "the repository, which cannot be resolved for a repository reached by URL",
            hint="pass --remote URL (load_model: remote=) naming that DVC remote: a path or a URL",
        )
    resolved = str((base / url).resolve())
    return resolved, resolved
