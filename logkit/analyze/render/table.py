"""Terminal tables with rich. Cells are rich ``Text`` (never markup) after escape.terminal."""
from __future__ import annotations

from typing import Sequence, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import escape
from . import HEADERS, human, numeric_column as _numeric, window_line as _window

# Columns shown on a terminal (json/csv/markdown/html keep them all).
_TERMINAL_COLUMNS = {
    "domains": ("domain", "requests", "status_2xx", "status_4xx", "status_5xx", "download_failed",
                "error_rate", "captchas", "captcha_rate", "proxy_success_rate", "items_new",
                "items_updated", "stale_seconds"),
    "tasks": ("task", "attempts", "success_rate", "failure_rate", "retry_rate", "timeout_rate",
              "runtime_p50", "runtime_p95", "runtime_p99", "queue_wait_p95", "workers"),
    "failure_patterns": ("kind", "template", "count", "last_seen", "domains", "services", "new"),
    "critical_events": ("time", "service", "host", "message"),
}


def _console(out: TextIO, width: int | None) -> Console:
    return Console(file=out, width=width or (None if out.isatty() else 160), markup=False, emoji=False,
                   highlight=False, soft_wrap=False)


def _table(title: str, columns: Sequence[str], rows: Sequence[tuple], keep: Sequence[str] | None = None,
           max_cell: int = 80) -> Table:
    idx = [i for i, c in enumerate(columns) if keep is None or c in keep]
    t = Table(title=Text(escape.terminal(title), style="bold"), box=box.SIMPLE_HEAD, title_justify="left")
    for i in idx:
        c = columns[i]
        t.add_column(Text(HEADERS.get(c, c)), justify="right" if _numeric(rows, i) else "left",
                     overflow="fold", max_width=max_cell)
    for r in rows:
        cells = []
        for i in idx:
            s = escape.terminal(human(columns[i], r[i]))
            if len(s) > max_cell * 2:
                s = s[:max_cell * 2 - 1] + "…"
            cells.append(Text(s))
        t.add_row(*cells)
    return t


def render_table(report, out: TextIO, sections, *, width: int | None = None) -> None:
    con = _console(out, width)
    con.print(Text(escape.terminal(_window(report))))
    for k, v in report.input_errors.items():
        con.print(Text(f"unreadable input {escape.terminal(k)}: {escape.terminal(v)}", style="yellow"))
    for s in sections:
        if s.name == "summary" and s.rows:
            t = Table(title=Text("Summary", style="bold"), box=box.SIMPLE_HEAD, show_header=False,
                      title_justify="left")
            t.add_column()
            t.add_column(justify="right")
            for c, v in zip(s.columns, s.rows[0]):
                t.add_row(Text(c.replace("_", " ")), Text(escape.terminal(human(c, v))))
            con.print(t)
            continue
        if not s.rows:
            con.print(Text(f"{s.title}: none", style="dim"))
            continue
        con.print(_table(s.title, s.columns, s.rows, _TERMINAL_COLUMNS.get(s.name)))


def rows_table(columns, rows, out: TextIO) -> None:
    _console(out, None).print(_table(f"{len(rows)} row(s)", columns, rows))
