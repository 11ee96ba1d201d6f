"""Render a DriftReport as text, markdown, JSON or one self-contained HTML page."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from typing import Any

from modelreg.errors import UsageError, plural
from modelreg.monitoring.report import Chart, ColumnDrift, DriftReport

FORMATS = ("text", "markdown", "json", "html")
REF_COLOUR = "#5b7fa6"
CUR_COLOUR = "#e07b39"


def render(report: DriftReport, fmt: str, *, title: str | None = None) -> str:
    """Render `report` in one of FORMATS."""
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: render_text(report, title=title),
        "markdown": lambda: render_markdown(report, title=title),
        "json": lambda: render_json(report),
        "html": lambda: render_html(report, title=title),
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
    return out


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
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d232a}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.verdict{display:inline-block;padding:.25rem .7rem;border-radius:4px;font-weight:600;color:#fff}
.ok{background:#2e7d32}.warn{background:#c77700}.critical{background:#c62828}
.insufficient{background:#607d8b}.meta{color:#555}
table{border-collapse:collapse;width:100%;margin-top:.5rem}
th,td{border-bottom:1px solid #e2e5e9;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted td{background:#fff6ec}.tag{font-size:.8em;color:#c62828;font-weight:600}
figure{display:inline-block;margin:.6rem 1rem .6rem 0;padding:.5rem;border:1px solid #e2e5e9;
border-radius:6px;vertical-align:top}figcaption{font-weight:600;margin-bottom:.3rem}
.why{color:#444;font-size:.9em;max-width:520px}
.key span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}
"""


def render_html(report: DriftReport, *, title: str | None = None) -> str:
    """One self-contained HTML page: inline CSS and an inline SVG chart per drifted column."""
    heading = f"Drift report: {title}" if title else "Drift report"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(heading)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(heading)}</h1>",
        f'<p><span class="verdict {report.verdict}">{html.escape(_headline(report))}</span></p>',
        f'<p class="meta">reference {report.rows_reference:,} rows · current '
        f"{report.rows_current:,} rows · α = {report.alpha:g} (Holm) · warn at "
        f"{report.share_warn:.0%}, critical at {report.share_critical:.0%} of columns drifted</p>",
        "<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in report.reasons) + "</ul>",
    ]
    if report.columns:
        parts.append(_html_table(report))
    parts.extend(_html_charts(report))
    parts.extend(f'<p class="meta">{html.escape(x)}</p>' for x in _footer(report))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


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
    return f"<h2>Columns</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _html_charts(report: DriftReport) -> list[str]:
    drifted = [c for c in report.columns if c.drifted and c.chart is not None]
    if not drifted:
        return []
    key = (
        f'<p class="key">Shares of rows:<span style="background:{REF_COLOUR}"></span>reference'
        f'<span style="background:{CUR_COLOUR}"></span>current</p>'
    )
    out = ["<h2>Drifted columns</h2>", key]
    for c in drifted:
        chart = c.chart
        assert chart is not None
        svg = histogram_svg(chart, c.name) if chart.edges else bars_svg(chart, c.name)
        tag = ' <span class="tag">critical column</span>' if c.critical else ""
        why = html.escape("; ".join(c.reasons))
        out.append(
            f"<figure><figcaption><code>{html.escape(c.name)}</code>{tag}</figcaption>{svg}"
            f'<div class="why">{why}</div></figure>'
        )
    return out


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [n / total if total else 0.0 for n in counts]


def histogram_svg(chart: Chart, name: str, width: int = 480, height: int = 180) -> str:
    """Inline SVG: reference vs current shares on the reference's histogram bins."""
    ref = _shares(list(chart.reference))
    cur_total = sum(chart.current) + chart.below + chart.above
    cur = [n / cur_total if cur_total else 0.0 for n in chart.current]
    top = max([*ref, *cur, 1e-12])
    pad, plot_h = 30, height - 50
    bin_w = (width - 2 * pad) / max(len(ref), 1)
    bars = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = pad + i * bin_w
        bars.append(_bar(x + 1, r, top, bin_w / 2 - 1, plot_h, REF_COLOUR))
        bars.append(_bar(x + bin_w / 2, c, top, bin_w / 2 - 1, plot_h, CUR_COLOUR))
    lo, hi = fmt_number(chart.edges[0]), fmt_number(chart.edges[-1])
    labels = [
        _text(pad, plot_h + 24, lo, "start"),
        _text(width - pad, plot_h + 24, hi, "end"),
    ]
    if chart.below or chart.above:
        note = (
            f"current outside range: {chart.below / cur_total:.1%} below, "
            f"{chart.above / cur_total:.1%} above"
        )
        labels.append(_text(width / 2, plot_h + 42, note, "middle"))
    axis = (
        f'<line x1="{pad}" y1="{plot_h + 10}" x2="{width - pad}" y2="{plot_h + 10}" stroke="#999"/>'
    )
    return _svg(width, height, f"histogram of {name}", [*bars, axis, *labels])


def bars_svg(chart: Chart, name: str, width: int = 480) -> str:
    """Inline SVG: horizontal reference vs current share bars per category."""
    ref, cur = _shares(list(chart.reference)), _shares(list(chart.current))
    top = max([*ref, *cur, 1e-12])
    label_w, row_h = 130, 22
    plot_w = width - label_w - 80
    height = row_h * len(ref) + 10
    items = []
    for i, label in enumerate(chart.labels):
        y = 5 + i * row_h
        short = label if len(label) <= 18 else label[:17] + "…"
        items.append(_text(label_w - 6, y + 14, short, "end"))
        for j, (share, colour) in enumerate(((ref[i], REF_COLOUR), (cur[i], CUR_COLOUR))):
            w = max(share / top * plot_w, 0.5 if share else 0.0)
            items.append(
                f'<rect x="{label_w}" y="{y + 2 + j * 9:.1f}" width="{w:.1f}" height="8" '
                f'fill="{colour}"/>'
            )
        items.append(_text(label_w + plot_w + 4, y + 14, f"{ref[i]:.0%}→{cur[i]:.0%}", "start"))
    return _svg(width, height, f"category shares of {name}", items)


def _bar(x: float, share: float, top: float, w: float, plot_h: float, colour: str) -> str:
    h = share / top * plot_h
    return (
        f'<rect x="{x:.1f}" y="{plot_h + 10 - h:.1f}" width="{max(w, 0.5):.1f}" '
        f'height="{h:.1f}" fill="{colour}"/>'
    )


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="{anchor}" '
        f'fill="#333">{html.escape(text)}</text>'
    )


def _svg(width: int, height: int, label: str, items: list[str]) -> str:
    body = "".join(items)
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
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
