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
    #: The rollup sets the SQL reads (``__ROLLUP__``); empty: it reads ``events`` or the store's tables.
    sets: tuple[str, ...] = ()


QUERIES: dict[str, Query] = {}


def _q(name: str, title: str, definition: str, sql: str, columns: str, params: str = "",
       filtered: bool = True, sets: str = "") -> Query:
    q = Query(name, title, " ".join(definition.split()), sql.format(f=_Fields()),
              tuple(columns.split()), tuple(params.split()), filtered, tuple(sets.split()))
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


#: Per mask, a cheap test without which its pattern cannot match (so the regex runs only where it may).
_MASK_GUARDS = ["contains({x}, '-')", "contains({x}, '://')", "(contains({x}, '0x') OR contains({x}, '0X'))",
                "regexp_matches({x}, '[0-9]')", "regexp_matches({x}, '[0-9]')"]


def _masked(inner: str, col_in: str = "msg", col_out: str = "template") -> str:
    """``SELECT *, <col_in masked> AS col_out FROM inner``: :func:`normalize_sql`'s masking, one
    projection per pattern, each applied only to the rows its guard lets through (same result)."""
    cur, rel = col_in, inner
    for i, ((pat, rep), guard) in enumerate(zip(NORMALIZE, _MASK_GUARDS)):
        nxt = col_out if i == len(NORMALIZE) - 1 else f"_m{i}"
        g = guard.format(x=cur)
        rel = (f"(SELECT *, CASE WHEN {g} THEN regexp_replace({cur}, '{pat.replace(chr(39), chr(39) * 2)}', "
               f"'{rep}', 'g') ELSE {cur} END AS {nxt} FROM {rel})")
        cur = nxt
    return rel


def normalize(message: str) -> str:
    """The same masking as :func:`normalize_sql`, in Python."""
    for pat, rep in NORMALIZE:
        message = re.sub(pat, rep, message)
    return message


# --- the rollup: one pass over the events, from which every report section is computed ------------
#
# Every report figure is computed from ``rollup``: the events grouped, in ONE pass, into a few small
# grouping sets (DuckDB ``GROUPING SETS``: one scan, one hash table per set), each holding exactly
# the keys its sections need, with ``n`` (events), ``ts_min``/``ts_max`` and, for failures, the
# earliest message. Over raw files the pass reads the files directly (only these columns, typed);
# over a store it reads the ``events`` table; either way no copy of the events is made.
#
# Rows: ``_set`` (which grouping set), ``w`` (TRUE: in the window and the filters; FALSE: matches
# the filters but lies before ``--since`` — kept for the failure patterns' "new" flag only), the
# keys (NULL when the set does not group by them), ``n``, ``ts_min``, ``ts_max``, ``example``.
# Rows are partial: the same keys may appear in several rows (one pass per file appends its own);
# every query below re-aggregates, so partial and merged rollups give the same figures.
#
# Exactness: every figure is exact. Counts are sums of ``n``; first/last times are min/max; the
# percentiles come from the exact task runtimes and queue waits (a key of the ``tasks`` set: equal
# values share a row and are expanded by ``n``); distinct counts are over keys. The window and the
# service/domain filters are applied to each event in the pass (not to buckets), so any ``--since``
# / ``--until`` is exact. The only grain is the timeline's ``bucket`` (``$grain``: the ``--by``
# interval, or 1 minute when it is ``auto``); the timeline rolls buckets up to ``--by``, which is
# exact whenever ``--by`` is a multiple of the grain (else the rollup is recomputed at that grain).

#: Grouping sets of the rollup: name -> keys. ``w`` is in every set but ``input``.
ROLLUP_SETS: dict[str, tuple[str, ...]] = {
    # summary, domains, captcha_vendors, proxies, services
    "bulk": ("w", "service", "host", "domain", "action", "outcome", "level", "status", "proxy",
             "proxy_outcome", "vendor", "item_status"),
    "timeline": ("w", "bucket", "outcome"),
    "tasks": ("w", "task", "action", "worker", "timeout", "runtime", "queue_wait"),
    "failures": ("w", "kind", "template", "domain", "service"),
    "critical": ("w", "c_ts", "service", "host", "action", "c_error_type", "c_message"),
    # what was read, per file: events with and without a usable @timestamp (bad-input accounting)
    "input": ("has_ts",),
}
#: The column that only that set groups by (how a row's set is told, through GROUPING()).
_SET_MARK = {"timeline": "bucket", "tasks": "task", "failures": "kind", "critical": "c_ts", "input": "has_ts"}

