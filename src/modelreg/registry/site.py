"""`site`: the registry as static HTML pages — models, stages, timelines, metric charts.

Read from one snapshot (the blob cache) and the cached stage history, so a registry of
20,000 versions renders without a git call per file. No server, no JavaScript.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from modelreg.registry.history import StageEvent, stage_events
from modelreg.registry.records import ModelSpec, Stages, VersionRecord
from modelreg.registry.snapshot import Snapshot, model_yaml, version_yaml
from modelreg.registry.status import stage_order
from modelreg.registry.workspace import Workspace

REPORTS_DIR = "reports"  # drift reports kept in the registry: reports/<model>/*.html
COLOURS = ("#5b7fa6", "#e07b39", "#2e7d32", "#8e44ad", "#c62828", "#607d8b")

_CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:1000px;padding:1rem;color:#1d232a}
h1{font-size:1.35rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
a{color:#1f5fa8}.meta{color:#555}.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse}th,td{border-bottom:1px solid #e2e5e9;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f6f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.stage{display:inline-block;padding:0 .4rem;margin:0 .2rem .2rem 0;border-radius:3px;
background:#e8eef5;font-size:.9em}
figure.chart{margin:.5rem 0;max-width:600px}figure.chart svg{width:100%;height:auto;display:block}
figcaption{font-weight:600}svg.spark{width:120px;height:28px}
ol.timeline{padding-left:1.2rem}ol.timeline li{margin:.2rem 0}
pre{background:#f4f6f8;padding:.5rem;overflow-x:auto;max-width:100%}
code{overflow-wrap:anywhere}
"""


@dataclass(frozen=True)
class SiteResult:
    """What `site` wrote: the folder, its page count and size, and the models it covers."""

    output: str
    pages: int
    bytes: int
    models: int
    versions: int
    reports: int


@dataclass(frozen=True)
class _Model:
    spec: ModelSpec
    stages: Stages
    order: list[str]
    records: dict[str, VersionRecord]
    events: list[StageEvent]
    reports: list[str]


def build_site(ws: Workspace, output: Path, *, pr_url: str | None = None) -> SiteResult:
    """Render the registry at HEAD into `output` (index, a page per model and version)."""
    snap = ws.snapshot("HEAD")
    models = snap.models()
    snap.checked_many("model", [p for p in map(model_yaml, models) if p in snap.files])
    stages = snap.preload_stages(models)
    snap.checked_many("version", [version_yaml(m, v) for m in models for v in snap.versions(m)])
    events: dict[str, list[StageEvent]] = {m: [] for m in models}
    for e in stage_events(snap):
        events.setdefault(e.model, []).append(e)
    output.mkdir(parents=True, exist_ok=True)
    reports = _copy_reports(ws.root / REPORTS_DIR, output / REPORTS_DIR)
    data = [_load(snap, m, stages.get(m), events[m], reports.get(m, [])) for m in models]
    writer = _Writer(output)
    writer.write("index.html", _index(data, pr_url))
    for m in data:
        writer.write(f"models/{m.spec.name}/index.html", _model_page(m, pr_url))
        for rec in m.records.values():
            writer.write(f"models/{m.spec.name}/{rec.version}.html", _version_page(m, rec, pr_url))
    return SiteResult(
        output=str(output),
        pages=writer.pages,
        bytes=writer.bytes,
        models=len(data),
        versions=sum(len(m.records) for m in data),
        reports=sum(len(r) for r in reports.values()),
    )


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root, self.pages, self.bytes = root, 0, 0
        self._dirs: set[Path] = set()

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        data = text.encode()
        path.write_bytes(data)
        self.pages += 1
        self.bytes += len(data)


def _copy_reports(source: Path, target: Path) -> dict[str, list[str]]:
    """Drift reports committed under reports/<model>/, copied beside the pages."""
    found: dict[str, list[str]] = {}
    if not source.is_dir():
        return found
    for page in sorted(source.glob("*/*.html")):
        model = page.parent.name
        (target / model).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target / model / page.name)
        found.setdefault(model, []).append(page.name)
    return found


def _load(
    snap: Snapshot,
    model: str,
    stages: Stages | None,
    events: list[StageEvent],
    reports: list[str],
) -> _Model:
    spec = snap.model(model)
    st = stages or Stages({})
    return _Model(
        spec=spec,
        stages=st,
        order=stage_order(snap, spec, st),
        records=snap.records(model, snap.versions(model)),
        events=events,
        reports=reports,
    )


# -- pages ------------------------------------------------------------------------------


def _page(title: str, body: str, up: str = "") -> str:
    nav = f'<p class="meta"><a href="{up}index.html">all models</a></p>' if up else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{nav}"
        f"<h1>{_e(title)}</h1>{body}</body></html>\n"
    )


