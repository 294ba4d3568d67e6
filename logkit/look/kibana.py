"""The Kibana saved-search bundle (``logkit kibana bundle``): NDJSON for Kibana's saved-objects
import API (Stack Management > Saved objects > Import, or ``POST /api/saved_objects/_import``).

It holds a data view for logkit's data streams, one saved search per question the logs answer
(errors by domain, CAPTCHAs, failed and retried tasks, slow tasks, critical events, events by
correlation id) and a dashboard that shows them together.

Authored at the oldest 8.x shape, so every 8.x (and later) Kibana migrates it forward:
``coreMigrationVersion`` is ``8.0.0`` and each object's version is the last migration Kibana
8.0.0 itself has for its type (:data:`TYPE_MIGRATION_VERSIONS`). Kibana refuses an object whose
version is newer than the migrations it knows, and runs every migration after the stamped one,
so stamping no higher than 8.0.0 knows is what makes one file import everywhere. The version
is written both as ``typeMigrationVersion`` (read by Kibana 8.8+) and as the older
``migrationVersion`` map (read by 8.0-8.7).

Queries are Lucene (``language: lucene``: Elasticsearch runs them as ``query_string``, which is
how the tests check them), and every field in them comes from :mod:`logkit.schema`.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from .. import schema

CORE_MIGRATION_VERSION = "8.0.0"
#: The last migration Kibana 8.0.0 defines for each type (data views: 8.0.0; saved searches:
#: 7.9.3, the last of discover's search migrations; dashboards: 7.14.0, the last of the
#: dashboard plugin's own migrations before 8.0.1).
TYPE_MIGRATION_VERSIONS = {"index-pattern": "8.0.0", "search": "7.9.3", "dashboard": "7.14.0"}
DEFAULT_DATA_VIEW_PATTERN = "logs-logkit.*-*"
SLOW_TASK_SECONDS = 60
#: uuid5 namespace of the bundle's ids: the same inputs give the same ids on every run, so a
#: second import overwrites rather than duplicates.
_ID_NAMESPACE = uuid.UUID("5d1f4a8e-2b7c-5e0a-9c3d-6f1e2a4b7c90")
_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def F(name: str) -> str:
    """A schema field's name (KeyError when the schema lacks it): every query goes through this."""
    return schema.field(name).name


# --- Lucene -----------------------------------------------------------------------------------
_LUCENE_SPECIAL = re.compile(r'([+\-=&|><!(){}\[\]^"~*?:\\/ ])')


def lucene_escape(value: str) -> str:
    """``value`` as one Lucene term: every query_string operator character backslash-escaped."""
    return _LUCENE_SPECIAL.sub(r"\\\1", str(value))


def phrase(field: str, value: str) -> str:
    """``field:"value"`` with the value quoted (for keyword fields: the exact value)."""
    v = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'{F(field)}:"{v}"'


def any_of(field: str, values: Iterable[str]) -> str:
    return "(" + " OR ".join(phrase(field, v) for v in values) + ")"


def exists(field: str) -> str:
    return f"_exists_:{F(field)}"


def greater(field: str, number: float) -> str:
    return f"{F(field)}:>{number:g}" if isinstance(number, float) else f"{F(field)}:>{int(number)}"


def at_least(field: str, number: int) -> str:
    return f"{F(field)}:[{int(number)} TO *]"


#: Field names a query mentions (``field:``, ``_exists_:field``): tests check them against the schema.
_FIELD_IN_QUERY = re.compile(r"(?:^|[\s(])(?:_exists_:)?([@A-Za-z_][\w.@]*)(?=:)")


def fields_in_query(query: str) -> set[str]:
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    names = set()
    for m in re.finditer(r"_exists_:([@\w.]+)", unquoted):
        names.add(m.group(1))
    for m in _FIELD_IN_QUERY.finditer(unquoted):
        if m.group(1) != "_exists_":
            names.add(m.group(1))
    return names