#: The rollup's keys, computed per event (``_w``: the window flag; see ``_window``).
_ROLLUP_KEYS = """
        _w AS w,
        {f[service.name]} AS service, {f[host.hostname]} AS host, {f[url.domain]} AS domain,
        {f[event.action]} AS action, {f[event.outcome]} AS outcome, {f[log.level]} AS level,
        {f[http.response.status_code]} AS status, {f[scrapy.proxy]} AS proxy,
        {f[scrapy.proxy_outcome]} AS proxy_outcome, {f[scrapy.challenge.vendor]} AS vendor,
        {f[scrapy.item.status]} AS item_status,
        time_bucket($grain, {f[@timestamp]}) AS bucket,
        CASE WHEN _w THEN {f[celery.task.name]} END AS task,
        CASE WHEN _w AND {f[celery.task.name]} IS NOT NULL AND {f[event.action]} <> 'task.sent'
             THEN coalesce({f[celery.worker.hostname]}, {f[host.hostname]}) END AS worker,
        CASE WHEN _w AND {f[celery.task.name]} IS NOT NULL AND {f[event.action]} = 'task.failed'
             THEN coalesce({f[celery.task.timed_out]}, false) OR {f[error.type]} ILIKE '%TimeLimitExceeded%' END AS timeout,
        CASE WHEN _w AND {f[celery.task.name]} IS NOT NULL AND {f[event.action]} IN ('task.succeeded', 'task.failed')
             THEN {f[celery.task.runtime]} END AS runtime,
        CASE WHEN _w AND {f[celery.task.name]} IS NOT NULL THEN {f[celery.task.queue_wait]} END AS queue_wait,
        CASE WHEN _w IS NOT NULL AND """ + _FAILURE + """
             THEN coalesce({f[error.type]}, {f[event.action]}, 'log') END AS kind,
        CASE WHEN _w IS NOT NULL AND """ + _FAILURE + """
             THEN coalesce({f[error.message]}, {f[message]}, '') END AS msg,
        CASE WHEN _w AND {f[log.level]} = 'critical' THEN {f[@timestamp]} END AS c_ts,
        CASE WHEN _w AND {f[log.level]} = 'critical' THEN {f[error.type]} END AS c_error_type,
        CASE WHEN _w AND {f[log.level]} = 'critical' THEN {f[message]} END AS c_message,
        {f[@timestamp]} IS NOT NULL AS has_ts,
        {f[@timestamp]} AS ts"""
_ROLLUP_KEYS_SQL = _ROLLUP_KEYS.format(f=_Fields())

_ROLLUP_COLUMNS = ("w", "service", "host", "domain", "action", "outcome", "level", "status", "proxy",
                   "proxy_outcome", "vendor", "item_status", "bucket", "task", "worker", "timeout", "runtime",
                   "queue_wait", "kind", "template", "c_ts", "c_error_type", "c_message", "has_ts")

ROLLUP_DEFINITION = ("One pass over the events into grouping sets (" + ", ".join(
    f"`{k}`: {', '.join(v)}" for k, v in ROLLUP_SETS.items())
    + "), each row with `n` events, `ts_min`, `ts_max` and, for failures, the earliest message.")


def _window(flt: "Filters") -> tuple[str, dict[str, Any]]:
    """The per-event window flag: TRUE in the window and the filters, FALSE when it matches the
    filters but lies before ``since`` (for the failure patterns' "new"), NULL otherwise."""
    keep, params = where(flt, with_since=False)
    keep = f"{col('@timestamp')} IS NOT NULL AND {keep}"
    inside = "true"
    if flt.since is not None:
        inside = f"{col('@timestamp')} >= $since"
        params["since"] = flt.since
    return f"CASE WHEN {keep} THEN {inside} END", params


