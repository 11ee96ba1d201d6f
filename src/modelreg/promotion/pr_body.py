"""The markdown a reviewer decides from: what changes, metrics side by side, how to undo it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelreg.registry.records import Comparison, VersionRecord
from modelreg.registry.snapshot import version_yaml

MARKER = "<!-- modelreg:pr -->"


def comparison(candidate: VersionRecord, current: VersionRecord | None) -> str:
    """Metrics with deltas, changed params, data digest and signature changes, record links."""
    parts = [_metrics_table(candidate, current)]
    if current is not None:
        parts += [
            _params(candidate.params, current.params),
            _data(candidate, current),
            _signature(candidate, current),
        ]
    parts.append(_links(candidate, current))
    return "\n\n".join(p for p in parts if p)


def _metrics_table(cand: VersionRecord, cur: VersionRecord | None) -> str:
    """One table: the paired evaluation recorded against `cur` when there is one (both on
    the same rows), else the registered metrics, saying when they were measured apart."""
    paired = cand.comparison(cur.version) if cur else None
    new_metrics = paired.metrics if paired else cand.metrics
    old_metrics = paired.baseline_metrics if paired else (cur.metrics if cur else {})
    names = list(new_metrics) + [m for m in old_metrics if m not in new_metrics]
    head = f"| metric | {cand.version} (candidate) |"
    head += f" {cur.version} (current) | delta |" if cur else ""
    rule = "|---|---:|" + ("---:|---:|" if cur else "")
    rows = [head, rule]
    for name in names:
        new = new_metrics.get(name)
        row = f"| {name} | {_fmt(new)} |"
        if cur:
            old = old_metrics.get(name)
            delta = new - old if new is not None and old is not None else None
            row += f" {_fmt(old)} | {_signed(delta)} |"
        rows.append(row)
    return _metrics_title(cand, cur, paired) + "\n\n" + "\n".join(rows)


def _metrics_title(
    cand: VersionRecord, cur: VersionRecord | None, paired: Comparison | None
) -> str:
    if paired is not None:
        by = f" by `{paired.by}`" if paired.by else ""
        return (
            f"**Metrics on the same rows**: both versions scored{by} on `{paired.dataset_path}` "
            f"(md5 `{paired.dataset_md5[:12]}`), recorded in {cand.version}'s record"
        )
    where = f" on `{cand.dataset}`" if cand.dataset else ""
    if cur is None or (cand.dataset is not None and cand.dataset == cur.dataset):
        return f"**Metrics**{where}"
    theirs = f"`{cur.dataset}`" if cur.dataset else "an unnamed dataset"
    mine = f"`{cand.dataset}`" if cand.dataset else "an unnamed dataset"
    return (
        f"**Registered metrics**, not comparable: {cand.version} on {mine}, "
        f"{cur.version} on {theirs} (deltas mix two datasets)"
    )


def _params(new: Mapping[str, Any], old: Mapping[str, Any]) -> str:
    keys = sorted(set(new) | set(old))
    changed = [k for k in keys if new.get(k) != old.get(k)]
    if not changed:
        return "**Params:** unchanged."
    rows = [f"| {k} | {old.get(k, '—')} | {new.get(k, '—')} |" for k in changed]
    return "**Params changed**\n\n| param | current | candidate |\n|---|---|---|\n" + "\n".join(
        rows
    )


def _data(cand: VersionRecord, cur: VersionRecord) -> str:
    a, b = cur.data, cand.data
    if a is None and b is None:
        return "**Training data:** not recorded."
    if a and b and a.md5 == b.md5:
        return f"**Training data:** unchanged (`{b.path}`, md5 `{b.md5[:12]}`)."
    old = f"`{a.path}` md5 `{a.md5[:12]}` ({a.rows} rows)" if a else "not recorded"
    new = f"`{b.path}` md5 `{b.md5[:12]}` ({b.rows} rows)" if b else "not recorded"
    return f"**Training data changed:** {old} → {new}."


def _signature(cand: VersionRecord, cur: VersionRecord) -> str:
    if cand.signature is None or cur.signature is None:
        return "**Input signature:** not recorded for both versions."
    new, old = cand.signature.types(), cur.signature.types()
    notes = [f"dropped `{n}`" for n in old if n not in new]
    notes += [f"retyped `{n}` {old[n]} → {new[n]}" for n in old if n in new and new[n] != old[n]]
    notes += [f"added `{n}` ({new[n]})" for n in new if n not in old]
    return "**Input signature:** " + ("; ".join(notes) if notes else "unchanged") + "."


def _links(cand: VersionRecord, cur: VersionRecord | None) -> str:
    links = [_link(r) for r in (cand, cur) if r is not None]
    return "Records: " + " vs ".join(links) + "."


def _link(rec: VersionRecord) -> str:
    path = version_yaml(rec.model, rec.version)
    return f"[`{path}`]({path})"


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def _signed(v: float | None) -> str:
    return "—" if v is None else f"{v:+.4g}"
