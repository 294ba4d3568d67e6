"""Every report figure against values computed by hand from tests/fixtures/analyze/make_fixtures.py.

The fixtures (2026-11-24, UTC): nested.ndjson (13 spider events), dotted.ndjson (5 + a line without a
timestamp), es_export.ndjson (11 Celery events as Elasticsearch hits), filebeat.ndjson (4 Django
events as Filebeat writes them), spiders.ndjson.gz (2), items.ndjson.zst (1), truncated.ndjson.gz
(2 complete + a cut member), bad.ndjson (3 good lines among malformed ones). 41 events in all.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from logkit.analyze import analyze
from logkit.analyze.report import parse_duration, parse_time

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "analyze")


def T(hms: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-24T{hms}+00:00")


@pytest.fixture(scope="module")
def report():
    return analyze([FIX], top=None)


def rows(rep, name):
    return rep.sections[name].dicts()


def by(rep, name, key):
    return {r[key]: r for r in rows(rep, name)}


def test_summary(report):
    s = rows(report, "summary")[0]
    # spiders 13 + 5 + 2 + 1 + 2 + 3 = 26; workers 11; web 4.
    assert s["events"] == 41
    assert s["first_event"] == T("10:00:00") and s["last_event"] == T("16:04:00")
    assert s["services"] == 3 and s["domains"] == 3
    # hosts: scraper-1, w1, w2, w3, web-1
    assert s["hosts"] == 5
    # failures: 3 page failures (404, 503, 500), 2 timeouts, DNS, refused, 2 captchas, block,
    # parse, KeyError, 2 time limits, http 500, ValueError, critical log = 17
    assert s["failures"] == 17 and s["critical"] == 1


def test_domains(report):
    d = by(report, "domains", "domain")
    assert list(d) == ["a.example", "c.example", "b.example"]  # by requests: 8, 5, 4
    a = d["a.example"]
    # pages: 10:00 200, 10:05 200, 10:10 404, 10:15 503 (nested), 12:30 200 (dotted), 16:00 200 (bad.ndjson)
    # download.failed: 10:20 timeout, 16:04 refused
    assert (a["requests"], a["status_2xx"], a["status_3xx"], a["status_4xx"], a["status_5xx"]) == (8, 4, 0, 1, 1)
    assert a["download_failed"] == 2 and a["errors"] == 4 and a["error_rate"] == pytest.approx(0.5)
    assert a["captchas"] == 1 and a["captcha_rate"] == pytest.approx(1 / 8) and a["blocks"] == 0
    # proxied: 5 pages + 2 failed = 7; ok: 10:00, 10:05, 12:30 (the captcha had status 403: not subtracted)
    assert a["proxy_success_rate"] == pytest.approx(3 / 7)
    assert (a["items_new"], a["items_updated"]) == (2, 1)
    assert a["last_success"] == T("16:00:00") and a["stale_seconds"] == 240  # end = 16:04
    b = d["b.example"]
    # pages 11:00 301, 11:10 200, 15:00 200, 15:05 200 (gz); captcha 11:20 (datadome), block 11:30
    assert (b["requests"], b["status_2xx"], b["status_3xx"], b["errors"]) == (4, 3, 1, 0)
    assert b["captchas"] == 1 and b["captcha_rate"] == pytest.approx(0.25) and b["blocks"] == 1
    assert b["proxy_success_rate"] is None  # no proxy
    assert (b["items_new"], b["items_updated"]) == (1, 0)  # the .zst item
    assert b["last_success"] == T("15:05:00") and b["stale_seconds"] == 59 * 60
    c = d["c.example"]
    # pages 12:00 500 (dotted), 15:20 + 15:21 200 (truncated.gz); failed 12:10 timeout, 12:20 DNS
    assert (c["requests"], c["status_2xx"], c["status_5xx"], c["download_failed"], c["errors"]) == (5, 2, 1, 2, 3)
    assert c["error_rate"] == pytest.approx(0.6)
    assert c["proxy_success_rate"] == 0.0  # 12:00 (500) and 12:10 (failed) through P1
    assert c["last_success"] == T("15:21:00") and c["stale_seconds"] == 43 * 60


def test_captchas_and_proxies(report):
    assert [tuple(r.values()) for r in rows(report, "captcha_vendors")] == [
        ("a.example", "cloudflare", 1), ("b.example", "datadome", 1)]
    p = by(report, "proxies", "proxy")
    p1, p2 = p["http://proxy-1.example.net:3128"], p["http://proxy-2.example.net:3128"]
    # P1: a 10:00, 10:05, 12:30 (200s), c 12:00 (500), c 12:10 (failed) -> 3/5
    assert (p1["requests"], p1["ok"], p1["success_rate"]) == (5, 3, pytest.approx(0.6))
    # P2: a 10:10 (404), 10:15 (503), 10:20 (failed), 16:04 (failed)
    assert (p2["requests"], p2["ok"], p2["success_rate"]) == (4, 0, 0.0)


def test_tasks(report):
    t = by(report, "tasks", "task")
    f = t["crawl.fetch"]
    # succeeded id1 (1.0 s), id2 (2.0), id4 (4.0); failed id3 (3.0); retried id3 once
    assert (f["attempts"], f["succeeded"], f["failed"], f["retried"], f["timeouts"]) == (5, 3, 1, 1, 0)
    assert (f["success_rate"], f["failure_rate"], f["retry_rate"], f["timeout_rate"]) == \
        (pytest.approx(0.6), pytest.approx(0.2), pytest.approx(0.2), 0.0)
    # runtimes [1, 2, 3, 4], interpolated: p50 = 2.5, p95 = 1 + 0.95*3 -> 3.85, p99 -> 3.97
    assert (f["runtime_p50"], f["runtime_p95"], f["runtime_p99"]) == \
        (pytest.approx(2.5), pytest.approx(3.85), pytest.approx(3.97))
    # queue waits [0.5, 1.5, 2.5]: p95 at position 1.9 -> 1.5 + 0.9 = 2.4
    assert f["queue_wait_p95"] == pytest.approx(2.4)
    assert f["workers"] == 2
    r = t["report.build"]
    # id5 failed with timed_out true, id6 failed with TimeLimitExceeded as error.type only, id7 ok (10 s)
    assert (r["attempts"], r["succeeded"], r["failed"], r["timeouts"]) == (3, 1, 2, 2)
    assert r["timeout_rate"] == pytest.approx(2 / 3) and r["success_rate"] == pytest.approx(1 / 3)
    assert (r["runtime_p50"], r["runtime_p95"], r["runtime_p99"]) == (30.0, 30.0, 30.0)
    assert r["queue_wait_p95"] is None and r["workers"] == 1


def test_services_and_critical(report):
    s = by(report, "services", "service")
    assert [s["spiders"][k] for k in ("events", "info", "warning", "error", "critical")] == [26, 18, 3, 5, 0]
    assert [s["workers"][k] for k in ("events", "info", "warning", "error", "critical")] == [11, 7, 1, 3, 0]
    assert [s["web"][k] for k in ("events", "info", "warning", "error", "critical")] == [4, 1, 0, 2, 1]
    crit = rows(report, "critical_events")
    assert len(crit) == 1 and crit[0]["service"] == "web" and crit[0]["time"] == T("14:03:00")
    assert crit[0]["message"] == "database connection pool exhausted"


def test_timeline_hourly():
    rep = analyze([FIX], by="1h")
    got = [(r["bucket"].hour, r["success"], r["failure"], r["unknown"]) for r in rows(rep, "timeline")]
    assert got == [(10, 5, 4, 0), (11, 2, 2, 0), (12, 1, 4, 0), (13, 4, 3, 4), (14, 1, 3, 0), (15, 5, 0, 0),
                   (16, 1, 1, 1)]


def test_timeline_fills_gaps():
    rep = analyze([FIX], by="30m", since="2026-11-24T14:00:00Z", until="2026-11-24T16:00:00Z")
    got = [(r["bucket"].strftime("%H:%M"), r["events"]) for r in rows(rep, "timeline")]
    # 14:00-14:03 web (4); nothing 14:30; 15:00-15:21 (5); 15:30 none.
    assert got == [("14:00", 4), ("14:30", 0), ("15:00", 5)]


def test_failure_patterns(report):
    # grouped by logkit's template miner (variable parts as <*>)
    p = rows(report, "failure_patterns")
    assert sum(r["count"] for r in p) == 17
    top = p[0]
    assert (top["kind"], top["template"], top["count"]) == ("page.fetched", "Crawled (<*>) <GET <*>>", 3)
    assert top["some_domains"] == ["a.example", "c.example"] and top["services"] == ["spiders"]
    t = {(r["kind"], r["template"]): r for r in p}
    timeout = t[("twisted.internet.error.TimeoutError", "User timeout caused connection failure: took <*> s.")]
    assert timeout["count"] == 2 and timeout["first_seen"] == T("10:20:00") and timeout["last_seen"] == T("12:10:00")
    assert timeout["example"] == "User timeout caused connection failure: took 180 s."
    assert t[("billiard.exceptions.TimeLimitExceeded", "TimeLimitExceeded(<*>,)")]["count"] == 2
    assert t[("KeyError", "KeyError: <*>")]["count"] == 1
    assert all(r["new"] is None for r in p)  # no --since: no earlier window
    assert len({r["id"] for r in p}) == len(p)


def test_failure_patterns_sql_normalisation():
    """miner="sql": the SQL grouping (numbers, URLs, ... masked) kept for comparison and speed."""
    from logkit.analyze.failures import failure_patterns
    from logkit.analyze.queries import Filters
    from logkit.analyze.store import Store
    with Store() as s:
        s.load([FIX])
        cols, out = failure_patterns(s.con, Filters(), top=None, miner="sql")
    p = [dict(zip(cols, r)) for r in out]
    assert sum(r["count"] for r in p) == 17
    assert (p[0]["kind"], p[0]["template"], p[0]["count"]) == ("page.fetched", "Crawled (<N>) <GET <URL>>", 3)
    t = {(r["kind"], r["template"]): r for r in p}
    assert t[("billiard.exceptions.TimeLimitExceeded", "TimeLimitExceeded(<N>,)")]["count"] == 2
    assert t[("KeyError", "KeyError: 'row <N>'")]["count"] == 1


def test_failure_patterns_new():
    # window 12:00-17:00 (5h); the earlier window is 07:00-12:00
    rep = analyze([FIX], since="2026-11-24T12:00:00Z", until="2026-11-24T17:00:00Z", top=None)
    t = {(r["kind"], r["template"]): r for r in rows(rep, "failure_patterns")}
    assert t[("page.fetched", "Crawled (<*>) <GET <*>>")]["new"] is False  # 10:10 before
    assert t[("page.fetched", "Crawled (<*>) <GET <*>>")]["count"] == 1   # only 12:00 inside
    assert t[("twisted.internet.error.TimeoutError",
              "User timeout caused connection failure: took <*> s.")]["new"] is False
    assert t[("twisted.internet.error.DNSLookupError", "DNS lookup failed: no results for c.example.")]["new"] is True
    assert t[("KeyError", "KeyError: <*>")]["new"] is True
    assert ("captcha.detected", "CAPTCHA challenge detected") not in t  # only before the window


def test_failure_patterns_with_a_miner():
    """The one function failure_patterns() accepts a template miner; grouping changes, totals do not."""
    from logkit.analyze.failures import failure_patterns
    from logkit.analyze.queries import Filters
    from logkit.analyze.store import Store

    class ByKindMiner:  # the smallest miner: one template per message
        def add(self, message):
            class M:
                template_id = message
                template = message
            return M()
    with Store() as s:
        s.load([FIX])
        cols, out = failure_patterns(s.con, Filters(), top=None, miner=ByKindMiner())
    assert sum(r[cols.index("count")] for r in out) == 17


def test_filter_service():
    rep = analyze([FIX], service="workers")
    assert rows(rep, "summary")[0]["events"] == 11
    assert rows(rep, "domains") == [] and len(rows(rep, "tasks")) == 2
    rep = analyze([FIX], service=["web", "workers"])
    assert rows(rep, "summary")[0]["events"] == 15


def test_filter_domain():
    rep = analyze([FIX], domain="b.example")
    assert [r["domain"] for r in rows(rep, "domains")] == ["b.example"]
    # b: 4 pages, captcha, block (nested) + item (zst)
    assert rows(rep, "summary")[0]["events"] == 7
    assert rows(rep, "tasks") == []


def test_filter_relative_since():
    now = datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)
    rep = analyze([FIX], since="2h", now=now)  # from 15:00: gz 2, zst 1, truncated 2, bad 3
    assert rows(rep, "summary")[0]["events"] == 8
    assert rep.meta["since"] == datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)


def test_filter_absolute_window_and_staleness_end():
    rep = analyze([FIX], since="2026-11-24T10:00:00Z", until="2026-11-24T12:00:00")
    assert rows(rep, "summary")[0]["events"] == 13  # nested.ndjson only
    a = by(rep, "domains", "domain")["a.example"]
    assert a["last_success"] == T("10:05:00") and a["stale_seconds"] == 6900  # until 12:00 is the end


def test_top():
    rep = analyze([FIX], top=1)
    assert [r["domain"] for r in rows(rep, "domains")] == ["a.example"]
    assert len(rows(rep, "failure_patterns")) == 1 and len(rows(rep, "tasks")) == 1


def test_time_parsing():
    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    assert parse_time("90m", now) == now - timedelta(minutes=90)
    assert parse_time("1d", now) == now - timedelta(days=1)
    assert parse_time("2026-11-24", now) == datetime(2026, 11, 24, tzinfo=timezone.utc)
    assert parse_time("2026-11-24T13:00:00+02:00", now) == datetime(2026, 11, 24, 11, tzinfo=timezone.utc)
    assert parse_duration("5m") == timedelta(minutes=5)
    with pytest.raises(ValueError):
        parse_time("yesterday-ish", now)


def test_same_figures_from_the_store(tmp_path):
    db = str(tmp_path / "s.duckdb")
    from logkit.analyze import load
    load([FIX], db)
    a = analyze([FIX], top=None).to_dict()["sections"]
    b = analyze(None, db=db, top=None).to_dict()["sections"]
    for name in ("summary", "domains", "tasks", "services", "timeline", "failure_patterns", "bad_input"):
        assert a[name] == b[name], name


def test_proxy_outcome_and_challenge_pages_as_the_scrapy_integration_writes_them(tmp_path):
    """The Scrapy integration writes page.fetched (outcome failure when a challenge was detected,
    even at 200) then captcha.detected with the same fields, and scrapy.proxy_outcome on both."""
    import json
    P = "http://p.example:1"

    def e(ts, action, status=None, outcome="success", po=None, **kw):
        d = {"@timestamp": f"2026-11-24T10:0{ts}:00Z", "log.level": "info", "message": action,
             "event": {"action": action, "outcome": outcome}, "url": {"domain": "d.example"},
             "scrapy": {"proxy": P, **({"proxy_outcome": po} if po else {})}, **kw}
        if status is not None:
            d["http"] = {"response": {"status_code": status}}
        return d
    evs = [e(0, "page.fetched", 200, po="success"),
           e(1, "page.fetched", 200, "failure", po="failure"),       # a CAPTCHA page served with 200
           e(1, "captcha.detected", 200, "failure", po="failure"),
           e(2, "page.fetched", 502, "failure", po="failure"),
           e(3, "download.failed", None, "failure", po="failure")]
    p = tmp_path / "scrapy.ndjson"
    p.write_text("".join(json.dumps(x) + "\n" for x in evs))
    rep = analyze([str(p)])
    d = rows(rep, "domains")[0]
    assert d["requests"] == 4 and d["captchas"] == 1
    assert d["proxy_success_rate"] == pytest.approx(1 / 4)
    assert d["last_success"] == T("10:00:00")  # not the challenge page at 10:01
    assert rows(rep, "proxies")[0]["ok"] == 1
