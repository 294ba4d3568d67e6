"""The report on Elasticsearch equals the report on DuckDB for the same events.

The analyzer's fixtures (tests/fixtures/analyze/) are loaded into a DuckDB store; the same rows
are indexed into data streams of the test node (set up by logkit es setup, `_id` = the event's
id); both reports are computed with the same filters and compared section by section. Every
figure must be equal, the task percentiles included (bit for bit: docs/analyze.md, "On
Elasticsearch"; tests/analyze/test_analyze_es_percentiles.py has the large samples with point masses).
"""
from __future__ import annotations

import hashlib
import math
import os
import uuid
from datetime import datetime, timezone

import pytest
from support.es_fixtures import delete_prefixed

from logkit.analyze import analyze
from logkit.analyze import queries as Q
from logkit.analyze.es_report import NotSupportedOnES, analyze_es
from logkit.analyze.store import Store
from logkit.es import setup as les

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "analyze")
NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)
PERCENTILE_COLUMNS = {"runtime_p50": ("celery.task.runtime", 0.50), "runtime_p95": ("celery.task.runtime", 0.95),
                      "runtime_p99": ("celery.task.runtime", 0.99), "queue_wait_p95": ("celery.task.queue_wait", 0.95)}
#: Sections about loaded files: the DuckDB side has them, a cluster has no files.
FILE_SECTIONS = ("files", "bad_input")
#: Filter sets both engines run.
CASES = [
    {},
    {"top": 2},
    {"since": "2026-11-24T12:00:00Z"},
    {"since": "2026-11-24T11:00:00Z", "until": "2026-11-24T15:00:00Z", "by": "30m"},
    {"service": ["spiders"]},
    {"domain": ["a.example", "c.example"], "by": "1w"},
    {"service": ["workers"], "by": "5m"},
    {"since": "2026-11-24T17:00:00Z"},  # nothing in the window
    {"since": "2026-11-24T10:05:00.000001Z", "until": "2026-11-24T13:10:00.000400Z"},  # sub-millisecond bounds
]


def _doc(row: dict, n: int) -> dict:
    doc = {}
    for k, v in row.items():
        if v is None:
            continue
        if isinstance(v, datetime):
            v = v.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        doc[k] = v
    if "event.id" not in doc:
        doc["event.id"] = hashlib.sha256(f"{n}".encode()).hexdigest()[:32]
    return doc


def load_both(es_client, paths: list[str]) -> tuple[Store, str, str]:
    """The events of ``paths`` in a DuckDB store and, the same rows, in fresh data streams of the
    node: (store, index pattern, name prefix to delete)."""
    fields = tuple(dict.fromkeys(Q.REPORT_FIELDS + ("event.dataset", "event.id")))
    store = Store(None, fields=fields, slim=False)
    store.load(paths)
    ns = "anaes" + uuid.uuid4().hex[:8]
    prefix = f"logkit-t-analyze-es-{ns}"
    les.setup(es_client, ns, name=prefix, pattern=f"logs-logkit.*-{ns}", priority=250)
    cur = store.con.execute("SELECT * EXCLUDE (_file_id, _hash) FROM events")
    names = [d[0] for d in cur.description]
    ops = []
    for n, r in enumerate(cur.fetchall()):
        doc = _doc(dict(zip(names, r)), n)
        ds = doc.get("event.dataset")
        ds = ds if ds in les.DATASETS else "logkit.script"
        ops.append({"create": {"_index": les.data_stream_name(ds, ns), "_id": doc["event.id"]}})
        ops.append(doc)
    for i in range(0, len(ops), 4000):
        res = es_client.bulk(operations=ops[i:i + 4000])
        assert not res["errors"], [it for it in res["items"] if next(iter(it.values())).get("error")][:3]
    pattern = f"logs-logkit.*-{ns}"
    es_client.indices.refresh(index=pattern)
    assert es_client.count(index=pattern)["count"] == store.event_count
    return store, pattern, prefix


@pytest.fixture(scope="module")
def both(es_client):
    """(DuckDB store, index pattern) holding the analyzer's fixtures."""
    store, pattern, prefix = load_both(es_client, [FIX])
    assert store.event_count == 41
    yield store, pattern
    store.close()
    delete_prefixed(es_client, prefix)


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return a == b


