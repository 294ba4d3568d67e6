"""Every query of the report, named, in one place.

Each :class:`Query` has a name, a definition (what the figure means, exactly: docs/analyze.md is
generated from these), its SQL over the ``events`` table and its output columns. Alerts and metrics
reuse them by name: ``run(con, "domains", since=..., domain=[...])``.

SQL conventions:

- fields are written ``{f[url.domain]}``; the module formats every query at import through
  :func:`logkit.analyze.columns.col`, so a field the schema lacks fails at import;
- ``__WHERE__`` is replaced at run time by the filters that are set (time window, services,
  domains), whose values are bound as parameters (``$since``, ``$until``, ``$services``,
  ``$domains``), never pasted into the SQL;
- other parameters: ``$top`` (row limit), ``$end`` (the report's end time, for staleness),
  ``$by`` (timeline interval), ``$prev_since`` (start of the earlier window for "new" patterns).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from .. import schema as _schema
from .columns import col

#: Rates are ratios in [0, 1]; durations are seconds; times are UTC timestamps.


_USED: set[str] = {"@timestamp", "service.name", "url.domain"}  # the filters' fields


class _Fields:
    """``{f[url.domain]}`` in a query: the quoted column, checked against the schema, and recorded
    (the fields the queries name are exactly the columns an analysis loads)."""

    def __getitem__(self, name: str) -> str:
        c = col(name)
        _USED.add(name)
        return c


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    definition: str
    sql: str
    columns: tuple[str, ...]
    #: Parameters the SQL uses besides the filters.
    params: tuple[str, ...] = ()
    #: Whether the time/service/domain filters apply.
    filtered: bool = True


QUERIES: dict[str, Query] = {}


def _q(name: str, title: str, definition: str, sql: str, columns: str, params: str = "",
       filtered: bool = True) -> Query:
    q = Query(name, title, " ".join(definition.split()), sql.format(f=_Fields()),
              tuple(columns.split()), tuple(params.split()), filtered)
    if name in QUERIES:
        raise ValueError(f"query {name!r} defined twice")
    QUERIES[name] = q
    return q


# --- shared SQL fragments --------------------------------------------------------------------
_FAILURE = "({f[event.outcome]} = 'failure' OR {f[log.level]} IN ('error', 'critical'))"

#: Masks the variable parts of a message (UUIDs, URLs, hex ids, numbers) for the failure patterns.
NORMALIZE = [
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<UUID>"),
    (r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"']+", "<URL>"),
    (r"\b0[xX][0-9a-fA-F]+\b", "<HEX>"),
    (r"\b[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b", "<HEX>"),
    (r"\d+(\.\d+)?", "<N>"),
]


def normalize_sql(expr: str) -> str:
    for pat, rep in NORMALIZE:
        expr = f"regexp_replace({expr}, '{pat.replace(chr(39), chr(39) * 2)}', '{rep}', 'g')"
    return expr


def normalize(message: str) -> str:
    """The same masking as :func:`normalize_sql`, in Python."""
    for pat, rep in NORMALIZE:
        message = re.sub(pat, rep, message)
    return message


# --- the queries -----------------------------------------------------------------------------
_q("summary", "Summary",
   """Totals over the window: events; first and last event time; distinct services, hosts and
   domains; failures (events whose `event.outcome` is `failure` or whose `log.level` is `error` or
   `critical`); critical events (`log.level` = `critical`).""",
   """SELECT count(*) AS events, min({f[@timestamp]}) AS first_event, max({f[@timestamp]}) AS last_event,
        count(DISTINCT {f[service.name]}) AS services, count(DISTINCT {f[host.hostname]}) AS hosts,
        count(DISTINCT {f[url.domain]}) AS domains,
        count(*) FILTER (WHERE """ + _FAILURE + """) AS failures,
        count(*) FILTER (WHERE {f[log.level]} = 'critical') AS critical
      FROM events WHERE __WHERE__""",
   "events first_event last_event services hosts domains failures critical")

_DOMAIN_AGG = """
        count(*) FILTER (WHERE {f[event.action]} IN ('page.fetched', 'download.failed')) AS requests,
        count(*) FILTER (WHERE {f[event.action]} = 'page.fetched') AS pages,
        count(*) FILTER (WHERE {f[event.action]} = 'page.fetched' AND {f[http.response.status_code]} BETWEEN 200 AND 299) AS status_2xx,
        count(*) FILTER (WHERE {f[event.action]} = 'page.fetched' AND {f[http.response.status_code]} BETWEEN 300 AND 399) AS status_3xx,
        count(*) FILTER (WHERE {f[event.action]} = 'page.fetched' AND {f[http.response.status_code]} BETWEEN 400 AND 499) AS status_4xx,
        count(*) FILTER (WHERE {f[event.action]} = 'page.fetched' AND {f[http.response.status_code]} >= 500) AS status_5xx,
        count(*) FILTER (WHERE {f[event.action]} = 'download.failed') AS download_failed,
        count(*) FILTER (WHERE {f[event.action]} = 'captcha.detected') AS captchas,
        count(*) FILTER (WHERE {f[event.action]} = 'block.detected') AS blocks,
        count(*) FILTER (WHERE {f[event.action]} IN ('page.fetched', 'download.failed') AND {f[scrapy.proxy]} IS NOT NULL) AS proxied,
        greatest(0,
          count(*) FILTER (WHERE {f[event.action]} IN ('page.fetched', 'download.failed') AND {f[scrapy.proxy]} IS NOT NULL
                           AND ({f[scrapy.proxy_outcome]} = 'success' OR {f[scrapy.proxy_outcome]} IS NULL
                                AND {f[event.action]} = 'page.fetched' AND {f[http.response.status_code]} < 400))
          - count(*) FILTER (WHERE {f[event.action]} IN ('captcha.detected', 'block.detected') AND {f[scrapy.proxy]} IS NOT NULL
                             AND {f[scrapy.proxy_outcome]} IS NULL
                             AND ({f[http.response.status_code]} IS NULL OR {f[http.response.status_code]} < 400))) AS proxied_ok,
