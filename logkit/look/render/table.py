"""Terminal tables with rich. Cells are rich ``Text`` (never markup) after escape.terminal."""
from __future__ import annotations

from typing import Sequence, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ...analyze import escape
from .common import HEADERS, human, numeric_column as _numeric, window_line as _window

# Columns shown on a terminal (json/csv/markdown/html keep them all), most important first: when the
# terminal is too narrow, columns are dropped from the end of this order, so a key column (the
# first: domain, task, route...) is never wrapped or squeezed, and the rates people compare stay.
_TERMINAL_COLUMNS = {
    "domains": ("domain", "requests", "error_rate", "captcha_rate", "stale_seconds", "status_5xx",
                "status_4xx", "download_failed", "captchas", "proxy_success_rate", "status_2xx",
                "items_new", "items_updated"),
    "tasks": ("task", "attempts", "failure_rate", "runtime_p95", "retry_rate", "timeout_rate", "success_rate",
              "runtime_p50", "workers", "runtime_p99", "queue_wait_p95"),
    "failure_patterns": ("kind", "count", "template", "last_seen", "new", "services", "domains"),
    "critical_events": ("time", "service", "message", "host"),
    "django_routes": ("route", "requests", "server_error_rate", "duration_p95", "duration_p50", "status_5xx",
                      "status_4xx"),
    "spiders": ("spider", "finish_reason", "items", "retries", "errors", "runs", "requests", "items_dropped",
                "last_closed"),
    "page_failures": ("status_code", "pages", "domains", "some_domains", "last_seen"),
}
#: Free-text columns that may wrap (folded) rather than be dropped; every other column keeps its
#: values on one line.
_WRAPPABLE = {"template", "message", "example", "first_lines", "path", "some_domains", "services", "reason"}
_WRAP_MIN = 24


def _console(out: TextIO, width: int | None) -> Console:
    return Console(file=out, width=width or (None if out.isatty() else 160), markup=False, emoji=False,
                   highlight=False, soft_wrap=False)


def _fit(columns: Sequence[str], cells: Sequence[Sequence[str]], order: Sequence[int], width: int) -> list[int]:
    """The column indexes (in ``order`` of importance) that fit in ``width``: each column as wide as
    its header and longest value (free-text columns at least _WRAP_MIN), plus rich's padding and
    separators (3 per column, 1 at the edge)."""
    need = {}
    for i in order:
        w = max([len(HEADERS.get(columns[i], columns[i]))] + [len(r[i]) for r in cells])
        need[i] = min(w, _WRAP_MIN) if columns[i] in _WRAPPABLE else w
    keep = list(order)
    while len(keep) > 1 and sum(need[i] for i in keep) + 3 * len(keep) + 1 > width:
        keep.pop()
    return sorted(keep)


def _table(title: str, columns: Sequence[str], rows: Sequence[tuple], keep: Sequence[str] | None = None,
           max_cell: int = 80, width: int | None = None) -> Table:
    order = [columns.index(c) for c in keep if c in columns] if keep else list(range(len(columns)))
    cells = []
    for r in rows:
        line = []
        for i, c in enumerate(columns):
            s = escape.terminal(human(c, r[i]))
            if len(s) > max_cell * 2:
                s = s[:max_cell * 2 - 1] + "…"
            line.append(s)
        cells.append(line)
    idx = _fit(columns, cells, order, width) if width else sorted(order)
    t = Table(title=Text(escape.terminal(title), style="bold"), box=box.SIMPLE_HEAD, title_justify="left")
    for i in idx:
        c = columns[i]
        wrap = c in _WRAPPABLE
        t.add_column(Text(HEADERS.get(c, c)), justify="right" if _numeric(rows, i) else "left",
                     overflow="fold" if wrap else "ellipsis", no_wrap=not wrap, max_width=max_cell)
    for line in cells:
        t.add_row(*(Text(line[i]) for i in idx))
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
        con.print(_table(s.title, s.columns, s.rows, _TERMINAL_COLUMNS.get(s.name), width=con.width))


def rows_table(columns, rows, out: TextIO) -> None:
    con = _console(out, None)
    con.print(_table(f"{len(rows)} row(s)", columns, rows, width=con.width))
