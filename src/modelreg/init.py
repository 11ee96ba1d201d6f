"""`init`: turn any Git repository into a registry, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelreg import dvcio
from modelreg.git import commit_paths, identity
from modelreg.workspace import Workspace

GITIGNORE_LINES = (".modelreg/",)


@dataclass(frozen=True)
class InitResult:
    created: tuple[str, ...]
    commit: str | None

    @property
    def changed(self) -> bool:
        return self.commit is not None


def init(ws: Workspace, *, dvc_remote: str | None = None) -> InitResult:
    """Scaffold folders, the default policy and DVC; commit once; re-runs change nothing."""
    from modelreg.policy import DEFAULT_POLICY_YAML

    identity(ws.git)
    root = ws.root
    created: list[str] = []
    for folder in ("models", "pipelines"):
        _write(root, f"{folder}/.gitkeep", "", created)
    _write(root, "policies/default.yaml", DEFAULT_POLICY_YAML, created)
    _append_lines(root, ".gitignore", GITIGNORE_LINES, created)
    created.extend(_templates(root))
    before = _dvc_state(root)
    dvcio.init(root, dvc_remote)
    if _dvc_state(root) != before:
        created.extend([".dvc/config", ".dvc/.gitignore", ".dvcignore"])
    if not created:
        return InitResult((), None)
    sha = commit_paths(ws.git, _existing(root, created), "modelreg init: scaffold the registry")
    return InitResult(tuple(created), sha)


def _write(root: Path, rel: str, text: str, created: list[str]) -> None:
    path = root / rel
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    created.append(rel)


def _append_lines(root: Path, rel: str, lines: tuple[str, ...], created: list[str]) -> None:
    path = root / rel
    have = path.read_text().splitlines() if path.exists() else []
    missing = [ln for ln in lines if ln not in have]
    if missing:
        prefix = "" if not have or path.read_text().endswith("\n") else "\n"
        with path.open("a") as fh:
            fh.write(prefix + "\n".join(missing) + "\n")
        created.append(rel)


def _templates(root: Path) -> list[str]:
    """Install the packaged workflow templates that are not there yet."""
    from importlib import resources

    created: list[str] = []
    folder = resources.files("modelreg").joinpath("templates/workflows")
    if not folder.is_dir():
        return created
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.name.endswith(".yml"):
            _write(root, f".github/workflows/{item.name}", item.read_text(), created)
    return created


def _dvc_state(root: Path) -> tuple[str, ...]:
    files = (".dvc/config", ".dvc/.gitignore", ".dvcignore")
    return tuple((root / f).read_text() if (root / f).exists() else "" for f in files)


def _existing(root: Path, rels: list[str]) -> list[str]:
    return sorted({r for r in rels if (root / r).exists()})
