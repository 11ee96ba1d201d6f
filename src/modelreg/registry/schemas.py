"""The JSON Schemas shipped in the package, compiled once: validators and a fast path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from modelreg.errors import NotFound, Where

if TYPE_CHECKING:
    import jsonschema

KINDS = ("model", "version", "stage", "stages", "policy")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, phrased so a person can fix it."""

    file: str
    key: str
    message: str
    fix: str | None = None
    line: int | None = None
    syntax: bool = False  # the file is not YAML at all (validate exits 2, not 1)

    def __str__(self) -> str:
        where = Where(self.file, self.key or None, self.line)
        return f"{where}: {self.message}" + (f" ({self.fix})" if self.fix else "")


@cache
def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a file kind, as shipped in the package."""
    if kind not in KINDS:
        raise NotFound(f"unknown schema kind '{kind}'", hint="known: " + ", ".join(KINDS))
    text = resources.files("modelreg").joinpath(f"schemas/{kind}.schema.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def validator(kind: str) -> jsonschema.protocols.Validator:
    """A pre-built validator for a kind (building one costs far more than using it)."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema(kind))
    return cls(schema(kind))


def schema_problems(kind: str, data: Any, path: str) -> list[Problem]:
    """Every schema violation in `data`, as problems naming the key path."""
    fast = _fast_check(kind)
    if fast is not None and fast(data):
        return []
    v = validator(kind)
    if v.is_valid(data):
        return []
    errors = sorted(v.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [_problem(path, e) for e in errors]


# -- a fast path for valid files ------------------------------------------------------
#
# jsonschema spends 0.2-1.6 ms on one version record, which is most of `validate` on a
# registry of twenty thousand. The schemas of records, models and stages use a small set
# of keywords, so they are compiled here into plain Python checks that answer "valid"
# exactly when jsonschema would for anything the YAML loader produces. Any other answer
# goes to jsonschema, which also words the problems; a schema using a keyword not below
# (the policy's) is always left to jsonschema.

_Check = Callable[[Any], bool]
_IGNORED = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"}
    | {"format"}  # an annotation only: jsonschema asserts formats only when asked to
)


class _Unsupported(Exception):
    pass


@cache
def _fast_check(kind: str) -> _Check | None:
    """The compiled check of a kind's schema, or None if it uses other keywords."""
    root = schema(kind)
    try:
        return _compile(root, root)
    except (_Unsupported, KeyError, TypeError, re.error, RecursionError):
        return None


def _compile(node: Any, root: dict[str, Any]) -> _Check:
    if node is True or node == {}:
        return lambda x: True
    if node is False:
        return lambda x: False
    if not isinstance(node, dict):
        raise _Unsupported(repr(node))
    checks = [
        _KEYWORDS[key](value, node, root) if key in _KEYWORDS else _unsupported(key)
        for key, value in node.items()
        if key not in _IGNORED
    ]
    if len(checks) == 1:
        return checks[0]
    return lambda x: all(check(x) for check in checks)


def _unsupported(key: str) -> _Check:
    raise _Unsupported(key)


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


_TYPES: dict[str, _Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _type(value: Any, node: Any, root: Any) -> _Check:
    tests = [_TYPES[value]] if isinstance(value, str) else [_TYPES[t] for t in value]
    return tests[0] if len(tests) == 1 else lambda x: any(t(x) for t in tests)


def _properties(value: Any, node: Any, root: Any) -> _Check:
    subs = [(name, _compile(sub, root)) for name, sub in value.items()]
    return lambda x: not isinstance(x, dict) or all(s(x[n]) for n, s in subs if n in x)


def _additional(value: Any, node: Any, root: Any) -> _Check:
    if "patternProperties" in node:
        raise _Unsupported("patternProperties")
    known = frozenset(node.get("properties", ()))
    sub = _compile(value, root)
    return lambda x: not isinstance(x, dict) or all(sub(v) for k, v in x.items() if k not in known)


def _required(value: Any, node: Any, root: Any) -> _Check:
    names = list(value)
    return lambda x: not isinstance(x, dict) or all(n in x for n in names)


def _pattern(value: Any, node: Any, root: Any) -> _Check:
    search = re.compile(value).search
    return lambda x: not isinstance(x, str) or search(x) is not None


def _enum(value: Any, node: Any, root: Any) -> _Check:
    if not all(isinstance(v, str) for v in value):
        raise _Unsupported("enum of non-strings")  # jsonschema's equality is subtler there
    allowed = frozenset(value)
    return lambda x: isinstance(x, str) and x in allowed


def _minimum(value: Any, node: Any, root: Any) -> _Check:
    return lambda x: not _is_number(x) or not x < value


def _maximum(value: Any, node: Any, root: Any) -> _Check:
    return lambda x: not _is_number(x) or not x > value


def _items(value: Any, node: Any, root: Any) -> _Check:
    sub = _compile(value, root)
    return lambda x: not isinstance(x, list) or all(sub(i) for i in x)


def _property_names(value: Any, node: Any, root: Any) -> _Check:
    sub = _compile(value, root)
    return lambda x: not isinstance(x, dict) or all(sub(k) for k in x)


def _any_of(value: Any, node: Any, root: Any) -> _Check:
    subs = [_compile(sub, root) for sub in value]
    return lambda x: any(s(x) for s in subs)


def _one_of(value: Any, node: Any, root: Any) -> _Check:
    subs = [_compile(sub, root) for sub in value]
    return lambda x: sum(1 for s in subs if s(x)) == 1


def _ref(value: Any, node: Any, root: Any) -> _Check:
    if not value.startswith("#/$defs/") or value.count("/") != 2:
        raise _Unsupported(value)
    return _compile(root["$defs"][value.split("/")[2]], root)


_KEYWORDS: dict[str, Callable[[Any, Any, Any], _Check]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "pattern": _pattern,
    "enum": _enum,
    "minimum": _minimum,
    "maximum": _maximum,
    "items": _items,
    "propertyNames": _property_names,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "$ref": _ref,
}


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
