"""The event schema: the one place that names every field, its type and every event type.

Everything downstream reads this module — the emitters, `logkit validate`, the analyzer's
queries, the Elasticsearch template, the Kibana searches and the alert rules — so a field is
renamed here or nowhere.

Names follow the Elastic Common Schema (ECS) where ECS has the field (``ecs=True``; a test
checks the type against ECS's own field list). What ECS lacks lives under logkit's own
namespaces (``celery.*``, ``scrapy.*``, ``django.*``, ``logkit.*``), never at the top level.
Keys an application adds that the schema does not know go under ``extra.*`` (mapped as
``flattened`` in Elasticsearch, so they cannot explode the mapping).

Types are Elasticsearch field types, since that is where the strictest reader lives.
"""
from __future__ import annotations

from dataclasses import dataclass, field as _field
from typing import Iterable

#: Bumped when a field is renamed or changes type (minor: fields added). Written into every event.
SCHEMA_VERSION = "1.0"
#: The ECS version the ECS-named fields follow (written as ``ecs.version``, per the ecs-logging spec).
ECS_VERSION = "8.11.0"

#: Namespaces of our own; a field outside ECS must live under one of them.
CUSTOM_NAMESPACES = ("celery", "scrapy", "django", "logkit", "extra")
#: ECS's top-level field sets (from ECS's field list). A key an application logs that starts
#: with one of these, or with a custom namespace, is kept where it is; any other goes to extra.*.
ECS_FIELDSETS = (
    "@timestamp", "agent", "client", "cloud", "container", "data_stream", "destination", "device",
    "dll", "dns", "ecs", "email", "entity", "error", "event", "faas", "file", "gen_ai", "group",
    "host", "http", "labels", "log", "message", "network", "observer", "orchestrator",
    "organization", "package", "process", "registry", "related", "rule", "server", "service",
    "source", "span", "tags", "threat", "tls", "trace", "transaction", "url", "user", "user_agent",
    "volume", "vulnerability",
)
TOP_LEVEL = frozenset(ECS_FIELDSETS) | frozenset(CUSTOM_NAMESPACES)
#: Short keyword names accepted for the most common fields (``log.info("...", action="page.fetched")``).
ALIASES = {"action": "event.action", "outcome": "event.outcome", "reason": "event.reason",
           "dataset": "event.dataset"}

LEVELS = ("debug", "info", "warning", "error", "critical")
OUTCOMES = ("success", "failure", "unknown")
SERVICE_TYPES = ("django", "celery", "scrapy", "script")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    description: str
    ecs: bool = False
    #: "core" fields are on every event; others appear where an event type lists them.
    core: bool = False
    #: Closed set of allowed values, when there is one.
    allowed: tuple[str, ...] | None = None
    example: object = None
    unit: str | None = None
    #: Set by the storage side (Elasticsearch, its ingest pipelines), never by the emitters.
    stored_only: bool = False

    @property
    def free_text(self) -> bool:
        """Whether values may carry a secret (so the emitter scans them); ids and enums cannot."""
        return self.type in ("match_only_text", "wildcard", "text", "flattened", "object") or \
            self.name in _FREE_TEXT_KEYWORDS


_FREE_TEXT_KEYWORDS = frozenset({"event.reason", "scrapy.proxy", "user_agent.original", "tags",
                                 "scrapy.challenge.signal", "error.type"})


def _f(name, type_, description, *, ecs=True, core=False, allowed=None, example=None, unit=None,
       stored_only=False):
    return Field(name, type_, description, ecs=ecs, core=core, allowed=allowed, example=example, unit=unit,
                 stored_only=stored_only)


def _c(name, type_, description, **kw):
    return _f(name, type_, description, ecs=False, **kw)


