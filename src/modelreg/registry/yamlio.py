"""The one place YAML is read and written: the C loader made strict, errors naming file and line.

A file means to modelreg what it means to an editor using the published JSON Schemas,
which read YAML 1.2 (as check-jsonschema's ruamel.yaml does): scalars resolve by the
1.2 core rules (`yes`, `on` and `no` are strings; `0o17` and `1e3` are numbers),
timestamps stay strings, and mapping keys are compared as strings. What an editor would
also accept but a reviewer cannot see through is refused: a duplicate key (the second
silently wins and hides the first from review), anchors, aliases and merge keys (one
line can expand into gigabytes, and a value can live far from where it is used).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from modelreg.adapters.files import read_text
from modelreg.errors import UsageError, ValidationError

SYNTAX = "not valid YAML"
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_TAG = "tag:yaml.org,2002:"

# The YAML 1.2 core schema as ruamel.yaml resolves it (check-jsonschema's reader): the
# same expressions, so that a plain scalar gets the same type in both.
_CORE_1_2: list[tuple[str, re.Pattern[str], str]] = [
    ("bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"),
    (
        "float",
        re.compile(
            r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        "-+0123456789.",
    ),
    (
        "int",
        re.compile(
            r"""^(?:[-+]?0b[0-1_]+
            |[-+]?0o?[0-7_]+
            |[-+]?[0-9_]+
            |[-+]?0x[0-9a-fA-F_]+)$""",
            re.X,
        ),
        "-+0123456789",
    ),
    ("merge", re.compile(r"^(?:<<)$"), "<"),
    ("null", re.compile(r"^(?:~|null|Null|NULL|)$"), "~nN"),
    ("value", re.compile(r"^(?:=)$"), "="),  # ruamel refuses a plain '=': so does modelreg
]


def _resolvers(table: list[tuple[str, re.Pattern[str], str]]) -> dict[Any, Any]:
    out: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, rx, firsts in table:
        for first in [*firsts, ""] if tag == "null" else firsts:
            out.setdefault(first, []).append((_TAG + tag, rx))
    return out


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The C loader with YAML 1.2 core scalars; refuses duplicate keys and merge keys."""

    yaml_implicit_resolvers = _resolvers(_CORE_1_2)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, "expected a mapping", node.start_mark
            )
        mapping: dict[str, Any] = {}
        raw_keys: set[Any] = set()  # 1 and 1.0 are one key to ruamel, two strings to JSON
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise _Refused("a merge key (<<) is not allowed", key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused("a key must be a plain value, not a list or mapping", key_node)
            value_key = key_node.tag == _TAG + "value"  # a plain '=' is a string as a key
            raw = "=" if value_key else self.construct_object(key_node, deep=deep)
            key = str(raw)  # as check-jsonschema hands it to the schema
            if key in mapping or raw in raw_keys:
                raise _Refused(f"duplicate key '{key}'", key_node.start_mark, key=key)
            raw_keys.add(raw)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: Any) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text[:1] == "-" else 1
        text = text.lstrip("+-")
        base = {"0b": 2, "0o": 8, "0x": 16}.get(text[:2], 10)
        digits = text if base == 10 else text[2:]
        try:
            return sign * int(digits, base)
        except ValueError:
            raise _Refused(f"'{node.value}' is not a number", node.start_mark) from None

    def construct_yaml_float(self, node: Any) -> float:
        text = str(self.construct_scalar(node)).replace("_", "").lower()
        sign = -1.0 if text[:1] == "-" else 1.0
        text = text.lstrip("+-")
        if text == ".inf":
            return sign * float("inf")
        if text == ".nan":
            return float("nan")
        return sign * float(text)


_Loader.yaml_constructors = dict(_BaseLoader.yaml_constructors)
_Loader.add_constructor(_TAG + "int", _Loader.construct_yaml_int)
_Loader.add_constructor(_TAG + "float", _Loader.construct_yaml_float)
# Editors see timestamps as the strings they are written as; so do records (round-trip).
_Loader.add_constructor(_TAG + "timestamp", _BaseLoader.construct_yaml_str)
_Loader.add_constructor(_TAG + "value", lambda loader, node: _refuse_value(node))


def _refuse_value(node: Any) -> None:
    raise _Refused("a plain '=' is not a value (quote it: '=')", node.start_mark)


