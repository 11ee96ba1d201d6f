"""One error model: every user mistake is one line and exit 2, an outside service that fails
is exit 4, and anything unforeseen is exit 3 with one line saying how to report it."""

from __future__ import annotations

import shutil

import pytest
from click.testing import Result
from hypothesis import given
from hypothesis import strategies as st

from conftest import Prebuilt, Registry
from modelreg import errors
from modelreg.errors import ModelregError, NotFound, UsageError, ValidationError
from modelreg.registry import names
from test_deploy import sample_csv
from test_predict import deployed_canary


def one_line_error(result: Result, code: int) -> str:
    """The single stderr line of a failed command, after checking its exit code."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("modelreg: error: ")
    return lines[0]


def test_a_300_character_model_name_is_refused_in_one_line(registry: Registry) -> None:
    """Issue 9: `register <300 chars>` raised `OSError: File name too long`."""
    before = registry.git("status", "--porcelain")
    art, met = registry.artifact("m"), registry.metrics("m", accuracy=0.9)
    result = registry.run("register", "a" * 300, "--artifact", str(art), "--metrics", str(met))
    line = one_line_error(result, 2)
    assert "model name" in line and "lowercase" in line
    assert registry.git("status", "--porcelain") == before


@pytest.mark.parametrize("option", ["--metrics", "--params", "--sample"])
def test_a_file_that_is_not_utf8_is_refused_naming_the_option_and_line(
    registry: Registry, option: str
) -> None:
    """Issue 9: a non-UTF-8 --metrics/--params/--sample raised UnicodeDecodeError."""
    bad = registry.work / ("bad.csv" if option == "--sample" else "bad.yaml")
    bad.write_bytes(b"a,b\n\xff,1\n" if option == "--sample" else b"ok: 1\nacc\xff: 1\n")
    args = {"--metrics": str(registry.metrics("m", accuracy=0.9))}
    args[option] = str(bad)
    art = registry.artifact("m")
    flat = [x for kv in args.items() for x in kv]
    result = registry.run("register", "churn", "--artifact", str(art), *flat)
    line = one_line_error(result, 2)
    assert f"{option} {bad}:2: not UTF-8 text (byte 0xff)" in line
    assert "save the file as UTF-8" in line
    assert registry.git("status", "--porcelain") == ""


@pytest.fixture
def reg(prebuilt: Prebuilt) -> Registry:
    return prebuilt.registry(deployed_canary)


@pytest.mark.parametrize("option", ["--output", "--log"])
def test_an_unwritable_predict_output_or_log_is_one_line(reg: Registry, option: str) -> None:
    """Issue 9: an unwritable `predict --output`/`--log` path raised a traceback."""
    blocker = reg.work / "not-a-folder"
    blocker.write_text("a file where a folder is needed")
    target = blocker / ("out.csv" if option == "--output" else "logs")
    sample = sample_csv(reg.work)
    result = reg.run(
        "predict", "churn", "--stage", "production", "--input", str(sample), option, str(target)
    )
    line = one_line_error(result, 2)
    assert f"{option} " in line and "cannot write" in line and "choose a writable path" in line


def test_an_injected_internal_error_exits_3_in_one_line(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception modelreg did not raise on purpose is exit 3, never exit 1 ("failed")."""
    from modelreg.registry import status

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected\nsecond line")

    monkeypatch.setattr(status, "status", boom)
    line = one_line_error(registry.run("status"), 3)
    assert line == (
        "modelreg: error: internal error: RuntimeError: injected "
        "(re-run with --traceback and report it)"
    )
    shown = registry.run("--traceback", "status")
    assert shown.exit_code == 3
    assert "Traceback" in shown.stderr and "RuntimeError: injected" in shown.stderr


def test_an_unreachable_origin_exits_4(registry: Registry) -> None:
    """An origin `register --push` cannot reach is an outside service failing (4), not a
    failed check; it fetches first, so nothing is written."""
    shutil.move(registry.origin, registry.origin.with_name("moved.git"))
    art, met = registry.artifact("m"), registry.metrics("m", accuracy=0.9)
    result = registry.run(
        "register", "churn", "--artifact", str(art), "--metrics", str(met), "--push"
    )
    line = one_line_error(result, 4)
    assert "cannot fetch from origin: " in line
    assert registry.git("status", "--porcelain", "--untracked-files=all") == ""


def test_exit_codes_belong_to_the_error_classes() -> None:
    assert errors.UsageError("x").exit_code == 2
    assert errors.CheckFailed("x").exit_code == 1
    assert errors.GitError("x").exit_code == 3
    assert errors.ForgeError("x").exit_code == 4
    assert errors.ServiceError("x").exit_code == 4


def test_an_error_renders_file_line_key_and_fix_in_one_place() -> None:
    exc = ValidationError("not a number", file="policies/x.yaml", key="stages[0].soak", hint="fix")
    assert str(exc) == "policies/x.yaml: stages[0].soak: not a number (fix)"
    at_line = ValidationError("not valid YAML: bad", file="a.yaml", line=3, column=5)
    assert str(at_line) == "a.yaml:3:5: not valid YAML: bad"
    moved = NotFound("'v9' is not registered", hint="known: v1").within(
        file="models/m/stages/production.yaml", key="rollout"
    )
    assert (
        str(moved) == "models/m/stages/production.yaml: rollout: 'v9' is not registered (known: v1)"
    )
    assert isinstance(moved, NotFound) and moved.exit_code == 2


@given(st.text(max_size=80))
def test_the_name_rule_accepts_only_safe_names(text: str) -> None:
    if names.is_name(text):
        assert names.check_name(text) == text
        assert len(text) <= 40 and text.isascii() and "\n" not in text
        assert not text.startswith(("-", "_")) and not text.endswith(("-", "_", ".lock"))
        assert text == text.lower() and "/" not in text and ".." not in text
    else:
        with pytest.raises(UsageError) as caught:
            names.check_name(text)
        assert "lowercase" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "version", ["v1.0.0\n", "v١.0.0", "v1.0.0-rc.lock", "v1.0.0+build", "v01.0.0", "v" + "1" * 70]
)
def test_hostile_versions_are_refused(version: str) -> None:
    assert not names.is_version(version)
    with pytest.raises(ModelregError):
        names.check_version(version)


@pytest.mark.parametrize("version", ["v1.4.0", "v2.0.0-rc.1", "v0.0.1-alpha-2"])
def test_semver_versions_are_accepted(version: str) -> None:
    assert names.is_version(version)


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 files"), (1, "1 file"), (2, "2 files"), (1204, "1,204 files")]
)
def test_counts_say_their_noun_in_the_right_number(n: int, text: str) -> None:
    """Before: 'all 1 rules pass', '(1 files)'."""
    from modelreg.errors import plural

    assert plural(n, "file") == text