_FIELDS: list[Field] = [
    # --- core: on every event -------------------------------------------------------------
    _f("@timestamp", "date", "When the event happened, UTC, millisecond precision.", core=True,
       example="2026-11-25T10:00:00.123Z"),
    _f("log.level", "keyword", "Severity, lowercase.", core=True, allowed=LEVELS, example="info"),
    _f("message", "match_only_text", "Human-readable text of the event.", core=True),
    _f("ecs.version", "keyword", "ECS version the event follows.", core=True, example=ECS_VERSION),
    _c("logkit.schema_version", "keyword", "logkit schema version the event follows.", core=True,
       example=SCHEMA_VERSION),
    _f("event.id", "keyword", "Unique, time-sortable id (UUIDv7) made at emission; the "
       "Elasticsearch document id downstream, so an event shipped twice is stored once.",
       core=True, example="019abc12-3456-7def-8123-456789abcdef"),
    _f("event.action", "keyword", "What happened (one of the event types below, or `log`).",
       core=True, example="page.fetched"),
    _f("event.dataset", "keyword", "Where the event comes from; names the data stream "
       "`logs-<dataset>-<namespace>` downstream. Default `logkit.<service type>`.",
       core=True, example="logkit.scrapy"),
    _f("event.outcome", "keyword", "Whether the action succeeded.", core=True, allowed=OUTCOMES),
    _f("log.logger", "keyword", "Name of the logger.", core=True, example="myapp.views"),
    _f("service.name", "keyword", "Name of the service that emitted the event.", core=True),
    _f("service.type", "keyword", "Kind of service.", core=True, allowed=SERVICE_TYPES),
    _f("service.environment", "keyword", "Deployment environment.", core=True, example="production"),
    _f("host.hostname", "keyword", "Hostname of the machine.", core=True),
    _f("process.pid", "long", "Process id.", core=True),
    # --- correlation ----------------------------------------------------------------------
    _f("trace.id", "keyword", "Correlation id shared by a request and every task and scrape it "
       "causes; the OpenTelemetry trace id when a span is active."),
    _f("span.id", "keyword", "OpenTelemetry span id when a span is active."),
    # --- common ---------------------------------------------------------------------------
    _f("event.duration", "long", "Duration of the action.", unit="ns"),
    _f("event.reason", "keyword", "Why the action happened or failed (short)."),
    _f("event.kind", "keyword", "ECS event kind.",
       allowed=("alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal")),
    _f("service.version", "keyword", "Version of the service."),
    _f("process.thread.name", "keyword", "Thread name."),
    _f("log.origin.file.name", "keyword", "Source file that emitted the event."),
    _f("log.origin.file.line", "long", "Source line that emitted the event."),
    _f("log.origin.function", "keyword", "Function that emitted the event."),
    _f("error.type", "keyword", "Exception class or error kind.", example="TimeoutError"),
    _f("error.message", "match_only_text", "Error text."),
    _f("error.stack_trace", "wildcard", "Stack trace, chained causes included."),
    _f("tags", "keyword", "Free tags."),
    _f("labels", "object", "Custom string key/values."),
    # --- HTTP (Django requests and Scrapy fetches) ---------------------------------------
    _f("http.request.method", "keyword", "HTTP method.", example="GET"),
    _f("http.request.id", "keyword", "Request id (X-Request-ID)."),
    _f("http.response.status_code", "long", "HTTP status code.", example=200),
    _f("http.response.body.bytes", "long", "Response body size.", unit="bytes"),
    _f("url.full", "wildcard", "Full URL, credentials and secret query values masked."),
    _f("url.path", "wildcard", "URL path."),
    _f("url.domain", "keyword", "Host of the URL.", example="example.com"),
    _f("user.id", "keyword", "Authenticated user id."),
    _f("client.ip", "ip", "Client address (through trusted proxies only)."),
    _f("user_agent.original", "keyword", "User agent string."),
    _c("django.route", "keyword", "URL pattern the request resolved to (low cardinality).",
       example="articles/<int:pk>/"),
    _c("django.view", "keyword", "Dotted name of the view."),
    # --- Celery --------------------------------------------------------------------------
    _c("celery.task.name", "keyword", "Task name.", example="crawl.fetch_site"),
    _c("celery.task.id", "keyword", "Task id."),
    _c("celery.task.parent_id", "keyword", "Id of the task that sent this one."),
    _c("celery.task.root_id", "keyword", "Id of the first task of the workflow."),
    _c("celery.task.queue", "keyword", "Queue (routing key) the task went through."),
    _c("celery.task.retries", "long", "How many times the task has been retried so far."),
    _c("celery.task.state", "keyword", "Celery state the event reports.",
       allowed=("SENT", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED")),
    _c("celery.task.runtime", "double", "Time the task ran.", unit="s"),
    _c("celery.task.queue_wait", "double", "Time from sent to started.", unit="s"),
    _c("celery.task.timed_out", "boolean", "The task hit its time limit."),
    _c("celery.task.eta", "date", "Earliest time the task may run."),
    _c("celery.worker.hostname", "keyword", "Worker node name.", example="celery@worker-1"),
    # --- Scrapy and parsers ---------------------------------------------------------------
    _c("scrapy.spider", "keyword", "Spider name."),
    _c("scrapy.proxy", "keyword", "Proxy URL the request went through, credentials removed."),
    _c("scrapy.proxy_outcome", "keyword", "How the proxy did on this attempt: success when a "
       "response came back that is not a block or challenge page (and not 407/502/504), failure on a "
       "download error, a block or a challenge.", allowed=("success", "failure")),
    _c("scrapy.retry_times", "long", "Retries of this request so far."),
    _c("scrapy.depth", "long", "Crawl depth of the request."),
    _c("scrapy.challenge.kind", "keyword", "Challenge kind.", allowed=("captcha", "block")),
    _c("scrapy.challenge.vendor", "keyword", "Bot-protection vendor.", example="cloudflare"),
    _c("scrapy.challenge.signal", "keyword", "What decided the detection."),
    _c("scrapy.item.type", "keyword", "Item class."),
    _c("scrapy.item.status", "keyword", "Whether the item was new or updated an existing record.",
       allowed=("new", "updated", "unchanged", "unknown")),
    _c("scrapy.parser", "keyword", "Name of the parser that failed."),
    _c("scrapy.finish_reason", "keyword", "Why the spider closed.", example="finished"),
    _c("scrapy.stats", "flattened", "Scrapy's stats at close (summary)."),
    # --- set in Elasticsearch (data stream, ingest pipeline), never by the emitters ----------
    _f("event.ingested", "date", "When Elasticsearch's ingest pipeline received the event.", stored_only=True),
    _f("data_stream.type", "constant_keyword", "Data stream type (`logs`).", stored_only=True),
    _f("data_stream.dataset", "constant_keyword", "Data stream dataset (from `event.dataset`).", stored_only=True),
    _f("data_stream.namespace", "constant_keyword", "Data stream namespace.", stored_only=True),
    # --- logkit's own (shipper, analyzer) ------------------------------------------------
    _c("logkit.ship.shipped", "long", "Events shipped since the last progress event."),
    _c("logkit.ship.failed", "long", "Events sent to the dead-letter file since the last progress event."),
    _c("logkit.ship.lag", "long", "Bytes written to the inputs but not yet shipped.", unit="bytes"),
    _c("logkit.dropped", "long", "Events dropped because the non-blocking queue was full."),
    _c("logkit.replaced", "keyword", "Notes on values the emitter had to replace or cut to keep the event "
       "(an unrenderable object, an integer out of range, a line over the size limit); a list."),
    _c("extra", "flattened", "Keys the application added that the schema does not name."),
]

FIELDS: dict[str, Field] = {f.name: f for f in _FIELDS}
CORE_FIELDS: tuple[str, ...] = tuple(f.name for f in _FIELDS if f.core)


@dataclass(frozen=True)
class EventType:
    action: str
    service_type: str
    description: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    #: The outcomes this event may carry.
    outcomes: tuple[str, ...] = OUTCOMES


_TASK = ("celery.task.name", "celery.task.id")
_TASK_OPT = ("celery.task.parent_id", "celery.task.root_id", "celery.task.queue",
             "celery.task.retries", "celery.worker.hostname", "celery.task.state")
_PAGE = ("url.full", "url.domain")
_PAGE_OPT = ("scrapy.spider", "scrapy.proxy", "scrapy.proxy_outcome", "scrapy.retry_times", "scrapy.depth",
             "http.request.method")

EVENT_TYPES: dict[str, EventType] = {e.action: e for e in [
    EventType("log", "script", "A plain log line with no specific action."),
    # Django
    EventType("http.request", "django", "One per HTTP request, when the response is sent.",
              required=("http.request.method", "http.response.status_code", "event.duration"),
              optional=("django.route", "django.view", "url.path", "user.id", "client.ip",
                        "user_agent.original", "http.request.id")),
    EventType("http.exception", "django", "An unhandled exception in a view (logged once).",
              required=("error.type", "error.message", "error.stack_trace"),
              optional=("django.route", "url.path", "http.request.method"),
              outcomes=("failure",)),
    # Celery
    EventType("task.sent", "celery", "The publisher sent a task.", required=_TASK,
              optional=_TASK_OPT + ("celery.task.eta",)),
    EventType("task.received", "celery", "A worker received a task.", required=_TASK, optional=_TASK_OPT),
    EventType("task.started", "celery", "A worker started a task.", required=_TASK,
              optional=_TASK_OPT + ("celery.task.queue_wait",)),
    EventType("task.succeeded", "celery", "A task returned.", required=_TASK + ("celery.task.runtime",),
              optional=_TASK_OPT + ("event.duration",), outcomes=("success",)),
    EventType("task.failed", "celery", "A task raised (time limits included).",
              required=_TASK + ("error.type",),
              optional=_TASK_OPT + ("celery.task.runtime", "event.duration", "error.message",
                                    "error.stack_trace", "celery.task.timed_out"),
              outcomes=("failure",)),
    EventType("task.retried", "celery", "A task asked to be retried.", required=_TASK,
              optional=_TASK_OPT + ("event.reason", "error.type", "error.message")),
    EventType("task.revoked", "celery", "A task was revoked (terminated or expired).", required=_TASK,
              optional=_TASK_OPT + ("event.reason",), outcomes=("failure", "unknown")),
    EventType("task.rejected", "celery", "A worker rejected a task message.", required=(),
              optional=_TASK_OPT + _TASK + ("event.reason",), outcomes=("failure",)),
    # Scrapy and parsers
    EventType("page.fetched", "scrapy", "A response was downloaded (any status).",
              required=_PAGE + ("http.response.status_code",),
              optional=_PAGE_OPT + ("event.duration", "http.response.body.bytes")),
    EventType("download.failed", "scrapy", "A request failed without a response (timeout, DNS, refused).",
              required=_PAGE + ("error.type",), optional=_PAGE_OPT + ("error.message", "event.duration"),
              outcomes=("failure",)),
    EventType("captcha.detected", "scrapy", "A response was a CAPTCHA or bot challenge.",
              required=_PAGE + ("scrapy.challenge.vendor", "scrapy.challenge.signal"),
              optional=_PAGE_OPT + ("http.response.status_code", "scrapy.challenge.kind"),
              outcomes=("failure",)),
    EventType("block.detected", "scrapy", "A response was a block page (403/429/503 or a WAF denial).",
              required=_PAGE + ("scrapy.challenge.signal",),
              optional=_PAGE_OPT + ("http.response.status_code", "scrapy.challenge.vendor",
                                    "scrapy.challenge.kind"),
              outcomes=("failure",)),
    EventType("item.scraped", "scrapy", "An item left the pipelines.",
              required=("scrapy.item.type",), optional=("scrapy.spider", "scrapy.item.status",
                                                         "url.full", "url.domain"),
              outcomes=("success",)),
    EventType("item.dropped", "scrapy", "A pipeline dropped an item.",
              required=("scrapy.item.type",), optional=("scrapy.spider", "event.reason", "url.domain"),
              outcomes=("failure",)),
    EventType("parse.failed", "scrapy", "Parser code raised on a page.",
              required=("scrapy.parser", "error.type"),
              optional=("url.full", "url.domain", "scrapy.spider", "error.message", "error.stack_trace"),
              outcomes=("failure",)),
    EventType("spider.opened", "scrapy", "A spider started.", required=("scrapy.spider",)),
    EventType("spider.closed", "scrapy", "A spider finished.", required=("scrapy.spider", "scrapy.finish_reason"),
              optional=("scrapy.stats", "event.duration")),
    # logkit itself
    EventType("ship.progress", "script", "The shipper's periodic progress.",
              optional=("logkit.ship.shipped", "logkit.ship.failed", "logkit.ship.lag")),
    EventType("ship.dead_letter", "script", "The cluster rejected an event; it went to the dead-letter file.",
              optional=("event.reason",), outcomes=("failure",)),
    EventType("log.dropped", "script", "The non-blocking handler's queue was full and events were dropped.",
              required=("logkit.dropped",), outcomes=("failure",)),
]}


def field(name: str) -> Field:
    """The field called ``name``; KeyError names the field when the schema lacks it."""
    try:
        return FIELDS[name]
    except KeyError:
        raise KeyError(f"logkit schema has no field {name!r}") from None


def known(name: str) -> bool:
    return name in FIELDS


def json_type(es_type: str) -> dict:
    """JSON Schema for a value of an Elasticsearch field type."""
    return {
        "keyword": {"type": "string"}, "wildcard": {"type": "string"}, "constant_keyword": {"type": "string"},
        "match_only_text": {"type": "string"}, "text": {"type": "string"},
        "date": {"type": "string", "format": "date-time"},
        "long": {"type": "integer"}, "integer": {"type": "integer"},
        "double": {"type": "number"}, "float": {"type": "number"},
        "boolean": {"type": "boolean"}, "ip": {"type": "string"},
        "object": {"type": "object"}, "flattened": {"type": "object"},
    }[es_type]


def json_schema() -> dict:
    """A JSON Schema (draft 2020-12) of an event in its flat, dotted form."""
    props = {}
    for f in _FIELDS:
        p = dict(json_type(f.type), description=f.description)
        if f.allowed:
            p["enum"] = list(f.allowed)
        if f.name == "tags":
            p = {"type": ["string", "array"], "items": {"type": "string"}, "description": f.description}
        props[f.name] = p
    props["event.action"]["examples"] = sorted(EVENT_TYPES)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://logkit.dev/schema/{SCHEMA_VERSION}/event.json",
        "title": f"logkit event (schema {SCHEMA_VERSION}, flattened to dotted names)",
        "type": "object",
        "required": list(CORE_FIELDS),
        "properties": props,
        "additionalProperties": True,
        "x-event-types": {
            a: {"service_type": e.service_type, "description": e.description,
                "required": list(e.required), "optional": list(e.optional), "outcomes": list(e.outcomes)}
            for a, e in EVENT_TYPES.items()
        },
    }


def namespace_of(name: str) -> str:
    return name.split(".", 1)[0]


def fields_of(action: str) -> Iterable[str]:
    e = EVENT_TYPES[action]
    return (*CORE_FIELDS, *e.required, *e.optional)
