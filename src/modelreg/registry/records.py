"""Typed views of the registry's YAML files, built once at the edge after schema checks."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VERSION_RE = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9a-z.-]+))?$")
TRIGGERS = ("manual", "schedule", "drift", "data-volume")
CODE_COMMIT_SOURCES = ("pipeline", "flag", "registry-head", "mlflow")
TASKS = ("classification", "regression")


@functools.lru_cache(maxsize=8192)  # registries reuse version names across models
def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key for `vMAJOR.MINOR.PATCH[-pre]`: releases after their pre-releases."""
    m = VERSION_RE.match(version)
    if not m:
        return (-1, -1, -1, 0, version)
    major, minor, patch, pre = m.groups()
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


@dataclass(frozen=True)
class Artifact:
    """The registered bytes: where DVC tracks them and the hashes that vouch for them.

    `sha256` is None only in records made before modelreg recorded it (md5 alone, weaker).
    """

    path: str
    md5: str
    size: int
    format: str
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record's `artifact:` mapping (sha256 left out when there is none)."""
        out: dict[str, Any] = {"path": self.path}
        if self.sha256 is not None:
            out["sha256"] = self.sha256
        out.update(md5=self.md5, size=self.size, format=self.format)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Artifact:
        sha = d.get("sha256")
        return cls(
            path=str(d["path"]),
            md5=str(d["md5"]),
            size=int(d["size"]),
            format=str(d["format"]),
            sha256=str(sha) if sha is not None else None,
        )


@dataclass(frozen=True)
class DataRef:
    path: str
    md5: str
    rows: int | None = None


@dataclass(frozen=True)
class Feature:
    name: str
    type: str


@dataclass(frozen=True)
class Signature:
    inputs: tuple[Feature, ...]
    output: Feature | None = None

    def types(self) -> dict[str, str]:
        return {f.name: f.type for f in self.inputs}


@dataclass(frozen=True)
class Lineage:
    pipeline: str | None = None
    dvc_lock_md5: str | None = None
    mlflow: Mapping[str, Any] | None = None  # run, experiment, registered model and version


