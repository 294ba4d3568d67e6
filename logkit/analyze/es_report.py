"""The report computed on an Elasticsearch cluster (``logkit analyze --es URL --index PATTERN``).

Each section implements the definition of its named query (:mod:`logkit.analyze.queries`) with
aggregations instead of SQL, and yields the same columns, so the same renderers work:

- filters: ``range`` on ``@timestamp`` (``gte`` since, ``lt`` until), ``terms`` on
  ``service.name`` / ``url.domain``;
- per-group figures (domains, proxies, tasks, services, CAPTCHA vendors): a ``composite``
  aggregation paged to the end (exact, every group), with ``filters`` sub-aggregations for the
  ``count(*) FILTER (WHERE ...)`` terms, ``max`` for the last-success time, ``percentiles`` for
  the task runtimes; ranking and ``--top`` are applied afterwards, as the SQL does;
- summary: counts and ``min``/``max``; the distinct counts are the buckets of a composite
  aggregation, counted (exact; ``cardinality`` would be an estimate);
- timeline: ``date_histogram`` with ``fixed_interval`` and ``min_doc_count`` 0 (the empty
  intervals between the first and the last), aligned like DuckDB's ``time_bucket``;
- failure patterns: only the failures' (time, kind, message, domain, service) are fetched
  (a scroll returning those fields only, ``_source`` off), put in an in-memory DuckDB table and
  grouped by the same :func:`logkit.analyze.failures.failure_patterns`.

Percentiles are exact, equal to DuckDB's ``quantile_cont``: TDigest estimates locate the two
neighbouring values, which are then read exactly (see :func:`exact_quantiles`). The ``files`` and ``bad_input`` sections
are about loaded files; on a cluster there are none, so they are empty.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from .. import schema
from . import queries as Q
from .report import SECTIONS, Report, Section, as_tuple, parse_time, window

#: Sections computed with aggregations (the others raise :class:`NotSupportedOnES`).
SUPPORTED = ("summary", "domains", "captcha_vendors", "proxies", "tasks", "services", "critical_events",
             "timeline", "failure_patterns", "files", "bad_input", "page_failures", "spiders", "django_routes")

#: TDigest compression of the percentiles (Elasticsearch's default is 100; more is more exact).
TDIGEST_COMPRESSION = 200
#: Buckets per composite page.
PAGE = 1000
#: Hits per page of a point-in-time read (failures for the patterns, all critical events).
HITS_PAGE = 10000
#: The most hits one search returns (index.max_result_window's default).
MAX_HITS = 10000
#: Failure events buffered before they are inserted into the in-memory DuckDB table.
FLUSH_ROWS = 50000
#: DuckDB's time_bucket origin for intervals without months: Monday 2000-01-03 00:00 UTC.
_BUCKET_ORIGIN = datetime(2000, 1, 3, tzinfo=timezone.utc)


class NotSupportedOnES(ValueError):
    """A report section that is not computed on Elasticsearch yet."""

    def __init__(self, section: str):
        super().__init__(f"not supported with --es yet: {section}")
        self.section = section


def error_reason(e: Exception) -> str:
    """The cluster's own words for a refused request (the innermost cause), else ``str(e)``."""
    body = getattr(e, "body", None)
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return str(err or e)
    reasons = [str(c["reason"]) for c in err.get("root_cause") or () if isinstance(c, dict) and c.get("reason")]
    while isinstance(err, dict):  # search_phase_execution_exception wraps the interesting one
        if err.get("reason") and str(err["reason"]) not in reasons:
            reasons.append(str(err["reason"]))
        err = err.get("caused_by")
    return "; ".join(reasons) or str(e)


class PercentileError(RuntimeError):
    """One search of the exact percentiles was refused (a multi-search answers per search)."""


class _Refused(Exception):
    def __init__(self, body: dict):
        super().__init__(str(body.get("error")))
        self.body = body


def F(name: str) -> str:
    """A field name, checked against the schema."""
    return schema.field(name).name


# --- query building blocks ---------------------------------------------------------------------
def _term(name: str, value: Any) -> dict:
    return {"term": {F(name): value}}


def _terms(name: str, values: Iterable[Any]) -> dict:
    return {"terms": {F(name): list(values)}}


def _exists(name: str) -> dict:
    return {"exists": {"field": F(name)}}


