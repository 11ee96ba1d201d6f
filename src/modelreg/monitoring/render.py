"""Render a DriftReport as text, markdown, JSON or one self-contained HTML page."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from typing import Any

from modelreg.errors import UsageError, plural
from modelreg.monitoring.report import Chart, ColumnDrift, DriftReport, LabelJoin, Sources

FORMATS = ("text", "markdown", "json", "html")
REF_COLOUR = "#5b7fa6"
CUR_COLOUR = "#e07b39"


def render(
    report: DriftReport, fmt: str, *, title: str | None = None, sources: Sources | None = None
) -> str:
    """Render `report` in one of FORMATS (`sources` shows in HTML: files, version, window)."""
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: render_text(report, title=title),
        "markdown": lambda: render_markdown(report, title=title),
        "json": lambda: render_json(report),
        "html": lambda: render_html(report, title=title, sources=sources),
    }
    if fmt not in renderers:
        raise UsageError(f"--format: {fmt!r} is not a report format (use {', '.join(FORMATS)})")
    return renderers[fmt]()


# --------------------------------------------------------------------------- shared helpers


def fmt_number(x: float | None) -> str:
    """Short human form of a statistic: 4 significant digits, '–' when absent."""
    if x is None:
        return "–"
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e6:
        return f"{x:.2e}"
    return f"{x:.4g}"


def fmt_p(p: float | None) -> str:
    """A p-value, with underflow shown as '<1e-300'."""
    if p is None:
        return "–"
    if p < 1e-300:
        return "<1e-300"
    return f"{p:.2g}"


def findings(col: ColumnDrift) -> list[str]:
    """Short data-quality findings of one column, for table cells."""
    q = col.quality
    out: list[str] = []
    if q.type_change:
        out.append(f"type {q.type_change.split(':')[0]}")
    if q.all_missing:
        out.append("all missing")
    if q.unseen:
        shown = ", ".join(f"{k} {s:.1%}" for k, s in q.unseen[:3])
        more = f" +{len(q.unseen) - 3}" if len(q.unseen) > 3 else ""
        out.append(f"new: {shown}{more}")
    if q.missing_current - q.missing_reference > 0.005:
        out.append(f"missing {q.missing_reference:.1%}→{q.missing_current:.1%}")
    if q.out_of_range:
        out.append(f"out of range {q.out_of_range:.1%}")
    if q.coerced:
        out.append("parsed from strings")
    return out


def _headline(report: DriftReport) -> str:
    if report.verdict == "insufficient":
        return "INSUFFICIENT DATA"
    n, k = len(report.columns), len(report.drifted)
    return f"{report.verdict.upper()}: {k} of {n} columns drifted ({report.share:.0%})"


def _rows(report: DriftReport) -> list[list[str]]:
    rows = []
    for c in report.columns:
        mark = "yes" if c.drifted else "no"
        if c.critical:
            mark += " (critical column)"
        rows.append(
            [
                c.name,
                c.kind,
                c.method if c.measure == c.method else f"{c.method} ({c.measure})",
                fmt_number(c.statistic),
                fmt_number(c.threshold),
                fmt_p(c.p_value),
                mark,
                "; ".join(findings(c)),
            ]
        )
    return rows


HEADER = ["column", "kind", "method", "statistic", "threshold", "p (Holm)", "drifted", "findings"]


# --------------------------------------------------------------------------- text


def render_text(report: DriftReport, *, title: str | None = None) -> str:
    """Plain text for a terminal: verdict, reasons, one line per column."""
    lines = [f"{title}: {_headline(report)}" if title else _headline(report)]
    ref, cur = plural(report.rows_reference, "row"), plural(report.rows_current, "row")
    lines.append(f"reference {ref}, current {cur}")
    lines.extend(f"  {r}" for r in report.reasons)
    if report.columns:
        lines.append("")
        lines.extend(_table_text([HEADER, *_rows(report)]))
    for c in report.columns:
        if c.drifted:
            lines.append(f"{c.name}: " + "; ".join(c.reasons))
    lines.extend(_footer(report))
    return "\n".join(lines) + "\n"


def _table_text(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def _footer(report: DriftReport) -> list[str]:
    out = []
    if report.ignored_columns:
        out.append("ignored (not in the profile): " + ", ".join(report.ignored_columns))
    if report.missing_columns:
        out.append("not in the current data: " + ", ".join(report.missing_columns))
    if report.labels is not None:
        out.append(f"labels: {labels_text(report.labels)}")
    return out


def labels_text(join: LabelJoin) -> str:
    """How a labels file met the data: read, duplicates, rows labelled, keys unmatched."""
    parts = [
        f"{join.source} joined on {join.key}: {plural(join.labels, 'label')}",
        f"{join.matched:,} of {join.matched + join.unlabelled:,} current rows labelled",
    ]
    if join.matched_reference is not None:
        parts.append(f"{join.matched_reference:,} reference rows labelled")
    parts.append(f"{join.unmatched:,} unmatched {'key' if join.unmatched == 1 else 'keys'}")
    parts.append(
        f"{join.duplicates:,} duplicate {'key' if join.duplicates == 1 else 'keys'} "
        "(the last label wins)"
    )
    return "; ".join(parts)


# --------------------------------------------------------------------------- markdown


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(report: DriftReport, *, title: str | None = None) -> str:
    """GitHub-flavoured markdown for a pull-request comment: verdict, reasons, column table."""
    heading = f"Drift report: {title}" if title else "Drift report"
    lines = [f"### {_md_escape(heading)}", "", f"**{_headline(report)}**", ""]
    lines.append(
        f"Reference {report.rows_reference:,} rows · current {report.rows_current:,} rows · "
        f"α = {report.alpha:g} (Holm) · warn at {report.share_warn:.0%}, critical at "
        f"{report.share_critical:.0%} of columns drifted"
    )
    lines.append("")
    lines.extend(f"- {_md_escape(r)}" for r in report.reasons)
    if report.columns:
        lines += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        for row in _rows(report):
            row[0] = f"`{row[0]}`"
            lines.append("| " + " | ".join(_md_escape(cell) for cell in row) + " |")
    drifted = [c for c in report.columns if c.drifted]
    if drifted:
        lines += ["", "<details><summary>Why each column drifted</summary>", ""]
        lines += [f"- `{_md_escape(c.name)}`: {_md_escape('; '.join(c.reasons))}" for c in drifted]
        lines += ["", "</details>"]
    lines += [f"\n{_md_escape(x)}" for x in _footer(report)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- json


def render_json(report: DriftReport) -> str:
    """Strict JSON (no NaN) of `report.to_dict()`; `report_from_json` reads it back."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"


