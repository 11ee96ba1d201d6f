"""The one place YAML is read and written: the safe C loader, errors naming file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from modelreg.adapters.files import read_text
from modelreg.errors import UsageError, ValidationError

SYNTAX = "not valid YAML"
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe C loader that keeps timestamps as strings, so records round-trip exactly."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def parse_yaml(text: str | bytes, path: str) -> Any:
    """Parse YAML text; raise ValidationError naming the file and line if it is malformed."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationError(
            f"{SYNTAX}: {problem}",
            hint="fix the syntax",
            file=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None


def dump_yaml(data: Any) -> str:
    """Serialise data as block-style YAML with keys in the given order."""
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    out: str = yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False)
    return out


def read_mapping(path: Path, label: str) -> dict[str, Any]:
    """A JSON or YAML input file holding one mapping (`label` names the option it came from)."""
    text = read_text(path, label)
    try:
        data = json.loads(text) if path.suffix == ".json" else parse_yaml(text, str(path))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{label} {path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{label} {path}: expected a mapping of names to values")
    return data