def _range(name: str, **kw: Any) -> dict:
    return {"range": {F(name): kw}}


def _all(*qs: dict) -> dict:
    return {"bool": {"filter": list(qs)}}


def _any(*qs: dict) -> dict:
    return {"bool": {"should": list(qs), "minimum_should_match": 1}}


def _not(*qs: dict) -> dict:
    return {"bool": {"must_not": list(qs)}}


def _missing(name: str) -> dict:
    return _not(_exists(name))


def range_bound(t: datetime) -> str:
    """A window bound for a ``range`` on a millisecond ``date`` field: the bound rounded up to the
    millisecond, so ``>= t`` and ``< t`` select the same events as on the exact time."""
    t = t.astimezone(timezone.utc)
    if t.microsecond % 1000:
        t += timedelta(microseconds=1000 - t.microsecond % 1000)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _window(flt: Q.Filters, *, with_since: bool = True, since: datetime | None = None) -> list[dict]:
    """The filters that are set, as query clauses (queries.where)."""
    out = []
    rng: dict[str, Any] = {}
    lo = since if since is not None else (flt.since if with_since else None)
    if lo is not None:
        rng["gte"] = range_bound(lo)
    if flt.until is not None:
        rng["lt"] = range_bound(flt.until)
    if rng:
        rng["format"] = "strict_date_optional_time"
        out.append(_range("@timestamp", **rng))
    if flt.services:
        out.append(_terms("service.name", flt.services))
    if flt.domains:
        out.append(_terms("url.domain", flt.domains))
    return out


#: outcome `failure` or level `error`/`critical` (queries._FAILURE)
FAILURE = _any(_term("event.outcome", "failure"), _terms("log.level", ("error", "critical")))
REQUEST = _terms("event.action", ("page.fetched", "download.failed"))
FETCHED = _term("event.action", "page.fetched")


def _status(**kw: Any) -> dict:
    return _range("http.response.status_code", **kw)


def _domain_filters() -> dict[str, dict]:
    """The count(*) FILTER terms of queries._DOMAIN_AGG."""
    proxied = _all(REQUEST, _exists("scrapy.proxy"))
    return {
        "requests": REQUEST,
        "pages": FETCHED,
        "status_2xx": _all(FETCHED, _status(gte=200, lte=299)),
        "status_3xx": _all(FETCHED, _status(gte=300, lte=399)),
        "status_4xx": _all(FETCHED, _status(gte=400, lte=499)),
        "status_5xx": _all(FETCHED, _status(gte=500)),
        "download_failed": _term("event.action", "download.failed"),
        "captchas": _term("event.action", "captcha.detected"),
        "blocks": _term("event.action", "block.detected"),
        "proxied": proxied,
        # outcome = 'success' OR (outcome IS NULL AND action = 'page.fetched' AND status < 400)
        "proxied_ok_plus": _all(proxied, _any(
            _term("scrapy.proxy_outcome", "success"),
            _all(_missing("scrapy.proxy_outcome"), FETCHED, _status(lt=400)))),
        "proxied_ok_minus": _all(
            _terms("event.action", ("captcha.detected", "block.detected")), _exists("scrapy.proxy"),
            _missing("scrapy.proxy_outcome"), _any(_missing("http.response.status_code"), _status(lt=400))),
    }


def _counts(bucket: dict, agg: str = "f") -> dict[str, int]:
    return {k: v["doc_count"] for k, v in bucket[agg]["buckets"].items()}


def _proxied_ok(c: dict[str, int]) -> int:
    return max(0, c["proxied_ok_plus"] - c["proxied_ok_minus"])


def _div(a: int | float, b: int | float) -> float | None:
    return a / b if b else None


def _time(ms: float | None) -> datetime | None:
    if ms is None:
        return None
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


def _nulls_last(v: Any) -> tuple:
    return (v is None, v if v is not None else "")


