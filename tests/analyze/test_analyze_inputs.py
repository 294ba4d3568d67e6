"""Inputs, bad input, the incremental store and the CLI's exit codes."""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from logkit.analyze import analyze, load
from logkit.analyze import inputs as inp
from logkit.analyze.store import Store
from logkit.cli import main

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "analyze")


def ev(ts: str, domain: str = "x.example", status: int = 200) -> bytes:
    return json.dumps({"@timestamp": f"2026-11-24T{ts}.000Z", "log.level": "info", "message": "m",
                       "event": {"action": "page.fetched", "outcome": "success"}, "service": {"name": "s"},
                       "url": {"domain": domain}, "http": {"response": {"status_code": status}}}).encode() + b"\n"


def bad_rows(store):
    return {(os.path.basename(p), reason): (n, lines) for p, reason, n, lines in
            store.con.execute("SELECT path, reason, count, first_lines FROM bad_input").fetchall()}


def test_bad_input_counted_with_line_numbers():
    with Store(slim=False) as s:  # slim (the default in memory) keeps messages of failures only
        res = s.load([os.path.join(FIX, "bad.ndjson"), os.path.join(FIX, "truncated.ndjson.gz"),
                      os.path.join(FIX, "dotted.ndjson")])
        b = bad_rows(s)
        assert b[("bad.ndjson", inp.MALFORMED)] == (2, [2, 3])
        assert b[("bad.ndjson", inp.NON_UTF8)] == (1, [4])
        assert b[("bad.ndjson", inp.NO_TIMESTAMP)] == (2, [5, 8])
        assert b[("bad.ndjson", inp.NOT_OBJECT)] == (1, [6])
        assert b[("truncated.ndjson.gz", inp.TRUNCATED)] == (1, [3])
        assert b[("dotted.ndjson", inp.NO_TIMESTAMP)] == (1, [6])  # found on the fast path
        assert [f.events for f in res.files] == [3, 2, 5]
        # the non-UTF-8 line is kept, its bad byte replaced
        msg = s.con.execute("""SELECT message FROM events WHERE "event.action" = 'log'""").fetchone()[0]
        assert msg == "caf\ufffd"


def test_formats_normalised_to_the_same_columns():
    with Store() as s:
        s.load([os.path.join(FIX, f) for f in ("es_export.ndjson", "filebeat.ndjson", "nested.ndjson")])
        fmts = dict(s.con.execute("SELECT path, format FROM files").fetchall())
        assert sorted(fmts.values()) == ["es", "filebeat", "ndjson"]
        # Filebeat's nested log.level and the ES hit's dotted one both land in "log.level"
        got = dict(s.con.execute('SELECT "service.name", count(*) FILTER (WHERE "log.level" IS NOT NULL) '
                                 "FROM events GROUP BY 1").fetchall())
        assert got == {"workers": 11, "web": 4, "spiders": 13}


def test_huge_lines(tmp_path, monkeypatch):
    # DuckDB's reader takes a 17 MB line in its stride
    p = tmp_path / "big.ndjson"
    p.write_bytes(ev("10:00:00") + b'{"@timestamp": "2026-11-24T10:00:00Z", "message": "' + b"x" * 17_000_000
                  + b'"}\n')
    with Store() as s:
        s.load([str(p)])
        assert s.event_count == 2
    # the slow path (this file has a malformed line too) counts lines over MAX_LINE instead of loading them
    monkeypatch.setattr(inp, "MAX_LINE", 1000)
    p = tmp_path / "huge.ndjson"
    p.write_bytes(ev("10:00:00") + b'{"message": "' + b"x" * 5000 + b'"}\n' + b"{oops\n" + ev("10:00:01"))
    with Store() as s:
        s.load([str(p)])
        assert s.event_count == 2
        assert bad_rows(s)[("huge.ndjson", inp.TOO_LONG)] == (1, [2])
        assert bad_rows(s)[("huge.ndjson", inp.MALFORMED)] == (1, [3])


def test_load_twice_adds_nothing_and_growth_adds_only_new_lines(tmp_path):
    db = str(tmp_path / "s.duckdb")
    log = tmp_path / "app.ndjson"
    log.write_bytes(ev("10:00:00") + ev("10:00:01"))
    assert load([str(log)], db).events == 2
    r = load([str(log)], db)
    assert r.events == 0 and r.files[0].status == "unchanged"
    with open(log, "ab") as f:
        f.write(ev("10:00:02") + b'{"@timestamp": "2026-11-24T10:00:03')  # the last line is being written
    assert load([str(log)], db).events == 1
    with open(log, "ab") as f:
        f.write(b'.000Z", "message": "done"}\n' + b"{bad\n")
    r = load([str(log)], db)
    assert r.events == 1
    # the bad line's number counts from the start of the file
    assert r.files[0].bad.first[inp.MALFORMED] == [5]
    with Store(db, read_only=True) as s:
        assert s.event_count == 4
        assert s.con.execute("SELECT count(*) FROM files").fetchone()[0] == 1


