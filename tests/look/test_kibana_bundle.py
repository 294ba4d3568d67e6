"""`logkit kibana bundle`: the format Kibana's saved-objects import takes, checked
structurally (Kibana does not run here), and every saved search's Lucene query run on the real
Elasticsearch node over seeded logkit events, asserting exactly the expected hits."""
from __future__ import annotations

import json

import orjson
import pytest
from click.testing import CliRunner

from logkit import schema
from logkit.cli import main
from logkit.emit import Renderer
from logkit.look import kibana as kb
from logkit.es import setup as les

T0 = 1_780_000_000.0
NASTY_TRACE = 'abc"def OR trace.id:* \\ </script>\n{{x}}'


def _lines(text: str) -> list[dict]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _searches(objs):
    return [o for o in objs if o["type"] == "search"]


def _query(obj) -> str:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]


# --- format -----------------------------------------------------------------------------------
def test_each_line_is_an_importable_saved_object():
    objs = _lines(kb.bundle_ndjson())
    assert [o["type"] for o in objs][:1] == ["index-pattern"]
    assert {o["type"] for o in objs} == {"index-pattern", "search", "dashboard"}
    for o in objs:
        assert set(o) >= {"id", "type", "attributes", "references", "coreMigrationVersion",
                          "typeMigrationVersion"}
        assert o["coreMigrationVersion"] == "8.0.0"
        assert o["typeMigrationVersion"] == kb.TYPE_MIGRATION_VERSIONS[o["type"]]
        assert o["migrationVersion"] == {o["type"]: o["typeMigrationVersion"]}
        # no version newer than what Kibana 8.0.0 knows (it refuses those)
        assert tuple(map(int, o["typeMigrationVersion"].split("."))) <= (8, 0, 0)
        assert isinstance(o["attributes"]["title"], str) and o["attributes"]["title"]
        assert isinstance(o["references"], list)
    assert len({o["id"] for o in objs}) == len(objs)
    dv = objs[0]["attributes"]
    assert dv["title"] == "logs-logkit.*-*" and dv["timeFieldName"] == "@timestamp"
    json.loads(dv["fieldFormatMap"])


