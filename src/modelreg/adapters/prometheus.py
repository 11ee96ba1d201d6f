"""Prometheus's HTTP API: instant queries, nothing else (the only place that talks to it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

from modelreg.errors import ForgeError


class Sample(NamedTuple):
    """One series of an instant vector: its labels and its value."""

    labels: Mapping[str, str]
    value: float


def instant_query(url: str, promql: str, *, timeout: float = 10.0) -> list[Sample]:
    """`GET /api/v1/query`; an unreachable server or a bad answer is a ForgeError (exit 4)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    full = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(full, timeout=timeout) as resp:
            body = json.load(resp)
        result = body.get("data", {}).get("result", [])
        return [Sample(dict(r.get("metric", {})), float(r["value"][1])) for r in result]
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ForgeError(f"cannot query Prometheus at {url}: {exc}") from None