"""

_q("domains", "Per domain",
   """One row per `url.domain`, the domains with the most requests first (`--top`).
   **requests** = `page.fetched` + `download.failed` events; **status_2xx..5xx** = `page.fetched` by
   `http.response.status_code` class; **errors** = `download.failed` + `page.fetched` with status
   >= 400; **error_rate** = errors / requests; **captchas** = `captcha.detected` events,
   **captcha_rate** = captchas / requests; **blocks** = `block.detected` events;
   **proxy_success_rate** = among requests with a `scrapy.proxy`, those whose `scrapy.proxy_outcome`
   is `success` (what the Scrapy integration writes: a response that is not a block, challenge,
   407, 502 or 504); for events without that field, the `page.fetched` with status < 400, less the
   CAPTCHA/block events with a proxy whose status is < 400 or absent (a challenge served with 200);
   over those requests (empty when no request used a proxy); **items_new / items_updated** =
   `item.scraped` by `scrapy.item.status`; **last_success** = time of the last `page.fetched` with a
   2xx status whose `event.outcome` is not `failure` (a challenge page served with 200 is not fresh
   data); **stale_seconds** = report end − last_success (empty when the domain never succeeded in
   the window). A domain none of whose events is a request, a CAPTCHA, a block or a new/updated
   item (say a log line that merely mentions it in `url.domain`) has no row.""",
   """WITH d AS (
      SELECT {f[url.domain]} AS domain,""" + _DOMAIN_AGG + """
        count(*) FILTER (WHERE {f[event.action]} = 'item.scraped' AND {f[scrapy.item.status]} = 'new') AS items_new,
        count(*) FILTER (WHERE {f[event.action]} = 'item.scraped' AND {f[scrapy.item.status]} = 'updated') AS items_updated,
        max({f[@timestamp]}) FILTER (WHERE {f[event.action]} = 'page.fetched' AND {f[http.response.status_code]} BETWEEN 200 AND 299
                                     AND {f[event.outcome]} IS DISTINCT FROM 'failure') AS last_success
      FROM events WHERE __WHERE__ AND {f[url.domain]} IS NOT NULL
      GROUP BY ALL)
    SELECT domain, requests, status_2xx, status_3xx, status_4xx, status_5xx, download_failed,
      download_failed + status_4xx + status_5xx AS errors,
      (download_failed + status_4xx + status_5xx) / nullif(requests, 0) AS error_rate,
      captchas, captchas / nullif(requests, 0) AS captcha_rate, blocks,
      proxied_ok / nullif(proxied, 0) AS proxy_success_rate,
      items_new, items_updated, last_success,
      epoch($end) - epoch(last_success) AS stale_seconds
    FROM d WHERE requests > 0 OR captchas > 0 OR blocks > 0 OR items_new > 0 OR items_updated > 0
    ORDER BY requests DESC, errors DESC, domain LIMIT $top""",
   "domain requests status_2xx status_3xx status_4xx status_5xx download_failed errors error_rate "
   "captchas captcha_rate blocks proxy_success_rate items_new items_updated last_success stale_seconds",
   "top end")

_q("captcha_vendors", "CAPTCHAs by domain and vendor",
   """`captcha.detected` events counted per `url.domain` and `scrapy.challenge.vendor` (vendor
   `unknown` when absent), most first (`--top`).""",
   """SELECT {f[url.domain]} AS domain, coalesce({f[scrapy.challenge.vendor]}, 'unknown') AS vendor,
        count(*) AS captchas
      FROM events WHERE __WHERE__ AND {f[event.action]} = 'captcha.detected'
      GROUP BY ALL ORDER BY captchas DESC, domain, vendor LIMIT $top""",
   "domain vendor captchas", "top")

_q("proxies", "Per proxy",
   """One row per `scrapy.proxy`: **requests** (`page.fetched` + `download.failed` through it),
   **ok** (counted as for the domains' proxy_success_rate), **success_rate** = ok / requests.""",
   """WITH p AS (SELECT {f[scrapy.proxy]} AS proxy,""" + _DOMAIN_AGG + """ 0 AS _
      FROM events WHERE __WHERE__ AND {f[scrapy.proxy]} IS NOT NULL GROUP BY ALL)
    SELECT proxy, proxied AS requests, proxied_ok AS ok, proxied_ok / nullif(proxied, 0) AS success_rate
    FROM p WHERE proxied > 0 ORDER BY requests DESC, proxy LIMIT $top""",
   "proxy requests ok success_rate", "top")

