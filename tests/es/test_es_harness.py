"""Proves the Elasticsearch test harness: the node from scripts/test.sh, the GET / plugin, the
features logkit relies on, and the three-node cluster for fault tests."""
from __future__ import annotations

import datetime as dt

import pytest
from elasticsearch import Elasticsearch

# Until tests/conftest.py registers it; registering the same plugin twice is a no-op.

pytestmark = pytest.mark.es

ES_VERSION = "8.19.21"


def test_cluster_health_is_yellow_or_green(es_client):
    health = es_client.cluster.health()
    assert health["status"] in ("yellow", "green")
    assert health["number_of_nodes"] == 1


def test_info_comes_from_the_root_plugin(es_client, es_url):
    info = es_client.info()
    assert info["version"]["number"] == ES_VERSION
    assert info["tagline"] == "You Know, for Search"
    assert info["cluster_uuid"] not in ("", "_na_")
    assert info["version"]["lucene_version"]
    assert es_client.ping() is True  # HEAD /
    plugins = {p["component"] for p in es_client.cat.plugins(format="json")}
    assert "logkit-root" in plugins


def test_index_and_search_a_document(es_client, es_index):
    doc = {"@timestamp": "2024-05-01T12:00:00.000Z", "message": "page fetched from example.com",
           "event": {"action": "page.fetched", "id": "01HX0000000000000000000001"}}
    es_client.index(index=es_index, id=doc["event"]["id"], document=doc, refresh=True)
    got = es_client.get(index=es_index, id=doc["event"]["id"])
    assert got["_source"] == doc
    hits = es_client.search(index=es_index, query={"query_string": {"query": "message:fetched"}})
    assert hits["hits"]["total"]["value"] == 1
    assert hits["hits"]["hits"][0]["_id"] == doc["event"]["id"]
    # the same id twice stores one document (the shipper relies on this)
    es_client.index(index=es_index, id=doc["event"]["id"], document=doc, refresh=True)
    assert es_client.count(index=es_index)["count"] == 1


def test_composite_aggregation_and_percentiles(es_client, es_index):
    es_client.indices.create(index=es_index, mappings={"properties": {
        "domain": {"type": "keyword"}, "status": {"type": "short"}, "duration_ms": {"type": "long"}}})
    ops = []
    for i in range(1, 101):  # durations 1..100 for a.com, 2..200 for b.com
        for domain, factor in (("a.com", 1), ("b.com", 2)):
            ops.append({"index": {"_index": es_index}})
            ops.append({"domain": domain, "status": 200 if i % 10 else 503,
                        "duration_ms": i * factor})
    resp = es_client.bulk(operations=ops, refresh=True)
    assert not resp["errors"]

    after, buckets = None, []
    while True:  # page with size 1 to prove after_key works
        comp = {"size": 1, "sources": [{"domain": {"terms": {"field": "domain"}}},
                                       {"status": {"terms": {"field": "status"}}}]}
        if after:
            comp["after"] = after
        r = es_client.search(index=es_index, size=0, aggs={"c": {"composite": comp}})
        page = r["aggregations"]["c"]["buckets"]
        if not page:
            break
        buckets += page
        after = r["aggregations"]["c"]["after_key"]
    assert [(b["key"]["domain"], b["key"]["status"], b["doc_count"]) for b in buckets] == [
        ("a.com", 200, 90), ("a.com", 503, 10), ("b.com", 200, 90), ("b.com", 503, 10)]

    r = es_client.search(index=es_index, size=0, aggs={"d": {
        "terms": {"field": "domain", "order": {"_key": "asc"}},
        "aggs": {"p": {"percentiles": {"field": "duration_ms", "percents": [50, 95, 99]}}}}})
    by_domain = {b["key"]: b["p"]["values"] for b in r["aggregations"]["d"]["buckets"]}
    assert by_domain["a.com"]["50.0"] == pytest.approx(50.5, abs=1)
    assert by_domain["a.com"]["95.0"] == pytest.approx(95.5, abs=1)
    assert by_domain["b.com"]["99.0"] == pytest.approx(199, abs=2)


