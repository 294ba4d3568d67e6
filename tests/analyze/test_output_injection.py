"""Issue 14, output injection: log content cannot forge lines or markup in Slack, nor reach a
terminal as control sequences through table, CSV, JSON or an error message naming a file.

Corpus: tests/fixtures/adversarial/reader/injection.json; each medium also has a property test.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from support.am_fixtures import webhook_receiver  # noqa: F401  (fixture)
from test_alert_helpers import Logs, at

from logkit.alert import check, parse
from logkit.alert.sinks import slack_escape
from logkit.analyze import escape
from logkit.look.render import render_rows
from logkit.cli import main

CORPUS = json.load(open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "adversarial", "reader",
                                     "injection.json")))
# What must never reach a terminal raw: C0 but newline (CSV/JSON layout), DEL, C1, bidi and
# invisible format characters.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


# --- Slack ------------------------------------------------------------------------------------------
RULES = """
routes:
  - {type: slack, url_env: HOOK_URL}
rules:
  - name: Crit
    kind: critical
    window: 15m
    labels: {severity: critical}
    annotations:
      summary: "{service}: {message}"
"""


@pytest.fixture
def hook(webhook_receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", webhook_receiver.url + "/services/T0/B0/x")
    return webhook_receiver


def test_slack_corpus_cannot_forge_a_line_or_markup(tmp_path, hook):
    logs = Logs()
    for k, s in enumerate(CORPUS):
        logs.critical(10 + k / 60, f"svc{k}", s)
    check(parse(RULES), [logs.write(tmp_path / "logs.ndjson")], now=at(12))
    reqs = hook.received()
    assert len(reqs) == len(CORPUS)
    for req in reqs:
        text = req.json["blocks"][0]["text"]["text"]
        head, *rest = text.split("\n")
        assert head.startswith("*🔥 FIRING (critical): Crit*")
        assert len(rest) == 1, text  # the summary is one line, whatever the message held
        body = rest[0]
        assert not re.search(r"[*_~`<>]", body), body
        assert not RAW.search(text) and "\t" not in text and "\r" not in text
        assert "RESOLVED" not in head
    forged = next(r.json for r in reqs if "RESOLVED" in r.json["blocks"][0]["text"]["text"])
    assert "\n*✅ RESOLVED*" not in forged["blocks"][0]["text"]["text"]
    assert "＊✅ RESOLVED＊" in forged["blocks"][0]["text"]["text"]  # the text is still readable


@SETTINGS
@given(st.text())
def test_property_slack_escape_is_one_inert_line(s):
    t = slack_escape(s)
    assert "\n" not in t and not RAW.search(t)
    assert not re.search(r"[*_~`<>]", t)
    assert not re.search(r"&(?!amp;|lt;|gt;)", t)
    assert not re.search(r"(?<!\u200b)@(channel|here|everyone)\b", t.replace("@\u200b", "@\u200b"), re.I) or \
        all(m.group(0).startswith("@\u200b") for m in re.finditer(r"@\u200b?(channel|here|everyone)", t, re.I))


# --- CSV and JSON ------------------------------------------------------------------------------------
def test_csv_and_json_corpus(tmp_path):
    rows = [(s, i) for i, s in enumerate(CORPUS)]
    buf = io.StringIO()
    render_rows(["message", "n"], rows, "csv", buf)
    out = buf.getvalue()
    assert not RAW.search(out)
    assert len(out.splitlines()) == len(CORPUS) + 1  # one line per row: no newline from a value
    cells = [r[0] for r in csv.reader(io.StringIO(out, newline=""))][1:]
    for cell in cells:
        assert cell[0] not in "=+-@\t\r"
    assert "'=HYPERLINK(" in out
    assert "\\x1b]8;;https://evil.example\\x07click" in out  # visible, not interpreted
    buf = io.StringIO()
    render_rows(["message", "n"], rows, "json", buf)
    out = buf.getvalue()
    assert not RAW.search(out)
    assert [r["message"] for r in json.loads(out)] == CORPUS  # the same values, exactly


def test_report_json_and_csv_through_the_cli(tmp_path):
    logs = Logs()
    for k, s in enumerate(CORPUS):
        logs.critical(10 + k / 60, "web", s)
    path = logs.write(tmp_path / "logs.ndjson")
    for fmt in ("json", "csv", "table", "markdown"):
        r = CliRunner().invoke(main, ["analyze", path, "--format", fmt])
        assert r.exit_code == 0, r.output
        assert not RAW.search(r.stdout), (fmt, RAW.search(r.stdout))


@SETTINGS
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_property_csv_and_json_cells(values):
    buf = io.StringIO()
    render_rows([f"c{i}" for i in range(len(values))], [tuple(values)], "csv", buf)
    out = buf.getvalue()
    assert not RAW.search(out) and out.count("\n") == 2
    for cell in next(iter(csv.reader(io.StringIO(out.splitlines()[1] + "\n")))):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    buf = io.StringIO()
    render_rows(["v"], [(v,) for v in values], "json", buf)
    assert not RAW.search(buf.getvalue())
    assert [r["v"] for r in json.loads(buf.getvalue())] == values


@SETTINGS
@given(st.text())
def test_property_terminal(s):
    t = escape.terminal(s)
    assert not RAW.search(t) and "\n" not in t


# --- error messages naming files ---------------------------------------------------------------------
def test_file_names_in_error_messages_are_escaped(tmp_path):
    evil = "x\x1b]8;;evil.example\x07y\x1b[2J\u202e.ndjson"
    r = CliRunner().invoke(main, ["analyze", str(tmp_path / evil)])  # no such file
    assert r.exit_code == 2
    assert not RAW.search(r.output) and "\\x1b]8;;evil.example\\x07" in r.output
    d = tmp_path / "logs"
    d.mkdir()
    os.symlink(tmp_path / "gone", d / evil)  # cannot read
    (d / "ok.ndjson").write_bytes(open(Logs().critical(10, "web", "m").write(tmp_path / "l.ndjson"), "rb").read())
    for args in (["load", "--db", str(tmp_path / "s.duckdb"), str(d)], ["analyze", str(d), "--format", "json"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        assert "cannot read" in r.stderr and not RAW.search(r.stderr), r.stderr
        assert "\\u202e" in r.stderr