# --- the searches -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedSearch:
    key: str
    title: str
    description: str
    query: str
    columns: tuple[str, ...]
    sort: tuple[tuple[str, str], ...] = (("@timestamp", "desc"),)

    @property
    def fields(self) -> set[str]:
        return fields_in_query(self.query) | set(self.columns) | {f for f, _ in self.sort}


def saved_searches(*, slow_task_seconds: float = SLOW_TASK_SECONDS,
                   trace_id: str | None = None) -> list[SavedSearch]:
    """The bundle's saved searches. ``trace_id`` adds one for that correlation id."""
    if not slow_task_seconds > 0:
        raise ValueError("slow_task_seconds must be positive")
    slow_ns = int(slow_task_seconds * 1_000_000_000)
    out = [
        SavedSearch(
            "errors-by-domain", "logkit: errors by domain",
            "Failed downloads and responses with status 400 or more, grouped by url.domain "
            "(the analyzer's per-domain errors).",
            f'{exists("url.domain")} AND ({phrase("event.action", "download.failed")} OR '
            f'({phrase("event.action", "page.fetched")} AND {at_least("http.response.status_code", 400)}))',
            (F("url.domain"), F("event.action"), F("http.response.status_code"), F("error.type"),
             F("url.full"), F("service.name")),
            ((F("url.domain"), "asc"), ("@timestamp", "desc"))),
        SavedSearch(
            "captcha", "logkit: CAPTCHA and bot challenges",
            "captcha.detected events: which domains challenge the scrapers, which vendor, how it was detected.",
            phrase("event.action", "captcha.detected"),
            (F("url.domain"), F("scrapy.challenge.vendor"), F("scrapy.challenge.signal"),
             F("scrapy.spider"), F("scrapy.proxy"), F("url.full"))),
        SavedSearch(
            "tasks-failed-retried", "logkit: failed and retried tasks",
            "Celery task.failed and task.retried events, newest first.",
            any_of("event.action", ("task.failed", "task.retried")),
            (F("celery.task.name"), F("event.action"), F("celery.task.retries"), F("error.type"),
             F("error.message"), F("celery.worker.hostname"))),
        SavedSearch(
            "tasks-slow", f"logkit: slow tasks (over {slow_task_seconds:g} s)",
            f"Finished Celery tasks that ran longer than {slow_task_seconds:g} s "
            f"(celery.task.runtime in seconds, or event.duration in nanoseconds).",
            f'{any_of("event.action", ("task.succeeded", "task.failed"))} AND '
            f'({greater("celery.task.runtime", float(slow_task_seconds))} OR '
            f'{greater("event.duration", slow_ns)})',
            (F("celery.task.name"), F("celery.task.runtime"), F("event.duration"), F("event.action"),
             F("celery.task.queue"), F("celery.worker.hostname")),
            ((F("celery.task.runtime"), "desc"), ("@timestamp", "desc"))),
        SavedSearch(
            "critical", "logkit: critical events",
            "Every event logged at critical level, any service.",
            phrase("log.level", "critical"),
            (F("service.name"), F("service.type"), F("event.action"), F("error.type"), F("message"))),
        SavedSearch(
            "correlation", "logkit: events by correlation id (trace.id)",
            "Every event that carries a trace.id, grouped by it and in time order: a Django request "
            "and the Celery tasks and scrapes it caused sit together. To follow one, add "
            "trace.id:\"<id>\" to the query (or run `logkit kibana bundle --trace-id <id>`).",
            exists("trace.id"),
            (F("trace.id"), F("service.name"), F("service.type"), F("event.action"), F("message")),
            ((F("trace.id"), "asc"), ("@timestamp", "asc"))),
    ]
    if trace_id is not None:
        if not isinstance(trace_id, str) or not trace_id.strip():
            raise ValueError("trace_id must be a non-empty string")
        out.append(SavedSearch(
            "trace-" + uuid.uuid5(_ID_NAMESPACE, trace_id).hex[:12],
            f"logkit: trace {trace_id}",
            "Every event of one correlation id across services, in time order.",
            phrase("trace.id", trace_id),
            (F("service.name"), F("service.type"), F("event.action"), F("message")),
            (("@timestamp", "asc"),)))
    return out