def test_data_stream_through_an_index_template(es_client, es_index):
    stream = f"{es_index}-ds"
    es_client.indices.put_index_template(
        name=es_index, index_patterns=[f"{es_index}-ds*"], data_stream={}, priority=500,
        template={"settings": {"number_of_replicas": 0},
                  "mappings": {"properties": {"message": {"type": "text"},
                                              "log": {"properties": {"level": {"type": "keyword"}}}}}})
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    es_client.index(index=stream, op_type="create", refresh=True,
                    document={"@timestamp": now, "log": {"level": "error"}, "message": "boom"})
    # GET _data_stream is absent here (no data-streams module): the resolve API lists it
    ds = es_client.indices.resolve_index(name=f"{es_index}*")["data_streams"]
    assert [d["name"] for d in ds] == [stream]
    assert ds[0]["timestamp_field"] == "@timestamp"
    assert ds[0]["backing_indices"][0].startswith(f".ds-{stream}-")
    meta = es_client.cluster.state(metric="metadata", filter_path="metadata.data_stream")
    assert stream in meta["metadata"]["data_stream"]["data_stream"]
    r = es_client.search(index=stream, query={"term": {"log.level": "error"}})
    assert r["hits"]["total"]["value"] == 1
    mapping = es_client.indices.get_mapping(index=stream)
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["@timestamp"]["type"] == "date"


def test_distribution_limits_are_as_documented(es_client, es_url):
    """docs/elasticsearch-dev.md lists what this distribution lacks; fail when that changes."""
    from elasticsearch import ApiError, BadRequestError, NotFoundError

    with pytest.raises(BadRequestError, match="No processor type exists with name"):
        es_client.ingest.put_pipeline(id="logkit-t-probe", processors=[{"set": {
            "field": "a", "value": "b"}}])
    with pytest.raises((NotFoundError, BadRequestError)):
        es_client.ilm.put_lifecycle(name="logkit-t-probe", policy={"phases": {}})
    # no data-streams module: no GET/DELETE _data_stream. A 405 makes the client mark its node
    # dead for a second, so probe with a client of its own.
    with Elasticsearch(es_url) as probe, pytest.raises(ApiError) as err:
        probe.indices.get_data_stream(name="logkit-t-probe")
    assert err.value.meta.status == 405


# -- three nodes ---------------------------------------------------------------------------

@pytest.mark.slow
def test_three_node_cluster_forms(es_cluster3):
    es = Elasticsearch(es_cluster3.url(), request_timeout=60)
    health = es.cluster.health(wait_for_status="green", wait_for_nodes="3", timeout="60s")
    assert health["number_of_nodes"] == 3
    names = {n["name"] for n in es.cat.nodes(format="json", h="name")}
    assert names == {"node-1", "node-2", "node-3"}
    assert es.info()["cluster_name"] == es_cluster3.cluster_name


@pytest.mark.slow
def test_three_node_cluster_survives_a_node_and_rejoins(es_cluster3):
    index = "logkit-t-fault"
    es = Elasticsearch(es_cluster3.url(), request_timeout=60)
    es.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 1})
    es.bulk(operations=[x for i in range(20) for x in (
        {"index": {"_index": index, "_id": str(i)}}, {"n": i})], refresh=True)
    es.cluster.health(index=index, wait_for_status="green", timeout="60s")

    # stop the node that holds the primary: the replica must be promoted
    shards = es.cat.shards(index=index, format="json", h="prirep,node")
    primary_node = next(s["node"] for s in shards if s["prirep"] == "p")
    victim = es_cluster3.node_index(primary_node)
    es_cluster3.stop_node(victim)
    assert not es_cluster3.nodes[victim].alive()

    survivor = Elasticsearch(es_cluster3.url(), request_timeout=60)
    health = survivor.cluster.health(index=index, wait_for_status="yellow", wait_for_nodes="2",
                                     timeout="60s")
    assert health["number_of_nodes"] == 2 and not health["timed_out"]
    assert survivor.count(index=index)["count"] == 20  # still searchable
    survivor.index(index=index, id="after-stop", document={"n": 99}, refresh=True)  # writable
    assert survivor.count(index=index)["count"] == 21
    shards = survivor.cat.shards(index=index, format="json", h="prirep,state,node")
    assert any(s["prirep"] == "p" and s["state"] == "STARTED" and s["node"] != primary_node
               for s in shards)

    # restart with the same data dir: the node rejoins and the replica is rebuilt
    es_cluster3.start_node(victim)
    es_cluster3.wait(status="green", nodes=3, timeout=120)
    names = {n["name"] for n in survivor.cat.nodes(format="json", h="name")}
    assert primary_node in names and len(names) == 3
    health = survivor.cluster.health(index=index, wait_for_status="green", timeout="60s")
    assert health["status"] == "green"
    back = Elasticsearch(es_cluster3.nodes[victim].url, request_timeout=60)
    assert back.count(index=index)["count"] == 21
    assert back.get(index=index, id="after-stop")["_source"] == {"n": 99}