@dataclass(frozen=True)
class Comparison:
    """The candidate and an earlier version scored on the same rows by the same script.

    `metrics` are the candidate's, `baseline_metrics` those of `against`, both computed
    on `dataset` (a path and the md5 of its bytes) by `by` (the pipeline's evaluate.py).
    """

    against: str
    dataset_path: str
    dataset_md5: str
    metrics: Mapping[str, float]
    baseline_metrics: Mapping[str, float]
    by: str | None = None

    @property
    def dataset(self) -> str:
        """`path (md5 0123456789ab)`: the rows both versions were scored on."""
        return f"{self.dataset_path} (md5 {self.dataset_md5[:12]})"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Comparison:
        data = d["dataset"]
        return cls(
            against=d["against"],
            dataset_path=data["path"],
            dataset_md5=data["md5"],
            metrics={k: float(v) for k, v in d["metrics"].items()},
            baseline_metrics={k: float(v) for k, v in d["baseline_metrics"].items()},
            by=d.get("by"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "against": self.against,
            "dataset": {"path": self.dataset_path, "md5": self.dataset_md5},
            "metrics": dict(self.metrics),
            "baseline_metrics": dict(self.baseline_metrics),
        }
        if self.by:
            out["by"] = self.by
        return out


@dataclass(frozen=True)
class VersionRecord:
    """One registered version: written once by `register`, never edited."""

    model: str
    version: str
    created_at: str
    created_by: str
    code_commit: str | None
    trigger: str
    parent: str | None
    artifact: Artifact
    metrics: Mapping[str, float]
    dataset: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    data: DataRef | None = None
    signature: Signature | None = None
    profile: str | None = None
    lineage: Lineage = Lineage()
    message: str | None = None
    code_commit_source: str | None = None  # None in records made before it was recorded
    comparisons: tuple[Comparison, ...] = ()  # paired evaluations made when it was registered

    def comparison(self, against: str) -> Comparison | None:
        """The recorded paired evaluation against version `against`, if there is one."""
        return next((c for c in self.comparisons if c.against == against), None)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VersionRecord:
        metrics = dict(d.get("metrics") or {})
        dataset = metrics.pop("dataset", None)
        sig = d.get("signature")
        data = d.get("data")
        lin = d.get("lineage") or {}
        return cls(
            model=d["model"],
            version=d["version"],
            created_at=str(d["created_at"]),
            created_by=d["created_by"],
            code_commit=d.get("code_commit"),
            trigger=d.get("trigger", "manual"),
            parent=d.get("parent"),
            artifact=Artifact.from_dict(d["artifact"]),
            metrics={k: float(v) for k, v in metrics.items()},
            dataset=dataset,
            params=dict(d.get("params") or {}),
            data=DataRef(**data) if data else None,
            signature=_signature(sig) if sig else None,
            profile=d.get("profile"),
            lineage=Lineage(**lin),
            message=d.get("message"),
            code_commit_source=d.get("code_commit_source"),
            comparisons=tuple(Comparison.from_dict(c) for c in d.get("comparisons") or ()),
        )


def _signature(d: Mapping[str, Any]) -> Signature:
    out = d.get("output")
    return Signature(
        inputs=tuple(Feature(f["name"], f["type"]) for f in d.get("inputs", [])),
        output=Feature(out["name"], out["type"]) if out else None,
    )


@dataclass(frozen=True)
class ModelSpec:
    """`models/<model>/model.yaml`: what the model is and which policy governs it."""

    name: str
    owners: tuple[str, ...] = ()
    description: str = ""
    task: str | None = None
    policy: str = "default"
    pipeline: str | None = None
    target: str | None = None
    output_model: str | None = None
    output_metrics: str | None = None
    headline_metrics: tuple[str, ...] = ()
    deprecated: Mapping[str, str] = field(default_factory=dict)
    # the request field / CSV column whose stable hash routes it to stable or canary
    entity_key: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        owner = d.get("owner") or []
        owners = (owner,) if isinstance(owner, str) else tuple(owner)
        out = d.get("outputs") or {}
        dep = d.get("deprecated") or {}
        if isinstance(dep, list):
            dep = {v: "" for v in dep}
        return cls(
            name=d["name"],
            owners=owners,
            description=d.get("description", ""),
            task=d.get("task"),
            policy=d.get("policy", "default"),
            pipeline=d.get("pipeline"),
            target=d.get("target"),
            output_model=out.get("model"),
            output_metrics=out.get("metrics"),
            headline_metrics=tuple(d.get("headline_metrics") or ()),
            deprecated={str(k): str(v or "") for k, v in dep.items()},
            entity_key=str(d["entity_key"]) if d.get("entity_key") else None,
        )


@dataclass(frozen=True)
class Rollout:
    """A canary in progress: `candidate` takes `weight` percent of traffic."""

    candidate: str
    weight: int
    step: int = 0
    started_at: str | None = None
    failures: int = 0


@dataclass(frozen=True)
class StageAssignment:
    """`models/<model>/stages/<stage>.yaml`: the version serving in one stage."""

    version: str
    rollout: Rollout | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StageAssignment:
        ro = d.get("rollout")
        return cls(version=d["version"], rollout=Rollout(**ro) if ro else None)


@dataclass(frozen=True)
class Stages:
    """A model's desired state, stage name → assignment: its stage files, or the one
    `stages.yaml` of a registry written before one file per stage."""

    assignments: Mapping[str, StageAssignment]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Stages:
        """From the one-file layout's mapping of stage → assignment."""
        return cls({stage: StageAssignment.from_dict(body) for stage, body in (d or {}).items()})

    def version(self, stage: str) -> str | None:
        a = self.assignments.get(stage)
        return a.version if a else None
