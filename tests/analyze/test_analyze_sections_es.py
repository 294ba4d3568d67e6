"""Issue 15: the Django route, Scrapy spider and page-failure sections (and the domains section
without rows for log lines that merely name a domain) are the same on DuckDB and pushed down to
the real Elasticsearch node, for every filter set of the existing comparison."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
import pytest
from support.es_fixtures import delete_prefixed
from test_analyze_es import _same
from test_usability import _events

from logkit.analyze import analyze
from logkit.analyze.es_report import analyze_es
from logkit.es import setup as les

NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)
NEW = ("django_routes", "spiders", "page_failures", "domains", "summary")
CASES = [{}, {"top": 1}, {"since": "2026-11-24T10:00:03Z"}, {"service": ["crawler"]},
         {"domain": ["a.example"]}, {"since": "2026-11-24T11:00:00Z"}]


@pytest.fixture(scope="module")
def loaded(es_client, tmp_path_factory):
    """The same NDJSON lines, as written by logkit's renderer, in DuckDB and in data streams."""
    path = _events(tmp_path_factory.mktemp("sections"))
    ns = "sec" + uuid.uuid4().hex[:8]
    prefix = f"logkit-t-sections-{ns}"
    les.setup(es_client, ns, name=prefix, pattern=f"logs-logkit.*-{ns}", priority=250)
    ops = []
    for line in open(path, "rb"):
        doc = orjson.loads(line)
        ds = doc["event"]["dataset"]
        ops += [{"create": {"_index": les.data_stream_name(ds, ns), "_id": doc["event"]["id"]}}, doc]
    res = es_client.bulk(operations=ops, refresh=True)
    assert not res["errors"], [it for it in res["items"] if next(iter(it.values())).get("error")][:3]
    yield path, f"logs-logkit.*-{ns}"
    delete_prefixed(es_client, prefix)


@pytest.mark.es
@pytest.mark.parametrize("kw", CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "all")
def test_new_sections_equal_on_duckdb_and_elasticsearch(loaded, es_client, kw):
    path, pattern = loaded
    kw = {"top": None, **kw}
    ref = analyze([path], now=NOW, sections=NEW, **kw)
    got = analyze_es(es_client, pattern, now=NOW, sections=NEW, **kw)
    assert list(got.sections) == list(ref.sections)
    some = 0
    for name in NEW:
        r, g = ref.sections[name], got.sections[name]
        assert g.columns == r.columns
        assert len(g.rows) == len(r.rows), (name, g.rows, r.rows)
        for gr, rr in zip(g.dicts(), r.dicts()):
            for col, rv in rr.items():
                assert _same(gr[col], rv), (name, col, gr[col], rv)
        some += len(r.rows)
    assert some  # every case has rows to compare


@pytest.mark.es
def test_empty_window_message_on_the_cluster(loaded, es_url):
    from click.testing import CliRunner

    from logkit.cli import main
    _, pattern = loaded
    r = CliRunner().invoke(main, ["analyze", "--es", es_url, "--index", pattern, "--since", "2026-11-25T00:00:00Z",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    assert "none in the window" in r.output and "the data covers 2026-11-24T10:00:00Z to " in r.output
