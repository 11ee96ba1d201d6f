"""The one strict YAML loader: duplicate keys, anchors and aliases refused everywhere, and
scalars read by YAML 1.2 as editors read them (issue 10, "Hostile and malformed input")."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Registry, tree_state
from modelreg.errors import ValidationError
from modelreg.registry.schemas import KINDS, _ecma, _fast_check, schema, schema_problems, validator
from modelreg.registry.yamlio import dump_yaml, parse_json, parse_yaml
from modelreg.training.register import read_mapping

GATED = """\
stages:
  - name: staging
    gates:
      - {metric: accuracy, min: 0.9}
  - name: production
    from: staging
    gates:
      - {metric: accuracy, min: 0.9}
"""

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)


def _refusal(text: str, path: str = "f.yaml") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_yaml(text, path)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (GATED + "stages:\n  - name: staging\n", 9, "stages"),
        ("stages:\n  - name: staging\n    gates: []\n    gates: [{metric: a}]\n", 4, "gates"),
        ("staging:\n  version: v1.0.0\n  version: v2.0.0\n", 3, "version"),
        ("a: {x: 1, x: 2}\n", 1, "x"),
        ("1: a\n'1': b\n", 2, "1"),
    ],
)
def test_a_duplicate_key_is_refused_naming_file_line_and_key(
    text: str, line: int, key: str
) -> None:
    """Issue 10, duplicate YAML keys are a security hole: the second one wins silently."""
    exc = _refusal(text, "policies/default.yaml")
    assert str(exc).startswith(f"policies/default.yaml:{line}:")
    assert f"duplicate key '{key}'" in str(exc)


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("a: &x 1\n", 1, "anchor (&x)"),
        ("a: 1\nb: &big\n  c: 2\nd: *big\n", 2, "anchor (&big)"),
        ("a:\n- 1\n- *x\n", 3, "alias (*x)"),
        ("<<: {a: 1}\n", 1, "merge key"),
        (BOMB, 1, "anchor (&a)"),
    ],
)
def test_anchors_aliases_and_merge_keys_are_refused_with_the_line(
    text: str, line: int, what: str
) -> None:
    """Issue 10, YAML anchors and aliases: refused in every file, naming file and line."""
    exc = _refusal(text)
    assert str(exc).startswith(f"f.yaml:{line}:"), str(exc)
    assert what in str(exc)


def test_stars_and_ampersands_inside_values_are_plain_text() -> None:
    text = 'schedule: "0 6 * * *"\nowner: a&b@example.com\nnote: x * y\n'
    assert parse_yaml(text, "f") == {
        "schedule": "0 6 * * *",
        "owner": "a&b@example.com",
        "note": "x * y",
    }


def test_an_alias_bomb_is_refused_at_once() -> None:
    """Issue 10, YAML anchors and aliases: a billion-laughs file costs nothing to refuse."""
    start = time.perf_counter()
    _refusal(BOMB)
    assert time.perf_counter() - start < 0.5


SCALARS: list[tuple[str, Any]] = [
    ("yes", "yes"),
    ("no", "no"),
    ("on", "on"),
    ("off", "off"),
    ("y", "y"),
    ("true", True),
    ("False", False),
    ("TRUE", True),
    ("tRue", "tRue"),
    ("~", None),
    ("Null", None),
    ("", None),
    ("012", 12),
    ("0o17", 15),
    ("0x1F", 31),
    ("0b101", 5),
    ("1_000", 1000),
    ("1e3", 1000.0),
    ("-.5e+3", -500.0),
    (".inf", float("inf")),
    ("-.Inf", float("-inf")),
    ("1:30", "1:30"),
    ("2026-01-02", "2026-01-02"),
    ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
    ("v1.0.0", "v1.0.0"),
]


@pytest.mark.parametrize(("plain", "value"), SCALARS)
def test_plain_scalars_resolve_by_yaml_1_2_core_rules(plain: str, value: Any) -> None:
    """Issue 10, what an editor reads: `auto_advance: yes` is the string 'yes' in YAML 1.2."""
    got = parse_yaml(f"k: {plain}\n", "f")["k"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(("plain", "value"), SCALARS)
def test_plain_scalars_read_as_check_jsonschema_reads_them(plain: str, value: Any) -> None:
    parsers = pytest.importorskip("check_jsonschema.parsers.yaml")
    load = parsers.impl2loader(parsers.construct_yaml_implementation())
    for doc in (f"k: {plain}\n", f"{plain or 'x'}: v\n"):
        theirs = load(io.BytesIO(doc.encode()))
        ours = parse_yaml(doc, "f")
        assert repr(ours) == repr(theirs)
        assert [type(v) for v in ours.values()] == [type(v) for v in theirs.values()]


@pytest.mark.parametrize("text", ["yes", "on", "08", "1e3", "0o17", "1_000", "=", "2026-01-02"])
def test_dump_yaml_quotes_strings_that_yaml_1_1_or_1_2_would_read_otherwise(text: str) -> None:
    import yaml

    dumped = dump_yaml({"k": text})
    assert parse_yaml(dumped, "f") == {"k": text}
    assert yaml.safe_load(dumped) == {"k": text}


def test_dump_yaml_writes_shared_values_in_full_so_they_read_back() -> None:
    shared = {"C": 0.5}
    dumped = dump_yaml({"a": shared, "b": shared})
    assert "&" not in dumped and "*" not in dumped
    assert parse_yaml(dumped, "f") == {"a": shared, "b": shared}


def test_a_duplicate_key_in_json_input_is_refused_with_its_line() -> None:
    """Issue 10, duplicate YAML keys: JSON input files (--metrics a.json) too."""
    with pytest.raises(ValidationError) as info:
        parse_json('{\n  "accuracy": 0.1,\n  "accuracy": 0.9\n}', "m.json")
    assert str(info.value).startswith("m.json:3:")
    assert "duplicate key 'accuracy'" in str(info.value)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("m.yaml", "accuracy: 0.1\naccuracy: 0.9\n"),
        ("m.json", '{"accuracy": 0.1, "accuracy": 0.9}'),
        ("m.yaml", "base: &b 0.9\naccuracy: *b\n"),
    ],
)
def test_input_files_refuse_duplicates_and_aliases(tmp_path: Path, name: str, text: str) -> None:
    """Issue 10: every input file (--metrics, --params, pipeline and rollout metrics)."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValidationError) as info:
        read_mapping(path, "--metrics")
    assert str(info.value).startswith(f"--metrics {path}:")


