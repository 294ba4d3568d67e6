"""Log content is attacker-controlled: every output format escapes it for its medium."""
from __future__ import annotations

import csv
import io
import json

import pytest

from logkit.analyze import analyze
from logkit.analyze import escape
from logkit.look.render import render, render_rows

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
ANSI = "\x1b[31mRED\x1b[0m\x1b]0;owned\x07\rover"
FORMULA = '=HYPERLINK("http://evil.example","x")'
MD = "a|b\n| x | y |\n[link](http://evil.example) **bold** <b>html</b>"


def hostile_lines() -> bytes:
    evs = []
    for i, (domain, msg, etype) in enumerate([
        (IMG + ".evil", SCRIPT, FORMULA),
        ("ansi.example", ANSI, "+cmd|' /C calc'!A0"),
        ("md|pipe.example", MD, "@SUM(1+1)"),
        ("-minus.example", "-2+3 " + SCRIPT, "\tTab"),
    ]):
        evs.append({"@timestamp": f"2026-11-24T10:0{i}:00.000Z", "log.level": "critical", "message": msg,
                    "event": {"action": "download.failed", "outcome": "failure"},
                    "service": {"name": "svc" + SCRIPT}, "url": {"domain": domain},
                    "error": {"type": etype, "message": msg},
                    "scrapy": {"challenge": {"vendor": IMG}}})
        evs.append({"@timestamp": f"2026-11-24T10:0{i}:01.000Z", "log.level": "warning", "message": "c",
                    "event": {"action": "captcha.detected", "outcome": "failure"}, "url": {"domain": domain},
                    "scrapy": {"challenge": {"vendor": IMG}}})
        evs.append({"@timestamp": f"2026-11-24T10:0{i}:02.000Z", "log.level": "info", "message": "t",
                    "event": {"action": "task.succeeded", "outcome": "success"},
                    "celery": {"task": {"name": SCRIPT, "runtime": 1.5}}})
    return b"".join(json.dumps(e).encode() + b"\n" for e in evs)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    p = tmp_path_factory.mktemp("hostile") / "hostile.ndjson"
    p.write_bytes(hostile_lines())
    return analyze([str(p)], top=None)


def out(report, fmt):
    buf = io.StringIO()
    render(report, fmt, buf)
    return buf.getvalue()


def test_html_has_no_markup_from_logs(report):
    h = out(report, "html")
    assert "<script" not in h.lower()
    assert "<img" not in h.lower() and "onerror=\"" not in h
    assert "&lt;script&gt;" in h and "&lt;img src=x onerror=&quot;" in h
    assert "Content-Security-Policy" in h and "default-src 'none'" in h
    assert "http://" not in h.replace("http://www.w3.org/2000/svg", "") or "evil" not in h.split("http://")[1][:20]


def test_terminal_has_no_control_characters(report):
    t = out(report, "table")
    assert "\x1b" not in t and "\x07" not in t and "\r" not in t
    assert "\\x1b[31mRED" in t  # shown, visibly escaped
    assert escape.terminal("a\u202eb\x9bc") == "a\\u202eb\\x9bc"


def test_markdown_cells_cannot_break_out(report):
    m = out(report, "markdown")
    for line in m.splitlines():
        if line.startswith("|") and "md" in line and "pipe" in line:
            # the domain's pipe is escaped: the row has as many unescaped pipes as the header
            assert "md\\|pipe.example" in line
    assert "<b>" not in m and "<script" not in m and "](http" not in m
    assert "\\[link\\]\\(http\\:\\/\\/evil.example\\)" in m and "\\*\\*bold\\*\\*" in m
    assert escape.markdown("a\nb|c") == "a b\\|c"


def test_csv_cells_are_not_formulas(report):
    c = out(report, "csv")
    cells = [cell for row in csv.reader(io.StringIO(c, newline="")) for cell in row]
    for cell in cells:
        if cell:
            assert cell[0] not in "=+@\t\r" and not (cell[0] == "-" and not _number(cell)), cell
    assert "'" + FORMULA in cells and "'-minus.example" in cells
    assert escape.csv_cell(-5) == -5 and escape.csv_cell("-5") == "'-5"


def _number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def test_json_round_trips_the_raw_value(report):
    d = json.loads(out(report, "json"))
    doms = {r["domain"] for r in d["sections"]["domains"]}
    assert IMG + ".evil" in doms  # JSON is data: kept exactly, escaped by the JSON encoder


def test_query_output_is_escaped_too():
    buf = io.StringIO()
    render_rows(["x"], [(SCRIPT,), (FORMULA,)], "html", buf)
    assert "<script" not in buf.getvalue()
    buf = io.StringIO()
    render_rows(["x"], [(FORMULA,)], "csv", buf)
    assert buf.getvalue().splitlines()[1].startswith("\"'=") or buf.getvalue().splitlines()[1].startswith("'=")
