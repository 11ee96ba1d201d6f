"""DVC pointers as `dvc add` writes them are read without YAML; the answer is the same."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from modelreg.adapters.artifacts import _outs

md5s = st.text("0123456789abcdef", min_size=32, max_size=32)
names = st.text("abcXYZ019._-", min_size=1, max_size=30)


def yaml_outs(text: bytes) -> object:
    """What a YAML parser says `outs` is (None when the text is not YAML)."""
    try:
        return (yaml.load(text, Loader=yaml.BaseLoader) or {}).get("outs")
    except (yaml.YAMLError, AttributeError):
        return None


def pointer(md5: str, size: int, path: str) -> bytes:
    return f"outs:\n- md5: {md5}\n  size: {size}\n  hash: md5\n  path: {path}\n".encode()


@given(md5s, st.integers(0, 10**12), names)
def test_a_canonical_pointer_reads_as_yaml_reads_it(md5: str, size: int, path: str) -> None:
    text = pointer(md5, size, path)
    assert _outs(text) == yaml_outs(text)


@given(
    md5s, st.integers(0, 10**6), names, st.integers(0, 80), st.sampled_from(["#", " ", "\n", "x"])
)
def test_any_edit_of_a_pointer_still_reads_as_yaml_reads_it(
    md5: str, size: int, path: str, at: int, char: str
) -> None:
    raw = pointer(md5, size, path).decode()
    text = (raw[:at] + char + raw[at:]).encode()
    assert _outs(text) == yaml_outs(text)
