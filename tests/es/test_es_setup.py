"""`logkit es setup` on the real Elasticsearch test node: templates generated from the schema,
data streams, what the node cannot take (pipelines, ILM) reported as skipped, idempotence,
and documents in both the dotted and the nested form landing in the same fields.

Each test installs its own templates: name ``<es_index>`` (so the fixture deletes them),
pattern ``logs-logkit.*-<namespace>`` with a namespace unique to the test, and priority 250
(above the default ``logkit`` template's 200 that another test or helper may have installed:
two templates with overlapping patterns must not share a priority).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest
from elasticsearch import BadRequestError

from logkit import schema
from logkit.emit import Renderer, flatten
from logkit.es import setup as les

pytestmark = pytest.mark.es

ROOT = Path(__file__).resolve().parent.parent.parent
T0 = 1_780_000_000.0  # 2026-05-28T...Z: fixed times make the events comparable


def _ns(es_index: str) -> str:
    return es_index.replace("-", "").replace("logkitt", "t")[:60]


def _setup(client, es_index, **kw):
    ns = _ns(es_index)
    return les.setup(client, ns, name=es_index, pattern=f"logs-logkit.*-{ns}", priority=250, **kw), ns


def _leaf_types(props: dict, prefix: str = "") -> dict[str, str]:
    """Field name -> mapped type; objects that are schema fields (labels) are listed too."""
    out = {}
    for k, v in props.items():
        name = f"{prefix}{k}"
        if "properties" in v:
            if name in schema.FIELDS:
                out[name] = v.get("type", "object")
            out.update(_leaf_types(v["properties"], name + "."))
        else:
            out[name] = v.get("type", "object")
    return out


def _page_event(renderer: Renderer, i: int, domain: str) -> dict:
    line = renderer.render(f"fetched page {i}", "info", "crawler.spider", T0 + i, fields={
        "event.action": "page.fetched", "url.full": f"https://{domain}/p/{i}", "url.domain": domain,
        "http.response.status_code": 200, "event.duration": 1_500_000 * (i + 1),
        "client.ip": "203.0.113.7", "trace.id": f"trace-{i:04d}"})
    return orjson.loads(line)


def _dotted(ev: dict) -> dict:
    """Every key dotted at the top level (the flat form readers accept)."""
    return flatten(ev)


# --- pure: what is generated ------------------------------------------------------------------
def test_every_schema_field_is_mapped_with_its_type():
    types = _leaf_types(les.properties())
    for name, f in schema.FIELDS.items():
        assert name in types, name
        assert types[name] == f.type, (name, types[name], f.type)
    assert set(types) == set(schema.FIELDS)
    assert set(les.STORE_FIELDS) == {"event.ingested", "data_stream.type", "data_stream.dataset",
                                     "data_stream.namespace"}


def test_fallback_types_without_the_optional_modules():
    caps = les.Capabilities(field_types=frozenset())
    types = _leaf_types(les.properties(caps))
    assert types["url.full"] == "keyword" and types["message"] == "text"
    assert types["data_stream.dataset"] == "keyword"
    assert types["http.response.status_code"] == "long"


def test_mappings_shape():
    m = les.mappings()
    assert m["date_detection"] is False
    assert m["dynamic_templates"][-1]["strings_as_keyword"]["mapping"]["type"] == "keyword"
    assert m["properties"]["extra"]["type"] == "flattened"
    assert m["properties"]["scrapy"]["properties"]["stats"]["type"] == "flattened"
    assert m["properties"]["log"]["properties"]["level"]["type"] == "keyword"


def test_data_stream_names_are_validated():
    assert les.data_stream_name("logkit.scrapy") == "logs-logkit.scrapy-default"
    assert les.data_stream_name("logkit.celery", "prod_eu") == "logs-logkit.celery-prod_eu"
    for bad in ("Prod", "a-b", "", "x" * 101, "a b", "_x", "a*"):
        with pytest.raises(ValueError):
            les.validate_namespace(bad)
        with pytest.raises(ValueError):
            les.validate_dataset(bad)


def test_plan_follows_capabilities():
    full = les.templates()
    settings = full["_component_template/logkit@settings"]["template"]["settings"]["index"]
    assert settings["default_pipeline"] == les.DEFAULT_PIPELINE
    assert settings["lifecycle"] == {"name": les.ILM_POLICY}
    assert "_ingest/pipeline/logkit-default" in full and "_ilm/policy/logkit-logs" in full
    assert "_index_template/logkit-route" in full
    tmpl = full["_index_template/logkit"]
    assert tmpl["index_patterns"] == ["logs-logkit.*-*"] and tmpl["data_stream"] == {}
    assert tmpl["priority"] > 100  # above the built-in logs template

    bare = les.templates(les.Capabilities(field_types=frozenset(), processors=frozenset(), ilm=False))
    settings = bare["_component_template/logkit@settings"]["template"]["settings"]["index"]
    assert "default_pipeline" not in settings and "lifecycle" not in settings
    assert not [p for p in bare if p.startswith(("_ingest", "_ilm"))]
    assert "_index_template/logkit-route" not in bare


def test_pipelines_use_known_processor_types_and_keep_documents():
    for name in les.pipeline_names():
        body = les.load_pipeline(name)
        assert body["on_failure"], f"{name} must keep failed documents"
        assert les.processor_types(body) <= {"dot_expander", "set", "lowercase", "uri_parts",
                                             "remove", "user_agent", "append", "reroute"}
    assert "reroute" in les.processor_types(les.load_pipeline("logkit-route"))


def test_bodies_carry_a_stable_hash():
    a, b = les.templates(), les.templates()
    assert a == b
    for body in a.values():
        inner = body.get("policy", body)
        assert inner["_meta"]["logkit"]["hash"]


# --- on the node ------------------------------------------------------------------------------
def test_detect_the_test_node(es_client):
    caps = les.detect(es_client)
    assert caps.ilm is False
    assert caps.data_stream_api is False
    assert "set" not in (caps.processors or set())
    assert caps.field_types == frozenset()  # no wildcard, match_only_text, constant_keyword here


def test_setup_twice_changes_nothing_the_second_time(es_client, es_index):
    first, ns = _setup(es_client, es_index)
    assert first.status_of("component_template", f"{es_index}@mappings") == les.CREATED
    assert first.status_of("component_template", f"{es_index}@settings") == les.CREATED
    assert first.status_of("index_template", es_index) == les.CREATED
    # what the node cannot take is reported as skipped, with the reason
    ilm = [a for a in first.actions if a.kind == "ilm_policy"]
    assert [a.status for a in ilm] == [les.SKIPPED] and "ILM" in ilm[0].reason
    pipes = {a.name: a for a in first.actions if a.kind == "pipeline"}
    assert set(pipes) == {"logkit-default", "logkit-route"}
    assert all(a.status == les.SKIPPED and "lack the processors" in a.reason for a in pipes.values())
    assert "set" in pipes["logkit-default"].reason
    assert first.status_of("index_template", f"{es_index}-route") == les.SKIPPED
    ds = [a for a in first.actions if a.kind == "data_stream"]
    assert len(ds) == len(les.DATASETS)
    assert all(a.status == les.SKIPPED and "first write" in a.reason for a in ds)
    assert first.changed

    second, _ = _setup(es_client, es_index)
    assert not second.changed
    assert {(a.kind, a.name, a.status) for a in second.actions
            if a.kind in ("component_template", "index_template") and a.status != les.SKIPPED} == {
        ("component_template", f"{es_index}@mappings", les.UNCHANGED),
        ("component_template", f"{es_index}@settings", les.UNCHANGED),
        ("index_template", es_index, les.UNCHANGED)}
    # and the cluster's copies are what was generated
    got = es_client.cluster.get_component_template(name=f"{es_index}@mappings")
    body = got["component_templates"][0]["component_template"]
    assert les.body_hash(body) == les.body_hash(les.templates(
        second.capabilities, name=es_index)[f"_component_template/{es_index}@mappings"])


def test_a_changed_template_is_updated_and_the_data_stream_rolled_over(es_client, es_index):
    _, ns = _setup(es_client, es_index)
    stream = les.data_stream_name("logkit.scrapy", ns)
    ev = _page_event(Renderer("crawler", "scrapy"), 0, "example.com")
    es_client.index(index=stream, id=ev["event"]["id"], document=ev, op_type="create", refresh=True)
    before = es_client.indices.resolve_index(name=stream)["data_streams"][0]["backing_indices"]

    report, _ = _setup(es_client, es_index, replicas=0)
    assert report.status_of("component_template", f"{es_index}@settings") == les.UPDATED
    assert report.status_of("component_template", f"{es_index}@mappings") == les.UNCHANGED
    assert report.status_of("data_stream", stream) == les.ROLLED_OVER
    after = es_client.indices.resolve_index(name=stream)["data_streams"][0]["backing_indices"]
    assert len(after) == len(before) + 1
    write = es_client.indices.get_settings(index=after[-1])[after[-1]]["settings"]["index"]
    assert write["number_of_replicas"] == "0"
    again, _ = _setup(es_client, es_index, replicas=0)
    assert not again.changed
    assert again.status_of("data_stream", stream) == les.UNCHANGED


def test_data_stream_mapping_has_the_schema_types(es_client, es_index):
    report, ns = _setup(es_client, es_index)
    stream = les.data_stream_name("logkit.scrapy", ns)
    ev = _page_event(Renderer("crawler", "scrapy"), 1, "example.org")
    ev["extra"] = {"shop": {"sku": "A-1"}, "count": 3}
    es_client.index(index=stream, id=ev["event"]["id"], document=ev, op_type="create", refresh=True)
    ds = es_client.indices.resolve_index(name=stream)["data_streams"]
    assert [d["name"] for d in ds] == [stream]
    props = next(iter(es_client.indices.get_mapping(index=stream).values()))["mappings"]["properties"]
    types = _leaf_types(props)
    assert types["http.response.status_code"] == "long"
    assert types["url.domain"] == "keyword"
    assert types["client.ip"] == "ip"
    assert types["@timestamp"] == "date"
    assert types["extra"] == "flattened"
    assert types["scrapy.stats"] == "flattened"
    assert types["celery.task.runtime"] == "double"
    assert types["event.duration"] == "long"
    caps = report.capabilities
    for name, f in schema.FIELDS.items():  # every field, fallbacks included
        assert types[name] == les.field_mapping(f.type, caps)["type"], name
    # extra's keys did not become fields of their own
    assert not [n for n in types if n.startswith("extra.")]


def test_dotted_and_nested_documents_index_to_the_same_fields(es_client, es_index):
    _, ns = _setup(es_client, es_index)
    stream = les.data_stream_name("logkit.scrapy", ns)
    r = Renderer("crawler", "scrapy")
    nested = _page_event(r, 2, "shop.example")           # as emitted: log.level dotted, rest nested
    dotted = _dotted(_page_event(r, 3, "shop.example"))  # every key dotted
    assert "url.domain" in dotted and "url" in nested and "log.level" in nested
    mixed = _page_event(r, 4, "other.example")
    for doc in (nested, dotted, mixed):
        doc_id = doc["event"]["id"] if "event" in doc else doc["event.id"]
        es_client.index(index=stream, id=doc_id, document=doc, op_type="create")
    es_client.indices.refresh(index=stream)
    hits = es_client.search(index=stream, query={"term": {"url.domain": "shop.example"}})["hits"]["hits"]
    assert sorted(h["_id"] for h in hits) == sorted([nested["event"]["id"], dotted["event.id"]])
    for field, value in (("log.level", "info"), ("http.response.status_code", 200),
                         ("client.ip", "203.0.113.0/24"), ("event.action", "page.fetched")):
        n = es_client.count(index=stream, query={"term": {field: value}})["count"]
        assert n == 3, field
    # Lucene syntax, as the Kibana searches run it
    q = es_client.count(index=stream, query={"query_string": {"query": 'url.domain:"shop.example"'}})
    assert q["count"] == 2
    # one mapping: no field named with a dot at the top level
    props = next(iter(es_client.indices.get_mapping(index=stream).values()))["mappings"]["properties"]
    assert not [k for k in props if "." in k]


def test_a_wrong_type_for_a_mapped_field_is_rejected(es_client, es_index):
    _, ns = _setup(es_client, es_index)
    stream = les.data_stream_name("logkit.scrapy", ns)
    r = Renderer("crawler", "scrapy")
    for field, bad in ((("http", "response", "status_code"), "two hundred"),
                       (("client", "ip"), "not-an-ip"),
                       (("event", "duration"), {"ns": 5})):
        ev = _page_event(r, 5, "example.net")
        node = ev
        for part in field[:-1]:
            node = node.setdefault(part, {})
        node[field[-1]] = bad
        with pytest.raises(BadRequestError) as e:
            es_client.index(index=stream, id=ev["event"]["id"], document=ev, op_type="create")
        assert e.value.meta.status == 400
        assert "parsing" in json.dumps(e.value.body)  # document_parsing_exception / mapper_parsing
    # through _bulk (the shipper's path) the item fails, the others go in
    good = _page_event(r, 6, "example.net")
    bad = _page_event(r, 7, "example.net")
    bad["http"]["response"]["status_code"] = "oops"
    ops = []
    for d in (good, bad):
        ops += [{"create": {"_index": stream, "_id": d["event"]["id"]}}, d]
    res = es_client.bulk(operations=ops, refresh=True)
    assert res["errors"] is True
    statuses = [next(iter(i.values()))["status"] for i in res["items"]]
    assert statuses == [201, 400]


def test_unknown_keys_become_keywords_and_no_date_is_guessed(es_client, es_index):
    _, ns = _setup(es_client, es_index)
    stream = les.data_stream_name("logkit.script", ns)
    ev = orjson.loads(Renderer("job", "script").render("x", "info", "job", T0))
    ev["url"] = {"scheme": "2026-01-01T00:00:00Z"}        # unknown ECS field holding a date string
    ev["labels"] = {"team": "crawl"}
    ev["celery"] = {"task": {"custom_note": "long text " * 5}}
    es_client.index(index=stream, id=ev["event"]["id"], document=ev, op_type="create", refresh=True)
    props = next(iter(es_client.indices.get_mapping(index=stream).values()))["mappings"]["properties"]
    types = _leaf_types(props)
    assert types["url.scheme"] == "keyword"
    assert types["labels.team"] == "keyword"
    assert types["celery.task.custom_note"] == "keyword"


def test_the_cli_runs_setup(es_url, es_index, monkeypatch):
    from click.testing import CliRunner

    from logkit.cli import main

    ns = _ns(es_index)
    # the CLI installs the default names; run it twice, the second run changes nothing
    res = CliRunner().invoke(main, ["es", "setup", "--url", es_url, "--namespace", ns, "--format", "json"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["es", "setup", "--url", es_url, "--namespace", ns, "--format", "json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["changed"] is False
    skipped = {a["name"] for a in report["actions"] if a["status"] == "skipped"}
    assert {"logkit-default", "logkit-route", "logkit-logs"} <= skipped
    res = CliRunner().invoke(main, ["es", "setup", "--url", es_url, "--namespace", "Bad_NS"])
    assert res.exit_code == 2 and "lowercase" in res.output


def test_the_cli_prints_templates():
    from click.testing import CliRunner

    from logkit.cli import main

    res = CliRunner().invoke(main, ["es", "templates"])
    assert res.exit_code == 0
    bodies = json.loads(res.output)
    assert bodies == les.templates()
