"""The HTML report: one self-contained file (inline CSS and SVG; no script, no external resource).

A Content-Security-Policy meta tag forbids scripts, and any fetch besides inline styles and data:
images, so a mistake in escaping still could not run code or reach the network. Every value from
a log is escaped with escape.html.
"""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Sequence

from ...analyze import escape
from ...analyze.escape import html as esc
from ...analyze.report import Report
from .common import HEADERS, duration, human, numeric_column as _numeric, window_line as _window
from . import svg

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
GREEN, RED, GREY, AMBER, ORANGE, BLUE = "#3a9a5b", "#d1495b", "#9aa5b1", "#edae49", "#f08a4b", "#3c6e9f"
VENDOR_COLORS = ["#6a4c93", "#1982c4", "#8ac926", "#ff595e", "#ffca3a", "#52796f", "#b5838d", "#9aa5b1"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#52606d;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#52606d;font-size:12px}
.card.bad b{color:#d1495b}
.charts{display:grid;grid-template-columns:1fr;gap:16px}
figure{background:#fff;border-radius:8px;padding:12px;margin:0;box-shadow:0 1px 2px rgba(0,0,0,.08);overflow-x:auto}
figcaption{font-weight:600;margin-bottom:6px}
.def{color:#52606d;font-size:12px;max-width:980px}
table{border-collapse:collapse;background:#fff;font-size:12px;box-shadow:0 1px 2px rgba(0,0,0,.08);display:block;overflow-x:auto;max-width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top;max-width:420px;overflow-wrap:break-word}
th{background:#eef2f6;position:sticky;top:0;overflow-wrap:normal;word-break:keep-all;hyphens:none}
.def code{background:#eef2f6;padding:0 3px;border-radius:3px;font-size:11px}
.legend{font-size:12px;color:#52606d;margin:4px 0}
.swatch{display:inline-block;width:12px;height:12px;vertical-align:-2px;margin-right:4px;border:1px solid #e4c89a}
.swatch.stale{background:#fff4e5}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.t{white-space:nowrap}
tr.stale td{background:#fff4e5}
.none{color:#9aa5b1;font-style:italic}
.warn{background:#fff4e5;border-left:4px solid #edae49;padding:8px 12px;margin:8px 0}
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def _table(columns: Sequence[str], rows: Sequence[tuple], *, row_class=None) -> str:
    if not rows:
        return '<p class="none">none</p>'
    num = [_numeric(rows, i) for i in range(len(columns))]
    head = "".join(f"<th>{esc(HEADERS.get(c, c))}</th>" for c in columns)
    body = []
    for r in rows:
        cls = row_class(r) if row_class else ""
        cells = "".join(f'<td class="n">{esc(human(c, v))}</td>' if num[i] else
                        f'<td class="t">{esc(human(c, v))}</td>' if isinstance(v, datetime) else
                        f"<td>{esc(human(c, v))}</td>"
                        for i, (c, v) in enumerate(zip(columns, r)))
        body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def definition_html(text: str) -> str:
    """A section definition (the light Markdown of queries.py: `code` and **bold**) as HTML,
    escaped first, so the report shows no raw Markdown."""
    return _BOLD.sub(r"<b>\1</b>", _CODE.sub(r"<code>\1</code>", esc(text)))


def _figure(caption: str, svg_text: str) -> str:
    return f"<figure><figcaption>{esc(caption)}</figcaption>{svg_text}</figure>"


NO_DOMAIN = "(no domain)"


def charts(report: Report, top_chart: int = 15) -> list[str]:
    out = []
    dom = report.sections.get("domains")
    if dom and dom.rows:
        d = dom.dicts()
        # The domains with the most errors, shown as shares of their requests: rates are what
        # people compare between sites of very different traffic.
        rows = sorted((r for r in d if r["errors"] and r["requests"]),
                      key=lambda r: (-r["errors"], r["domain"] or ""))[:top_chart]
        rows.sort(key=lambda r: (-(r["error_rate"] or 0), r["domain"] or ""))
        if rows:
            out.append(_figure("Error rate per domain (share of its requests; the domains with the most errors)",
                               svg.hbar(
                [(f"{r['domain'] or NO_DOMAIN} ({r['requests']:,})",
                  [r["status_4xx"] / r["requests"], r["status_5xx"] / r["requests"],
                   r["download_failed"] / r["requests"]]) for r in rows],
                [("4xx", AMBER), ("5xx", RED), ("download failed", "#7f2b3a")], "Errors per domain",
                fmt=lambda v: f"{v * 100:.1f}%")))
    tl = report.sections.get("timeline")
    if tl and tl.rows:
        step = report.meta["interval_seconds"]
        fmt = "%H:%M" if step < 86400 else "%m-%d"
        if tl.rows and (tl.rows[-1][0] - tl.rows[0][0]).total_seconds() >= 86400 and step < 86400:
            fmt = "%m-%d %H:%M"
        out.append(_figure(f"Timeline ({duration(step)} intervals, by outcome)", svg.columns(
            [(r[0].strftime(fmt), [r[1], r[2], r[3]]) for r in tl.rows],
            [("success", GREEN), ("failure", RED), ("unknown", GREY)], "Events over time by outcome")))
    cv = report.sections.get("captcha_vendors")
    if cv and cv.rows:
        per: dict[str, dict[str, int]] = defaultdict(dict)
        for domain, vendor, n in cv.rows:  # events without a domain or vendor still count
            per[domain or NO_DOMAIN][vendor or "unknown"] = n
        vendors = sorted({v for d in per.values() for v in d})
        if len(vendors) > len(VENDOR_COLORS):
            keep = vendors[:len(VENDOR_COLORS) - 1]
            for d in per.values():
                other = sum(n for v, n in d.items() if v not in keep)
                for v in list(d):
                    if v not in keep:
                        del d[v]
                d["other"] = other
            vendors = keep + ["other"]
        doms = sorted(per, key=lambda k: (-sum(per[k].values()), k))[:top_chart]
        out.append(_figure("CAPTCHAs per domain (by vendor)", svg.hbar(
            [(k, [per[k].get(v, 0) for v in vendors]) for k in doms],
            list(zip(vendors, VENDOR_COLORS)), "CAPTCHAs per domain")))
    tasks = report.sections.get("tasks")
    if tasks and tasks.rows:
        rows = [r for r in tasks.dicts() if r["runtime_p50"] is not None][:top_chart]
        if rows:
            out.append(_figure("Task runtime percentiles (seconds)", svg.hbar(
                [(r["task"], [r["runtime_p50"], r["runtime_p95"], r["runtime_p99"]]) for r in rows],
                [("p50", BLUE), ("p95", ORANGE), ("p99", RED)], "Task runtime percentiles",
                grouped=True, fmt=lambda v: f"{v:.2f}s")))
    return out


def render_html(report: Report, *, stale_after: float = 3600.0) -> str:
    m = report.meta
    parts = ["<h1>logkit report</h1>", f'<p class="sub">{esc(_window(report))} Generated '
             f"{esc(human('t', m['generated_at']))}.</p>"]
    for k, v in report.input_errors.items():
        parts.append(f'<p class="warn">Unreadable input {esc(k)}: {esc(v)}</p>')
    summ = report.sections.get("summary")
    if summ and summ.rows:
        s = dict(zip(summ.columns, summ.rows[0]))
        bad = sum(r[2] for r in report.sections["bad_input"].rows) if "bad_input" in report.sections else 0
        cards = [("events", s["events"], False), ("failures", s["failures"], bool(s["failures"])),
                 ("critical", s["critical"], bool(s["critical"])), ("services", s["services"], False),
                 ("hosts", s["hosts"], False), ("domains", s["domains"], False), ("bad lines", bad, bool(bad))]
        parts.append('<div class="cards">' + "".join(
            f'<div class="card{" bad" if hot else ""}"><b>{esc(human("n", v))}</b><span>{esc(k)}</span></div>'
            for k, v, hot in cards) + "</div>")
    parts.append('<div class="charts">' + "".join(charts(report)) + "</div>")
    for name, sec in report.sections.items():
        if name == "summary":
            continue
        parts.append(f'<h2 id="{esc(name)}">{esc(sec.title)}</h2><p class="def">{definition_html(sec.definition)}</p>')
        row_class = None
        if name == "domains":
            i = sec.columns.index("stale_seconds")
            row_class = lambda r, i=i: "stale" if r[i] is not None and r[i] > stale_after else ""  # noqa: E731
            if any(row_class(r) for r in sec.rows):
                parts.append(f'<p class="legend"><span class="swatch stale"></span>highlighted: no successful '
                             f'fetch for more than {esc(duration(stale_after))} before the end of the window '
                             f'(stale for &gt; {esc(duration(stale_after))})</p>')
        parts.append(_table(sec.columns, sec.rows, row_class=row_class))
    return _page("logkit report", "".join(parts))


def rows_html(columns, rows, *, title: str = "query") -> str:
    return _page(f"logkit {title}", f"<h1>{esc(title)}</h1>" + _table(columns, rows))


__all__ = ["render_html", "rows_html", "charts", "CSP", "escape"]
