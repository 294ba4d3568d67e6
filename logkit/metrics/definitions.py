"""Every metric logkit exports, named once.

Each :class:`Metric` says its Prometheus name, type, help, unit and labels, and exactly which events
feed it: the ``event.action`` values, an optional condition, the schema field each label comes from
and the field whose value is observed. The aggregator (aggregate.py) is driven by these objects and
nothing else, and docs/metrics.md is generated from them (:func:`logkit.metrics.docs.render`), so
the documentation cannot drift from what is counted.

Every field and action is checked against :mod:`logkit.schema` at import: renaming a field there
fails here, at import, rather than exporting a silent zero.

Conventions (https://prometheus.io/docs/practices/naming/): a ``logkit_`` prefix, then the
subsystem (``scrapy``, ``celery``, ``django``, ``exporter``); base units in the name
(``_seconds``, ``_bytes``); counters end in ``_total``; times are ``_timestamp_seconds`` (Unix
time). Label values that come from logs (domains, routes, task names...) are bounded: see
:data:`FOLD_GROUPS` and docs/metrics.md "Cardinality".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .. import schema

#: The value a label takes when its group is full (see :data:`FOLD_GROUPS`).
OTHER = "__other__"
#: The value of a label whose field is absent from the event.
UNKNOWN = "unknown"
#: Label values are cut to this many characters (a log line is attacker-controlled).
MAX_LABEL_CHARS = 128


def _field(name: str) -> str:
    schema.field(name)   # KeyError naming the field when the schema lacks it
    return name


def _action(name: str) -> str:
    if name not in schema.EVENT_TYPES:
        raise KeyError(f"logkit schema has no event type {name!r}")
    return name


# --- label value bounds ------------------------------------------------------------------------
@dataclass(frozen=True)
class FoldGroup:
    """Label values that share one bound: the first ``limit`` distinct values seen (plus any in the
    allow-list) get their own series; every later value is reported as ``__other__``."""
    name: str
    default_limit: int
    option: str          # the command-line option that sets the limit
    description: str


FOLD_GROUPS: dict[str, FoldGroup] = {g.name: g for g in [
    FoldGroup("domain", 500, "--top-domains", "`url.domain` of Scrapy events"),
    FoldGroup("route", 200, "--top-routes", "`django.route` of Django requests"),
    FoldGroup("task", 200, "--top-tasks", "`celery.task.name`"),
    FoldGroup("worker", 200, "--top-workers", "Celery worker names"),
    FoldGroup("proxy", 100, "--top-proxies", "`scrapy.proxy`"),
    FoldGroup("service", 100, "--top-services", "`service.name`"),
    FoldGroup("queue", 100, "--top-queues", "`celery.task.queue` (and `--queue`)"),
    FoldGroup("small", 50, "--top-small", "short closed-ish sets: CAPTCHA vendors, spiders, parsers"),
]}


# --- how label and observed values are derived -----------------------------------------------
Get = Callable[[str], Any]


@dataclass(frozen=True)
class Label:
    """A label: its name, the schema fields it reads, how, and its bound."""
    name: str
    fields: tuple[str, ...]
    derive: Callable[[Get], Any]
    doc: str
    #: A fold group name (values bounded by that group) or None for a closed set (bounded by code).
    group: str | None = None


def _value_of(f: str) -> Callable[[Get], Any]:
    return lambda get: get(f)


def _status_class(get: Get) -> str:
    s = get("http.response.status_code")
    try:
        s = int(s)
    except (TypeError, ValueError):
        return UNKNOWN
    return f"{s // 100}xx" if 100 <= s < 600 else UNKNOWN


def _download_reason(get: Get) -> str:
    t = str(get("error.type") or "").lower()
    if "timeout" in t:
        return "timeout"
    if "dns" in t:
        return "dns"
    if "refused" in t:
        return "refused"
    return "other"


def _task_state(get: Get) -> str:
    return str(get("event.action"))[5:]          # "task.succeeded" -> "succeeded"


def _level(get: Get) -> str:
    v = str(get("log.level") or "").lower()
    return v if v in schema.LEVELS else UNKNOWN


def _worker(get: Get) -> Any:
    return get("celery.worker.hostname") or get("host.hostname")


def _label(name: str, f: str, doc: str, group: str | None) -> Label:
    return Label(name, (_field(f),), _value_of(f), doc, group)


DOMAIN = _label("domain", "url.domain", "`url.domain`", "domain")
ROUTE = _label("route", "django.route", "`django.route` (the URL pattern, not the path)", "route")
TASK = _label("task", "celery.task.name", "`celery.task.name`", "task")
PROXY = _label("proxy", "scrapy.proxy", "`scrapy.proxy` (credentials already removed at emission)", "proxy")
SERVICE = _label("service", "service.name", "`service.name`", "service")
VENDOR = _label("vendor", "scrapy.challenge.vendor", "`scrapy.challenge.vendor`", "small")
SPIDER = _label("spider", "scrapy.spider", "`scrapy.spider`", "small")
PARSER = _label("parser", "scrapy.parser", "`scrapy.parser`", "small")
ITEM_STATUS = Label("status", (_field("scrapy.item.status"),),
                    lambda get: get("scrapy.item.status") if get("scrapy.item.status") in
                    schema.FIELDS["scrapy.item.status"].allowed else UNKNOWN,
                    "`scrapy.item.status` (new, updated, unchanged, unknown)")
STATUS_CLASS = Label("status_class", (_field("http.response.status_code"),), _status_class,
                     "`http.response.status_code` as `1xx`..`5xx` (`unknown` when absent or out of range)")
LEVEL = Label("level", (_field("log.level"),), _level, "`log.level` (debug..critical, else `unknown`)")
TASK_STATE = Label("state", (_field("event.action"),), _task_state,
                   "the `event.action` without `task.`: sent, received, started, succeeded, failed, "
                   "retried, revoked, rejected")
DL_REASON = Label("reason", (_field("error.type"),), _download_reason,
                  "from `error.type`: `timeout` (contains \"timeout\"), `dns`, `refused`, else `other`")
WORKER = Label("worker", (_field("celery.worker.hostname"), _field("host.hostname")), _worker,
               "`celery.worker.hostname`, else `host.hostname`", "worker")


# --- conditions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cond:
    doc: str
    fields: tuple[str, ...]
    test: Callable[[Get], bool]


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _is_2xx(get: Get) -> bool:
    s = _int(get("http.response.status_code"))
    return s is not None and 200 <= s <= 299


def _timed_out(get: Get) -> bool:
    v = get("celery.task.timed_out")
    return v is True or v == "true" or "timelimitexceeded" in str(get("error.type") or "").lower()


def _proxied(get: Get) -> bool:
    return bool(get("scrapy.proxy"))


def _proxy_failed(get: Get) -> bool:
    if not get("scrapy.proxy"):
        return False
    a = get("event.action")
    s = _int(get("http.response.status_code"))
    if a == "download.failed":
        return True
    if a == "page.fetched":
        return s is not None and s >= 400
    return s is None or s < 400       # a CAPTCHA/block page served with a success status


STATUS_2XX = Cond("`http.response.status_code` is 2xx", (_field("http.response.status_code"),), _is_2xx)
TIMED_OUT = Cond("`celery.task.timed_out` is true or `error.type` contains `TimeLimitExceeded`",
                 (_field("celery.task.timed_out"), _field("error.type")), _timed_out)
PROXIED = Cond("`scrapy.proxy` is set", (_field("scrapy.proxy"),), _proxied)
PROXY_FAILED = Cond("`scrapy.proxy` is set, and: `download.failed`; or `page.fetched` with status >= 400; or a "
                    "CAPTCHA/block event whose status is absent or < 400 (a challenge page served as a "
                    "success, already counted as a good `page.fetched`); the analyzer's proxy success "
                    "rate is 1 - failures/requests", (_field("scrapy.proxy"), _field("http.response.status_code")),
                    _proxy_failed)


# --- observed values ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Value:
    field: str
    scale: float = 1.0
    doc: str = ""


def _v(f: str, scale: float = 1.0, doc: str = "") -> Value:
    return Value(_field(f), scale, doc)


TIMESTAMP = _v("@timestamp", doc="`@timestamp` as Unix seconds, the largest seen")


# --- metrics -----------------------------------------------------------------------------------
COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
#: Where a metric's value comes from.
EVENTS, BROKER, EXPORTER = "events", "broker", "exporter"

TASK_ACTIONS = tuple(_action(a) for a in ("task.sent", "task.received", "task.started", "task.succeeded",
                                          "task.failed", "task.retried", "task.revoked", "task.rejected"))
WORKER_ACTIONS = tuple(a for a in TASK_ACTIONS if a != "task.sent")

RUNTIME_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    help: str
    labels: tuple[Label, ...] = ()
    unit: str = ""
    source: str = EVENTS
    #: The ``event.action`` values that feed it; ``("*",)``: every event.
    actions: tuple[str, ...] = ()
    when: Cond | None = None
    #: Histograms: the observed field; gauges: the field whose largest value is kept.
    value: Value | None = None
    buckets: tuple[float, ...] = ()
    #: Extra words for the docs (how it is computed, what it is for).
    note: str = ""

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(lb.name for lb in self.labels)

    @property
    def fields(self) -> tuple[str, ...]:
        """Every schema field the metric reads, in order, without repeats."""
        out: list[str] = []
        for f in ((["event.action"] if self.actions and self.actions != ("*",) else [])
                  + [f for lb in self.labels for f in lb.fields]
                  + list(self.when.fields if self.when else ())
                  + ([self.value.field] if self.value else [])):
            if f not in out:
                out.append(f)
        return tuple(out)


def _actions(*names: str) -> tuple[str, ...]:
    return tuple(_action(a) for a in names)


METRICS: tuple[Metric, ...] = (
    # --- Scrapy ------------------------------------------------------------------------------
    Metric("logkit_scrapy_pages_total", COUNTER, "Pages downloaded, by domain and HTTP status class.",
           (DOMAIN, STATUS_CLASS), actions=_actions("page.fetched"),
           note="Equals the analyzer's `domains` status_2xx..5xx columns."),
    Metric("logkit_scrapy_download_failures_total", COUNTER,
           "Requests that got no response (timeout, DNS, refused...), by domain and reason.",
           (DOMAIN, DL_REASON), actions=_actions("download.failed")),
    Metric("logkit_scrapy_captchas_total", COUNTER, "CAPTCHA or bot challenges detected, by domain and vendor.",
           (DOMAIN, Label("vendor", VENDOR.fields, lambda get: get("scrapy.challenge.vendor") or UNKNOWN,
                          "`scrapy.challenge.vendor` (`unknown` when absent)", "small")),
           actions=_actions("captcha.detected")),
    Metric("logkit_scrapy_blocks_total", COUNTER, "Block pages detected (403/429/503 or a WAF denial), by domain.",
           (DOMAIN,), actions=_actions("block.detected")),
    Metric("logkit_scrapy_proxy_requests_total", COUNTER, "Requests sent through a proxy, by proxy.",
           (PROXY,), actions=_actions("page.fetched", "download.failed"), when=PROXIED),
    Metric("logkit_scrapy_proxy_failures_total", COUNTER,
           "Proxied requests that failed, were blocked or got a challenge, by proxy.",
           (PROXY,), actions=_actions("page.fetched", "download.failed", "captcha.detected", "block.detected"),
           when=PROXY_FAILED,
           note="Proxy success rate = 1 - failures / requests (the analyzer's `proxies` success_rate)."),
    Metric("logkit_scrapy_items_total", COUNTER, "Items scraped, by domain and whether new or updated.",
           (DOMAIN, ITEM_STATUS), actions=_actions("item.scraped")),
    Metric("logkit_scrapy_items_dropped_total", COUNTER, "Items dropped by a pipeline, by spider.",
           (SPIDER,), actions=_actions("item.dropped")),
    Metric("logkit_scrapy_parse_failures_total", COUNTER, "Parser exceptions, by parser.",
           (PARSER,), actions=_actions("parse.failed")),
    Metric("logkit_scrapy_last_success_timestamp_seconds", GAUGE,
           "Time of the last page fetched with a 2xx status, by domain (data freshness).",
           (DOMAIN,), unit="seconds", actions=_actions("page.fetched"), when=STATUS_2XX, value=TIMESTAMP,
           note="`time() - logkit_scrapy_last_success_timestamp_seconds` is how stale a source is."),
    # --- Celery ------------------------------------------------------------------------------
    Metric("logkit_celery_tasks_total", COUNTER, "Celery task events, by task name and state.",
           (TASK, TASK_STATE), actions=TASK_ACTIONS,
           note="Retries are `state=\"retried\"`; an attempt ends in succeeded, failed or retried."),
    Metric("logkit_celery_task_timeouts_total", COUNTER, "Tasks that failed on their time limit, by task.",
           (TASK,), actions=_actions("task.failed"), when=TIMED_OUT),
    Metric("logkit_celery_task_runtime_seconds", HISTOGRAM, "Task run time, by task.",
           (TASK,), unit="seconds", actions=_actions("task.succeeded", "task.failed"),
           value=_v("celery.task.runtime"), buckets=RUNTIME_BUCKETS),
    Metric("logkit_celery_task_queue_wait_seconds", HISTOGRAM,
           "Time tasks waited in the queue between sent and started, by task.",
           (TASK,), unit="seconds", actions=_actions("task.started"), value=_v("celery.task.queue_wait"),
           buckets=WAIT_BUCKETS),
    Metric("logkit_celery_worker_last_seen_timestamp_seconds", GAUGE,
           "Time of the last task event a worker logged, by worker.",
           (WORKER,), unit="seconds", actions=WORKER_ACTIONS, value=TIMESTAMP),
    Metric("logkit_celery_workers_active", GAUGE,
           "Workers whose last task event is less than the worker window old (wall clock).",
           (), source=EXPORTER, actions=WORKER_ACTIONS,
           note="Computed at each scrape from `logkit_celery_worker_last_seen_timestamp_seconds` and "
                "`--worker-window` (default 300 s)."),
    Metric("logkit_celery_queue_length", GAUGE,
           "Messages waiting in a Celery queue on the Redis broker (LLEN, priority sub-queues summed).",
           (Label("queue", (_field("celery.task.queue"),), _value_of("celery.task.queue"),
                  "the queues given with `--queue` and every `celery.task.queue` seen in the events", "queue"),),
           source=BROKER,
           note="Only with `--broker redis://...`; read at each scrape (serve) or once (textfile)."),
    Metric("logkit_celery_broker_up", GAUGE, "1 when the last read of the broker succeeded, else 0.",
           (), source=BROKER, note="Only with `--broker`."),
    # --- Django ------------------------------------------------------------------------------
    Metric("logkit_django_requests_total", COUNTER, "HTTP requests served, by route and status class.",
           (ROUTE, STATUS_CLASS), actions=_actions("http.request")),
    Metric("logkit_django_request_duration_seconds", HISTOGRAM, "HTTP request latency, by route.",
           (ROUTE,), unit="seconds", actions=_actions("http.request"),
           value=_v("event.duration", 1e-9, "`event.duration` (nanoseconds) / 1e9"), buckets=LATENCY_BUCKETS),
    Metric("logkit_django_exceptions_total", COUNTER, "Unhandled view exceptions, by route.",
           (ROUTE,), actions=_actions("http.exception")),
    # --- every event -------------------------------------------------------------------------
    Metric("logkit_events_total", COUNTER, "Events, by service and level.", (SERVICE, LEVEL), actions=("*",),
           note="`level=\"critical\"` feeds the critical-events alert."),
    Metric("logkit_service_last_event_timestamp_seconds", GAUGE, "Time of the last event, by service.",
           (SERVICE,), unit="seconds", actions=("*",), value=TIMESTAMP,
           note="A service whose logs stop is a stale data source."),
    # --- the exporter itself -----------------------------------------------------------------
    Metric("logkit_exporter_events_read_total", COUNTER, "Events (JSON objects with a usable @timestamp) the exporter has counted.",
           source=EXPORTER),
    Metric("logkit_exporter_lines_malformed_total", COUNTER,
           "Lines that were not a usable event, by reason.",
           (Label("reason", (), lambda get: None,
                  "`malformed_json`, `not_object`, `non_utf8` (bytes replaced, event kept), `oversized`, "
                  "`partial` (a last line without newline, or a cut compressed stream; kept when it parses), "
                  "`no_timestamp` (an event without a usable `@timestamp`: not counted, as in the analyzer)"),),
           source=EXPORTER),
    Metric("logkit_exporter_label_values_folded_total", COUNTER,
           "Label values reported as `__other__` because their group was full, by group.",
           (Label("group", (), lambda get: None, "a fold group (see Cardinality)"),), source=EXPORTER),
    Metric("logkit_exporter_label_values", GAUGE, "Distinct label values with their own series, by group.",
           (Label("group", (), lambda get: None, "a fold group"),), source=EXPORTER),
    Metric("logkit_exporter_lag_bytes", GAUGE, "Bytes in the followed files not read yet (serve only).",
           (), unit="bytes", source=EXPORTER),
    Metric("logkit_exporter_files", GAUGE, "Files followed (serve only).", (), source=EXPORTER),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


def _check() -> None:
    import re
    ok = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    for m in METRICS:
        if not ok.match(m.name) or not m.name.startswith("logkit_"):
            raise ValueError(f"bad metric name {m.name!r}")
        if (m.type == COUNTER) != m.name.endswith("_total"):
            raise ValueError(f"{m.name}: counters, and only counters, end in _total")
        if m.unit and not m.name.endswith("_" + m.unit) and not (m.type == HISTOGRAM and m.name.endswith(m.unit)):
            raise ValueError(f"{m.name}: the unit {m.unit!r} must end the name")
        if m.type == HISTOGRAM and not (m.value and m.buckets):
            raise ValueError(f"{m.name}: a histogram needs a value and buckets")
        for lb in m.labels:
            if lb.group is not None and lb.group not in FOLD_GROUPS:
                raise ValueError(f"{m.name}: label {lb.name} has unknown fold group {lb.group!r}")
    if len(BY_NAME) != len(METRICS):
        raise ValueError("a metric is defined twice")


_check()
