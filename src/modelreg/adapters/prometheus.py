"""Online metrics over HTTP: Prometheus's query API and `modelreg serve`'s stats endpoint.

The only place that talks to either. Unreachable, timing out or answering 5xx is a
ServiceError (exit 4, nothing changed); a query Prometheus refuses as malformed (its
400 `bad_data`) is a UsageError (exit 2) carrying Prometheus's own message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from modelreg.errors import ServiceError, UsageError

Kind = Literal["prometheus", "serve"]


class Sample(NamedTuple):
    """One series of an instant vector: its labels and its value."""

    labels: Mapping[str, str]
    value: float


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    """Status and body of a GET; any answer counts, only no answer raises."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read() or b"")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServiceError(
            f"cannot reach the metrics server at {url.split('?')[0]}: {reason}",
            hint="is Prometheus (or modelreg serve) running there? nothing was changed",
        ) from None


def probe(url: str, *, timeout: float = 10.0) -> Kind:
    """Prometheus answers `/api/v1/status/buildinfo`; `modelreg serve` answers it 404."""
    status, _ = _get(url.rstrip("/") + "/api/v1/status/buildinfo", timeout)
    if status == 200:
        return "prometheus"
    if status == 404:
        return "serve"
    raise ServiceError(f"{url}: /api/v1/status/buildinfo answered HTTP {status}")


def instant_query(url: str, promql: str, *, timeout: float = 10.0) -> list[Sample]:
    """`GET /api/v1/query`: the instant vector (or scalar) the query returns."""
    import urllib.parse

    full = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    status, raw = _get(full, timeout)
    body = _json(raw)
    if status == 400 or body.get("errorType") == "bad_data":
        error = body.get("error") or raw.decode("utf-8", "replace")[:200]
        raise UsageError(f"Prometheus refused the query {promql}: {error}")
    if status != 200 or body.get("status") != "success":
        error = body.get("error") or f"HTTP {status}"
        raise ServiceError(f"Prometheus at {url} failed the query {promql}: {error}")
    try:
        data = body["data"]
        if data.get("resultType") == "scalar":
            return [Sample({}, float(data["result"][1]))]
        return [Sample(dict(r.get("metric", {})), float(r["value"][1])) for r in data["result"]]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ServiceError(f"Prometheus at {url}: unexpected answer ({exc})") from None


def serve_stats(url: str, model: str, stage: str, interval: int, *, timeout: float = 10.0) -> Any:
    """`GET /v1/stats` of `modelreg serve`: per-version counts over the last `interval` s."""
    import urllib.parse

    query = urllib.parse.urlencode({"model": model, "stage": stage, "interval": interval})
    status, raw = _get(url.rstrip("/") + "/v1/stats?" + query, timeout)
    if status == 404:
        raise UsageError(
            f"{url} serves no stats for {model} in {stage}",
            hint="is modelreg serve serving that stage? (or give a Prometheus URL)",
        )
    if status != 200:
        raise ServiceError(f"{url}/v1/stats answered HTTP {status}")
    body = _json(raw)
    if not isinstance(body.get("versions"), dict):
        raise ServiceError(f"{url}/v1/stats: no 'versions' in the answer")
    return body


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