# --- the cluster side ------------------------------------------------------------------------
class _ES:
    def __init__(self, client, index: str):
        self.client, self.index = client, index
        #: HTTP requests sent and searches run (a multi-search is one request, many searches):
        #: where analyze --es spends its time (benchmarks/es_report_cost.py)
        self.requests = self.searches = 0

    def search(self, **body: Any) -> dict:
        body.setdefault("size", 0)
        self.requests += 1
        self.searches += 1
        return self.client.search(index=self.index, ignore_unavailable=True, allow_no_indices=True,
                                  **body).body

    def aggs(self, query: dict, aggs: dict) -> dict:
        return self.search(query=query, aggs=aggs, track_total_hits=True)

    def composite(self, query: dict, sources: list[dict], aggs: dict | None = None) -> list[dict]:
        """Every bucket of a composite aggregation, paged to the end."""
        out, after = [], None
        while True:
            comp: dict[str, Any] = {"sources": sources, "size": PAGE}
            if after is not None:
                comp["after"] = after
            agg: dict[str, Any] = {"composite": comp}
            if aggs:
                agg["aggs"] = aggs
            res = self.search(query=query, aggs={"c": agg})["aggregations"]["c"]
            out.extend(res["buckets"])
            after = res.get("after_key")
            # a short page is the last one: no request for the empty page after it
            if len(res["buckets"]) < PAGE or after is None:
                return out

    def hits(self, body: dict, *, sort: list | None = None, limit: int | None = None) -> Iterable[dict]:
        """Every hit of ``body`` (its ``query``, ``fields``, ``_source``) in ``sort`` order, a
        point-in-time read in pages of HITS_PAGE with ``search_after``: bounded requests, a
        consistent view, no scroll context left open when the caller stops early."""
        sort = list(sort or [{F("@timestamp"): "asc"}]) + [{"_shard_doc": "asc"}]
        self.requests += 1
        pit = self.client.open_point_in_time(index=self.index, keep_alive="2m", ignore_unavailable=True)["id"]
        try:
            after, n = None, 0
            while True:
                size = HITS_PAGE if limit is None else min(HITS_PAGE, limit - n)
                if size <= 0:
                    return
                req = dict(body, size=size, sort=sort, pit={"id": pit, "keep_alive": "2m"}, track_total_hits=False)
                if after is not None:
                    req["search_after"] = after
                self.requests += 1
                self.searches += 1
                r = self.client.search(**req).body
                pit = r.get("pit_id", pit)
                page = r["hits"]["hits"]
                n += len(page)
                yield from page
                if len(page) < size:
                    return
                after = page[-1]["sort"]
        finally:
            self.requests += 1
            try:
                self.client.close_point_in_time(id=pit)
            except Exception:  # it expires after keep_alive anyway
                pass

    def count(self) -> int:
        self.requests += 1
        return self.client.count(index=self.index, ignore_unavailable=True, allow_no_indices=True)["count"]


def _src(name: str, *, missing: bool = False, key: str | None = None) -> dict:
    t: dict[str, Any] = {"field": F(name)}
    if missing:
        t["missing_bucket"] = True
    return {key or name: {"terms": t}}


# --- sections ----------------------------------------------------------------------------------
def _summary(es: _ES, flt: Q.Filters) -> tuple[tuple[str, ...], list[tuple]]:
    query = _all(*_window(flt))
    r = es.aggs(query, {
        "first": {"min": {"field": F("@timestamp")}},
        "last": {"max": {"field": F("@timestamp")}},
        "failures": {"filter": FAILURE},
        "critical": {"filter": _term("log.level", "critical")},
    })
    a = r["aggregations"]
    # count(DISTINCT x): the composite buckets of x, counted (exact, unlike `cardinality`)
    distinct = [len(es.composite(query, [_src(n, key="k")])) for n in ("service.name", "host.hostname", "url.domain")]
    row = (r["hits"]["total"]["value"], _time(a["first"]["value"]), _time(a["last"]["value"]), *distinct,
           a["failures"]["doc_count"], a["critical"]["doc_count"])
    return Q.QUERIES["summary"].columns, [row]