def _e(text: object) -> str:
    return html.escape(str(text))


def _stages_html(m: _Model, link: str) -> str:
    out = []
    for stage in m.order:
        a = m.stages.assignments[stage]
        canary = f" (canary {a.rollout.candidate} {a.rollout.weight}%)" if a.rollout else ""
        out.append(
            f'<span class="stage">{_e(stage)}: <a href="{link}{_e(a.version)}.html">'
            f"{_e(a.version)}</a>{_e(canary)}</span>"
        )
    return "".join(out) or '<span class="meta">not serving</span>'


def _index(models: Sequence[_Model], pr_url: str | None) -> str:
    rows = []
    for m in models:
        name = m.spec.name
        link = f"models/{name}/"
        metric, values = _headline_series(m)
        spark = _sparkline(values, f"{metric} of {name} over versions")
        latest = next(reversed(m.records), "–") if m.records else "–"
        rows.append(
            f'<tr><td><a href="{link}index.html">{_e(name)}</a></td>'
            f"<td>{_stages_html(m, link)}</td><td>{_e(latest)}</td>"
            f'<td><figure class="chart" data-model="{_e(name)}">{spark}'
            f'<figcaption class="meta">{_e(metric or "no metrics")}</figcaption></figure></td></tr>'
        )
    body = (
        f'<p class="meta">{len(models):,} models · '
        f"{sum(len(m.records) for m in models):,} versions</p>"
        '<div class="scroll"><table><thead><tr><th>model</th><th>stages now</th>'
        f"<th>latest</th><th>metric over versions</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></div>"
    )
    return _page("Model registry", body)


def _headline_series(m: _Model) -> tuple[str, list[float | None]]:
    names = list(m.spec.headline_metrics) or [k for r in m.records.values() for k in r.metrics][:1]
    if not names:
        return "", []
    metric = names[0]
    return metric, [r.metrics.get(metric) for r in m.records.values()]


def _pr(pr: str | None, pr_url: str | None) -> str:
    if not pr:
        return ""
    if pr_url and pr.startswith("#"):
        return f' <a href="{_e(pr_url.format(number=pr[1:]))}">PR {_e(pr)}</a>'
    return f" PR {_e(pr)}"