_q("tasks", "Per Celery task",
   """One row per `celery.task.name`, the busiest first (`--top`). An **attempt** ends in
   `task.succeeded`, `task.failed` or `task.retried`; **success_rate**, **failure_rate**,
   **retry_rate** = each of those / attempts; **timeouts** = `task.failed` with
   `celery.task.timed_out` true or an `error.type` containing `TimeLimitExceeded`,
   **timeout_rate** = timeouts / attempts; **revoked** = `task.revoked`; **runtime_p50/p95/p99** =
   interpolated percentiles (DuckDB `quantile_cont`) of `celery.task.runtime` (seconds) over
   `task.succeeded` and `task.failed`; **queue_wait_p95** = the same of `celery.task.queue_wait`
   (seconds, from `task.started`); **workers** = distinct `celery.worker.hostname` (else
   `host.hostname`) of the task's events other than `task.sent`.""",
   """WITH t AS (
      SELECT {f[celery.task.name]} AS task,
        count(*) FILTER (WHERE {f[event.action]} = 'task.succeeded') AS succeeded,
        count(*) FILTER (WHERE {f[event.action]} = 'task.failed') AS failed,
        count(*) FILTER (WHERE {f[event.action]} = 'task.retried') AS retried,
        count(*) FILTER (WHERE {f[event.action]} = 'task.failed' AND (coalesce({f[celery.task.timed_out]}, false)
                         OR {f[error.type]} ILIKE '%TimeLimitExceeded%')) AS timeouts,
        count(*) FILTER (WHERE {f[event.action]} = 'task.revoked') AS revoked,
        quantile_cont({f[celery.task.runtime]}, [0.5, 0.95, 0.99])
          FILTER (WHERE {f[event.action]} IN ('task.succeeded', 'task.failed')) AS rt,
        quantile_cont({f[celery.task.queue_wait]}, 0.95) AS queue_wait_p95,
        count(DISTINCT coalesce({f[celery.worker.hostname]}, {f[host.hostname]}))
          FILTER (WHERE {f[event.action]} <> 'task.sent') AS workers
      FROM events WHERE __WHERE__ AND {f[celery.task.name]} IS NOT NULL
      GROUP BY ALL)
    SELECT task, succeeded + failed + retried AS attempts, succeeded, failed, retried, timeouts, revoked,
      succeeded / nullif(succeeded + failed + retried, 0) AS success_rate,
      failed / nullif(succeeded + failed + retried, 0) AS failure_rate,
      retried / nullif(succeeded + failed + retried, 0) AS retry_rate,
      timeouts / nullif(succeeded + failed + retried, 0) AS timeout_rate,
      rt[1] AS runtime_p50, rt[2] AS runtime_p95, rt[3] AS runtime_p99, queue_wait_p95, workers
    FROM t ORDER BY attempts DESC, task LIMIT $top""",
   "task attempts succeeded failed retried timeouts revoked success_rate failure_rate retry_rate "
   "timeout_rate runtime_p50 runtime_p95 runtime_p99 queue_wait_p95 workers", "top")

