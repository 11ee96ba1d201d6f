"""Turning results into text a person reads, or JSON a program reads."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import click


def to_json(obj: Any) -> str:
    """Dataclasses (nested), mappings and lists as indented JSON."""
    return json.dumps(_plain(obj), indent=2, sort_keys=False)


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = getattr(obj, "__json_fields__", None) or [f.name for f in dataclasses.fields(obj)]
        out = {name: _plain(getattr(obj, name)) for name in names}
        for name in getattr(obj, "__json_extra__", ()):
            out[name] = _plain(getattr(obj, name))
        return out
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def emit(data: Any, as_json: bool, text: str) -> None:
    """Print `data` as JSON when asked for, else the text shaped for a person."""
    click.echo(to_json(data) if as_json else text)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def metrics_text(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{k}={_num(v)}" for k, v in metrics.items())


def _num(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def short(sha: str | None) -> str:
    return sha[:8] if sha else "-"


def day(iso: str | None) -> str:
    """'2026-11-20T09:12:44+00:00' → '2026-11-20 09:12'."""
    return iso.replace("T", " ")[:16] if iso else "-"