def _model_page(m: _Model, pr_url: str | None) -> str:
    spec = m.spec
    parts = [
        f"<p>{_e(spec.description)}</p>" if spec.description else "",
        f'<p class="meta">owners: {_e(", ".join(spec.owners) or "–")} · task: '
        f"{_e(spec.task or '–')} · policy: {_e(spec.policy)}</p>",
        f"<h2>Stages now</h2><p>{_stages_html(m, '')}</p>",
        "<h2>Metrics over versions</h2>",
    ]
    metrics = sorted({k for r in m.records.values() for k in r.metrics})
    versions = list(m.records)
    for i, metric in enumerate(metrics):
        values = [m.records[v].metrics.get(metric) for v in versions]
        svg = _line_chart(versions, values, f"{metric} of {spec.name}", COLOURS[i % len(COLOURS)])
        parts.append(
            f'<figure class="chart" data-metric="{_e(metric)}"><figcaption>{_e(metric)}'
            f"</figcaption>{svg}</figure>"
        )
    if not metrics:
        parts.append('<p class="meta">no version records metrics</p>')
    parts.append("<h2>Stage changes</h2>" + _timeline(m.events, pr_url, ""))
    if m.reports:
        links = "".join(
            f'<li><a href="../../{REPORTS_DIR}/{_e(spec.name)}/{_e(r)}">{_e(r)}</a></li>'
            for r in m.reports
        )
        parts.append(f"<h2>Drift reports</h2><ul>{links}</ul>")
    rows = "".join(
        f'<tr><td><a href="{_e(v)}.html">{_e(v)}</a></td><td>{_e(r.created_at)}</td>'
        f"<td>{_e(r.created_by)}</td><td>{_e(r.trigger)}</td>"
        f"<td>{'deprecated' if v in spec.deprecated else ''}</td></tr>"
        for v, r in reversed(m.records.items())
    )
    parts.append(
        '<h2>Versions</h2><div class="scroll"><table><thead><tr><th>version</th>'
        "<th>created</th><th>by</th><th>trigger</th><th></th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
    return _page(spec.name, "".join(parts), "../../")


def _timeline(events: Sequence[StageEvent], pr_url: str | None, link: str) -> str:
    if not events:
        return '<p class="meta">no stage changes yet</p>'
    items = []
    for e in reversed(events):
        what = f"{e.kind}: {e.stage} → {e.version or 'empty'}"
        if e.previous:
            what += f" (was {e.previous})"
        if e.candidate:
            what += f", canary {e.candidate} at {e.weight}%"
        items.append(
            f"<li><time>{_e(e.date)}</time> {_e(what)} · {_e(e.author)} · "
            f"<code>{_e(e.commit[:10])}</code>{_pr(e.pr, pr_url)}</li>"
        )
    return f'<ol class="timeline">{"".join(items)}</ol>'


def _version_page(m: _Model, rec: VersionRecord, pr_url: str | None) -> str:
    served = [e for e in m.events if rec.version in (e.version, e.candidate)]
    now = [s for s in m.order if m.stages.assignments[s].version == rec.version]
    metrics = "".join(
        f'<tr><th>{_e(k)}</th><td class="num">{v:.6g}</td></tr>' for k, v in rec.metrics.items()
    )
    params = "".join(
        f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>" for k, v in rec.params.items()
    )
    parent = (
        f'<a href="{_e(rec.parent)}.html">{_e(rec.parent)}</a>'
        if rec.parent in m.records
        else _e(rec.parent or "–")
    )
    art = rec.artifact
    facts = [
        ("created", f"{rec.created_at} by {rec.created_by}"),
        ("trigger", rec.trigger),
        ("code commit", rec.code_commit or "–"),
        ("artifact", f"{art.path} ({art.format}, {art.size:,} bytes)" if art.size else art.path),
        ("sha256", art.sha256 or "– (md5 only)"),
        ("training data", f"{rec.data.path} (md5 {rec.data.md5})" if rec.data else "–"),
        ("serving now in", ", ".join(now) or "no stage"),
    ]
    if rec.version in m.spec.deprecated:
        facts.append(("deprecated", m.spec.deprecated[rec.version]))
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    rows += f"<tr><th>parent</th><td>{parent}</td></tr>"
    body = (
        f'<p><a href="index.html">{_e(m.spec.name)}</a></p>'
        f'<div class="scroll"><table>{rows}</table></div>'
        f"<h2>Metrics{' on ' + _e(rec.dataset) if rec.dataset else ''}</h2>"
        f'<div class="scroll"><table>{metrics}</table></div>'
        + (f'<h2>Params</h2><div class="scroll"><table>{params}</table></div>' if params else "")
        + "<h2>Where it served</h2>"
        + _timeline(served, pr_url, "")
    )
    return _page(f"{m.spec.name} {rec.version}", body, "../../")


# -- charts -----------------------------------------------------------------------------


def _sparkline(values: Sequence[float | None], label: str) -> str:
    pts = _points(values, 120, 28, 2)
    line = f'<polyline points="{pts}" fill="none" stroke="{COLOURS[0]}" stroke-width="1.5"/>'
    return (
        f'<svg class="spark" viewBox="0 0 120 28" role="img" aria-label="{_e(label)}">'
        f"<title>{_e(label)}</title>{line if pts else ''}</svg>"
    )


def _points(values: Sequence[float | None], w: float, h: float, pad: float) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = hi - lo or 1.0
    step = (w - 2 * pad) / max(len(values) - 1, 1)
    return " ".join(
        f"{pad + i * step:.1f},{h - pad - (v - lo) / span * (h - 2 * pad):.1f}"
        for i, v in enumerate(values)
        if v is not None
    )


def _line_chart(
    versions: Sequence[str], values: Sequence[float | None], label: str, colour: str
) -> str:
    """A metric over versions: line and points, y axis with min and max, version ticks."""
    w, h, left, bottom = 560, 180, 56, 36
    known = [v for v in values if v is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    span = hi - lo or 1.0
    plot_w, plot_h = w - left - 12, h - bottom - 10
    step = plot_w / max(len(values) - 1, 1)
    pts = [
        (left + i * step, 10 + plot_h - (v - lo) / span * plot_h)
        for i, v in enumerate(values)
        if v is not None
    ]
    items = [
        f'<line x1="{left}" y1="{10 + plot_h}" x2="{w - 12}" y2="{10 + plot_h}" stroke="#666"/>',
        f'<line x1="{left}" y1="10" x2="{left}" y2="{10 + plot_h}" stroke="#666"/>',
        _t(left - 6, 14, f"{hi:.4g}", "end"),
        _t(left - 6, 10 + plot_h, f"{lo:.4g}", "end"),
    ]
    if len(pts) > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        items.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
    items += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in pts]
    every = max(1, len(versions) // 6)
    for i in range(0, len(versions), every):
        anchor = "start" if i == 0 else "end" if i == len(versions) - 1 else "middle"
        items.append(_t(left + i * step, h - 12, versions[i], anchor))
    return (
        f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="{_e(label)}"><title>{_e(label)}</title>{"".join(items)}</svg>'
    )


def _t(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" text-anchor="{anchor}" '
        f'fill="#333">{_e(text)}</text>'
    )


def summary(result: SiteResult) -> Mapping[str, object]:
    """The JSON form of a SiteResult."""
    return dict(result.__dict__)