_q("page_failures", "Page failures by status",
   """`page.fetched` events with an `http.response.status_code` of 400 or more, one row per status
   code, the most frequent first (`--top`): **pages**, distinct **domains** (and the first three in
   alphabetical order), the **last_seen** time.""",
   """SELECT {f[http.response.status_code]} AS status_code, count(*) AS pages,
        count(DISTINCT {f[url.domain]}) AS domains,
        list_sort(list(DISTINCT {f[url.domain]}) FILTER (WHERE {f[url.domain]} IS NOT NULL))[1:3] AS some_domains,
        max({f[@timestamp]}) AS last_seen
      FROM events WHERE __WHERE__ AND {f[event.action]} = 'page.fetched' AND {f[http.response.status_code]} >= 400
      GROUP BY ALL ORDER BY pages DESC, status_code LIMIT $top""",
   "status_code pages domains some_domains last_seen", "top")

#: Scrapy's own stats keys read from `scrapy.stats` of `spider.closed` (the names Scrapy's
#: StatsCollector uses), as (column, key).
SPIDER_STATS = (("requests", "downloader/request_count"), ("items", "item_scraped_count"),
                ("items_dropped", "item_dropped_count"), ("retries", "retry/count"),
                ("errors", "log_count/ERROR"))

_q("spiders", "Per Scrapy spider",
   """One row per `scrapy.spider` that closed in the window (`spider.closed` events), the most
   items first (`--top`): **runs** = `spider.closed` events; **finish_reason** = the
   `scrapy.finish_reason` of the latest; **requests**, **items**, **items_dropped**, **retries**,
   **errors** = the sums over the runs of Scrapy's stats `downloader/request_count`,
   `item_scraped_count`, `item_dropped_count`, `retry/count` and `log_count/ERROR` (from
   `scrapy.stats`; empty when no run carried the stat); **last_closed** = time of the latest.""",
   """SELECT {f[scrapy.spider]} AS spider, count(*) AS runs,
        arg_max({f[scrapy.finish_reason]}, {f[@timestamp]}) AS finish_reason,
        """ + ",\n        ".join(
       f"""sum(TRY_CAST(json_extract_string({{f[scrapy.stats]}}, '$."{key}"') AS BIGINT)) AS {c}"""
       for c, key in SPIDER_STATS) + """,
        max({f[@timestamp]}) AS last_closed
      FROM events WHERE __WHERE__ AND {f[event.action]} = 'spider.closed'
      GROUP BY ALL ORDER BY items DESC NULLS LAST, spider LIMIT $top""",
   "spider runs finish_reason requests items items_dropped retries errors last_closed", "top")