def test_register_refuses_an_alias_bomb_in_params_and_writes_nothing(registry: Registry) -> None:
    """Issue 10, YAML anchors and aliases: an alias bomb in `register --params`."""
    params = registry.work / "params.yaml"
    params.write_text(BOMB)
    before = tree_state(registry.root)
    result = registry.run(
        "register",
        "churn",
        "--artifact",
        str(registry.artifact("churn", 0)),
        "--metrics",
        str(registry.metrics("m", accuracy=0.9)),
        "--params",
        str(params),
    )
    assert result.exit_code == 2, result.output
    assert f"{params}:1:" in result.stderr and "anchor (&a)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_state(registry.root) == before


def test_a_second_stages_key_appended_to_a_policy_fails_validate(registry: Registry) -> None:
    """Issue 10, duplicate YAML keys: a PR appending `stages:` to a policy drops every gate."""
    registry.write("policies/default.yaml", GATED)
    registry.git("commit", "-qam", "gated policy")
    registry.git("push", "-q", "origin", "main")
    registry.git("checkout", "-q", "-b", "sneaky")
    registry.write("policies/default.yaml", GATED + "stages:\n  - name: staging\n")
    registry.git("commit", "-qam", "no more gates")
    for command in ("validate", "check"):
        result = registry.run(command, "--base", "origin/main")
        assert result.exit_code == 2, result.output
        assert "policies/default.yaml:9: duplicate key 'stages'" in result.output


# -- what an editor reads is what modelreg reads ---------------------------------------

RECORD = """\
model: churn
version: v1.0.0
created_at: '2026-11-20T09:12:44Z'
created_by: ana@example.com
code_commit: 3f2c9e1
artifact: {path: a/model.pkl, md5: 9b1e4c0a9b1e4c0a9b1e4c0a9b1e4c0a, size: 1, format: x}
metrics: {accuracy: 0.9}
"""