def rollup_sql(source: str, flt: "Filters", sets: Sequence[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The rollup (all sets, or only ``sets``) over ``source`` (a table or a parenthesised SELECT
    with the events' columns), and its parameters but ``$grain`` (the timeline bucket)."""
    names = [s for s in ROLLUP_SETS if sets is None or s in sets]
    wflag, params = _window(flt)
    # GROUPING(marks...) has a bit set for each mark NOT grouped: each set but bulk groups by exactly
    # one mark (its own), bulk by none.
    marks = [_SET_MARK[s] for s in names if s in _SET_MARK]
    if len(names) == 1:
        set_expr = f"'{names[0]}'"
    else:
        full = (1 << len(marks)) - 1
        case = " ".join(f"WHEN {full & ~(1 << (len(marks) - 1 - marks.index(_SET_MARK[s])))} THEN '{s}'"
                        for s in names if s in _SET_MARK)
        set_expr = f"CASE grouping({', '.join(marks)}) {case} ELSE 'bulk' END"
    gsets = ", ".join("(" + ", ".join(ROLLUP_SETS[s]) + ")" for s in names)
    grouped = {k for s in names for k in ROLLUP_SETS[s]}
    cols = ", ".join(c if c in grouped else f"NULL AS {c}" for c in _ROLLUP_COLUMNS)
    sql = f"""SELECT {set_expr} AS _set,
        {cols},
        count(*)::BIGINT AS n, min(ts) AS ts_min, max(ts) AS ts_max,
        arg_min(msg, ts) FILTER (WHERE msg IS NOT NULL) AS example
      FROM {_masked(f"(SELECT {_ROLLUP_KEYS_SQL} FROM (SELECT *, {wflag} AS _w FROM {source}))")}
      GROUP BY GROUPING SETS ({gsets})"""
    return sql, params


def _n(cond: str | None = None) -> str:
    """Events among the rollup rows (that match ``cond``): the sum of their ``n``, 0 when none."""
    if cond is None:
        return "coalesce(sum(n), 0)::BIGINT"
    return f"coalesce(sum(n) FILTER (WHERE {cond}), 0)::BIGINT"


# --- the queries -----------------------------------------------------------------------------
# Each reads ``__ROLLUP__`` (the rollup above) once; see run().
_FAIL_R = "(outcome = 'failure' OR level IN ('error', 'critical'))"

_q("summary", "Summary",
   """Totals over the window: events; first and last event time; distinct services, hosts and
   domains; failures (events whose `event.outcome` is `failure` or whose `log.level` is `error` or
   `critical`); critical events (`log.level` = `critical`).""",
   f"""SELECT {_n()} AS events, min(ts_min) AS first_event, max(ts_max) AS last_event,
        count(DISTINCT service) AS services, count(DISTINCT host) AS hosts,
        count(DISTINCT domain) AS domains,
        {_n(_FAIL_R)} AS failures,
        {_n("level = 'critical'")} AS critical
      FROM __ROLLUP__ WHERE _set = 'bulk' AND w""",
   "events first_event last_event services hosts domains failures critical", sets="bulk")

_REQ = "action IN ('page.fetched', 'download.failed')"
_DOMAIN_AGG = f"""
        {_n(_REQ)} AS requests,
        {_n("action = 'page.fetched'")} AS pages,
        {_n("action = 'page.fetched' AND status BETWEEN 200 AND 299")} AS status_2xx,
        {_n("action = 'page.fetched' AND status BETWEEN 300 AND 399")} AS status_3xx,
        {_n("action = 'page.fetched' AND status BETWEEN 400 AND 499")} AS status_4xx,
        {_n("action = 'page.fetched' AND status >= 500")} AS status_5xx,
        {_n("action = 'download.failed'")} AS download_failed,
        {_n("action = 'captcha.detected'")} AS captchas,
        {_n("action = 'block.detected'")} AS blocks,
        {_n(_REQ + " AND proxy IS NOT NULL")} AS proxied,
        greatest(0,
          {_n(_REQ + " AND proxy IS NOT NULL AND (proxy_outcome = 'success' OR proxy_outcome IS NULL AND action = 'page.fetched' AND status < 400)")}
          - {_n("action IN ('captcha.detected', 'block.detected') AND proxy IS NOT NULL AND proxy_outcome IS NULL AND (status IS NULL OR status < 400)")}) AS proxied_ok,
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
   the window).""",
   """WITH d AS (
      SELECT domain,""" + _DOMAIN_AGG + f"""
        {_n("action = 'item.scraped' AND item_status = 'new'")} AS items_new,
        {_n("action = 'item.scraped' AND item_status = 'updated'")} AS items_updated,
        max(ts_max) FILTER (WHERE action = 'page.fetched' AND status BETWEEN 200 AND 299
                            AND outcome IS DISTINCT FROM 'failure') AS last_success
      FROM __ROLLUP__ WHERE _set = 'bulk' AND w AND domain IS NOT NULL
      GROUP BY domain)
    SELECT domain, requests, status_2xx, status_3xx, status_4xx, status_5xx, download_failed,
      download_failed + status_4xx + status_5xx AS errors,
      (download_failed + status_4xx + status_5xx) / nullif(requests, 0) AS error_rate,
      captchas, captchas / nullif(requests, 0) AS captcha_rate, blocks,
      proxied_ok / nullif(proxied, 0) AS proxy_success_rate,
      items_new, items_updated, last_success,
      epoch($end) - epoch(last_success) AS stale_seconds
    FROM d ORDER BY requests DESC, errors DESC, domain LIMIT $top""",
   "domain requests status_2xx status_3xx status_4xx status_5xx download_failed errors error_rate "
   "captchas captcha_rate blocks proxy_success_rate items_new items_updated last_success stale_seconds",
   "top end", sets="bulk")

_q("captcha_vendors", "CAPTCHAs by domain and vendor",
   """`captcha.detected` events counted per `url.domain` and `scrapy.challenge.vendor` (vendor
   `unknown` when absent), most first (`--top`).""",
   f"""SELECT domain, coalesce(vendor, 'unknown') AS vendor, {_n()} AS captchas
      FROM __ROLLUP__ WHERE _set = 'bulk' AND w AND action = 'captcha.detected'
      GROUP BY 1, 2 ORDER BY captchas DESC, domain, vendor LIMIT $top""",
   "domain vendor captchas", "top", sets="bulk")

_q("proxies", "Per proxy",
   """One row per `scrapy.proxy`: **requests** (`page.fetched` + `download.failed` through it),
   **ok** (counted as for the domains' proxy_success_rate), **success_rate** = ok / requests.""",
   """WITH p AS (SELECT proxy,""" + _DOMAIN_AGG + """ 0 AS _
      FROM __ROLLUP__ WHERE _set = 'bulk' AND w AND proxy IS NOT NULL GROUP BY proxy)
    SELECT proxy, proxied AS requests, proxied_ok AS ok, proxied_ok / nullif(proxied, 0) AS success_rate
    FROM p WHERE proxied > 0 ORDER BY requests DESC, proxy LIMIT $top""",
   "proxy requests ok success_rate", "top", sets="bulk")

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
   f"""WITH x AS (SELECT * FROM __ROLLUP__ WHERE _set = 'tasks' AND w AND task IS NOT NULL),
    t AS (
      SELECT task,
        {_n("action = 'task.succeeded'")} AS succeeded,
        {_n("action = 'task.failed'")} AS failed,
        {_n("action = 'task.retried'")} AS retried,
        {_n("action = 'task.failed' AND timeout")} AS timeouts,
        {_n("action = 'task.revoked'")} AS revoked,
        count(DISTINCT worker) AS workers
      FROM x GROUP BY task),
    -- exact percentiles: each distinct value repeated by its count
    v AS (SELECT task, action, runtime, queue_wait, unnest(range(n)) AS _i FROM x
          WHERE runtime IS NOT NULL OR queue_wait IS NOT NULL),
    q AS (
      SELECT task,
        quantile_cont(runtime, [0.5, 0.95, 0.99])
          FILTER (WHERE action IN ('task.succeeded', 'task.failed')) AS rt,
        quantile_cont(queue_wait, 0.95) AS queue_wait_p95
      FROM v GROUP BY task)
    SELECT task, succeeded + failed + retried AS attempts, succeeded, failed, retried, timeouts, revoked,
      succeeded / nullif(succeeded + failed + retried, 0) AS success_rate,
      failed / nullif(succeeded + failed + retried, 0) AS failure_rate,
      retried / nullif(succeeded + failed + retried, 0) AS retry_rate,
      timeouts / nullif(succeeded + failed + retried, 0) AS timeout_rate,
      rt[1] AS runtime_p50, rt[2] AS runtime_p95, rt[3] AS runtime_p99, queue_wait_p95, workers
    FROM t LEFT JOIN q USING (task) ORDER BY attempts DESC, task LIMIT $top""",
   "task attempts succeeded failed retried timeouts revoked success_rate failure_rate retry_rate "
   "timeout_rate runtime_p50 runtime_p95 runtime_p99 queue_wait_p95 workers", "top", sets="tasks")

_q("services", "Per service",
   """One row per `service.name`: events, events by `log.level`, and **failures** (outcome
   `failure` or level `error`/`critical`).""",
   f"""SELECT service, {_n()} AS events,
        {_n("level = 'debug'")} AS debug,
        {_n("level = 'info'")} AS info,
        {_n("level = 'warning'")} AS warning,
        {_n("level = 'error'")} AS error,
        {_n("level = 'critical'")} AS critical,
        {_n(_FAIL_R)} AS failures
      FROM __ROLLUP__ WHERE _set = 'bulk' AND w GROUP BY service ORDER BY events DESC, service""",
   "service events debug info warning error critical failures", sets="bulk")

_q("critical_events", "Critical events",
   """The latest events with `log.level` = `critical` (`--top`), newest first.""",
   """SELECT time, service, host, action, error_type, message FROM (
      SELECT c_ts AS time, service, host, action, c_error_type AS error_type, c_message AS message,
        unnest(range(n)) AS _i
      FROM __ROLLUP__ WHERE _set = 'critical' AND w AND c_ts IS NOT NULL)
      ORDER BY time DESC LIMIT $top""",
   "time service host action error_type message", "top", sets="critical")

_q("timeline", "Timeline",
   """Events per interval (`--by`; buckets aligned to UTC) by `event.outcome`: success, failure, and
   unknown (any other or no outcome); empty intervals between the first and last are listed with
   zeros.""",
   f"""WITH b AS (
      SELECT time_bucket($by, bucket) AS bucket,
        {_n("outcome = 'success'")} AS success,
        {_n("outcome = 'failure'")} AS failure,
        {_n("outcome IS NULL OR outcome NOT IN ('success', 'failure')")} AS unknown
      FROM __ROLLUP__ WHERE _set = 'timeline' AND w GROUP BY 1),
    r AS (SELECT unnest(generate_series(min(bucket), max(bucket), $by)) AS bucket FROM b)
    SELECT r.bucket, coalesce(success, 0) AS success, coalesce(failure, 0) AS failure,
      coalesce(unknown, 0) AS unknown, coalesce(success, 0) + coalesce(failure, 0) + coalesce(unknown, 0) AS events
    FROM r LEFT JOIN b USING (bucket) ORDER BY r.bucket""",
   "bucket success failure unknown events", "by", sets="timeline")

_q("failure_patterns", "Top failure patterns",
   """Failures (outcome `failure` or level `error`/`critical`) grouped by **kind** (`error.type`, else
   `event.action`) and **template** (`error.message`, else `message`, with UUIDs, URLs, hex ids and
   numbers masked as `<UUID>`, `<URL>`, `<HEX>`, `<N>`); most frequent first (`--top`), with
   first/last seen, the earliest example, the number of distinct domains (and the first three),
   the services, and **new**: true when the pattern did not occur in the window of the same length
   just before `--since` (empty without `--since`).""",
   f"""WITH g AS (
      SELECT kind, template,
        {_n("w")} AS count,
        max(ts_max) FILTER (WHERE NOT w) AS last_before,
        min(ts_min) FILTER (WHERE w) AS first_seen,
        max(ts_max) FILTER (WHERE w) AS last_seen,
        arg_min(example, ts_min) FILTER (WHERE w) AS example,
        count(DISTINCT domain) FILTER (WHERE w) AS domains,
        list_sort(list(DISTINCT domain) FILTER (WHERE domain IS NOT NULL AND w))[1:3] AS some_domains,
        list_sort(list(DISTINCT service) FILTER (WHERE service IS NOT NULL AND w)) AS services
      FROM __ROLLUP__ WHERE _set = 'failures' AND kind IS NOT NULL GROUP BY kind, template)
    SELECT kind, template, count, first_seen, last_seen, example, domains, some_domains, services,
      CASE WHEN $prev_since IS NULL THEN NULL
           ELSE last_before IS NULL OR last_before < $prev_since END AS new
    FROM g WHERE count > 0 ORDER BY count DESC, kind, template LIMIT $top""",
   "kind template count first_seen last_seen example domains some_domains services new",
   "top prev_since", sets="failures")

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
   bytes — replaced and the line kept —, missing or invalid `@timestamp`, line too long, truncated
   compressed stream), with the count and the first line numbers. Not filtered.""",
   """SELECT path, reason, count, array_to_string(first_lines, ', ') AS first_lines
      FROM bad_input ORDER BY path, count DESC, reason""",
   "path reason count first_lines", filtered=False)

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


#: Where a computed rollup is kept for run() (a temporary table of the connection), and what it holds.
ROLLUP_TABLE = "_lk_rollup"
_ROLLUP_META = "_lk_rollup_meta"
#: The timeline's bucket in a rollup computed for ``--by auto`` (every auto interval is a multiple).
DEFAULT_GRAIN = timedelta(minutes=1)


def _filters_key(flt: Filters) -> str:
    t = lambda v: None if v is None else v.isoformat()  # noqa: E731
    return repr((t(flt.since), t(flt.until), tuple(flt.services), tuple(flt.domains)))


def register_rollup(con, flt: Filters, grain: timedelta) -> None:
    """Record that ``ROLLUP_TABLE`` holds the rollup for ``flt`` at ``grain`` (run() then reads it)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_ROLLUP_META} AS SELECT ?::VARCHAR AS filters, "
                f"?::BIGINT AS grain_us", [_filters_key(flt), grain // timedelta(microseconds=1)])


def materialize_rollup(con, flt: Filters, grain: timedelta = DEFAULT_GRAIN, source: str = "events") -> None:
    """Compute the rollup over ``source`` (one pass) into ``ROLLUP_TABLE``, for the report's queries."""
    sql, params = rollup_sql(source, flt)
    params["grain"] = grain
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ROLLUP_TABLE} AS {sql}", params)
    register_rollup(con, flt, grain)


