"""Consumers of the registry: `status --all`, `show`."""

from __future__ import annotations

import json

from conftest import Prebuilt, Registry


def _three_versions(reg: Registry) -> None:
    reg.register("churn", 0, accuracy=0.90, f1=0.85)
    reg.register("churn", 1, accuracy=0.92, f1=0.86)
    reg.register("churn", 2, accuracy=0.91, f1=0.88)
    reg.git("push", "-q", "origin", "main")


def test_status_all_lists_every_version(prebuilt: Prebuilt) -> None:
    reg = prebuilt.registry(_three_versions)
    plain = json.loads(reg.ok("status", "--json").output)
    assert [r["version"] for r in plain["rows"]] == ["v1.2.0"]
    every = json.loads(reg.ok("status", "--all", "--json").output)
    assert [r["version"] for r in every["rows"]] == ["v1.2.0", "v1.1.0", "v1.0.0"]
    text = reg.ok("status", "--all").output
    assert "(latest)" in text and "v1.0.0" in text
