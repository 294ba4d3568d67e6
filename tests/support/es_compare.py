"""Compare the documents two shipping paths left in Elasticsearch (Filebeat and `logkit ship`,
or either against the events written to the files): same `_id`s, same fields.

    from support.es_compare import fetch_all, compare, expected_documents
    a = fetch_all(client, "logs-logkit.scrapy-ns1")          # {_id: _source}, sorted by _id
    b = fetch_all(client, "logs-logkit.scrapy-ns2")
    d = compare(a, b)                                          # Filebeat's own fields dropped
    assert d.same, d.report()

What is dropped before comparing (SHIPPER_FIELDS): the fields a shipper adds about itself and
where it read the line, which logkit's events never carry —
  agent.*        Filebeat's name, version, ids
  input.*        input.type: filestream
  log.file.*     path, and in 8.x/9.x device_id, inode (fingerprint with fingerprint identity)
  log.offset     byte offset of the line
  log.flags      multiline/truncation flags
  host.name      Filebeat's host name (logkit writes host.hostname, which is kept)
`ecs.version` is NOT dropped: logkit writes it and Filebeat's `overwrite_keys` keeps logkit's.
A shipper that adds other fields of its own passes `drop=SHIPPER_FIELDS + (...)`.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

SHIPPER_FIELDS: tuple[str, ...] = ("agent", "input", "log.file", "log.offset", "log.flags", "host.name")


def fetch_all(client, index: str, query: dict | None = None) -> dict[str, dict]:
    """Every document of ``index`` (a data stream, index or pattern): {_id: _source}, sorted by _id."""
    from elasticsearch import helpers

    client.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    docs = {}
    for hit in helpers.scan(client, index=index, query={"query": query or {"match_all": {}}},
                            size=1000, preserve_order=False):
        if hit["_id"] in docs:
            raise AssertionError(f"_id {hit['_id']} is in {index} twice (two backing indices)")
        docs[hit["_id"]] = hit["_source"]
    return dict(sorted(docs.items()))


def nested(event: Mapping[str, Any]) -> dict[str, Any]:
    """``event`` with every dotted key expanded into objects (``log.level`` -> log: {level}), as
    Elasticsearch and Filebeat's ``expand_keys`` see it. Leaves values inside lists alone."""
    out: dict[str, Any] = {}
    for k, v in event.items():
        v = nested(v) if isinstance(v, Mapping) else copy.deepcopy(v)
        parts = k.split(".") if k != "@timestamp" else [k]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        leaf = parts[-1]
        if isinstance(node.get(leaf), dict) and isinstance(v, dict):
            _merge(node[leaf], v)
        else:
            node[leaf] = v
    return out


def _merge(into: dict, other: dict) -> None:
    for k, v in other.items():
        if isinstance(into.get(k), dict) and isinstance(v, dict):
            _merge(into[k], v)
        else:
            into[k] = v


def strip(source: Mapping[str, Any], drop: Iterable[str] = SHIPPER_FIELDS) -> dict[str, Any]:
    """``source`` (nested) without the ``drop`` paths; objects left empty are removed too."""
    out = nested(source)
    for path in drop:
        parts = path.split(".")
        chain = [out]
        for p in parts[:-1]:
            nxt = chain[-1].get(p)
            if not isinstance(nxt, dict):
                break
            chain.append(nxt)
        else:
            chain[-1].pop(parts[-1], None)
            for i in range(len(chain) - 1, 0, -1):  # prune empty parents
                if not chain[i]:
                    chain[i - 1].pop(parts[i - 1], None)
    return out


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict) and obj:
        out = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj}


@dataclass
class Diff:
    only_left: list[str] = field(default_factory=list)
    only_right: list[str] = field(default_factory=list)
    #: _id -> [(field, left value, right value)]
    different: dict[str, list[tuple[str, Any, Any]]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not (self.only_left or self.only_right or self.different)

    def report(self, limit: int = 10) -> str:
        lines = []
        if self.only_left:
            lines.append(f"{len(self.only_left)} _ids only on the left: {self.only_left[:limit]}")
        if self.only_right:
            lines.append(f"{len(self.only_right)} _ids only on the right: {self.only_right[:limit]}")
        for i, (doc_id, fields) in enumerate(self.different.items()):
            if i >= limit:
                lines.append(f"... {len(self.different) - limit} more documents differ")
                break
            for name, a, b in fields:
                lines.append(f"{doc_id} {name}: {json.dumps(a)} != {json.dumps(b)}")
        return "\n".join(lines) or "same documents"


def compare(left: Mapping[str, Mapping], right: Mapping[str, Mapping],
            drop: Iterable[str] = SHIPPER_FIELDS, drop_right: Iterable[str] | None = None) -> Diff:
    """Documents by _id: which ids only one side has, and which fields differ (after dropping
    the shippers' own fields from both sides; ``drop_right`` for the right side if different)."""
    drop = tuple(drop)
    drop_right = drop if drop_right is None else tuple(drop_right)
    d = Diff(only_left=sorted(set(left) - set(right)), only_right=sorted(set(right) - set(left)))
    for doc_id in sorted(set(left) & set(right)):
        a, b = _flat(strip(left[doc_id], drop)), _flat(strip(right[doc_id], drop_right))
        fields = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        if fields:
            d.different[doc_id] = fields
    return d


def expected_documents(lines: Iterable[bytes | str]) -> dict[str, dict]:
    """{event.id: the event fully nested} for the logkit events of NDJSON ``lines`` (lines that
    are not JSON objects or have no event.id are left out): what either shipper must store."""
    out = {}
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if not isinstance(ev, dict):
            continue
        ev = nested(ev)
        doc_id = (ev.get("event") or {}).get("id")
        if isinstance(doc_id, str) and doc_id:
            out[doc_id] = ev
    return dict(sorted(out.items()))
