"""The JSON Schemas shipped in the package, compiled once: validators and a fast path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
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
        text = f"{where}: {self.message}" + (f" ({self.fix})" if self.fix else "")
        return brief_text(text, _LINE)  # one line, whatever a hostile file holds


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
    """A pre-built validator for a kind (building one costs far more than using it) that
    reads patterns as ECMAScript and checks formats, as editors and check-jsonschema do."""
    import jsonschema

    base = jsonschema.validators.validator_for(schema(kind))
    cls = jsonschema.validators.extend(base, {"pattern": _pattern_keyword})
    checker = jsonschema.FormatChecker()
    checker.checks("date-time")(is_date_time)
    return cls(schema(kind), format_checker=checker)


def _pattern_keyword(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    import jsonschema

    if isinstance(instance, str) and not _ecma(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# -- ECMAScript patterns and RFC 3339 date-times ---------------------------------------
#
# JSON Schema patterns are ECMAScript regexes: `$` is the end of the text (Python's also
# matches before a final newline), `\d` is ASCII (Python's takes any Unicode digit) and
# `.` stops at any line terminator. The published patterns are written in the part of
# the language both agree on once these few tokens are translated.

_ECMA_SPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ECMA_CLASSES = {"d": "0-9", "w": "A-Za-z0-9_", "s": _ECMA_SPACE}


@cache
def _ecma(pattern: str) -> re.Pattern[str]:
    """A Python regex matching exactly what the ECMAScript `pattern` matches."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c, nxt = pattern[i], pattern[i + 1 : i + 2]
        if c == "\\":
            out.append(_ecma_escape(nxt, in_class))
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
        elif c == "[":
            if nxt == "]" or pattern[i + 1 : i + 3] == "^]":
                raise re.error(f"empty class in {pattern!r}")  # differs between the two
            in_class = True
            out.append(c)
        elif c == "(" and pattern[i + 1 : i + 3] == "?<" and pattern[i + 3 : i + 4] not in "=!":
            raise re.error(f"named group in {pattern!r}")
        else:
            out.append({"$": r"\Z", ".": r"[^\n\r\u2028\u2029]"}.get(c, c))
        i += 1
    return re.compile("".join(out))


def _ecma_escape(letter: str, in_class: bool) -> str:
    if letter.lower() in _ECMA_CLASSES:
        chars = _ECMA_CLASSES[letter.lower()]
        if letter.isupper():
            if in_class:
                raise re.error(f"\\{letter} inside a class")
            return f"[^{chars}]"
        return chars if in_class else f"[{chars}]"
    if letter in "bB":
        raise re.error(f"\\{letter}")  # word boundaries: Unicode in Python, ASCII in ECMAScript
    return "\\" + letter