_q("django_routes", "Per Django route",
   """One row per `django.route` of `http.request` events (empty for requests that resolved no
   route, such as most 404s), the busiest first (`--top`): **requests**; **status_4xx**,
   **status_5xx** by `http.response.status_code`; **server_error_rate** = status_5xx / requests;
   **duration_p50/p95** = interpolated percentiles (DuckDB `quantile_cont`) of `event.duration`,
   in seconds.""",
   """SELECT {f[django.route]} AS route, count(*) AS requests,
        count(*) FILTER (WHERE {f[http.response.status_code]} BETWEEN 400 AND 499) AS status_4xx,
        count(*) FILTER (WHERE {f[http.response.status_code]} >= 500) AS status_5xx,
        count(*) FILTER (WHERE {f[http.response.status_code]} >= 500) / count(*) AS server_error_rate,
        quantile_cont({f[event.duration]} / 1e9, 0.5) AS duration_p50,
        quantile_cont({f[event.duration]} / 1e9, 0.95) AS duration_p95
      FROM events WHERE __WHERE__ AND {f[event.action]} = 'http.request'
      GROUP BY ALL ORDER BY requests DESC, route NULLS LAST LIMIT $top""",
   "route requests status_4xx status_5xx server_error_rate duration_p50 duration_p95", "top")

_q("services", "Per service",
   """One row per `service.name`: events, events by `log.level`, and **failures** (outcome
   `failure` or level `error`/`critical`).""",
   """SELECT {f[service.name]} AS service, count(*) AS events,
        count(*) FILTER (WHERE {f[log.level]} = 'debug') AS debug,
        count(*) FILTER (WHERE {f[log.level]} = 'info') AS info,
        count(*) FILTER (WHERE {f[log.level]} = 'warning') AS warning,
        count(*) FILTER (WHERE {f[log.level]} = 'error') AS error,
        count(*) FILTER (WHERE {f[log.level]} = 'critical') AS critical,
        count(*) FILTER (WHERE """ + _FAILURE + """) AS failures
      FROM events WHERE __WHERE__ GROUP BY ALL ORDER BY events DESC, service""",
   "service events debug info warning error critical failures")

_q("critical_events", "Critical events",
   """The latest events with `log.level` = `critical` (`--top`), newest first.""",
   """SELECT {f[@timestamp]} AS time, {f[service.name]} AS service, {f[host.hostname]} AS host,
        {f[event.action]} AS action, {f[error.type]} AS error_type, {f[message]} AS message
      FROM events WHERE __WHERE__ AND {f[log.level]} = 'critical'
      ORDER BY time DESC LIMIT $top""",
   "time service host action error_type message", "top")

_q("timeline", "Timeline",
   """Events per interval (`--by`; buckets aligned to UTC) by `event.outcome`: success, failure, and
   unknown (any other or no outcome); empty intervals between the first and last are listed with
   zeros.""",
   """WITH b AS (
      SELECT time_bucket($by, {f[@timestamp]}) AS bucket,
        count(*) FILTER (WHERE {f[event.outcome]} = 'success') AS success,
        count(*) FILTER (WHERE {f[event.outcome]} = 'failure') AS failure,
        count(*) FILTER (WHERE {f[event.outcome]} IS NULL OR {f[event.outcome]} NOT IN ('success', 'failure')) AS unknown
      FROM events WHERE __WHERE__ GROUP BY ALL),
    r AS (SELECT unnest(generate_series(min(bucket), max(bucket), $by)) AS bucket FROM b)
    SELECT r.bucket, coalesce(success, 0) AS success, coalesce(failure, 0) AS failure,
      coalesce(unknown, 0) AS unknown, coalesce(success, 0) + coalesce(failure, 0) + coalesce(unknown, 0) AS events
    FROM r LEFT JOIN b USING (bucket) ORDER BY r.bucket""",
   "bucket success failure unknown events", "by")