class _Refused(yaml.YAMLError):
    """YAML that parses but that modelreg does not accept; carries where it is."""

    def __init__(self, problem: str, mark: Any, key: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = getattr(mark, "start_mark", mark)
        self.key = key


def parse_yaml(text: str | bytes, path: str) -> Any:
    """Parse YAML text strictly; raise ValidationError naming the file and line if it is
    malformed or uses a duplicate key, an anchor, an alias or a merge key."""
    try:
        _refuse_conflict_markers(text)
        _refuse_anchors(text)
        return yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None) or _reader_mark(exc, text)
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["?"])[0]
        refused = isinstance(exc, _Refused)
        raise ValidationError(
            problem if refused else f"{SYNTAX}: {problem}",
            hint=_fix(problem) if refused else "fix the syntax",
            file=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None


def _reader_mark(exc: BaseException, text: str | bytes) -> Any:
    """Where a byte the reader refuses (NUL, invalid UTF-8) is: it gives only an offset,
    into the UTF-8 bytes."""
    position = getattr(exc, "position", None)
    if not isinstance(exc, yaml.reader.ReaderError) or not isinstance(position, int):
        return None
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    line_start = data.rfind(b"\n", 0, position) + 1
    return yaml.Mark("", position, data.count(b"\n", 0, position), position - line_start, None, 0)


# What `git merge` leaves around a conflict: <<<<<<< ours, ||||||| base (diff3), =======,
# >>>>>>> theirs, each at the start of its own line.
_CONFLICT = re.compile(rb"^(?:<{7}|>{7}|\|{7})(?: |\r?$)|^={7}\r?$", re.M)


def _refuse_conflict_markers(text: str | bytes) -> None:
    """Raise at the first line a merge left a conflict marker on: the parser would name
    some later line, or nothing at all when both sides happen to parse."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if b"<<<<<<<" not in data and b"=======" not in data and b">>>>>>>" not in data:
        return
    found = _CONFLICT.search(data)
    if found is not None:
        line = data.count(b"\n", 0, found.start())
        marker = found.group()[:7].decode()
        raise _Refused(
            f"a merge conflict marker ({marker}) is left in the file",
            yaml.Mark("", found.start(), line, 0, None, 0),
        )


def _fix(problem: str) -> str:
    if problem.startswith("a merge conflict marker"):
        return "resolve the conflict: keep one side, delete the marker lines, then `git add` it"
    if problem.startswith("duplicate key"):
        return "keep one of them: only the last one would count, the first would be ignored"
    if "anchor" in problem or "alias" in problem or "merge" in problem:
        return "write the value out in full"
    return "fix the value"


def _refuse_anchors(text: str | bytes) -> None:
    """Raise at the first anchor or alias. Only files holding '&' or '*' are scanned, so
    the common file pays one substring search."""
    marks = (b"&", b"*") if isinstance(text, bytes) else ("&", "*")
    if marks[0] not in text and marks[1] not in text:  # type: ignore[operator]
        return
    for token in yaml.scan(text, Loader=_Loader):
        if isinstance(token, yaml.AnchorToken):
            raise _Refused(f"an anchor (&{token.value}) is not allowed", token.start_mark)
        if isinstance(token, yaml.AliasToken):
            raise _Refused(f"an alias (*{token.value}) is not allowed", token.start_mark)


def parse_json(text: str, path: str) -> Any:
    """Parse JSON text; a duplicate key is refused as in YAML (json keeps the last)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise _Refused(f"duplicate key '{key}'", None, key=key)
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"not valid JSON: {exc.msg}", hint="fix the syntax", file=path, line=exc.lineno
        ) from None
    except _Refused as exc:
        raise ValidationError(
            exc.problem, hint=_fix(exc.problem), file=path, line=_second_line(text, exc.key)
        ) from None


def _second_line(text: str, key: str | None) -> int | None:
    hits = [m.start() for m in re.finditer(re.escape(json.dumps(key)), text)] if key else []
    return text.count("\n", 0, hits[1]) + 1 if len(hits) > 1 else None


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Never writes an anchor (the reader refuses them); quotes any string that YAML 1.1
    or 1.2 would read as something else, so old and new readers agree on the file."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.yaml_implicit_resolvers = {
    first: list(_BaseDumper.yaml_implicit_resolvers.get(first, []))
    + list(_Loader.yaml_implicit_resolvers.get(first, []))
    for first in {*_BaseDumper.yaml_implicit_resolvers, *_Loader.yaml_implicit_resolvers}
}


def dump_yaml(data: Any) -> str:
    """Serialise data as block-style YAML with keys in the given order."""
    out: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    return out


def read_mapping(path: Path, label: str) -> dict[str, Any]:
    """A JSON or YAML input file holding one mapping (`label` names the option it came from)."""
    text = read_text(path, label)
    json_ = path.suffix == ".json"
    data = parse_json(text, f"{label} {path}") if json_ else parse_yaml(text, f"{label} {path}")
    if not isinstance(data, dict):
        raise UsageError(f"{label} {path}: expected a mapping of names to values")
    return data