def _record_problems(**changes: Any) -> list[str]:
    data = {**parse_yaml(RECORD, "r"), **changes}
    fast = _fast_check("version")
    assert fast is not None
    assert fast(data) == validator("version").is_valid(data)
    return [str(p) for p in schema_problems("version", data, "r.yaml")]


def test_a_valid_record_has_no_schema_problem() -> None:
    assert _record_problems() == []


@pytest.mark.parametrize(
    "created_at", ["yesterday", "2026-02-30T00:00:00Z", "2026-11-20 09:12:44Z", "2026-11-20"]
)
def test_created_at_must_be_an_rfc3339_date_time(created_at: str) -> None:
    """Issue 10, what an editor reads: `created_at: 'yesterday'` ignored `format: date-time`."""
    (problem,) = _record_problems(created_at=created_at)
    assert problem.startswith("r.yaml: created_at:") and "date-time" in problem


@pytest.mark.parametrize("version", ["v1.0.0\n", "v\u0661.0.0", "v1.\u0660.0"])
def test_a_version_with_a_trailing_newline_or_non_ascii_digits_is_refused(version: str) -> None:
    """Issue 10, what an editor reads: Python's `$` and `\\d` let these through."""
    (problem,) = _record_problems(version=version)
    assert problem.startswith("r.yaml: version:") and "does not match" in problem


def test_auto_advance_yes_is_a_string_not_a_boolean(tmp_path: Path) -> None:
    """Issue 10, what an editor reads: `auto_advance: yes` was read as YAML 1.1's true."""
    text = GATED.replace(
        "    from: staging\n",
        "    from: staging\n    rollout:\n      strategy: canary\n      steps: [{weight: 100}]\n"
        "      auto_advance: yes\n",
    )
    data = parse_yaml(text, "p")
    assert data["stages"][1]["rollout"]["auto_advance"] == "yes"
    (problem,) = schema_problems("policy", data, "policies/default.yaml")
    assert "stages[1].rollout.auto_advance" in str(problem)


def _published_patterns() -> list[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for kind in KINDS:
        walk(schema(kind))
    return sorted(found)


@pytest.mark.parametrize("pattern", _published_patterns())
def test_published_patterns_are_ascii_and_read_as_ecmascript_reads_them(pattern: str) -> None:
    regress = pytest.importorskip("regress")
    assert "\\d" not in pattern and "\\s" not in pattern
    ecma = regress.Regex(pattern, flags="u")
    ours = _ecma(pattern)
    alphabet = "v0189.-_ azAZ\n\t\r\u0661\u00a0%dhms:*"

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.text(alphabet=alphabet, max_size=14))
    def agree(text: str) -> None:
        assert (ecma.find(text) is not None) == (ours.search(text) is not None), repr(text)

    agree()


@pytest.mark.parametrize(
    ("tail", "code", "needle"),
    [("oops: [\n", 2, "not valid YAML"), ("model: churn\n", 2, "duplicate key 'model'")],
)
def test_status_names_a_committed_record_that_does_not_parse(
    registry: Registry, tail: str, code: int, needle: str
) -> None:
    """Issue 10, a committed record that does not parse: status showed blank metrics, exit 0."""
    registry.register("churn", 0)
    path = registry.root / "models/churn/versions/v1.0.0.yaml"
    path.write_text(path.read_text() + tail)
    registry.git("commit", "-qam", "break the record")
    result = registry.run("status")
    assert result.exit_code == code, result.output
    (line,) = result.stderr.strip().splitlines()
    assert "models/churn/versions/v1.0.0.yaml:" in line and needle in line


def test_status_names_a_committed_record_that_breaks_its_schema(registry: Registry) -> None:
    """Issue 10, a committed record that does not parse: a schema problem exits 1."""
    registry.register("churn", 0)
    path = registry.root / "models/churn/versions/v1.0.0.yaml"
    path.write_text(path.read_text().replace("accuracy: 0.9", "accuracy: high"))
    registry.git("commit", "-qam", "break the record")
    result = registry.run("status")
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("modelreg: error: models/churn/versions/v1.0.0.yaml: metrics.accuracy")