_q("failure_patterns", "Top failure patterns",
   """Failures (outcome `failure` or level `error`/`critical`) grouped by **kind** (`error.type`, else
   `event.action`) and **template** of `error.message`, else `message`. The report finds templates
   with logkit's template miner (variable parts as `<*>`, stable pattern ids; see docs/patterns.md)
   from the `failure_events` query; this SQL form masks UUIDs, URLs, hex ids and numbers as
   `<UUID>`, `<URL>`, `<HEX>`, `<N>` instead (`miner="sql"`). Most frequent first (`--top`), with
   first/last seen, the earliest example, the number of distinct domains (and the first three),
   the services, and **new**: true when the pattern did not occur in the window of the same length
   just before `--since` (empty without `--since`).""",
   """WITH f AS (
      SELECT {f[@timestamp]} AS ts, coalesce({f[error.type]}, {f[event.action]}, 'log') AS kind,
        coalesce({f[error.message]}, {f[message]}, '') AS msg, {f[url.domain]} AS domain,
        {f[service.name]} AS service
      FROM events WHERE __WHERE_NO_SINCE__ AND """ + _FAILURE + """
        AND ($prev_since IS NULL OR {f[@timestamp]} >= $prev_since)),
    n AS (SELECT *, __NORMALIZED__ AS template FROM f),
    g AS (
      SELECT kind, template,
        count(*) FILTER (WHERE $since IS NULL OR ts >= $since) AS count,
        count(*) FILTER (WHERE ts < $since) AS before,
        min(ts) FILTER (WHERE $since IS NULL OR ts >= $since) AS first_seen,
        max(ts) FILTER (WHERE $since IS NULL OR ts >= $since) AS last_seen,
        arg_min(msg, ts) FILTER (WHERE $since IS NULL OR ts >= $since) AS example,
        count(DISTINCT domain) FILTER (WHERE $since IS NULL OR ts >= $since) AS domains,
        list_sort(list(DISTINCT domain) FILTER (WHERE domain IS NOT NULL AND ($since IS NULL OR ts >= $since)))[1:3] AS some_domains,
        list_sort(list(DISTINCT service) FILTER (WHERE service IS NOT NULL AND ($since IS NULL OR ts >= $since))) AS services
      FROM n GROUP BY ALL)
    SELECT kind, template, count, first_seen, last_seen, example, domains, some_domains, services,
      CASE WHEN $prev_since IS NULL THEN NULL ELSE before = 0 END AS new
    FROM g WHERE count > 0 ORDER BY count DESC, kind, template LIMIT $top""",
   "kind template count first_seen last_seen example domains some_domains services new",
   "top since prev_since")

_q("failure_events", "Failure events",
   """The raw failures the patterns are built from (same definition), oldest first: for a template
   miner that groups messages in Python.""",
   """SELECT {f[@timestamp]} AS ts, coalesce({f[error.type]}, {f[event.action]}, 'log') AS kind,
        coalesce({f[error.message]}, {f[message]}, '') AS msg, {f[url.domain]} AS domain,
        {f[service.name]} AS service
      FROM events WHERE __WHERE_NO_SINCE__ AND """ + _FAILURE + """
        AND ($prev_since IS NULL OR {f[@timestamp]} >= $prev_since)
      ORDER BY ts""",
   "ts kind msg domain service", "prev_since")