@pytest.mark.es
@pytest.mark.parametrize("kw", CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "all")
def test_same_report_on_duckdb_and_elasticsearch(both, es_client, kw):
    compare(both, es_client, kw)


def compare(both, es_client, kw) -> None:
    store, pattern = both
    kw = {"top": None, **kw}
    ref = analyze(db=store, now=NOW, **kw)
    got = analyze_es(es_client, pattern, now=NOW, **kw)
    for k in ("since", "until", "start", "end", "interval_seconds", "services", "domains", "top"):
        assert got.meta[k] == ref.meta[k], k
    assert list(got.sections) == list(ref.sections)
    for name, sec in ref.sections.items():
        g = got.sections[name]
        assert g.columns == sec.columns, name
        if name in FILE_SECTIONS:
            assert g.rows == []
            continue
        assert len(g.rows) == len(sec.rows), (name, g.rows, sec.rows)
        for gr, rr in zip(g.dicts(), sec.dicts()):
            for col, rv in rr.items():
                gv = gr[col]
                if name == "tasks" and col in PERCENTILE_COLUMNS:
                    assert gv == rv, (rr["task"], col, gv, rv)  # exact, not close
                    continue
                assert _same(gv, rv), (name, col, gv, rv, gr, rr)


@pytest.mark.es
def test_the_fixture_percentiles_are_exact(both, es_client):
    """For samples this small, TDigest keeps every value: Elasticsearch's percentiles equal
    DuckDB's quantile_cont (checked, so the tolerance above is not hiding a wrong definition)."""
    store, pattern = both
    ref = {r["task"]: r for r in analyze(db=store, now=NOW, top=None, sections=["tasks"])["tasks"].dicts()}
    got = {r["task"]: r for r in analyze_es(es_client, pattern, now=NOW, top=None, sections=["tasks"])["tasks"].dicts()}
    assert ref.keys() == got.keys() and ref
    diffs = {(t, c): (got[t][c], ref[t][c]) for t in ref for c in PERCENTILE_COLUMNS
             if not _same(got[t][c], ref[t][c]) and not (got[t][c] is None and ref[t][c] is None)}
    assert not diffs, diffs


def test_unsupported_section_is_refused():
    with pytest.raises(NotSupportedOnES, match="not supported with --es yet: nosuch"):
        analyze_es(None, "x", sections=["nosuch"])