def _domains(es: _ES, flt: Q.Filters, *, top, end) -> list[tuple]:
    filters = _domain_filters()
    filters["items_new"] = _all(_term("event.action", "item.scraped"), _term("scrapy.item.status", "new"))
    filters["items_updated"] = _all(_term("event.action", "item.scraped"), _term("scrapy.item.status", "updated"))
    success = _all(FETCHED, _status(gte=200, lte=299), _not(_term("event.outcome", "failure")))
    buckets = es.composite(_all(*_window(flt), _exists("url.domain")), [_src("url.domain", key="d")], {
        "f": {"filters": {"filters": filters}},
        "ok": {"filter": success, "aggs": {"last": {"max": {"field": F("@timestamp")}}}},
    })
    rows = []
    for b in buckets:
        c = _counts(b)
        if not (c["requests"] or c["captchas"] or c["blocks"] or c["items_new"] or c["items_updated"]):
            continue  # a log line that merely names the domain (queries: domains)
        errors = c["download_failed"] + c["status_4xx"] + c["status_5xx"]
        last = _time(b["ok"]["last"]["value"])
        rows.append((b["key"]["d"], c["requests"], c["status_2xx"], c["status_3xx"], c["status_4xx"],
                     c["status_5xx"], c["download_failed"], errors, _div(errors, c["requests"]),
                     c["captchas"], _div(c["captchas"], c["requests"]), c["blocks"],
                     _div(_proxied_ok(c), c["proxied"]), c["items_new"], c["items_updated"], last,
                     (end - last).total_seconds() if last is not None and end is not None else None))
    rows.sort(key=lambda r: (-r[1], -r[7], r[0]))
    return rows[:top] if top else rows


def _captcha_vendors(es: _ES, flt: Q.Filters, *, top) -> list[tuple]:
    buckets = es.composite(_all(*_window(flt), _term("event.action", "captcha.detected")),
                           [_src("url.domain", missing=True, key="d"),
                            _src("scrapy.challenge.vendor", missing=True, key="v")])
    groups: dict[tuple, int] = {}
    for b in buckets:  # coalesce(vendor, 'unknown'): a missing vendor and 'unknown' are one group
        k = (b["key"]["d"], b["key"]["v"] if b["key"]["v"] is not None else "unknown")
        groups[k] = groups.get(k, 0) + b["doc_count"]
    rows = [(d, v, n) for (d, v), n in groups.items()]
    rows.sort(key=lambda r: (-r[2], _nulls_last(r[0]), _nulls_last(r[1])))
    return rows[:top] if top else rows


def _proxies(es: _ES, flt: Q.Filters, *, top) -> list[tuple]:
    buckets = es.composite(_all(*_window(flt), _exists("scrapy.proxy")), [_src("scrapy.proxy", key="p")],
                           {"f": {"filters": {"filters": _domain_filters()}}})
    rows = []
    for b in buckets:
        c = _counts(b)
        if c["proxied"] > 0:
            ok = _proxied_ok(c)
            rows.append((b["key"]["p"], c["proxied"], ok, _div(ok, c["proxied"])))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows[:top] if top else rows


def _pct(agg: dict, q: float) -> float | None:
    for v in agg["values"]:
        if abs(v["key"] - q) < 1e-9:
            return v["value"]
    return None


# --- exact percentiles -------------------------------------------------------------------------
# Elasticsearch's `percentiles` are estimates (TDigest, HDR): at a point mass (many runtimes equal
# to a time limit) a rank error of a fraction of a percent moves p95 from 19.7 s to 30 s. DuckDB's
# quantile_cont is exact: it interpolates between the sorted values at ranks floor(h) and ceil(h),
# h = (n - 1) q. So the cluster finds those two values exactly, in two steps: the TDigest estimate
# at a lower percentile only *locates* them (a lower bound L below which the exact count is
# asked), then a `terms` aggregation over the values >= L, in key order, hands the values with
# their exact counts from which the ranks are read. A wrong estimate costs one more round (a
# lower L, or the next page of values), never a wrong figure.
#: How far below q (in percentile points) the lower bound is taken, one try after another; after
#: the last one there is no lower bound.
_BRACKET = (0.1, 0.5, 2.0, 10.0)
#: Distinct values per `terms` page (index.max_terms_count is not involved: that is for queries).
_TERMS_PAGE = 10000


def _percents(qs: Sequence[float]) -> list[float]:
    """The TDigest percentiles asked for: the targets and the lower bounds of _BRACKET."""
    out = {round(q * 100, 6) for q in qs}
    for q in qs:
        out.update(round(q * 100 - d, 6) for d in _BRACKET if q * 100 - d > 0)
    return sorted(out)