# --- the saved objects ------------------------------------------------------------------------
def _id(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "\x1f".join(parts)))


def _object(type_: str, id_: str, attributes: dict, references: list[dict]) -> dict[str, Any]:
    return {
        "id": id_,
        "type": type_,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[type_],
        "migrationVersion": {type_: TYPE_MIGRATION_VERSIONS[type_]},
    }


def _check_pattern(pattern: str) -> str:
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("the data view pattern must be a non-empty string")
    if re.search(r"[\x00-\x1f\x7f]", pattern):
        raise ValueError("the data view pattern must not contain control characters")
    return pattern


def bundle(data_view_pattern: str = DEFAULT_DATA_VIEW_PATTERN, *,
           slow_task_seconds: float = SLOW_TASK_SECONDS, trace_id: str | None = None,
           dashboard: bool = True) -> list[dict[str, Any]]:
    """The saved objects, data view first (import order: referenced objects before referrers)."""
    pattern = _check_pattern(data_view_pattern)
    dv_id = _id("data-view", pattern)
    objects = [_object("index-pattern", dv_id, {
        "title": pattern,
        "timeFieldName": "@timestamp",
        "fields": "[]",
        "fieldAttrs": "{}",
        "runtimeFieldMap": "{}",
        "typeMeta": "{}",
        "fieldFormatMap": json.dumps({F("event.duration"): {
            "id": "duration", "params": {"inputFormat": "nanoseconds", "outputFormat": "humanizePrecise"}}}),
        "allowNoIndex": True,
    }, [])]
    searches = saved_searches(slow_task_seconds=slow_task_seconds, trace_id=trace_id)
    search_ids = []
    for s in searches:
        source = {"query": {"query": s.query, "language": "lucene"}, "filter": [],
                  "highlightAll": True, "version": True, "indexRefName": _INDEX_REF}
        sid = _id("search", pattern, s.key)
        search_ids.append((sid, s))
        objects.append(_object("search", sid, {
            "title": s.title,
            "description": s.description,
            "columns": list(s.columns),
            "sort": [list(p) for p in s.sort],
            "grid": {},
            "hideChart": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
            "version": 1,
        }, [{"name": _INDEX_REF, "type": "index-pattern", "id": dv_id}]))
    if dashboard:
        panels, refs = [], []
        for i, (sid, s) in enumerate(search_ids):
            ref = f"panel_{i}"
            panels.append({"version": CORE_MIGRATION_VERSION, "type": "search",
                           "gridData": {"x": 24 * (i % 2), "y": 15 * (i // 2), "w": 24, "h": 15, "i": str(i + 1)},
                           "panelIndex": str(i + 1), "embeddableConfig": {}, "panelRefName": ref})
            refs.append({"name": ref, "type": "search", "id": sid})
        objects.append(_object("dashboard", _id("dashboard", pattern), {
            "title": "logkit: overview",
            "description": "logkit's saved searches side by side: errors by domain, CAPTCHAs, "
                           "failed/retried and slow tasks, critical events, correlation ids.",
            "panelsJSON": json.dumps(panels),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
            "timeRestore": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                {"query": {"query": "", "language": "lucene"}, "filter": []})},
            "version": 1,
        }, refs))
    return objects


def bundle_ndjson(*args: Any, **kwargs: Any) -> str:
    """The bundle as NDJSON text: one object per line (JSON-escaped: a pattern or trace id
    with quotes, newlines or markup stays a string)."""
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in bundle(*args, **kwargs))