def rollup_grain(con, flt: Filters) -> timedelta | None:
    """The grain of the rollup kept in ``con`` for exactly these filters, or None."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?",
                       [_ROLLUP_META]).fetchone()[0]:
        return None
    row = con.execute(f"SELECT filters, grain_us FROM {_ROLLUP_META}").fetchone()
    if row is None or row[0] != _filters_key(flt):
        return None
    return timedelta(microseconds=row[1])


def run(con, name: str, flt: Filters = Filters(), **params: Any) -> tuple[tuple[str, ...], list[tuple]]:
    """Run the query called ``name`` with the filters and its parameters; (columns, rows).

    A report query reads the rollup: the one ``con`` keeps for these filters (see
    :func:`materialize_rollup`; the report computes it once), else it is computed here from the
    ``events`` table, with only the sets the query needs and the timeline at ``by`` itself."""
    q = QUERIES[name]
    sql = q.sql
    bound: dict[str, Any] = {}
    if q.sets:
        by = params.get("by") or timedelta(hours=1)
        grain = rollup_grain(con, flt)
        if grain is not None and ("timeline" not in q.sets or by % grain == timedelta(0)):
            sql = sql.replace("__ROLLUP__", ROLLUP_TABLE)
        else:
            rsql, rparams = rollup_sql("events", flt, q.sets)
            sql = sql.replace("__ROLLUP__", f"({rsql})")
            bound.update(rparams)
            bound["grain"] = by if "timeline" in q.sets else DEFAULT_GRAIN
    elif q.filtered:
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