class _Target:
    """One exact quantile to find: the q-quantile of ``field`` over the documents of ``query``."""

    def __init__(self, key: Any, query: dict, field: str, q: float, n: int, estimates: dict):
        self.key, self.query, self.field, self.q, self.n = key, query, field, q, n
        # DuckDB: RN = (n - 1) * q (a double), FRN = floor, CRN = ceil, d = RN - FRN
        self.h = (n - 1) * q
        self.ranks = sorted({int(self.h // 1), -int(-self.h // 1)})
        self.values: dict[int, float] = {}
        self.tries = [estimates.get(round(q * 100 - d, 6)) for d in _BRACKET if q * 100 - d > 0]
        self.tries = [v for v in self.tries if v is not None] + [None]
        self.lower: float | None = self.tries.pop(0)
        self.strict = False  # True: the values > lower (the next page), else >= lower
        self.below: int | None = None  # the exact count of values under the lower bound, once known

    def body(self) -> dict:
        fld = F(self.field)
        aggs: dict[str, Any] = {}
        rng: dict[str, Any] = {"exists": {"field": fld}}
        if self.lower is not None:
            rng = {"range": {fld: {"gt" if self.strict else "gte": self.lower}}}
            if self.below is None:
                aggs["below"] = {"filter": {"range": {fld: {"lt": self.lower}}}}
        aggs["v"] = {"filter": rng, "aggs": {"t": {"terms": {
            "field": fld, "size": _TERMS_PAGE, "order": {"_key": "asc"}}}}}
        return {"size": 0, "query": self.query, "aggs": aggs, "track_total_hits": False}

    def read(self, res: dict) -> bool:
        """Takes one response; True when both values are known."""
        a = res["aggregations"]
        below = self.below if self.below is not None else (a["below"]["doc_count"] if "below" in a else 0)
        if below > self.ranks[0]:  # the estimate was too high: a lower bound further down
            self.lower = self.tries.pop(0) if self.tries else None
            self.below = None
            return False
        self.below = below
        i, last = below, None
        for b in a["v"]["t"]["buckets"]:
            for r in self.ranks:
                if i <= r < i + b["doc_count"]:
                    self.values[r] = float(b["key"])
            i += b["doc_count"]
            last = b["key"]
        if len(self.values) == len(self.ranks):
            return True
        if last is None or a["v"]["t"].get("sum_other_doc_count", 0) == 0:
            raise RuntimeError(f"the cluster counted {self.n} values of {self.field} but returned {i}")
        self.lower, self.strict, self.below = float(last), True, i  # the next page of values
        return False

    def result(self) -> tuple[float, float, float]:
        lo, hi = self.values[self.ranks[0]], self.values[self.ranks[-1]]
        return lo, self.h - self.ranks[0], hi


def _interpolate(parts: list[tuple[float, float, float]]) -> list[float]:
    """DuckDB's own interpolation between the two neighbours (lo, d, hi): quantile_cont at d of
    the pair, which runs the same arithmetic as on the whole sample, so the last bit agrees too
    (its compiled form, lo(1 - d) + hi d with a fused multiply-add, is not what Python's floats
    would compute)."""
    if not parts:
        return []
    import duckdb
    con = duckdb.connect()
    try:
        return [con.execute("SELECT quantile_cont(x, $d::DOUBLE) FROM (SELECT unnest([$lo::DOUBLE, $hi::DOUBLE]) AS x)",
                            {"lo": lo, "d": d, "hi": hi}).fetchone()[0] for lo, d, hi in parts]
    finally:
        con.close()


def exact_quantiles(es: "_ES", targets: list[_Target]) -> dict[Any, float]:
    """{target.key: the exact quantile (DuckDB quantile_cont)} for ``targets`` with n > 0, by
    rounds of one multi-search each (one search per unresolved target)."""
    todo = [t for t in targets if t.n > 0]
    while todo:
        nxt = []
        for i in range(0, len(todo), _MSEARCH):
            chunk = todo[i:i + _MSEARCH]
            ops: list[dict] = []
            for t in chunk:
                ops += [{"index": es.index, "ignore_unavailable": True, "allow_no_indices": True}, t.body()]
            es.requests += 1
            es.searches += len(chunk)
            res = es.client.msearch(searches=ops).body["responses"]
            for t, r in zip(chunk, res):
                if "error" in r:
                    raise PercentileError(f"percentile search refused: {error_reason(_Refused(r))}")
                if not t.read(r):
                    nxt.append(t)
        todo = nxt
    done = [t for t in targets if t.n > 0]
    return dict(zip((t.key for t in done), _interpolate([t.result() for t in done])))


#: Searches per multi-search request.
_MSEARCH = 200


def _tasks(es: _ES, flt: Q.Filters, *, top) -> list[tuple]:
    name = "celery.task.name"
    base = _all(*_window(flt), _exists(name))
    action = lambda a: _term("event.action", a)  # noqa: E731
    tdigest = {"compression": TDIGEST_COMPRESSION}
    rt_filter = _terms("event.action", ("task.succeeded", "task.failed"))
    rt_q, qw_q = (0.5, 0.95, 0.99), (0.95,)
    buckets = es.composite(base, [_src(name, key="t")], {
        "f": {"filters": {"filters": {
            "succeeded": action("task.succeeded"), "failed": action("task.failed"),
            "retried": action("task.retried"), "revoked": action("task.revoked"),
            "timeouts": _all(action("task.failed"), _any(
                _term("celery.task.timed_out", True),
                {"wildcard": {F("error.type"): {"value": "*TimeLimitExceeded*", "case_insensitive": True}}})),
        }}},
        "rt": {"filter": rt_filter, "aggs": {
            "n": {"value_count": {"field": F("celery.task.runtime")}},
            "p": {"percentiles": {"field": F("celery.task.runtime"), "percents": _percents(rt_q),
                                  "keyed": False, "tdigest": tdigest}}}},
        "qwn": {"value_count": {"field": F("celery.task.queue_wait")}},
        "qw": {"percentiles": {"field": F("celery.task.queue_wait"), "percents": _percents(qw_q), "keyed": False,
                               "tdigest": tdigest}},
    })
    # the exact percentiles, located by the estimates (see _Target)
    targets = []
    for b in buckets:
        t = b["key"]["t"]
        est = {round(v["key"], 6): v["value"] for v in b["rt"]["p"]["values"]}
        targets += [_Target((t, "rt", q), _all(base, _term(name, t), rt_filter), "celery.task.runtime", q,
                            b["rt"]["n"]["value"], est) for q in rt_q]
        est = {round(v["key"], 6): v["value"] for v in b["qw"]["values"]}
        targets += [_Target((t, "qw", q), _all(base, _term(name, t)), "celery.task.queue_wait", q,
                            b["qwn"]["value"], est) for q in qw_q]
    exact = exact_quantiles(es, targets)
    # workers: count(DISTINCT coalesce(worker, host)) over events whose action is set and not task.sent
    workers: dict[str, set] = {}
    for b in es.composite(_all(base, _exists("event.action"), _not(action("task.sent"))),
                          [_src(name, key="t"), _src("celery.worker.hostname", missing=True, key="w"),
                           _src("host.hostname", missing=True, key="h")]):
        w = b["key"]["w"] if b["key"]["w"] is not None else b["key"]["h"]
        s = workers.setdefault(b["key"]["t"], set())
        if w is not None:
            s.add(w)
    rows = []
    for b in buckets:
        c = _counts(b)
        t = b["key"]["t"]
        att = c["succeeded"] + c["failed"] + c["retried"]
        rows.append((t, att, c["succeeded"], c["failed"], c["retried"], c["timeouts"], c["revoked"],
                     _div(c["succeeded"], att), _div(c["failed"], att), _div(c["retried"], att),
                     _div(c["timeouts"], att), exact.get((t, "rt", 0.5)), exact.get((t, "rt", 0.95)),
                     exact.get((t, "rt", 0.99)), exact.get((t, "qw", 0.95)), len(workers.get(t, ()))))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows[:top] if top else rows


def _services(es: _ES, flt: Q.Filters) -> list[tuple]:
    lv = lambda v: _term("log.level", v)  # noqa: E731
    buckets = es.composite(_all(*_window(flt)), [_src("service.name", missing=True, key="s")], {
        "f": {"filters": {"filters": {"debug": lv("debug"), "info": lv("info"), "warning": lv("warning"),
                                      "error": lv("error"), "critical": lv("critical"), "failures": FAILURE}}}})
    rows = []
    for b in buckets:
        c = _counts(b)
        rows.append((b["key"]["s"], b["doc_count"], c["debug"], c["info"], c["warning"], c["error"],
                     c["critical"], c["failures"]))
    rows.sort(key=lambda r: (-r[1], _nulls_last(r[0])))
    return rows


def _first(fields: dict, name: str) -> Any:
    v = fields.get(name)
    return v[0] if v else None


def _parse_ts(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def _critical_events(es: _ES, flt: Q.Filters, *, top) -> list[tuple]:
    names = ("@timestamp", "service.name", "host.hostname", "event.action", "error.type", "message")
    body: dict[str, Any] = {
        "query": _all(*_window(flt), _term("log.level", "critical")), "_source": False,
        "sort": [{F("@timestamp"): {"order": "desc"}}],
        "fields": [{"field": F("@timestamp"), "format": "strict_date_optional_time"}] + [F(n) for n in names[1:]]}
    if top and top <= MAX_HITS:
        hits = es.search(size=top, **body)["hits"]["hits"]
    else:  # all of them (or more than one search may return): a point-in-time read, in order
        sort = body.pop("sort")
        hits = es.hits(body, sort=sort, limit=top or None)
    rows = []
    for h in hits:
        f = h.get("fields", {})
        rows.append((_parse_ts(_first(f, F("@timestamp"))),) + tuple(_first(f, F(n)) for n in names[1:]))
    return rows


def _timeline(es: _ES, flt: Q.Filters, *, interval: timedelta) -> list[tuple]:
    step_ms = int(interval.total_seconds() * 1000)
    if step_ms <= 0:
        raise ValueError("the timeline interval must be positive")
    origin_ms = int((_BUCKET_ORIGIN - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds() * 1000)
    hist: dict[str, Any] = {"field": F("@timestamp"), "fixed_interval": f"{step_ms}ms", "min_doc_count": 0}
    if origin_ms % step_ms:
        hist["offset"] = f"+{origin_ms % step_ms}ms"
    r = es.aggs(_all(*_window(flt)), {"t": {"date_histogram": hist, "aggs": {
        "success": {"filter": _term("event.outcome", "success")},
        "failure": {"filter": _term("event.outcome", "failure")}}}})
    rows = []
    for b in r["aggregations"]["t"]["buckets"]:
        s, f = b["success"]["doc_count"], b["failure"]["doc_count"]
        rows.append((_time(b["key"]), s, f, b["doc_count"] - s - f, b["doc_count"]))
    return rows


#: The fields failure_events reads, fetched for the failures only.
_FAILURE_FIELDS = ("@timestamp", "log.level", "event.outcome", "event.action", "error.type", "error.message",
                   "message", "url.domain", "service.name")


def _failure_patterns(es: _ES, flt: Q.Filters, *, top, prev_since) -> tuple[tuple[str, ...], list[tuple]]:
    from .columns import col, duck_type
    from .failures import failure_patterns
    from .store import Store

    query = _all(*_window(flt, with_since=False, since=prev_since), FAILURE)
    names = [F(n) for n in _FAILURE_FIELDS]
    fields = [{"field": names[0], "format": "strict_date_optional_time"}] + names[1:]
    # column-wise inserts (one list per field, unnested together): far faster than row by row
    insert = (f"INSERT INTO events ({', '.join(col(n) for n in names)}) SELECT "
              + ", ".join(f"unnest(${i + 1}::{duck_type(n)}[])" for i, n in enumerate(names)))
    with Store(None, fields=Q.REPORT_FIELDS, slim=False) as store:
        columns: list[list] = [[] for _ in names]

        def flush() -> None:
            if columns[0]:
                store.con.execute(insert, columns)
                for c in columns:
                    c.clear()

        for h in es.hits({"query": query, "_source": False, "fields": fields}):
            f = h.get("fields", {})
            columns[0].append(_parse_ts(_first(f, names[0])))
            for c, n in zip(columns[1:], names[1:]):
                c.append(_first(f, n))
            if len(columns[0]) >= FLUSH_ROWS:
                flush()
        flush()
        return failure_patterns(store.con, flt, top=top, prev_since=prev_since, remember=False)


# --- the report --------------------------------------------------------------------------------
def analyze_es(client, index: str, *, since: str | datetime | None = None, until: str | datetime | None = None,
               service: str | Sequence[str] | None = None, domain: str | Sequence[str] | None = None,
               by: str | timedelta | None = None, top: int | None = 20, now: datetime | None = None,
               sections: Sequence[str] | None = None, cost: dict | None = None) -> Report:
    """The report over the indices/data streams ``index`` (a pattern) of the cluster ``client``,
    with the same sections and columns as :func:`logkit.analyze.analyze`.

    ``cost``: a dict filled with ``{section: (requests, searches, seconds)}`` (``start`` for the
    count and summary), for benchmarks/es_report_cost.py.

    Raises :class:`NotSupportedOnES` when a wanted section is not computed on Elasticsearch yet,
    and :class:`~logkit.analyze.store.NothingToRead` when ``index`` holds no event at all (no
    index matches, or they are empty), as the DuckDB report does for an empty store.
    """
    from .store import NothingToRead
    now = now or datetime.now(timezone.utc)
    flt = Q.Filters(parse_time(since, now), parse_time(until, now), as_tuple(service), as_tuple(domain))
    wanted = tuple(sections or SECTIONS)
    for name in wanted:
        if name not in SUPPORTED:
            raise NotSupportedOnES(name)
    import time
    es = _ES(client, index)
    clock = [time.perf_counter(), 0, 0]

    def spent(name: str) -> None:
        if cost is not None:
            now_ = time.perf_counter()
            cost[name] = (es.requests - clock[1], es.searches - clock[2], now_ - clock[0])
            clock[:] = [now_, es.requests, es.searches]
    total = es.count()
    if total == 0:
        raise NothingToRead(f"no event in {index} (no index or data stream matches it, or they are empty)")
    cols, rows = _summary(es, flt)
    meta, end, interval, prev_since = window(flt, dict(zip(cols, rows[0])), by=by, top=top, now=now,
                                             store=f"elasticsearch:{index}", events=total)
    if rows[0][0] == 0:  # an empty window: what the data covers (report.empty_window_message)
        whole = _summary(es, Q.Filters())[1][0]
        meta["data_first"], meta["data_last"] = whole[1], whole[2]
    rep = Report(meta)
    spent("start")
    for name in SECTIONS:
        if name not in wanted:
            continue
        q = Q.QUERIES[name]
        c = q.columns
        if name == "summary":
            r = rows
        elif name == "domains":
            r = _domains(es, flt, top=top, end=end)
        elif name == "captcha_vendors":
            r = _captcha_vendors(es, flt, top=top)
        elif name == "proxies":
            r = _proxies(es, flt, top=top)
        elif name == "tasks":
            r = _tasks(es, flt, top=top)
        elif name == "services":
            r = _services(es, flt)
        elif name == "critical_events":
            r = _critical_events(es, flt, top=top)
        elif name == "timeline":
            r = _timeline(es, flt, interval=interval)
        elif name == "failure_patterns":
            c, r = _failure_patterns(es, flt, top=top, prev_since=prev_since)
        elif name in _USER_SECTIONS:
            r = _USER_SECTIONS[name](es, flt, top=top)
        elif name in ("files", "bad_input"):
            r = []  # no files are loaded: the events are the cluster's
        else:  # pragma: no cover - a section added to SECTIONS without an Elasticsearch form
            raise NotSupportedOnES(name)
        rep.sections[name] = Section(name, q.title, q.definition, c, r)
        spent(name)
    return rep


def patterns_es(client, index: str, *, since=None, until=None, service=None, domain=None, top: int | None = 50,
                new_since=None, now: datetime | None = None) -> tuple[tuple[str, ...], list[tuple]]:
    """``logkit patterns --es``: the failure patterns of the cluster's events, as
    :func:`logkit.analyze.failures.patterns` computes them from files (the failures of the window,
    and of the window before it for ``new``, fetched and grouped by the same code)."""
    now = now or datetime.now(timezone.utc)
    rep = analyze_es(client, index, since=new_since or since, until=until, service=service, domain=domain,
                     top=None if new_since else top, now=now, sections=["failure_patterns"])
    sec = rep.sections["failure_patterns"]
    rows = sec.rows
    if new_since:
        rows = [r for r in rows if r[sec.columns.index("new")]]
        rows = rows[:top] if top else rows
    return sec.columns, rows


# --- sections for Django, Scrapy and page-failure users (django_routes, spiders, page_failures):
# each implements the definition of its named query in queries.py and returns the same columns.
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


_USER_SECTIONS = {"page_failures": page_failures, "spiders": spiders, "django_routes": django_routes}

__all__ = ["SECTIONS", "page_failures", "spiders", "django_routes", "datetime"]
