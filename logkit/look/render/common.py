"""What the renderers share: short headers, values as people read them, the window line (imported by
the package and by table.py and html.py, which the package imports in turn)."""
from __future__ import annotations
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Sequence, TextIO
from ...analyze.report import Report



#: Short headers for people (json/csv keep the column names).
HEADERS = {
    "status_2xx": "2xx", "status_3xx": "3xx", "status_4xx": "4xx", "status_5xx": "5xx",
    "download_failed": "dl failed", "error_rate": "error %", "captcha_rate": "captcha %",
    "proxy_success_rate": "proxy ok %", "items_new": "items new", "items_updated": "items upd",
    "last_success": "last success", "stale_seconds": "stale for", "success_rate": "success %",
    "failure_rate": "failure %", "retry_rate": "retry %", "timeout_rate": "timeout %",
    "runtime_p50": "p50 s", "runtime_p95": "p95 s", "runtime_p99": "p99 s", "queue_wait_p95": "wait p95 s",
    "some_domains": "e.g. domains", "first_lines": "first lines",
    "server_error_rate": "5xx %", "duration_p50": "p50 s", "duration_p95": "p95 s", "status_code": "status",
    "finish_reason": "finish reason", "items_dropped": "items dropped", "last_closed": "last closed",
    "last_seen": "last seen", "first_seen": "first seen",
}


def human(col: str, v: Any) -> str:
    """A value as people read it (rates as %, durations as 1h 2m, times in UTC)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if col.endswith("_rate") and isinstance(v, (int, float, Decimal)):
        return f"{float(v) * 100:.1f}%"
    if col == "stale_seconds" or col.endswith("_seconds") and isinstance(v, (int, float)):
        return duration(float(v))
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%SZ") if v.microsecond == 0 else v.strftime("%Y-%m-%d %H:%M:%S.%fZ")[:-4] + "Z"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}" if col not in ("count", "first_lines", "status_code") else str(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def duration(s: float) -> str:
    if s < 0:
        return "-" + duration(-s)
    s = int(round(s))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d"] * bool(d) + [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m) + [f"{s}s"] * (bool(s) or not (d or h or m))
    return " ".join(parts[:2])


def _window(report: Report) -> str:
    m = report.meta
    s = f"Window {human('t', m['start'])} to {human('t', m['end'])}"
    if m.get("services"):
        s += f"; services: {', '.join(m['services'])}"
    if m.get("domains"):
        s += f"; domains: {', '.join(m['domains'])}"
    return s + f"; interval {duration(m['interval_seconds'])}."


def _numeric(rows: Sequence[tuple], i: int) -> bool:
    vals = [r[i] for r in rows if r[i] is not None]
    return bool(vals) and all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in vals)


numeric_column = _numeric


window_line = _window