# --- a larger, generated set: composite paging, every FILTER term, TDigest on thousands -----------
def synthetic_events(n: int = 6000, seed: int = 8) -> list[dict]:
    """Events that reach every branch of the sections' definitions (deterministic)."""
    import random
    rnd = random.Random(seed)
    t0 = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc).timestamp()
    pick = rnd.choice
    out = []
    for i in range(n):
        ts = datetime.fromtimestamp(t0 + rnd.randrange(0, 3 * 86400 * 1000) / 1000, timezone.utc)
        e: dict = {"@timestamp": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                   "event.id": f"syn-{seed}-{i}",
                   "log.level": pick(["debug", "info", "info", "info", "warning", "error", "critical"]),
                   "message": pick(["job {} done", "fetch of https://x{}.example/p failed", "id 0x{:x} gone",
                                    "user {} timed out after 30 s"]).format(rnd.randrange(1000))}
        kind = rnd.random()
        if kind < 0.55:  # spiders
            e.update({"service.name": pick(["spiders", "spiders-b"]), "event.dataset": "logkit.scrapy",
                      "host.hostname": f"scraper-{rnd.randrange(4)}"})
            if rnd.random() < 0.95:
                e["url.domain"] = f"d{rnd.randrange(37):02d}.example"
            action = pick(["page.fetched"] * 6 + ["download.failed", "captcha.detected", "block.detected",
                                                  "item.scraped", None])
            if action:
                e["event.action"] = action
            if action in ("page.fetched", "captcha.detected", "block.detected") and rnd.random() < 0.9:
                e["http.response.status_code"] = pick([200, 200, 200, 204, 301, 304, 403, 404, 429, 500, 503])
            if rnd.random() < 0.6:
                e["scrapy.proxy"] = f"http://proxy-{rnd.randrange(9)}.example:3128"
                if rnd.random() < 0.4:
                    e["scrapy.proxy_outcome"] = pick(["success", "failure", "block"])
            if action == "captcha.detected":
                v = pick(["cloudflare", "datadome", "unknown", None])
                if v:
                    e["scrapy.challenge.vendor"] = v
            if action == "item.scraped":
                e["scrapy.item.status"] = pick(["new", "updated", "dropped"])
            if action == "download.failed":
                e["error.type"] = pick(["TimeoutError", "DNSLookupError"])
                e["error.message"] = f"took {rnd.randrange(300)} s"
        elif kind < 0.9:  # workers
            e.update({"service.name": "workers", "event.dataset": "logkit.celery",
                      "celery.task.name": f"task.t{rnd.randrange(23)}"})
            if rnd.random() < 0.8:
                e["host.hostname"] = f"w{rnd.randrange(6)}"
            if rnd.random() < 0.5:
                e["celery.worker.hostname"] = f"celery@w{rnd.randrange(8)}"
            action = pick(["task.sent", "task.started", "task.succeeded", "task.succeeded", "task.failed",
                           "task.retried", "task.revoked", None])
            if action:
                e["event.action"] = action
            if action in ("task.succeeded", "task.failed", "task.retried") and rnd.random() < 0.9:
                e["celery.task.runtime"] = round(rnd.lognormvariate(0, 1.2), 3)
            if action == "task.started" and rnd.random() < 0.9:
                e["celery.task.queue_wait"] = round(rnd.expovariate(2), 4)
            if action == "task.failed":
                if rnd.random() < 0.3:
                    e["celery.task.timed_out"] = rnd.random() < 0.7
                if rnd.random() < 0.5:
                    e["error.type"] = pick(["billiard.exceptions.TimeLimitExceeded", "softtimelimitexceeded",
                                            "KeyError"])
            e["event.outcome"] = {"task.succeeded": "success", "task.failed": "failure"}.get(
                action, pick(["unknown", None, "success"]))
        else:  # web, some events without a service
            if rnd.random() < 0.9:
                e["service.name"] = "web"
            e.update({"event.dataset": "logkit.django", "host.hostname": "web-1", "event.action": "http.request"})
            e["http.response.status_code"] = pick([200, 302, 404, 500])
            if e["http.response.status_code"] >= 500:
                e["error.type"] = "ValueError"
        if "event.outcome" not in e and rnd.random() < 0.8:
            e["event.outcome"] = pick(["success", "failure", "unknown"])
        out.append(e)
    return out


@pytest.fixture(scope="module")
def synthetic(es_client, tmp_path_factory):
    import json
    path = tmp_path_factory.mktemp("syn") / "syn.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in synthetic_events()))
    store, pattern, prefix = load_both(es_client, [str(path)])
    yield store, pattern
    store.close()
    delete_prefixed(es_client, prefix)


SYN_CASES = [
    {},
    {"top": 5},
    {"since": "2026-11-21T00:00:00Z", "until": "2026-11-22T13:17:00Z", "by": "1h"},
    {"service": ["spiders", "web"], "domain": ["d03.example", "d17.example"], "by": "90s"},
    {"service": ["workers"], "by": "1w"},
    {"since": "2026-11-22T06:00:00Z", "by": "1d"},
    {"by": "2d", "top": 12},
]


@pytest.mark.es
@pytest.mark.slow
@pytest.mark.parametrize("kw", SYN_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "all")
def test_same_report_on_generated_events(synthetic, es_client, kw, monkeypatch):
    from logkit.analyze import es_report
    monkeypatch.setattr(es_report, "PAGE", 7)  # composite aggregations page many times
    monkeypatch.setattr(es_report, "HITS_PAGE", 9)  # and the point-in-time reads
    monkeypatch.setattr(es_report, "FLUSH_ROWS", 100)
    monkeypatch.setattr(es_report, "MAX_HITS", 10)  # --top beyond one search: critical events scrolled  # the failures go to DuckDB in several inserts
    compare(synthetic, es_client, kw)