def report_from_json(text: str) -> DriftReport:
    """Rebuild a DriftReport from `render_json` output."""
    return DriftReport.from_dict(json.loads(text))


# --------------------------------------------------------------------------- html

_CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:1000px;padding:1rem;color:#1d232a}
h1{font-size:1.35rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.verdict{display:inline-block;padding:.3rem .7rem;border-radius:4px;font-weight:600;color:#fff}
.ok{background:#2e7d32}.warn{background:#b36b00}.critical{background:#c62828}
.insufficient{background:#607d8b}.meta{color:#555}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin-top:.5rem}
th,td{border-bottom:1px solid #e2e5e9;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted td{background:#fff6ec}.tag{font-size:.8em;color:#c62828;font-weight:600}
figure.chart{margin:.8rem 0;padding:.6rem;border:1px solid #e2e5e9;border-radius:6px;
max-width:620px}
figure.chart.drifted{border-color:#e0a060}
figcaption{font-weight:600;margin-bottom:.3rem;overflow-wrap:anywhere}
figure svg{width:100%;height:auto;display:block}
.why{color:#444;font-size:.9em}.stats{font-size:.85em}
.key span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}
dl.sources{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:.3rem 0}
dl.sources dt{color:#555}dl.sources dd{margin:0;overflow-wrap:anywhere}
code{overflow-wrap:anywhere}
"""


def render_html(
    report: DriftReport,
    *,
    title: str | None = None,
    sources: Sources | None = None,
    generated_at: str | None = None,
) -> str:
    """One self-contained page: verdict and reasons first, then every column with its chart
    and summary statistics, prediction and target drift, and where the data came from."""
    heading = f"Drift report: {title}" if title else "Drift report"
    made = generated_at or (sources.generated_at if sources else None) or _now()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(heading)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(heading)}</h1>",
        f'<p><span class="verdict {report.verdict}">{html.escape(_headline(report))}</span></p>',
        '<ul class="reasons">'
        + "".join(f"<li>{html.escape(r)}</li>" for r in report.reasons)
        + "</ul>",
        f'<p class="meta">reference {report.rows_reference:,} rows · current '
        f"{report.rows_current:,} rows · α = {report.alpha:g} (Holm) · warn at "
        f"{report.share_warn:.0%}, critical at {report.share_critical:.0%} of columns drifted</p>",
    ]
    features = [c for c in report.columns if c.role == "feature"]
    if report.columns:
        parts.append(_html_table(report))
    if features:
        parts += ["<h2>Feature columns</h2>", _KEY, *(_html_column(c) for c in features)]
    parts.extend(_html_role(report, "prediction"))
    parts.extend(_html_role(report, "target"))
    parts.extend(f'<p class="meta">{html.escape(x)}</p>' for x in _footer(report))
    parts.append(_html_sources(report, sources, made))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_KEY = (
    f'<p class="key">Shares of rows:<span style="background:{REF_COLOUR}"></span>reference'
    f'<span style="background:{CUR_COLOUR}"></span>current</p>'
)

_ROLE_TEXT = {
    "prediction": (
        "Prediction drift",
        "The reference has no <code>prediction</code> column, so the distribution of the "
        "model's outputs is not compared. Profile reference data that holds one (e.g. a past "
        "prediction log passed as <code>--reference</code>) to see it here.",
    ),
    "target": (
        "Target drift",
        "The reference has no label column (<code>label</code>, <code>target</code> or "
        "<code>y_true</code>) to compare, and the current data carries no labels for concept "
        "drift.",
    ),
}


def _html_role(report: DriftReport, role: str) -> list[str]:
    heading, absent = _ROLE_TEXT[role]
    cols = [c for c in report.columns if c.role == role]
    out = [f"<h2>{heading}</h2>"]
    out += [_html_column(c) for c in cols]
    concept = report.concept if role == "target" else None
    if concept is not None:
        live = "–" if concept.live is None else fmt_number(concept.live)
        out.append(
            f'<p class="concept"><span class="verdict {concept.severity}">'
            f"{html.escape(concept.severity)}</span> live {html.escape(concept.metric)} on "
            f"{concept.rows:,} labelled rows: {live} ({_baseline(concept.baseline)} "
            f"{fmt_number(concept.registered)}, allowed drop {fmt_number(concept.max_drop)})</p>"
            f'<p class="why">{html.escape(concept.reason)}</p>'
        )
    if not cols and concept is None:
        out.append(f'<p class="meta">{absent}</p>')
    return out


def _html_table(report: DriftReport) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = []
    for col, row in zip(report.columns, _rows(report), strict=True):
        cells = [f"<td><code>{html.escape(row[0])}</code></td>"]
        cells += [f"<td>{html.escape(x)}</td>" for x in row[1:3]]
        cells += [f'<td class="num">{html.escape(x)}</td>' for x in row[3:6]]
        cells += [f"<td>{html.escape(x)}</td>" for x in row[6:]]
        cls = ' class="drifted"' if col.drifted else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    rows = "".join(body)
    return (
        '<h2>Columns</h2><div class="scroll"><table><thead><tr>'
        f"{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _html_column(c: ColumnDrift) -> str:
    """One column's figure: its chart, why it drifted, reference vs current statistics."""
    chart = c.chart
    if chart is None:
        svg = '<p class="meta">no values to chart</p>'
    elif chart.edges:
        svg = histogram_svg(chart, c.name)
    else:
        svg = bars_svg(chart, c.name, new={k for k, _ in c.quality.unseen})
    tag = ' <span class="tag">drifted</span>' if c.drifted else ""
    tag += ' <span class="tag">critical column</span>' if c.critical else ""
    why = "; ".join(c.reasons) or "no drift: " + (
        f"{c.measure} {fmt_number(c.statistic)} ≤ {fmt_number(c.threshold)}"
        if c.statistic is not None
        else "nothing to compare"
    )
    cls = "chart drifted" if c.drifted else "chart"
    return (
        f'<figure class="{cls}" data-column="{html.escape(c.name)}">'
        f"<figcaption><code>{html.escape(c.name)}</code> <small>({c.kind})</small>{tag}"
        f'</figcaption>{svg}<div class="why">{html.escape(why)}</div>'
        f"{_html_stats(c)}</figure>"
    )


def _html_stats(c: ColumnDrift) -> str:
    ref, cur = c.reference_summary, c.current_summary
    if ref is None or cur is None:
        return ""
    rows: list[tuple[str, str, str]] = [
        ("rows with a value", f"{ref.count:,}", f"{cur.count:,}"),
        ("missing", f"{ref.missing:.1%}", f"{cur.missing:.1%}"),
    ]
    if c.kind == "numeric":
        for key in ("mean", "std", "min", "median", "max"):
            rows.append((key, fmt_number(getattr(ref, key)), fmt_number(getattr(cur, key))))
        if c.quality.out_of_range is not None:
            rows.append(("outside the reference range", "0%", f"{c.quality.out_of_range:.1%}"))
    else:
        rows.append(("categories", str(ref.distinct or 0), str(cur.distinct or 0)))
        rows.append(("most common", _top(ref.top, ref.top_share), _top(cur.top, cur.top_share)))
    body = "".join(
        f'<tr><th>{html.escape(k)}</th><td class="num">{html.escape(r)}</td>'
        f'<td class="num">{html.escape(v)}</td></tr>'
        for k, r, v in rows
    )
    return (
        '<div class="scroll"><table class="stats"><thead><tr><th></th><th>reference</th>'
        f"<th>current</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def _top(label: str | None, share: float | None) -> str:
    if label is None:
        return "–"
    short = label if len(label) <= 16 else label[:15] + "…"
    return f"{short} ({share or 0:.0%})"


def _baseline(kind: str) -> str:
    return "on the reference" if kind == "reference" else "registered"


def _html_sources(report: DriftReport, sources: Sources | None, made: str) -> str:
    items: list[tuple[str, str]] = []
    if sources is not None:
        if sources.model:
            what = " ".join(x for x in (sources.model, sources.version) if x)
            where = f" (serving in {sources.stage})" if sources.stage else " (serves in no stage)"
            items.append(("model", what + where))
        items.append(("reference", f"{sources.reference} — {report.rows_reference:,} rows"))
        items.append(("current", f"{sources.current} — {report.rows_current:,} rows"))
        if sources.window:
            items.append(("window", f"last {sources.window}"))
        if sources.rules:
            items.append(("drift rules", sources.rules))
    else:
        items.append(("reference", f"{report.rows_reference:,} rows"))
        items.append(("current", f"{report.rows_current:,} rows"))
    if report.labels is not None:
        items.append(("labels", labels_text(report.labels)))
    if report.current_span:
        items.append(("current rows from", f"{report.current_span[0]} to {report.current_span[1]}"))
    items.append(("generated", made))
    body = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items)
    return f'<h2>Sources</h2><dl class="sources">{body}</dl>'


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [n / total if total else 0.0 for n in counts]


def histogram_svg(chart: Chart, name: str, width: int = 560, height: int = 220) -> str:
    """Inline SVG: reference (filled) and current (outlined) distributions overlaid on the
    reference's histogram bins, with axes, and the current rows outside the reference range."""
    ref = _shares(list(chart.reference))
    cur_total = sum(chart.current) + chart.below + chart.above
    cur = [n / cur_total if cur_total else 0.0 for n in chart.current]
    below = chart.below / cur_total if cur_total else 0.0
    above = chart.above / cur_total if cur_total else 0.0
    top = max([*ref, *cur, below, above, 1e-12])
    left, right, plot_top, plot_h = 46, 36, 8, height - 64
    base = plot_top + plot_h
    x0, x1 = left + 18, width - right - 18  # room for the below/above slots
    bin_w = (x1 - x0) / max(len(ref), 1)

    def y(share: float) -> float:
        return base - share / top * plot_h

    items = [
        _rect(x0 + i * bin_w, y(r), bin_w, base - y(r), REF_COLOUR, 0.45) for i, r in enumerate(ref)
    ]
    line = [f"{x0:.1f},{base:.1f}"]
    for i, c in enumerate(cur):
        line += [f"{x0 + i * bin_w:.1f},{y(c):.1f}", f"{x0 + (i + 1) * bin_w:.1f},{y(c):.1f}"]
    line.append(f"{x1:.1f},{base:.1f}")
    items.append(
        f'<polyline points="{" ".join(line)}" fill="none" stroke="{CUR_COLOUR}" stroke-width="2"/>'
    )
    for share, x in ((below, left + 2), (above, x1 + 4)):
        if share:
            items.append(_rect(x, y(share), 12, base - y(share), CUR_COLOUR, 1.0))
    items += _axes(left, x0, x1, width - right, base, plot_top, top, chart.edges)
    out = below + above
    note = (
        f"current outside the reference range: {out:.1%} ({below:.1%} below, {above:.1%} above)"
        if out
        else "current outside the reference range: 0%"
    )
    items.append(_text(width / 2, height - 6, note, "middle"))
    return _svg(width, height, f"histogram of {name}", items)


def _axes(
    left: float,
    x0: float,
    x1: float,
    right: float,
    base: float,
    plot_top: float,
    top: float,
    edges: Sequence[float],
) -> list[str]:
    """x axis with the bin range ticks, y axis with share ticks."""
    out = [
        f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#666"/>',
        f'<line x1="{left}" y1="{plot_top}" x2="{left}" y2="{base}" stroke="#666"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        yy = base - frac * (base - plot_top)
        out.append(f'<line x1="{left - 4}" y1="{yy:.1f}" x2="{left}" y2="{yy:.1f}" stroke="#666"/>')
        out.append(_text(left - 6, yy + 4, f"{top * frac:.0%}", "end"))
    n = len(edges) - 1
    for k in range(5):
        i = round(k * n / 4)
        x = x0 + (x1 - x0) * (i / n if n else 0)
        out.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#666"/>')
        anchor = "start" if k == 0 else "end" if k == 4 else "middle"
        out.append(_text(x, base + 17, fmt_number(edges[i]), anchor))
    out.append(_text(left - 2, base + 32, "below", "start"))
    out.append(_text(right + 2, base + 32, "above", "end"))
    return out


def bars_svg(chart: Chart, name: str, width: int = 560, new: set[str] | None = None) -> str:
    """Inline SVG: reference vs current share bars per category; new categories marked."""
    new = new or set()
    ref, cur = _shares(list(chart.reference)), _shares(list(chart.current))
    top = max([*ref, *cur, 1e-12])
    label_w, row_h = 150, 24
    plot_w = width - label_w - 90
    height = row_h * len(ref) + 10
    items = []
    for i, label in enumerate(chart.labels):
        yy = 5 + i * row_h
        short = label if len(label) <= 18 else label[:17] + "…"
        is_new = label in new
        shown = f"{short} (new)" if is_new else short
        weight = ' font-weight="bold"' if is_new else ""
        items.append(
            _text(label_w - 6, yy + 15, shown, "end").replace("<text ", f"<text{weight} ", 1)
        )
        for j, (share, colour) in enumerate(((ref[i], REF_COLOUR), (cur[i], CUR_COLOUR))):
            w = max(share / top * plot_w, 0.5 if share else 0.0)
            items.append(_rect(label_w, yy + 2 + j * 10, w, 9, colour, 1.0))
        items.append(_text(label_w + plot_w + 4, yy + 15, f"{ref[i]:.0%}→{cur[i]:.0%}", "start"))
    return _svg(width, height, f"category shares of {name}", items)


def _rect(x: float, y: float, w: float, h: float, colour: str, opacity: float) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{colour}" fill-opacity="{opacity:g}"/>'
    )


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" text-anchor="{anchor}" '
        f'fill="#333">{html.escape(text)}</text>'
    )


def _svg(width: int, height: int, label: str, items: list[str]) -> str:
    body = "".join(items)
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(label)}"><title>{html.escape(label)}</title>{body}</svg>'
    )


def summary(report: DriftReport) -> dict[str, Any]:
    """The few fields a CLI or workflow needs to act: verdict, share, drifted, reasons."""
    return {
        "verdict": report.verdict,
        "share": report.share,
        "drifted": list(report.drifted),
        "reasons": list(report.reasons),
    }
