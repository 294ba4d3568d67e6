"""Output formats of the report and of ``logkit query``: table (rich), json, csv, markdown, html.

Every value from a log goes through logkit.analyze.escape for its medium.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Sequence, TextIO

import orjson

from ...analyze import escape
from ...analyze.report import Report

from .. import FORMATS  # defined once, in logkit.look
# Shared with table.py and html.py (common.py); the public names are re-exported for callers.
from .common import (HEADERS, numeric_column as _numeric, window_line as _window, duration, human, numeric_column,
                     window_line)  # noqa: F401


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, timedelta):
        return v.total_seconds()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _json_default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, timedelta):
        return v.total_seconds()
    return str(v)


def render(report: Report, fmt: str, out: TextIO, *, section: str | None = None, width: int | None = None) -> None:
    """Write the report in ``fmt`` to ``out``; ``section`` restricts it to one section."""
    sections = [s for n, s in report.sections.items() if section is None or n == section]
    if fmt == "json":
        d = report.to_dict()
        if section:
            d["sections"] = {section: d["sections"].get(section, [])}
        out.write(escape.json_text(orjson.dumps(d, default=_json_default,
                                               option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()) + "\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        for s in sections:
            if len(sections) > 1:
                w.writerow([f"# {s.name}"])
            write_csv_rows(w, s.columns, s.rows)
            if len(sections) > 1:
                w.writerow([])
    elif fmt == "markdown":
        out.write(f"# logkit report\n\n{escape.markdown(_window(report))}\n\n")
        _errors_md(report, out)
        for s in sections:
            out.write(f"## {escape.markdown(s.title)}\n\n")
            if not s.rows:
                out.write("_none_\n\n")
                continue
            out.write(markdown_table(s.columns, s.rows) + "\n")
    elif fmt == "table":
        from .table import render_table
        render_table(report, out, sections, width=width)
    elif fmt == "html":
        from .html import render_html
        out.write(render_html(report))
    else:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")


def _errors_md(report: Report, out: TextIO) -> None:
    for k, v in report.input_errors.items():
        out.write(f"- unreadable input {escape.markdown(k)}: {escape.markdown(v)}\n")
    if report.input_errors:
        out.write("\n")


def write_csv_rows(w, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    w.writerow([escape.csv_cell(c) for c in columns])
    for r in rows:
        w.writerow([escape.csv_cell(_csv_value(v)) for v in r])


def _csv_value(v: Any) -> Any:
    v = _plain(v)
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return orjson.dumps(v, default=_json_default).decode()
    return "" if v is None else v


def markdown_table(columns: Sequence[str], rows: Sequence[tuple]) -> str:
    head = "| " + " | ".join(escape.markdown(HEADERS.get(c, c)) for c in columns) + " |\n"
    head += "|" + "|".join(" ---: " if _numeric(rows, i) else " --- " for i in range(len(columns))) + "|\n"
    body = "".join("| " + " | ".join(escape.markdown(human(c, v)) for c, v in zip(columns, r)) + " |\n"
                   for r in rows)
    return head + body


def render_rows(columns: Sequence[str], rows: Sequence[tuple], fmt: str, out: TextIO, *,
                title: str = "query") -> None:
    """Output of ``logkit query`` in any format."""
    if fmt == "json":
        out.write(escape.json_text(orjson.dumps([dict(zip(columns, (_plain(v) for v in r))) for r in rows],
                                                default=_json_default, option=orjson.OPT_INDENT_2).decode()) + "\n")
    elif fmt == "csv":
        write_csv_rows(csv.writer(out, lineterminator="\n"), columns, rows)
    elif fmt == "markdown":
        out.write(markdown_table(columns, rows))
    elif fmt == "table":
        from .table import rows_table
        rows_table(columns, rows, out)
    elif fmt == "html":
        from .html import rows_html
        out.write(rows_html(columns, rows, title=title))
    else:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")


def to_string(report: Report, fmt: str, **kw) -> str:
    buf = io.StringIO()
    render(report, fmt, buf, **kw)
    return buf.getvalue()


# Public names for what table.py and html.py share with this module (no private imports across modules).
__all__ = ["FORMATS", "HEADERS", "render", "render_rows", "to_string", "markdown_table", "write_csv_rows", "human",
           "duration", "numeric_column", "window_line"]
