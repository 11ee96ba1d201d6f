"""A local deployment's `manifest.json`: its typed rows, read and written in one place.

`deploy` writes the manifest last, with one atomic rename, so it is the commit point of a
local deploy; `predict` reads it to know which bytes to load and how to route rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from modelreg.adapters.files import replace_atomically

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Share:
    """One version serving a share of a model's traffic: one row of a manifest.

    Two shares are equal when they serve the same bytes (version, weight, role, md5);
    the rest describes the row and is not compared.
    """

    version: str
    weight: int
    role: str  # "stable" or "candidate"
    md5: str
    # Not compared: a version's SHA-256 is fixed by its immutable record, like its md5.
    sha256: str | None = field(default=None, compare=False)
    artifact: str = field(default="", compare=False)  # relative to the deployment folder
    size: int | None = field(default=None, compare=False)
    format: str = field(default="", compare=False)
    record: str = field(default="", compare=False)  # the version record it came from
    inputs: tuple[tuple[str, str], ...] | None = field(default=None, compare=False)

    # What a deploy result shows of a share (`output.to_json`): the compared fields.
    __json_fields__: ClassVar[tuple[str, ...]] = ("version", "weight", "role", "md5")

    def __str__(self) -> str:
        return f"{self.version} {self.weight}%"

    @property
    def input_names(self) -> tuple[str, ...] | None:
        """The signature's input columns, when the record has a signature."""
        return tuple(name for name, _ in self.inputs) if self.inputs else None

    def path(self, folder: Path) -> Path:
        """The deployed file; ValueError when the row points outside the deployment."""
        rel = Path(self.artifact)
        if not self.artifact or rel.is_absolute() or ".." in rel.parts:
            raise ValueError(self.artifact)
        return folder / rel

    def row(self) -> dict[str, Any]:
        inputs = [{"name": n, "type": t} for n, t in self.inputs] if self.inputs else None
        return {
            "version": self.version,
            "role": self.role,
            "weight": self.weight,
            "artifact": self.artifact,
            "md5": self.md5,
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "record": self.record,
            "inputs": inputs,
        }

    @classmethod
    def from_row(cls, v: Mapping[str, Any]) -> Share:
        """A row as written by `row`; KeyError, TypeError or ValueError when malformed."""
        inputs = v.get("inputs")
        size = v.get("size")
        return cls(
            version=str(v["version"]),
            weight=int(v["weight"]),
            role=str(v["role"]),
            md5=str(v["md5"]),
            sha256=str(v["sha256"]) if v.get("sha256") else None,
            artifact=str(v["artifact"]),
            size=int(size) if size is not None else None,
            format=str(v.get("format") or ""),
            record=str(v.get("record") or ""),
            inputs=tuple((str(f["name"]), str(f.get("type", ""))) for f in inputs)
            if inputs
            else None,
        )


@dataclass(frozen=True)
class Deployed:
    """One model in a manifest: the versions it serves and when they were deployed."""

    commit: str
    deployed_at: str
    versions: tuple[Share, ...]


@dataclass(frozen=True)
class Manifest:
    """What one stage's local deployment serves."""

    stage: str
    commit: str
    deployed_at: str
    models: Mapping[str, Deployed]

    def shares(self) -> dict[str, tuple[Share, ...]]:
        return {model: d.versions for model, d in self.models.items()}

    def artifact_paths(self) -> set[str]:
        return {s.artifact for d in self.models.values() for s in d.versions}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "stage": self.stage,
            "commit": self.commit,
            "deployed_at": self.deployed_at,
            "models": {
                model: {
                    "commit": d.commit,
                    "deployed_at": d.deployed_at,
                    "versions": [s.row() for s in d.versions],
                }
                for model, d in self.models.items()
            },
        }


def read_manifest(folder: Path) -> Manifest | None:
    """A local deployment's manifest, or None when there is none (or it is unreadable).

    A hand-edited, malformed manifest counts as none, so the next deploy is a full one.
    """
    try:
        data = json.loads((folder / MANIFEST).read_text())
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            return None
        models = {str(m): _deployed(entry) for m, entry in data["models"].items()}
        return Manifest(
            stage=str(data.get("stage") or ""),
            commit=str(data.get("commit") or ""),
            deployed_at=str(data.get("deployed_at") or ""),
            models=models,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _deployed(entry: Mapping[str, Any]) -> Deployed:
    return Deployed(
        commit=str(entry.get("commit") or ""),
        deployed_at=str(entry.get("deployed_at") or ""),
        versions=tuple(Share.from_row(v) for v in entry.get("versions", [])),
    )


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """The commit point of a local deploy: one atomic rename, then the folder synced."""
    path = folder / MANIFEST
    place(path, (json.dumps(manifest.to_json(), indent=2) + "\n").encode())
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)  # make the rename itself durable
    except OSError:
        pass
    finally:
        os.close(fd)


def place(path: Path, data: bytes) -> None:
    """Write bytes to `path` atomically: a temp file beside it, fsync, rename."""
    replace_atomically(path, lambda tmp: tmp.write_bytes(data), durable=True)


def place_folder(path: Path, got: Path) -> None:
    """Move the verified folder `got` (on the same file system) to `path`, replacing what
    is there (an altered copy) by renames, so `path` is never half a folder."""
    import shutil

    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists() or path.is_symlink():
        os.replace(path, aside)
    os.replace(got, path)
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, ignore_errors=True)
    else:
        aside.unlink(missing_ok=True)
