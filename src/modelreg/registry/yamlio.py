"""The one place YAML is read and written: the safe C loader, errors naming file and line."""

from __future__ import annotations

from typing import Any

import yaml

from modelreg.errors import ValidationError

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