_q("files", "Inputs",
   """Files loaded into the store: line shape (`ndjson`, `es` for Elasticsearch hits, `filebeat`),
   compression, bytes loaded, events kept, and bad lines (see bad input). Not filtered.""",
   """SELECT f.path, f.format, f.compression, f."offset" AS bytes, f.events,
        coalesce(sum(b.count), 0) AS bad_lines
      FROM files f LEFT JOIN bad_input b USING (file_id) GROUP BY ALL ORDER BY f.path""",
   "path format compression bytes events bad_lines", filtered=False)

_q("bad_input", "Bad input",
   """Lines that could not be used, per file and reason (malformed JSON, not a JSON object, non-UTF-8
   bytes — replaced and the line kept —, missing or invalid `@timestamp`, `@timestamp` out of range
   (before 1970 or from 2100 on), line too long, truncated compressed stream, damaged compressed
   stream at a byte offset, events already read from another file), with the count and the first
   line numbers. Not filtered.""",
   """SELECT path, reason, count, array_to_string(first_lines, ', ') AS first_lines
      FROM bad_input ORDER BY path, count DESC, reason""",
   "path reason count first_lines", filtered=False)

# The failure-pattern queries embed the normalisation expression.
for _name in ("failure_patterns",):
    _qq = QUERIES[_name]
    QUERIES[_name] = Query(_qq.name, _qq.title, _qq.definition,
                           _qq.sql.replace("__NORMALIZED__", normalize_sql("msg")), _qq.columns, _qq.params,
                           _qq.filtered)


#: The fields the report reads, in schema order: the columns of an in-memory analysis store.
REPORT_FIELDS: tuple[str, ...] = tuple(n for n in _schema.FIELDS if n in _USED)

# --- running ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    services: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


def where(flt: Filters, *, with_since: bool = True) -> tuple[str, dict[str, Any]]:
    """The WHERE clause for the filters that are set, and its parameters."""
    parts, params = ["true"], {}
    if flt.since is not None and with_since:
        parts.append(f"{col('@timestamp')} >= $since")
        params["since"] = flt.since
    if flt.until is not None:
        parts.append(f"{col('@timestamp')} < $until")
        params["until"] = flt.until
    if flt.services:
        parts.append(f"list_contains($services, {col('service.name')})")
        params["services"] = list(flt.services)
    if flt.domains:
        parts.append(f"list_contains($domains, {col('url.domain')})")
        params["domains"] = list(flt.domains)
    return " AND ".join(parts), params


def run(con, name: str, flt: Filters = Filters(), **params: Any) -> tuple[tuple[str, ...], list[tuple]]:
    """Run the query called ``name`` with the filters and its parameters; (columns, rows)."""
    q = QUERIES[name]
    sql = q.sql
    bound: dict[str, Any] = {}
    if q.filtered:
        w, wp = where(flt)
        w2, wp2 = where(flt, with_since=False)
        if "__WHERE__" in sql:
            bound.update(wp)
        if "__WHERE_NO_SINCE__" in sql:
            bound.update(wp2)
        sql = sql.replace("__WHERE_NO_SINCE__", w2).replace("__WHERE__", w)
    for p in q.params:
        if p == "since":
            bound["since"] = flt.since
        elif p == "by":
            v = params.get("by") or timedelta(hours=1)
            bound["by"] = v
        elif p == "top":
            v = params.get("top")
            bound["top"] = int(v) if v else 1 << 62
        else:
            bound[p] = params.get(p)
    cur = con.execute(sql, bound)
    return q.columns, cur.fetchall()


def names() -> Sequence[str]:
    return tuple(QUERIES)


def reference_markdown() -> str:
    """The report sections' definitions, as docs/analyze.md carries them (a test keeps them equal)."""
    out = []
    for q in QUERIES.values():
        out.append(f"### `{q.name}` — {q.title}\n\n{q.definition}\n\nColumns: "
                   + ", ".join(f"`{c}`" for c in q.columns) + "\n")
    return "\n".join(out)
