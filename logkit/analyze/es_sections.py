"""The report sections added for Django, Scrapy and page-failure users (``django_routes``,
``spiders``, ``page_failures``), computed on Elasticsearch. Kept beside es_report.py so the two can
change independently; each function implements the definition of its named query in queries.py
and returns the same columns.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from . import queries as Q
from .es_report import (FETCHED, PAGE, TDIGEST_COMPRESSION, F, _all, _ES, _nulls_last, _parse_ts, _pct,
                        _src, _status, _term, _time, _window)


def page_failures(es: _ES, flt: Q.Filters, *, top) -> list[tuple]:
    query = _all(*_window(flt), FETCHED, _status(gte=400))
    per: dict[Any, dict[str, Any]] = {}
    for b in es.composite(query, [_src("http.response.status_code", key="s"), _src("url.domain", missing=True, key="d")],
                          {"last": {"max": {"field": F("@timestamp")}}}):
        s = b["key"]["s"]
        g = per.setdefault(s, {"pages": 0, "domains": set(), "last": None})
        g["pages"] += b["doc_count"]
        if b["key"]["d"] is not None:
            g["domains"].add(b["key"]["d"])
        last = _time(b["last"]["value"])
        if last is not None and (g["last"] is None or last > g["last"]):
            g["last"] = last
    rows = [(int(s), g["pages"], len(g["domains"]), sorted(g["domains"])[:3], g["last"]) for s, g in per.items()]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows[:top] if top else rows


def _get(src: dict, name: str) -> Any:
    """A field of ``_source`` in its dotted or nested form."""
    if name in src:
        return src[name]
    head, _, rest = name.partition(".")
    node = src.get(head)
    if isinstance(node, dict) and rest:
        return _get(node, rest)
    return None


def spiders(es: _ES, flt: Q.Filters, *, top) -> list[tuple]:
    # spider.closed events are few (one per crawl), and scrapy.stats is a flattened field whose
    # values are keywords the cluster cannot sum: read them and add up here.
    from elasticsearch import helpers
    names = ("@timestamp", "scrapy.spider", "scrapy.finish_reason", "scrapy.stats")
    body = {"query": _all(*_window(flt), _term("event.action", "spider.closed")), "_source": list(names)}
    per: dict[str, dict[str, Any]] = {}
    for h in helpers.scan(es.client, index=es.index, query=body, size=PAGE, ignore_unavailable=True,
                          allow_no_indices=True):
        src = h.get("_source", {})
        sp = _get(src, "scrapy.spider")
        ts = _parse_ts(_get(src, "@timestamp"))
        g = per.setdefault(sp, {"runs": 0, "last": None, "reason": None, **{c: None for c, _ in Q.SPIDER_STATS}})
        g["runs"] += 1
        if g["last"] is None or (ts is not None and ts >= g["last"]):
            g["last"], g["reason"] = ts, _get(src, "scrapy.finish_reason")
        stats = _get(src, "scrapy.stats") or {}
        for c, key in Q.SPIDER_STATS:
            v = stats.get(key) if isinstance(stats, dict) else None
            try:
                v = int(v) if v is not None else None
            except (TypeError, ValueError):
                v = None
            if v is not None:
                g[c] = (g[c] or 0) + v
    rows = [(sp, g["runs"], g["reason"], *[g[c] for c, _ in Q.SPIDER_STATS], g["last"]) for sp, g in per.items()]
    items = [c for c, _ in Q.SPIDER_STATS].index("items") + 3
    rows.sort(key=lambda r: (r[items] is None, -(r[items] or 0), _nulls_last(r[0])))
    return rows[:top] if top else rows


def django_routes(es: _ES, flt: Q.Filters, *, top) -> list[tuple]:
    tdigest = {"compression": TDIGEST_COMPRESSION}
    buckets = es.composite(_all(*_window(flt), _term("event.action", "http.request")),
                           [_src("django.route", missing=True, key="r")], {
        "s4": {"filter": _status(gte=400, lte=499)},
        "s5": {"filter": _status(gte=500)},
        "d": {"percentiles": {"field": F("event.duration"), "percents": [50, 95], "keyed": False,
                              "tdigest": tdigest}},
    })
    rows = []
    for b in buckets:
        n = b["doc_count"]
        p50, p95 = _pct(b["d"], 50), _pct(b["d"], 95)
        rows.append((b["key"]["r"], n, b["s4"]["doc_count"], b["s5"]["doc_count"], b["s5"]["doc_count"] / n,
                     p50 / 1e9 if p50 is not None else None, p95 / 1e9 if p95 is not None else None))
    rows.sort(key=lambda r: (-r[1], _nulls_last(r[0])))
    return rows[:top] if top else rows


SECTIONS = {"page_failures": page_failures, "spiders": spiders, "django_routes": django_routes}

__all__ = ["SECTIONS", "page_failures", "spiders", "django_routes", "datetime"]
