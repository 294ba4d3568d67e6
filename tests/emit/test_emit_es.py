"""Hostile events, as the emitter writes them, are accepted by a real Elasticsearch node with
logkit's templates (and the same events written raw are refused: the test can fail)."""
from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest
from elasticsearch import BadRequestError

from logkit.emit import Renderer
from logkit.es import setup as les

sys.path.insert(0, str(Path(__file__).parent.parent / "fixtures" / "adversarial"))
from hostile_values import OUT_OF_RANGE_LONGS, field_values  # noqa: E402

pytestmark = pytest.mark.es


def _setup(client, es_index):
    ns = es_index.replace("-", "").replace("logkitt", "t")[:60]
    les.setup(client, ns, name=es_index, pattern=f"logs-logkit.*-{ns}", priority=250)
    return les.data_stream_name("logkit.scrapy", ns)


def test_hostile_events_are_indexed(es_client, es_index):
    stream = _setup(es_client, es_index)
    r = Renderer("crawler", "scrapy")
    lines = []
    for name, v in {**field_values(), **{f"long:{k}": None for k in OUT_OF_RANGE_LONGS}}.items():
        fields = {"url.domain": "kept.example", "event.action": "page.fetched", "url.full": "https://kept.example/"}
        if name.startswith("long:"):
            fields[name[5:]] = OUT_OF_RANGE_LONGS[name[5:]]
        else:
            fields[name] = v
        lines.append(r.render(f"hostile {name}", "info", "crawler", 1_780_000_000.0, fields))
    ops = []
    for line in lines:
        ev = orjson.loads(line)
        ops += [{"create": {"_index": stream, "_id": ev["event"]["id"]}}, ev]
    res = es_client.bulk(operations=ops, refresh=True)
    failed = [i["create"] for i in res["items"] if i["create"]["status"] != 201]
    assert failed == []
    assert es_client.count(index=stream, query={"term": {"url.domain": "kept.example"}})["count"] == len(lines)


def test_the_same_values_written_raw_are_refused(es_client, es_index):
    stream = _setup(es_client, es_index)
    ev = orjson.loads(Renderer("crawler", "scrapy").render("m", "info", "c", 1_780_000_000.0,
                                                           {"http.response.status_code": 200}))
    ev["http"]["response"]["status_code"] = 2**63
    with pytest.raises(BadRequestError):
        es_client.index(index=stream, id=ev["event"]["id"], document=ev, op_type="create")
