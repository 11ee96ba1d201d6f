"""Any mutation of any registry file: `validate` answers 0, 1 or 2 with one line per problem,
never a traceback, a hang or a write; conflict markers are reported with file and line."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Prebuilt, Registry, tree_state, trials
from reviewing import approve

TIME_LIMIT = 10.0  # seconds one `validate` may take on a small registry
STAGE = "models/churn/stages/staging.yaml"
POLICY = "policies/default.yaml"
FILES = {
    "model.yaml": "models/churn/model.yaml",
    "version record": "models/churn/versions/v1.1.0.yaml",
    "stage file": STAGE,
    "legacy stages.yaml": "models/iris/stages.yaml",
    "policy": POLICY,
    "DVC pointer": "models/churn/artifacts/v1.0.0/model.pkl.dvc",
}


def _merge(reg: Registry, branch: str) -> None:
    approve(reg, branch)
    reg.ok("pr", "merge", branch)
    reg.git("pull", "-q", "--ff-only")


def two_models(reg: Registry) -> None:
    """churn v1.0.0 and v1.1.0 with v1.0.0 promoted to staging (one file per stage), and
    iris v1.0.0 staged in the older one-file stages.yaml; everything committed and pushed."""
    reg.register("churn", 0, "--push", accuracy=0.90, f1=0.85)
    reg.register("churn", 1, "--push", accuracy=0.93, f1=0.88)
    reg.ok("promote", "churn", "v1.0.0", "--to", "staging")
    _merge(reg, "modelreg/promote/churn/staging/v1.0.0")
    reg.register("iris", 2, "--push")
    reg.write("models/iris/stages.yaml", "staging:\n  version: v1.0.0\n")
    reg.git("add", "models/iris/stages.yaml")
    reg.git("commit", "-qm", "Stage iris by hand, as before per-stage files")
    reg.git("push", "-q", "origin", "main")


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    registry = prebuilt.registry(two_models)
    assert registry.git("status", "--porcelain") == ""
    assert registry.run("validate").exit_code == 0
    return registry


# -- mutations -----------------------------------------------------------------------------

Mutation = Callable[[bytes], bytes]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def _at_line(index: int, change: Callable[[bytes], bytes]) -> Mutation:
    def apply(data: bytes) -> bytes:
        lines = _lines(data)
        i = index % len(lines)
        return b"".join([*lines[:i], change(lines[i]), *lines[i + 1 :]])

    return apply


def _at_byte(index: int, change: Callable[[bytes, int], bytes]) -> Mutation:
    return lambda data: change(data, index % (len(data) + 1))


def _insert(index: int, text: bytes) -> Mutation:
    return _at_byte(index, lambda data, i: data[:i] + text + data[i:])


def _flip(index: int, mask: int) -> Mutation:
    def apply(data: bytes, i: int) -> bytes:
        return data[:i] + bytes([(data[i : i + 1] or b"\0")[0] ^ mask]) + data[i + 1 :]

    return _at_byte(index, apply)


def _dedent(line: bytes) -> bytes:
    return line[1:] if line.startswith(b" ") else line


INSERTS = [
    *(b"&a ", b"*a", b"<<: *a\n", b"a: &a [x]\n", b"b: *a\n", b"\t", b"\x00", b"\xef\xbb\xbf"),
    b'"k\\ny\\e[2J": 1\n',  # a key holding a line break and a terminal escape
]
BAD_BYTES = [b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\x80abc", b"\x1b[31m", b"\r"]
CONFLICT = b"<<<<<<< HEAD\n", b"=======\n", b">>>>>>> branch\n"

indices = st.integers(min_value=0, max_value=10_000)
mutations: st.SearchStrategy[tuple[str, Mutation]] = st.one_of(
    st.tuples(indices, st.integers(1, 255)).map(
        lambda t: (
            f"flip byte {t[0]} by {t[1]}",
            _flip(t[0], t[1]),
        )
    ),
    indices.map(lambda i: (f"truncate at {i}", _at_byte(i, lambda d, j: d[:j]))),
    indices.map(lambda i: (f"delete line {i}", _at_line(i, lambda line: b""))),
    indices.map(lambda i: (f"duplicate line {i}", _at_line(i, lambda line: line + line))),
    st.tuples(indices, st.sampled_from(INSERTS)).map(
        lambda t: (f"insert {t[1]!r} at byte {t[0]}", _insert(t[0], t[1]))
    ),
    st.tuples(indices, st.sampled_from(INSERTS)).map(
        lambda t: (f"insert {t[1]!r} before line {t[0]}", _at_line(t[0], lambda line: t[1] + line))
    ),
    st.tuples(indices, st.integers(1, 4)).map(
        lambda t: (f"indent line {t[0]} by {t[1]}", _at_line(t[0], lambda line: b" " * t[1] + line))
    ),
    indices.map(lambda i: (f"dedent line {i}", _at_line(i, _dedent))),
    indices.map(
        lambda i: (f"tab-indent line {i}", _at_line(i, lambda line: re.sub(rb"^ +", b"\t", line)))
    ),
    st.just(("BOM", lambda d: b"\xef\xbb\xbf" + d)),
    st.tuples(indices, st.integers(1_000, 200_000)).map(
        lambda t: (
            f"line {t[0]} made {t[1]} bytes long",
            _at_line(t[0], lambda line: line.rstrip(b"\n") + b"x" * t[1] + b"\n"),
        )
    ),
    st.tuples(indices, st.sampled_from(BAD_BYTES)).map(
        lambda t: (f"insert {t[1]!r} at byte {t[0]}", _insert(t[0], t[1]))
    ),
    indices.map(
        lambda i: (
            f"conflict around line {i}",
            _at_line(i, lambda line: CONFLICT[0] + line + CONFLICT[1] + line + CONFLICT[2]),
        )
    ),
    st.binary(max_size=64).map(lambda b: (f"replaced by {b!r}", lambda d: b)),
)


# -- running validate under a time limit ----------------------------------------------------


@dataclass
class Run:
    result: Result | None = None
    error: str | None = None


def _validate(reg: Registry) -> Result:
    """`modelreg validate` in-process, failing the test if it takes over TIME_LIMIT."""
    run = Run()

    def target() -> None:
        try:
            run.result = reg.run("validate")
        except BaseException:  # any escape is what the test looks for
            run.error = traceback.format_exc()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(TIME_LIMIT)
    assert not thread.is_alive(), f"validate still running after {TIME_LIMIT} s"
    assert run.error is None, run.error
    assert run.result is not None
    return run.result


PROBLEM = re.compile(r"^(models|policies)/[^:\s]+(:\d+(:\d+)?)?: \S")
# validate's one warning line for records that carry only an md5 (they name examples).
WEAKER = re.compile(r"^\d+ record\(s\) carry only an md5, no sha256 \(weaker; ")
SUMMARY = re.compile(r"^(\d+ problems?|registry is valid) \(\d+ files? checked\)$")


def assert_one_line_per_problem(result: Result) -> None:
    """Exit 0, 1 or 2; stdout holds problems and the verdict, stderr warnings, each line
    one problem naming its file, none empty, no traceback."""
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    out = result.stdout.splitlines()
    err = result.stderr.splitlines()
    for line in out + err:
        assert line.strip(), f"an empty line in:\n{result.output}"
        assert len(line) < 2_000, f"a line of {len(line)} characters"
    lines = [line for line in out + err if not SUMMARY.match(line)]
    for line in lines:
        body = line.removeprefix("warning: ")
        summary = line.startswith("warning: ") and WEAKER.match(body)
        assert PROBLEM.match(body) or summary, f"not one problem naming its file: {line!r}"
    verdicts = [line for line in out + err if SUMMARY.match(line)]
    assert len(verdicts) == 1, result.output
    problems = [line for line in out if not SUMMARY.match(line)]
    assert bool(problems) == (result.exit_code != 0), result.output


def check_mutation(reg: Registry, rel: str, label: str, mutate: Mutation) -> None:
    path = reg.root / rel
    original = path.read_bytes()
    mutated = mutate(original)
    try:
        path.write_bytes(mutated)
        before = tree_state(reg.root)
        result = _validate(reg)
        assert tree_state(reg.root) == before, f"validate wrote to the tree ({label})"
        assert path.read_bytes() == mutated
        try:
            assert_one_line_per_problem(result)
        except AssertionError as exc:
            raise AssertionError(f"{rel}, {label}: {exc}\n{result.output[:3000]}") from None
    finally:
        path.write_bytes(original)
    assert reg.git("status", "--porcelain") == ""


@pytest.mark.parametrize("kind", list(FILES))
@settings(
    max_examples=trials(thorough=400, ci=15),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutation=mutations)
def test_any_mutation_of_a_registry_file_gets_an_exit_code_and_one_line_per_problem(
    reg: Registry, kind: str, mutation: tuple[str, Mutation]
) -> None:
    """Issue 10, Must show (fuzz test): any mutation of a valid file gives exit 0/1/2 with
    one line per problem, never a traceback, a hang or a write."""
    label, mutate = mutation
    check_mutation(reg, FILES[kind], label, mutate)


def test_a_problem_echoing_a_long_or_hostile_value_stays_one_short_line(reg: Registry) -> None:
    """Issue 10, Must show (fuzz test), one line per problem: a 100 kB value or a key
    holding a line break was echoed whole, one problem spanning kilobytes or two lines."""
    reg.write(STAGE, "version: v1.0.0" + "x" * 100_000 + "\n")
    reg.write(POLICY, reg.git("show", f"HEAD:{POLICY}") + '"k\\ny\\e[2J": 1\n')
    result = _validate(reg)
    assert_one_line_per_problem(result)
    assert result.exit_code == 1
    problems = result.stdout.splitlines()
    assert len(problems) == 2, result.output
    assert problems[0].startswith(f"{POLICY}: (top level): unknown key 'k\\ny\\x1b[2J'")
    assert problems[1].startswith(f"{STAGE}: version: 'v1.0.0xxx")
    assert "(100008 characters)" in problems[1] and len(problems[1]) < 300


def test_a_long_artifact_path_in_a_record_stays_one_short_line(reg: Registry) -> None:
    """Issue 10, Must show (fuzz test), one line per problem: the missing pointer of an
    edited `artifact.path` was named in full, one problem line as long as the path."""
    record = reg.root / FILES["version record"]
    text = record.read_text().replace("/model.pkl\n", "/model.pkl" + "x" * 50_000 + "\n")
    record.write_text(text)
    result = _validate(reg)
    assert_one_line_per_problem(result)
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{FILES['version record']}: artifact.path: no DVC pointer models/")
    assert first.endswith("characters)") and len(first) <= 600


# -- a real `git merge` conflict left in the checkout -----------------------------------------


def _conflict(reg: Registry, rel: str, old: str, ours: str, theirs: str) -> None:
    """Two branches change the same line of `rel`; `git merge` fails and leaves markers."""
    path = reg.root / rel
    reg.git("checkout", "-q", "-b", "theirs")
    path.write_text(path.read_text().replace(old, theirs, 1))
    reg.git("commit", "-qam", f"theirs: {theirs}")
    reg.git("checkout", "-q", "main")
    path.write_text(path.read_text().replace(old, ours, 1))
    reg.git("commit", "-qam", f"ours: {ours}")
    merge = subprocess.run(["git", "merge", "theirs"], cwd=reg.root, capture_output=True)
    assert merge.returncode != 0
    assert b"CONFLICT (content)" in merge.stdout
    assert path.read_bytes().count(b"<<<<<<< HEAD\n") == 1


def _marker_line(reg: Registry, rel: str) -> int:
    lines = (reg.root / rel).read_text().splitlines()
    return lines.index("<<<<<<< HEAD") + 1


@pytest.mark.parametrize(
    ("rel", "old", "ours", "theirs"),
    [
        (STAGE, "version: v1.0.0", "version: v1.0.0  # hold: incident 42", "version: v1.1.0"),
        (POLICY, "reviews: 1 ", "reviews: 2 ", "reviews: 0 "),
    ],
    ids=["stage file", "policy"],
)
def test_a_merge_conflict_left_in_a_file_is_reported_with_file_and_marker_line(
    reg: Registry, rel: str, old: str, ours: str, theirs: str
) -> None:
    """Issue 11 §1, second bullet: conflict markers and other unparsable YAML are reported
    with file and line. Today the parser names a later line, or none."""
    _conflict(reg, rel, old, ours, theirs)
    line = _marker_line(reg, rel)
    before = tree_state(reg.root)
    result = _validate(reg)
    assert_one_line_per_problem(result)
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == (
        f"{rel}:{line}: a merge conflict marker (<<<<<<<) is left in the file (resolve the "
        "conflict: keep one side, delete the marker lines, then `git add` it)"
    )
    assert tree_state(reg.root) == before


def test_status_in_a_checkout_with_a_conflict_shows_the_committed_state(reg: Registry) -> None:
    """Issue 11 §1, second bullet: status reads committed state, so a conflict left in the
    working tree neither breaks it nor shows in it."""
    _conflict(
        reg, STAGE, "version: v1.0.0", "version: v1.0.0  # hold: incident 42", "version: v1.1.0"
    )
    before = tree_state(reg.root)
    result = reg.run("status", "--json")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    rows = json.loads(result.stdout)["rows"]
    staged = {(r["model"], r["stage"], r["version"]) for r in rows if r["stage"]}
    assert staged == {("churn", "staging", "v1.0.0"), ("iris", "staging", "v1.0.0")}
    assert tree_state(reg.root) == before
    assert "<<<<<<< HEAD" in (reg.root / STAGE).read_text()


@pytest.mark.parametrize("bad", [b"\x00", b"\xff", b"\xc3("], ids=["NUL", "0xff", "cut UTF-8"])
def test_a_byte_the_reader_refuses_is_reported_with_its_line(reg: Registry, bad: bytes) -> None:
    """Issue 11 §1, second bullet: unparsable YAML is reported with file and line. A NUL
    or a non-UTF-8 byte was reported with the file alone."""
    rel = FILES["version record"]
    lines = (reg.root / rel).read_bytes().splitlines(keepends=True)
    lines[5] = lines[5].replace(b": ", b": " + bad, 1)
    (reg.root / rel).write_bytes(b"".join(lines))
    result = _validate(reg)
    assert_one_line_per_problem(result)
    assert result.exit_code == 2
    assert result.stdout.startswith(f"{rel}:6:"), result.output