def test_every_reference_resolves_within_the_bundle():
    objs = _lines(kb.bundle_ndjson(trace_id="t-1"))
    by_id = {(o["type"], o["id"]) for o in objs}
    for o in objs:
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in by_id, (o["attributes"]["title"], ref)
    for s in _searches(objs):
        source = json.loads(s["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["query"]["language"] == "lucene"
        assert "index" not in source  # by reference only
        ref_names = {r["name"]: r for r in s["references"]}
        assert ref_names[source["indexRefName"]]["type"] == "index-pattern"
        assert s["attributes"]["sort"] and all(len(p) == 2 for p in s["attributes"]["sort"])
    dash = next(o for o in objs if o["type"] == "dashboard")
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dash["references"]}
    assert len(panels) == len(_searches(objs))
    for p in panels:
        assert refs[p["panelRefName"]]["type"] == "search"
    assert len({p["panelIndex"] for p in panels}) == len(panels)


def test_ids_are_stable_and_follow_the_pattern():
    a, b = kb.bundle_ndjson(), kb.bundle_ndjson()
    assert a == b
    other = _lines(kb.bundle_ndjson("logs-other-*"))
    assert not {o["id"] for o in _lines(a)} & {o["id"] for o in other}


def test_every_field_comes_from_the_schema():
    for s in kb.saved_searches(trace_id="x"):
        assert s.fields, s.key
        unknown = s.fields - set(schema.FIELDS)
        assert not unknown, (s.key, unknown)
    # and the check is real
    assert kb.fields_in_query('_exists_:foo.bar AND baz:"a:b" AND (qux:1)') == {"foo.bar", "baz", "qux"}
    with pytest.raises(KeyError):
        kb.phrase("no.such.field", "x")


def test_user_values_are_escaped():
    text = kb.bundle_ndjson('logs-"x"\\</script>-*', trace_id=NASTY_TRACE)
    objs = _lines(text)  # still one valid JSON object per line
    assert objs[0]["attributes"]["title"] == 'logs-"x"\\</script>-*'
    trace = next(s for s in _searches(objs) if s["attributes"]["title"].startswith("logkit: trace"))
    q = _query(trace)
    assert q == 'trace.id:"abc\\"def OR trace.id:* \\\\ </script>\n{{x}}"'
    assert kb.fields_in_query(q) == {"trace.id"}
    with pytest.raises(ValueError):
        kb.bundle("logs-\x1b[31m-*")
    assert kb.lucene_escape('a:b "c"') == 'a\\:b\\ \\"c\\"'


def test_the_cli_writes_the_bundle(tmp_path):
    out = tmp_path / "kibana.ndjson"
    res = CliRunner().invoke(main, ["kibana", "bundle", "--out", str(out), "--slow-task-seconds", "30"])
    assert res.exit_code == 0, res.output
    objs = _lines(out.read_text())
    slow = next(s for s in _searches(objs) if "slow" in s["attributes"]["title"])
    assert "celery.task.runtime:>30" in _query(slow)
    res = CliRunner().invoke(main, ["kibana", "bundle", "--no-dashboard"])
    assert res.exit_code == 0 and '"dashboard"' not in res.output
    res = CliRunner().invoke(main, ["kibana", "bundle", "--slow-task-seconds", "0"])
    assert res.exit_code == 2


# --- the queries on the real node -------------------------------------------------------------
def _seed() -> tuple[list[dict], dict[str, set[str]]]:
    """Events of every kind, and the ids each search must return."""
    django, celery, scrapy = Renderer("web", "django"), Renderer("worker", "celery"), Renderer("crawler", "scrapy")
    docs, expect = [], {k: set() for k in ("errors-by-domain", "captcha", "tasks-failed-retried",
                                           "tasks-slow", "critical", "correlation", "trace")}
    t = [T0]

    def add(r: Renderer, msg, level="info", keys=(), **fields):
        t[0] += 1
        ev = orjson.loads(r.render(msg, level, "app", t[0], fields=fields))
        docs.append(ev)
        for k in keys:
            expect[k].add(ev["event"]["id"])
        return ev

    page = lambda dom, status, **kw: dict({"event.action": "page.fetched", "url.full": f"https://{dom}/x",
                                           "url.domain": dom, "http.response.status_code": status}, **kw)
    add(scrapy, "ok", **page("a.example", 200))
    add(scrapy, "ok redirect", **page("a.example", 302))
    add(scrapy, "server error", "warning", ["errors-by-domain"], **page("a.example", 503))
    add(scrapy, "not found", "warning", ["errors-by-domain"], **page("c.example", 404))
    add(scrapy, "timeout", "error", ["errors-by-domain"], **{"event.action": "download.failed",
        "url.full": "https://b.example/", "url.domain": "b.example", "error.type": "TimeoutError"})
    for vendor in ("cloudflare", "datadome"):
        add(scrapy, "captcha", "warning", ["captcha"], **{"event.action": "captcha.detected",
            "url.full": "https://a.example/c", "url.domain": "a.example", "http.response.status_code": 403,
            "scrapy.challenge.vendor": vendor, "scrapy.challenge.signal": "title"})
    add(scrapy, "blocked", "warning", **{"event.action": "block.detected", "url.full": "https://d.example/",
        "url.domain": "d.example", "http.response.status_code": 429, "scrapy.challenge.signal": "status"})
    task = lambda action, **kw: dict({"event.action": action, "celery.task.name": "crawl.fetch",
                                      "celery.task.id": f"id-{t[0]}"}, **kw)
    add(celery, "done fast", **task("task.succeeded", **{"celery.task.runtime": 5.0}))
    add(celery, "done at 60", **task("task.succeeded", **{"celery.task.runtime": 60.0}))
    add(celery, "done slow", keys=["tasks-slow"], **task("task.succeeded", **{"celery.task.runtime": 120.5}))
    add(celery, "failed slow", "error", ["tasks-failed-retried", "tasks-slow"],
        **task("task.failed", **{"celery.task.runtime": 61.0, "error.type": "ValueError"}))
    add(celery, "failed by duration", "error", ["tasks-failed-retried", "tasks-slow"],
        **task("task.failed", **{"event.duration": 70_000_000_000, "error.type": "TimeLimitExceeded"}))
    add(celery, "failed fast", "error", ["tasks-failed-retried"],
        **task("task.failed", **{"celery.task.runtime": 0.1, "error.type": "KeyError"}))
    add(celery, "retry", "warning", ["tasks-failed-retried"], **task("task.retried", **{"celery.task.retries": 1}))
    add(celery, "started long ago", **task("task.started", **{"celery.task.queue_wait": 500.0}))
    add(django, "db down", "critical", ["critical"])
    add(celery, "broker gone", "critical", ["critical"], **{"event.action": "log"})
    add(django, "just an error", "error")
    # one correlation id across the three services, plus the nasty one
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    add(django, "request", keys=["correlation"], **{"event.action": "http.request", "trace.id": tid,
        "http.request.method": "GET", "http.response.status_code": 200, "event.duration": 1_000_000})
    add(celery, "sent", keys=["correlation"], **task("task.sent", **{"trace.id": tid}))
    add(scrapy, "fetched for the request", keys=["correlation", "errors-by-domain"],
        **page("e.example", 500, **{"trace.id": tid}))
    add(scrapy, "nasty", keys=["correlation", "trace"], **page("f.example", 200, **{"trace.id": NASTY_TRACE}))
    return docs, expect


@pytest.mark.es
def test_every_saved_search_returns_the_expected_events(es_client, es_index):
    ns = es_index.replace("-", "").replace("logkitt", "k")[:60]
    les.setup(es_client, ns, name=es_index, pattern=f"logs-logkit.*-{ns}", priority=250)
    docs, expect = _seed()
    ops = []
    for d in docs:
        stream = les.data_stream_name(d["event"]["dataset"], ns)
        ops += [{"create": {"_index": stream, "_id": d["event"]["id"]}}, d]
    res = es_client.bulk(operations=ops, refresh=True)
    assert not res["errors"], [i for i in res["items"] if next(iter(i.values())).get("error")]
    pattern = f"logs-logkit.*-{ns}"
    objs = _lines(kb.bundle_ndjson(pattern, trace_id=NASTY_TRACE))
    assert objs[0]["attributes"]["title"] == pattern
    keys = {kb._id("search", pattern, ss.key): "trace" if ss.key.startswith("trace-") else ss.key
            for ss in kb.saved_searches(trace_id=NASTY_TRACE)}
    seen = set()
    for s in _searches(objs):
        source = json.loads(s["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        sort = [{f: {"order": o, "unmapped_type": "keyword"}} for f, o in s["attributes"]["sort"]]
        r = es_client.search(index=pattern, query={"query_string": {"query": source["query"]["query"]}},
                             sort=sort, size=100)
        got = {h["_id"] for h in r["hits"]["hits"]}
        key = keys[s["id"]]
        assert got == expect[key], (key, source["query"]["query"])
        assert got, key
        seen.add(key)
        # the columns exist in the data (so Discover shows them)
        mapping_fields = es_client.indices.get_field_mapping(index=pattern, fields=s["attributes"]["columns"])
        found = {f for m in mapping_fields.values() for f in m["mappings"]}
        assert set(s["attributes"]["columns"]) <= found, (key, set(s["attributes"]["columns"]) - found)
    assert seen == set(expect)
    # correlation: sorted by trace.id then time, so one trace's events sit together in order
    corr = next(s for s in _searches(objs) if s["id"] == kb._id("search", pattern, "correlation"))
    r = es_client.search(index=pattern, query={"query_string": {"query": _query(corr)}}, size=100,
                         sort=[{f: o} for f, o in corr["attributes"]["sort"]])
    tids = [h["_source"]["trace"]["id"] for h in r["hits"]["hits"]]
    assert tids == sorted(tids)
    services = [h["_source"]["service"]["type"] for h in r["hits"]["hits"]
                if h["_source"]["trace"]["id"] == "4bf92f3577b34da6a3ce929d0e0e4736"]
    assert services == ["django", "celery", "scrapy"]
