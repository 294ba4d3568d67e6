"""`logkit validate`: counts, line numbers, reasons, exit codes."""
from __future__ import annotations

import gzip
import json
import logging

import orjson
from click.testing import CliRunner

import logkit
from logkit.cli import main
from logkit.validate import MAX_LINE_BYTES, validate_file
from support.emit_support import configure


def good_lines(tmp_path, n=3):
    f = tmp_path / "good.log"
    configure(f, service="crawler", service_type="scrapy")
    log = logkit.get_logger("v")
    for i in range(n):
        log.info("fetched", **{"event.action": "page.fetched", "url.full": f"https://e.com/{i}",
                               "url.domain": "e.com", "http.response.status_code": 200})
    for h in logging.getLogger().handlers:
        h.flush()
    return f.read_bytes().splitlines()


def test_valid_file_exits_zero(tmp_path):
    lines = good_lines(tmp_path)
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "good.log")])
    assert r.exit_code == 0, r.output
    assert "3" in r.output
    res = validate_file(str(tmp_path / "good.log"))
    assert (res.lines, res.valid, res.invalid) == (3, 3, 0)
    assert lines


def test_invalid_lines_are_reported_with_numbers_and_reasons(tmp_path):
    lines = good_lines(tmp_path)
    ev = orjson.loads(lines[0])
    missing = dict(ev)
    del missing["service"]
    wrong_type = orjson.loads(lines[0])
    wrong_type["http"]["response"]["status_code"] = "200"
    needs_field = orjson.loads(lines[0])
    del needs_field["url"]["domain"]
    bad_ts = orjson.loads(lines[0])
    bad_ts["@timestamp"] = "yesterday"
    bad_outcome = orjson.loads(lines[0])
    bad_outcome["event"]["outcome"] = "meh"
    body = b"\n".join([
        lines[0],                      # 1 ok
        b'{"broken": ',                # 2 malformed
        orjson.dumps(missing),         # 3 missing core field
        b"\xff\xfe not utf8",          # 4
        orjson.dumps(wrong_type),      # 5 wrong type
        b"[1, 2]",                     # 6 not an object
        orjson.dumps(needs_field),     # 7 page.fetched needs url.domain
        orjson.dumps(bad_ts),          # 8
        orjson.dumps(bad_outcome),     # 9
        b"",                           # blank: ignored
        lines[1],                      # 11 ok
    ]) + b"\n"
    f = tmp_path / "mixed.log"
    f.write_bytes(body)
    res = validate_file(str(f))
    assert res.valid == 2 and res.invalid == 8
    by_line = {p.line: p.reason for p in res.problems if p.severity == "error"}
    assert by_line[2].startswith("malformed JSON")
    assert "missing required field service.name" in by_line[3]
    assert by_line[4].startswith("not UTF-8")
    assert "http.response.status_code should be long" in by_line[5]
    assert "not a JSON object" in by_line[6]
    assert "page.fetched requires url.domain" in by_line[7]
    assert "@timestamp is not an RFC 3339" in by_line[8]
    assert "event.outcome must be one of" in by_line[9]
    r = CliRunner().invoke(main, ["validate", str(f), "--format", "json"])
    assert r.exit_code == 1
    data = orjson.loads(r.output)
    assert data[0]["invalid"] == 8 and data[0]["valid"] == 2


def test_nested_and_dotted_forms_both_validate(tmp_path):
    lines = good_lines(tmp_path, 1)
    ev = orjson.loads(lines[0])
    from logkit.emit import flatten
    dotted = flatten(ev)
    f = tmp_path / "dotted.log"
    f.write_bytes(orjson.dumps(dotted) + b"\n")
    res = validate_file(str(f))
    assert res.valid == 1, res.problems


def test_warnings_do_not_fail_unless_strict(tmp_path):
    lines = good_lines(tmp_path, 1)
    ev = orjson.loads(lines[0])
    ev["event"]["action"] = "order.placed"     # not a logkit event type
    ev["customer"] = {"tier": "gold"}          # custom top-level key
    f = tmp_path / "w.log"
    f.write_bytes(orjson.dumps(ev) + b"\n")
    res = validate_file(str(f))
    assert res.valid == 1 and res.warnings == 1
    assert any("order.placed" in p.reason for p in res.problems)
    assert validate_file(str(f), strict=True).invalid == 1
    assert CliRunner().invoke(main, ["validate", "--strict", str(f)]).exit_code == 1


def test_gzip_oversized_and_missing_files(tmp_path):
    lines = good_lines(tmp_path, 2)
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    assert validate_file(str(gz)).valid == 2
    trunc = tmp_path / "t.log.gz"
    trunc.write_bytes(gzip.compress(b"\n".join(lines * 50) + b"\n")[:-30])
    res = validate_file(str(trunc))
    assert res.error and "read failed" in res.error and res.valid > 0
    big = tmp_path / "big.log"
    big.write_bytes(lines[0] + b"\n" + b'{"m": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n' + lines[1] + b"\n")
    res = validate_file(str(big))
    assert (res.valid, res.invalid) == (2, 1)
    assert res.problems[0].line == 2 and "longer than" in res.problems[0].reason
    r = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.log")])
    assert r.exit_code == 2 and "cannot open" in r.output


def test_stdin_and_many_problems_summary(tmp_path):
    body = b"\n".join(b"not json %d" % i for i in range(50)) + b"\n"
    r = CliRunner().invoke(main, ["validate", "-"], input=body)
    assert r.exit_code == 1
    assert "30 more problems" in r.output and "malformed JSON" in r.output


def test_terminal_output_escapes_log_content(tmp_path):
    f = tmp_path / "evil\x1b[31m.log"
    f.write_bytes(b'{"x": 1}\n')
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert "\x1b[31m" not in r.output


def test_integers_elasticsearch_would_refuse_are_errors(tmp_path):
    lines = good_lines(tmp_path)
    out = []
    for value in (2**63 - 1, 2**63, -(2**63) - 1, 10**25):
        ev = orjson.loads(lines[0])
        ev["http"]["response"]["status_code"] = value
        out.append(json.dumps(ev).encode())  # orjson refuses them; other writers do not
    ev = orjson.loads(lines[0])
    ev["logkit"]["replaced"] = ["extra.x: MagicMock value replaced"]  # the emitter's flag list is valid
    out.append(orjson.dumps(ev))
    f = tmp_path / "ints.log"
    f.write_bytes(b"\n".join(out) + b"\n")
    res = validate_file(str(f))
    assert (res.valid, res.invalid) == (2, 3), res.problems
    assert {p.line for p in res.problems} == {2, 3, 4}
    # orjson reads integers past 64 bits as floats: those fail as "should be long"
    assert all("64-bit long range" in p.reason or "should be long, got float" in p.reason for p in res.problems)


def test_the_emitters_longest_line_is_accepted(tmp_path):
    f = tmp_path / "big.log"
    configure(f)
    logkit.get_logger("big").info("many", items=["y" * 16_000] * 2_000, more={str(i): "z" * 16_000 for i in range(500)})
    for h in logging.getLogger().handlers:
        h.flush()
    assert len(f.read_bytes()) <= 512 * 1024 + 1
    res = validate_file(str(f))
    assert (res.valid, res.invalid) == (1, 0), res.problems