_DATE_TIME = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-[0-3][0-9][Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:[.,][0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


def is_date_time(value: object) -> bool:
    """RFC 3339 `date-time`, as check-jsonschema checks it (no leap second)."""
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.fullmatch(value):
        return False
    year, month, day = int(value[:4]), int(value[5:7]), int(value[8:10])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = 29 if month == 2 and leap else _DAYS[month]
    return 1 <= day <= days


_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


_FORMATS: dict[str, Callable[[object], bool]] = {"date-time": is_date_time}


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
# is always left to jsonschema. The policy's schema is compiled too, so a read command
# that only needs a policy never imports jsonschema (0.15 s) when the policy is valid.

_Check = Callable[[Any], bool]
_IGNORED = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"}
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
    search = _ecma(value).search
    return lambda x: not isinstance(x, str) or search(x) is not None


def _format(value: Any, node: Any, root: Any) -> _Check:
    if value not in _FORMATS:
        raise _Unsupported(f"format {value}")
    return _FORMATS[value]


def _enum(value: Any, node: Any, root: Any) -> _Check:
    if not all(isinstance(v, str) or v is None for v in value):
        raise _Unsupported("enum of numbers")  # jsonschema's equality is subtler there
    allowed = frozenset(v for v in value if v is not None)
    if None in value:
        return lambda x: x is None or (isinstance(x, str) and x in allowed)
    return lambda x: isinstance(x, str) and x in allowed


def _minimum(value: Any, node: Any, root: Any) -> _Check:
    return lambda x: not _is_number(x) or not x < value


def _maximum(value: Any, node: Any, root: Any) -> _Check:
    return lambda x: not _is_number(x) or not x > value


def _min_length(value: Any, node: Any, root: Any) -> _Check:
    # JSON Schema counts code points, as len() of a Python str does.
    return lambda x: not isinstance(x, str) or len(x) >= value


def _max_length(value: Any, node: Any, root: Any) -> _Check:
    return lambda x: not isinstance(x, str) or len(x) <= value


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


def _all_of(value: Any, node: Any, root: Any) -> _Check:
    subs = [_compile(sub, root) for sub in value]
    return lambda x: all(s(x) for s in subs)


def _if(value: Any, node: Any, root: Any) -> _Check:
    test = _compile(value, root)
    then = _compile(node.get("then", True), root)
    other = _compile(node.get("else", True), root)
    return lambda x: then(x) if test(x) else other(x)


def _branch(value: Any, node: Any, root: Any) -> _Check:
    if "if" not in node:
        return lambda x: True  # `then` and `else` without `if` are ignored
    _compile(value, root)  # checked for support; `_if` applies it
    return lambda x: True


def _const(value: Any, node: Any, root: Any) -> _Check:
    if not isinstance(value, str):
        raise _Unsupported("const of a non-string")  # jsonschema's equality is subtler there
    return lambda x: isinstance(x, str) and x == value


def _contains(value: Any, node: Any, root: Any) -> _Check:
    if "minContains" in node or "maxContains" in node:
        raise _Unsupported("minContains")
    sub = _compile(value, root)
    return lambda x: not isinstance(x, list) or any(sub(i) for i in x)


def _dependent_required(value: Any, node: Any, root: Any) -> _Check:
    deps = [(key, list(names)) for key, names in value.items()]
    return lambda x: (
        not isinstance(x, dict)
        or all(all(n in x for n in names) for key, names in deps if key in x)
    )


def _exclusive_minimum(value: Any, node: Any, root: Any) -> _Check:
    return lambda x: not _is_number(x) or x > value


def _min_items(value: Any, node: Any, root: Any) -> _Check:
    return lambda x: not isinstance(x, list) or len(x) >= value


def _unique_items(value: Any, node: Any, root: Any) -> _Check:
    if value is not True:
        return lambda x: True
    return lambda x: not isinstance(x, list) or _unique(x)


def _unique(items: list[Any]) -> bool:
    """No two items equal as JSON values (a bool is never equal to a number)."""
    if all(isinstance(i, str) for i in items):
        return len(set(items)) == len(items)
    keys = [_json_key(i) for i in items]
    return len(set(keys)) == len(keys)


def _json_key(x: Any) -> Any:
    """A hashable stand-in equal for two values exactly when they are equal JSON values."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return (type(x).__name__, x)
    if _is_number(x):
        return ("number", x)  # 1 and 1.0 are one JSON number
    if isinstance(x, list):
        return ("array", tuple(_json_key(i) for i in x))
    if isinstance(x, dict):
        return ("object", frozenset((k, _json_key(v)) for k, v in x.items()))
    return ("other", id(x))


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
    "format": _format,
    "enum": _enum,
    "minimum": _minimum,
    "maximum": _maximum,
    "minLength": _min_length,
    "maxLength": _max_length,
    "items": _items,
    "propertyNames": _property_names,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "$ref": _ref,
    "allOf": _all_of,
    "if": _if,
    "then": _branch,
    "else": _branch,
    "const": _const,
    "contains": _contains,
    "dependentRequired": _dependent_required,
    "exclusiveMinimum": _exclusive_minimum,
    "minItems": _min_items,
    "uniqueItems": _unique_items,
}


def _problem(path: str, err: jsonschema.ValidationError) -> Problem:
    key = key_path(err.absolute_path)
    validator_name = err.validator
    if validator_name == "additionalProperties":
        allowed = sorted((err.schema.get("properties") or {}).keys())
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        fix = "allowed: " + ", ".join(allowed) if allowed else None
        keys = ", ".join(brief(str(k)) for k in extra)
        return Problem(path, key or "(top level)", f"unknown key {keys}", fix)
    if validator_name == "required":
        return Problem(path, key or "(top level)", err.message, "add it")
    if validator_name == "pattern":
        return Problem(path, key, f"{brief(err.instance)} does not match {err.validator_value}")
    message = err.message.replace(repr(err.instance), brief(err.instance))
    return Problem(path, key or "(top level)", brief_text(message))


_BRIEF = 80  # characters of a value a problem may echo
_LINE = 600  # characters of a whole problem line


def brief(value: Any) -> str:
    """A value as a problem echoes it: its repr (one line, escapes shown), cut in the
    middle with the full length noted when long, so a 100 kB value stays one short line."""
    text = repr(value)
    if len(text) <= _BRIEF:
        return text
    return f"{text[: _BRIEF - 20]}...{text[-8:]} ({len(text)} characters)"


def brief_text(text: str, limit: int = 4 * _BRIEF) -> str:
    """A message on one line: line breaks and control characters escaped, cut when long."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else f"{text[: limit - 30]}... ({len(text)} characters)"


def key_path(parts: Any) -> str:
    """Render a JSON path like ['stages', 0, 'gates'] as 'stages[0].gates'."""
    out = ""
    for part in parts:
        if not isinstance(part, int) and (len(str(part)) > _BRIEF or not str(part).isprintable()):
            part = brief(str(part))  # a hostile key stays one short line
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
