"""The one place YAML is parsed and checked: C loader, JSON Schema, then typed objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from modelreg.errors import NotFound, ValidationError

if TYPE_CHECKING:
    import jsonschema

KINDS = ("model", "version", "stages", "policy")

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe C loader that keeps timestamps as strings, so records round-trip exactly."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, phrased so a person can fix it."""

    file: str
    key: str
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}: " if self.key else f"{self.file}: "
        return where + self.message + (f" ({self.fix})" if self.fix else "")


def parse_yaml(text: str | bytes, path: str) -> Any:
    """Parse YAML text; raise ValidationError naming the file and line if it is malformed."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationError(
            f"{where}: not valid YAML: {problem}", hint="fix the syntax"
        ) from None


def dump_yaml(data: Any) -> str:
    """Serialise data as block-style YAML with keys in the given order."""
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    out: str = yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False)
    return out


@cache
def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a file kind, as shipped in the package."""
    if kind not in KINDS:
        raise NotFound(f"unknown schema kind '{kind}'", hint="known: " + ", ".join(KINDS))
    text = resources.files("modelreg").joinpath(f"schemas/{kind}.schema.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    if kind == "policy":
        _splice_drift(doc)
    return doc


def _splice_drift(doc: dict[str, Any]) -> None:
    # The drift rules are owned by the drift engine, which publishes their schema.
    import importlib

    try:  # TODO(lead): drop once drift.py lands
        drift = importlib.import_module("modelreg.drift")
    except ModuleNotFoundError:
        return
    doc["properties"]["drift"] = getattr(drift, "DRIFT_SCHEMA", doc["properties"]["drift"])


@cache
def validator(kind: str) -> jsonschema.protocols.Validator:
    """A pre-built validator for a kind (building one costs far more than using it)."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema(kind))
    return cls(schema(kind))


def schema_problems(kind: str, data: Any, path: str) -> list[Problem]:
    """Every schema violation in `data`, as problems naming the key path."""
    v = validator(kind)
    if v.is_valid(data):
        return []
    errors = sorted(v.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [_problem(path, e) for e in errors]


def _problem(path: str, err: jsonschema.ValidationError) -> Problem:
    key = key_path(err.absolute_path)
    validator_name = err.validator
    if validator_name == "additionalProperties":
        allowed = sorted((err.schema.get("properties") or {}).keys())
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        fix = "allowed: " + ", ".join(allowed) if allowed else None
        keys = ", ".join(f"'{k}'" for k in extra)
        return Problem(path, key or "(top level)", f"unknown key {keys}", fix)
    if validator_name == "required":
        return Problem(path, key or "(top level)", err.message, "add it")
    if validator_name == "pattern":
        return Problem(path, key, f"{err.instance!r} does not match {err.validator_value}")
    return Problem(path, key or "(top level)", err.message)


def key_path(parts: Any) -> str:
    """Render a JSON path like ['stages', 0, 'gates'] as 'stages[0].gates'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_checked(kind: str, text: str | bytes, path: str) -> Any:
    """Parse and schema-check one file; raise ValidationError with the first problems."""
    data = parse_yaml(text, path)
    problems = schema_problems(kind, data, path)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationError(str(problems[0]) + more)
    return data