@pytest.mark.es
@pytest.mark.slow
def test_percentiles_on_a_large_sample_are_exact(es_client, tmp_path):
    """20,000 runtimes of one task: past the size where TDigest keeps every value; the figures
    are still DuckDB's, exactly."""
    import json
    import random
    rnd = random.Random(3)
    t0 = datetime(2026, 11, 20, tzinfo=timezone.utc).timestamp()
    path = tmp_path / "big.ndjson"
    with open(path, "w") as f:
        for i in range(20000):
            ts = datetime.fromtimestamp(t0 + i * 1.5, timezone.utc).isoformat(timespec="milliseconds")
            f.write(json.dumps({"@timestamp": ts.replace("+00:00", "Z"), "log.level": "info", "message": "done",
                                "event.id": f"big-{i}", "event.dataset": "logkit.celery", "service.name": "workers",
                                "event.action": "task.succeeded", "event.outcome": "success",
                                "celery.task.name": "big.task", "celery.task.queue_wait": rnd.expovariate(3),
                                "celery.task.runtime": round(rnd.lognormvariate(0, 1.2), 4)}) + "\n")
    store, pattern, prefix = load_both(es_client, [str(path)])
    try:
        ref = analyze(db=store, now=NOW, top=None, sections=["tasks"])["tasks"].dicts()[0]
        got = analyze_es(es_client, pattern, now=NOW, top=None, sections=["tasks"])["tasks"].dicts()[0]
        assert ref["attempts"] == 20000
        assert got == ref
    finally:
        store.close()
        delete_prefixed(es_client, prefix)


# --- the command line --------------------------------------------------------------------------
@pytest.mark.es
def test_cli_reports_on_the_cluster(both, es_url):
    import json

    from click.testing import CliRunner

    from logkit.cli import main
    store, pattern = both
    r = CliRunner().invoke(main, ["analyze", "--es", es_url, "--index", pattern, "--top", "0",
                                  "--since", "2026-11-24T11:00:00Z", "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    ref = analyze(db=store, since="2026-11-24T11:00:00Z", top=None, now=NOW)
    assert out["sections"]["summary"][0]["events"] == ref["summary"].rows[0][0]
    assert [d["domain"] for d in out["sections"]["domains"]] == [d["domain"] for d in ref["domains"].dicts()]
    assert [d["service"] for d in out["sections"]["services"]] == [d["service"] for d in ref["services"].dicts()]
    r = CliRunner().invoke(main, ["analyze", "--es", es_url, "--index", pattern, "--section", "tasks",
                                  "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith("task,")


@pytest.mark.es
def test_cli_refuses_a_section_not_supported_on_the_cluster(both, es_url, monkeypatch):
    from click.testing import CliRunner

    from logkit.analyze import es_report
    from logkit.cli import main
    _, pattern = both
    monkeypatch.setattr(es_report, "SUPPORTED", tuple(s for s in es_report.SUPPORTED if s != "timeline"))
    r = CliRunner().invoke(main, ["analyze", "--es", es_url, "--index", pattern])
    assert r.exit_code == 2
    assert "not supported with --es yet: timeline" in r.stderr
    r = CliRunner().invoke(main, ["analyze", "--es", es_url, "--index", pattern, "--section", "domains"])
    assert r.exit_code == 0, r.output


def test_cli_es_usage_errors(tmp_path):
    from click.testing import CliRunner

    from logkit.cli import main
    r = CliRunner().invoke(main, ["analyze", "--index", "logs-*"])
    assert r.exit_code == 2 and "--index needs --es" in r.stderr
    r = CliRunner().invoke(main, ["analyze", "--es", "http://127.0.0.1:1", str(tmp_path)])
    assert r.exit_code == 2 and "give no INPUTS" in r.stderr
    r = CliRunner().invoke(main, ["analyze", "--es", "http://user:secret@127.0.0.1:1", "--index", "x"])
    assert r.exit_code == 2 and "cannot report on" in r.stderr and "secret" not in r.stderr


@pytest.mark.es
def test_cli_clear_errors_from_the_cluster(both, es_url, es_client):
    from click.testing import CliRunner

    from logkit.analyze import NothingToRead
    from logkit.cli import main
    _, pattern = both
    with pytest.raises(NothingToRead):
        analyze_es(es_client, "logkit-t-no-such-index-*")
    r = CliRunner().invoke(main, ["analyze", "--es", es_url, "--index", "logkit-t-no-such-index-*"])
    assert r.exit_code == 2 and "no event in logkit-t-no-such-index-*" in r.stderr
    # 6 hours by the millisecond: more buckets than search.max_buckets; the cluster's reason is shown
    r = CliRunner().invoke(main, ["analyze", "--es", es_url, "--index", pattern, "--by", "0.001s"])
    assert r.exit_code == 2 and "too many buckets" in r.stderr, r.stderr
