"""Small inline SVG charts for the HTML report, written here rather than taken from a library.

Why not a library: the report must be one self-contained file with no script and no network. The
well-known chart libraries either render in the browser with JavaScript (Chart.js, Vega, Plotly's
HTML output), or are large and pull in a plotting stack to produce SVG (matplotlib, pygal, which
also injects a script for its tooltips). Horizontal bars, stacked bars and stacked columns are
a hundred lines of SVG; every label and tooltip goes through escape.html like all log content.
"""
from __future__ import annotations

from typing import Callable, Sequence

from ...analyze.escape import html as esc

W = 760
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:12px"


def _fmt(v: float) -> str:
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"


def _short(s: str, n: int = 30) -> str:
    return s if len(s) <= n else s[:n - 1] + "…"


def nice_ticks(vmax: float, *, integer: bool = True, n: int = 4) -> list[float]:
    """Axis ticks from 0 to at least ``vmax`` at a round step (1, 2, 2.5 or 5 times a power of ten;
    whole numbers for counts, so an axis never reads "38.50 events")."""
    import math
    if vmax <= 0:
        return [0.0, 1.0]
    raw = vmax / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    top = math.ceil(vmax / step - 1e-9) * step
    return [i * step for i in range(int(round(top / step)) + 1)]


def _legend(series: Sequence[tuple[str, str]], x: float, y: float) -> str:
    out = []
    for name, color in series:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{x + 14:.1f}" y="{y:.1f}">{esc(name)}</text>')
        x += 24 + 7 * len(name)
    return "".join(out)


def _svg(h: float, label: str, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{W}" height="{h:.0f}" '
            f'viewBox="0 0 {W} {h:.0f}" role="img" aria-label="{esc(label)}" style="{FONT}">'
            f"<title>{esc(label)}</title>{body}</svg>")


def hbar(rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[tuple[str, str]], title: str,
         *, fmt: Callable[[float], str] = _fmt, grouped: bool = False) -> str:
    """Horizontal bars, one row per label: stacked series, or side by side (``grouped``)."""
    label_w, right = 210, 60
    plot_w = W - label_w - right
    n_series = len(series)
    row_h = (12 * n_series + 8) if grouped else 22
    top = 28
    h = top + row_h * len(rows) + 10
    vmax = max([max(v, default=0) if grouped else sum(v) for _, v in rows] + [0]) or 1
    body = [_legend(series, label_w, 14)]
    for i, (label, vals) in enumerate(rows):
        y = top + i * row_h
        body.append(f'<text x="{label_w - 6}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">'
                    f"<title>{esc(label)}</title>{esc(_short(label))}</text>")
        x = float(label_w)
        for j, ((name, color), v) in enumerate(zip(series, vals)):
            if v is None:
                continue
            w = plot_w * float(v) / vmax
            if grouped:
                by = y + 4 + j * 12
                body.append(f'<rect x="{label_w}" y="{by}" width="{max(w, 0.5):.1f}" height="10" fill="{color}">'
                            f"<title>{esc(label)} {esc(name)}: {esc(fmt(v))}</title></rect>"
                            f'<text x="{label_w + w + 4:.1f}" y="{by + 9}" fill="#555">{esc(fmt(v))}</text>')
            elif v:
                body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{row_h - 6}" '
                            f'fill="{color}"><title>{esc(label)} {esc(name)}: {esc(fmt(v))}</title></rect>')
                x += w
        if not grouped:
            body.append(f'<text x="{x + 4:.1f}" y="{y + row_h / 2 + 4:.1f}" fill="#555">'
                        f"{esc(fmt(sum(v for v in vals if v)))}</text>")
    return _svg(h, title, "".join(body))


def columns(buckets: Sequence[tuple[str, Sequence[float]]], series: Sequence[tuple[str, str]], title: str,
            *, fmt: Callable[[float], str] = _fmt, integer: bool = True) -> str:
    """Stacked columns over time (the timeline)."""
    left, right, top, bottom = 56, 10, 28, 40
    h = 260
    plot_w, plot_h = W - left - right, h - top - bottom
    n = max(len(buckets), 1)
    ticks = nice_ticks(max([sum(v) for _, v in buckets] + [0]), integer=integer)
    vmax = ticks[-1] or 1
    bw = plot_w / n
    body = [_legend(series, left, 14)]
    for tv in ticks:
        y = top + plot_h * (1 - tv / vmax)
        body.append(f'<line x1="{left}" x2="{W - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                    f'<text class="tick" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                    f'{esc(fmt(tv))}</text>')
    every = max(1, n // 8)
    for i, (label, vals) in enumerate(buckets):
        x = left + i * bw
        y = float(top + plot_h)
        for (name, color), v in zip(series, vals):
            if not v:
                continue
            hh = plot_h * float(v) / vmax
            y -= hh
            body.append(f'<rect x="{x + bw * 0.08:.1f}" y="{y:.1f}" width="{max(bw * 0.84, 0.5):.1f}" '
                        f'height="{hh:.1f}" fill="{color}"><title>{esc(label)} {esc(name)}: {esc(fmt(v))}'
                        f"</title></rect>")
        if i % every == 0:
            body.append(f'<text x="{x + bw / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#555">'
                        f"{esc(label)}</text>")
    return _svg(h, title, "".join(body))
