"""Deprecated: the names docs/drift.md once promised here, kept so old code still runs.

Import them from where they live now: `modelreg.registry.drift_rules` (DriftRules,
`drift_schema()`), `modelreg.monitoring.profile` (Profile, build_profile),
`modelreg.monitoring.compare` (compare) and `modelreg.monitoring.concept`
(concept_drift). This module goes away in a later release.
"""

from __future__ import annotations

import warnings
from typing import Any

from modelreg.monitoring.compare import compare
from modelreg.monitoring.concept import concept_drift
from modelreg.monitoring.profile import Profile, build_profile
from modelreg.registry.drift_rules import DriftRules, MethodRule, drift_schema

warnings.warn(
    "modelreg.drift is deprecated: import DriftRules from modelreg.registry.drift_rules, "
    "build_profile/Profile from modelreg.monitoring.profile, compare from "
    "modelreg.monitoring.compare and concept_drift from modelreg.monitoring.concept",
    DeprecationWarning,
    stacklevel=2,
)

DRIFT_SCHEMA: dict[str, Any] = drift_schema()

__all__ = [
    "DRIFT_SCHEMA",
    "DriftRules",
    "MethodRule",
    "Profile",
    "build_profile",
    "compare",
    "concept_drift",
]
