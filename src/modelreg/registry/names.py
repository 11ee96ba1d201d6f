"""The one name rule (DESIGN.md §6): names of models, stages, policies and versions that
are always safe as a path, a Git branch name, a tag and a Kubernetes name or label value.

New writes refuse anything else; readers stay lenient so that names an older release
accepted remain readable (validate reports them).
"""

from __future__ import annotations

import hashlib
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


# -- reading: names an older release accepted ---------------------------------------------

# What releases before the one name rule wrote (`[a-z0-9][a-z0-9._-]*`, VERSION_RE), as a full,
# ASCII match without `..`: still safe as a path segment and in a git pathspec.
LEGACY_NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,99}"
LEGACY_VERSION_PATTERN = r"v[0-9]{1,18}\.[0-9]{1,18}\.[0-9]{1,18}(?:-[0-9a-z.-]{1,100})?"
_LEGACY_NAME = re.compile(LEGACY_NAME_PATTERN)
_LEGACY_VERSION = re.compile(LEGACY_VERSION_PATTERN)


def is_readable_name(text: str) -> bool:
    """True when `text` names a model, stage or policy some release may have written."""
    return _LEGACY_NAME.fullmatch(text) is not None and ".." not in text


def is_readable_version(text: str) -> bool:
    """True when `text` is a version some release may have written."""
    return _LEGACY_VERSION.fullmatch(text) is not None and ".." not in text


def check_readable_name(text: str, what: str = "model name") -> str:
    """`text` if a registry may hold it (reads stay lenient), else a UsageError (exit 2)."""
    if not is_readable_name(text):
        raise UsageError(f"{what} {_shown(text)} is not a name", hint=_NAME_FIX)
    return text


def check_readable_version(text: str, what: str = "version") -> str:
    """`text` if a registry may hold it as a version, else a UsageError (exit 2)."""
    if not is_readable_version(text):
        raise UsageError(f"{what} {_shown(text)} is not a version", hint="e.g. v1.4.0")
    return text


# -- MODEL@X --------------------------------------------------------------------------------


def parse_ref(ref: str) -> tuple[str, str | None, str | None]:
    """`churn`, `churn@v1.4.0` or `churn@production` as (model, version, stage).

    X after `@` is a version when it looks like one (`vMAJOR.MINOR.PATCH[-pre]`, as any
    release wrote them; no stage name does, as stage names hold no '.'), else a stage
    (so `churn@v2` is the stage `v2`). Names are checked as readers check them.
    """
    model, at, x = ref.partition("@")
    check_readable_name(model, "model name")
    if not at:
        return model, None, None
    if is_readable_version(x):
        return model, x, None
    return model, None, check_readable_name(x, f"stage in {_shown(ref)}")


# -- Kubernetes names -----------------------------------------------------------------------

K8S_MAX = 63  # a DNS label, and every name KServe derives must stay one
# The longest name KServe v0.20 (serverless mode, with Knative) derives from an
# InferenceService name: `<isvc>-<component>` (pkg/constants PredictorServiceName), whose
# Knative revision is `-00001` and whose Deployment is `<revision>-deployment`. The longest
# component is `transformer`, so `<isvc>-transformer-00001-deployment` (29 characters
# reserved) covers the predictor we render (`-predictor-00001-private`, 24), the tag host
# `latest-<isvc>-predictor` (17) and a transformer someone patches in. Knative hashes a child
# name past 63 itself; the reserve keeps every name readable instead.
KSERVE_SUFFIX_MAX = len("-transformer-00001-deployment")
K8S_NAME_MAX = K8S_MAX - KSERVE_SUFFIX_MAX  # 34
_PLAIN_MODEL = re.compile(r"[a-z][a-z0-9]*")
_PLAIN_STAGE = re.compile(r"[a-z0-9]+")


def k8s_name(model: str, stage: str) -> str:
    """The Kubernetes (DNS-1035) name of a model's deployment in a stage, e.g. an
    InferenceService: at most K8S_NAME_MAX characters, distinct for distinct pairs.

    `churn-production` when both names are plain (a letter, then letters and digits) and
    fit; otherwise a readable prefix (`_` and `.` turned to `-`, lowercase), `--`, and 8
    hex characters of the pair's SHA-256. A plain name has one '-' and never `--`, so the
    two forms never meet, and hashed names differ unless 32 bits of SHA-256 collide.
    """
    plain = f"{model}-{stage}"
    plain_parts = _PLAIN_MODEL.fullmatch(model) and _PLAIN_STAGE.fullmatch(stage)
    if plain_parts and len(plain) <= K8S_NAME_MAX:
        return plain
    digest = hashlib.sha256(f"{model}\0{stage}".encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-z0-9-]", "-", plain.lower())
    if not readable[:1].isalpha():
        readable = "m" + readable
    return f"{readable[: K8S_NAME_MAX - 10]}--{digest}"


_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")


def label_value(text: str) -> str:
    """`text` as a Kubernetes label value (<= 63, alphanumeric at both ends): itself when
    valid (every name the name rule accepts), else a cut prefix, `-` and 8 hex of its SHA-256."""
    if _LABEL_VALUE.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    head = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[: K8S_MAX - 9].strip("-_.")
    return f"{head}-{digest}" if head else digest