def test_rotation_is_a_new_file_and_rename_is_not(tmp_path):
    db = str(tmp_path / "s.duckdb")
    log = tmp_path / "app.ndjson"
    log.write_bytes(ev("10:00:00"))
    load([str(log)], db)
    os.rename(log, tmp_path / "app.ndjson.1")      # rotated: same inode, already loaded
    log.write_bytes(ev("11:00:00") + ev("11:00:01"))  # a new file at the old path
    r = load([str(tmp_path / "app.ndjson*")], db)
    assert sorted((os.path.basename(f.path), f.status, f.events) for f in r.files) == [
        ("app.ndjson", "loaded", 2), ("app.ndjson.1", "unchanged", 0)]


def test_stdin_and_globs_and_directories(tmp_path):
    data = ev("10:00:00") + ev("10:00:01")
    rep = analyze(["-"], stdin=io.BytesIO(data))
    assert rep.sections["summary"].rows[0][0] == 2
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.ndjson").write_bytes(data)
    with gzip.open(tmp_path / "sub" / "b.ndjson.gz", "wb") as f:
        f.write(ev("10:00:02"))
    assert analyze([str(tmp_path)]).sections["summary"].rows[0][0] == 3
    assert analyze([str(tmp_path / "sub" / "*.gz")]).sections["summary"].rows[0][0] == 1


def test_glob_characters_in_file_names(tmp_path):
    p = tmp_path / "we[ir]d*name's.ndjson"
    p.write_bytes(ev("10:00:00"))
    with Store() as s:
        r = s.load([str(p)])
        assert r.files[0].events == 1


def test_missing_inputs_reported_and_analysis_goes_on(tmp_path):
    rep = analyze([str(tmp_path / "nope.ndjson"), os.path.join(FIX, "nested.ndjson")])
    assert rep.sections["summary"].rows[0][0] == 13
    assert "nope.ndjson" in next(iter(rep.input_errors))


# --- CLI ------------------------------------------------------------------------------------------
def test_cli_exit_2_when_nothing_readable(tmp_path):
    r = CliRunner().invoke(main, ["analyze", str(tmp_path / "missing.ndjson")])
    assert r.exit_code == 2 and "no event could be read" in r.output
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(b"not json\n\xff\xfe\n")
    r = CliRunner().invoke(main, ["analyze", str(bad)])
    assert r.exit_code == 2 and "bad line" in r.output


def test_cli_formats_and_output(tmp_path):
    for fmt in ("table", "json", "csv", "markdown", "html"):
        out = tmp_path / f"r.{fmt}"
        r = CliRunner().invoke(main, ["analyze", FIX, "--format", fmt, "--output", str(out)])
        assert r.exit_code == 0, r.output
        assert out.stat().st_size > 500
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["sections"]["summary"][0]["events"] == 41
    r = CliRunner().invoke(main, ["analyze", FIX, "--format", "csv", "--section", "domains"])
    assert r.stdout.splitlines()[0].startswith("domain,requests,")


def test_cli_load_then_analyze_db(tmp_path):
    db = str(tmp_path / "s.duckdb")
    r = CliRunner().invoke(main, ["load", "--db", db, FIX])
    assert r.exit_code == 0 and "loaded" in r.output
    r = CliRunner().invoke(main, ["load", "--db", db, FIX])
    assert "unchanged" in r.output and "loaded " not in r.output
    r = CliRunner().invoke(main, ["analyze", "--db", db, "--format", "json", "--service", "web"])
    assert json.loads(r.stdout)["sections"]["summary"][0]["events"] == 4


def test_progress_bar_only_on_a_terminal(tmp_path):
    # stderr is a pipe here: no progress bar, no control characters on stderr
    p = subprocess.run([sys.executable, "-m", "logkit.cli", "analyze", FIX, "--format", "json"],
                       capture_output=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    if p.returncode != 0 and b"No module named logkit.cli.__main__" in p.stderr:
        p = subprocess.run([shutil.which("logkit") or os.path.join(os.path.dirname(sys.executable), "logkit"),
                            "analyze", FIX, "--format", "json"], capture_output=True)
    assert p.returncode == 0
    assert b"\x1b" not in p.stderr and b"loading" not in p.stderr
    # forced on, it renders (rich writes to stderr)
    from logkit.analyze.store import Store as S
    with S() as s:
        s.load([FIX], progress=True)
        assert s.event_count == 41
