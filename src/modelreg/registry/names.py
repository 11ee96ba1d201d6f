"""The one name rule (DESIGN.md §6): names of models, stages, policies and versions that
are always safe as a path, a Git branch name, a tag and a Kubernetes name or label value.

New writes refuse anything else; readers stay lenient so that names an older release
accepted remain readable (validate reports them).
"""

from __future__ import annotations

import re

from modelreg.errors import UsageError

# ASCII only, full match: `[0-9]`, never `\d` (which takes Arabic-Indic digits), and
# `fullmatch`, never `$` (which also matches before a trailing newline).
NAME_PATTERN = r"[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?"
VERSION_PATTERN = (
    r"v(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)"
    r"(?:-[0-9a-z-]+(?:\.[0-9a-z-]+)*)?"
)
VERSION_MAX = 64
_NAME = re.compile(NAME_PATTERN)
_VERSION = re.compile(VERSION_PATTERN)

_NAME_FIX = (
    "use 1-40 characters: lowercase ASCII letters, digits, '-' and '_', "
    "starting and ending with a letter or digit"
)


def is_name(text: str) -> bool:
    """True when `text` is a valid model, stage or policy name."""
    return _NAME.fullmatch(text) is not None


def is_version(text: str) -> bool:
    """True when `text` is a valid version: `v` + semver, no build metadata."""
    return (
        len(text) <= VERSION_MAX
        and _VERSION.fullmatch(text) is not None
        and not text.endswith(".lock")
    )


def check_name(text: str, what: str = "model name") -> str:
    """`text` if it follows the name rule, else a UsageError naming the fix."""
    if not is_name(text):
        raise UsageError(f"{what} {_shown(text)} is not allowed", hint=_NAME_FIX)
    return text


def check_version(text: str, what: str = "version") -> str:
    """`text` if it follows the version rule, else a UsageError naming the fix."""
    if not is_version(text):
        raise UsageError(
            f"{what} {_shown(text)} is not allowed",
            hint=f"use v + semver such as v1.4.0 or v2.0.0-rc.1, at most {VERSION_MAX} "
            "characters, no +build",
        )
    return text


def _shown(text: str) -> str:
    """The name as typed, shortened and with control characters visible."""
    return repr(text if len(text) <= 60 else text[:57] + "...")
