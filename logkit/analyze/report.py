"""The report: a dataclass of sections, each computed by one named query (queries.py).

    from logkit.analyze import analyze
    report = analyze(["logs/"], since="2h", service=["spiders"], top=20)
    report.sections["domains"].dicts()
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from ..timeparse import parse_duration, parse_time
from . import queries as Q
from .failures import failure_patterns
from .store import NothingToRead, Store, event_source  # noqa: F401 (NothingToRead: re-exported)

def empty_window_message(meta: dict[str, Any], events_read: int | None = None) -> str | None:
    """When the window holds no event: how many were read, and the span the data covers (for the
    CLI's message); None otherwise."""
    if "data_first" not in meta:
        return None
    n = meta.get("events_in_store") if events_read is None else events_read

    def t(v):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime) else str(v)
    since, until = meta.get("since"), meta.get("until")
    win = f"from {t(since) if since else 'the first event'} to {t(until) if until else 'the last'}"
    flt = "".join(f"; {k}: {', '.join(meta[k])}" for k in ("services", "domains") if meta.get(k))
    why = " (--since is not before --until)" if since and until and since >= until else ""
    return (f"{n:,} event(s) read, none in the window ({win}{flt}){why}; "
            f"the data covers {t(meta['data_first'])} to {t(meta['data_last'])}")


#: Sections in report order (each a query name, except failure_patterns which goes through
#: patterns.failure_patterns so a template miner can replace the SQL grouping in one place).
SECTIONS = ("summary", "domains", "page_failures", "captcha_vendors", "proxies", "spiders", "tasks",
            "django_routes", "services", "critical_events", "timeline", "failure_patterns", "files", "bad_input")


@dataclass
class Section:
    name: str
    title: str
    definition: str
    columns: tuple[str, ...]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]


@dataclass
class Report:
    """Window and filters in ``meta``; one :class:`Section` per entry of :data:`SECTIONS`."""
    meta: dict[str, Any]
    sections: dict[str, Section] = field(default_factory=dict)
    input_errors: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Section:
        return self.sections[name]

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "input_errors": self.input_errors,
                "sections": {n: s.dicts() for n, s in self.sections.items()}}


# --- time arguments (the grammar lives in logkit.timeparse; re-exported for existing callers) ---
# Up to a year: events may span decades (1970 to 2099 is the sane range, inputs.TS_MIN/TS_MAX);
# the timeline stays at most ~60 buckets whatever the span.
_AUTO_STEPS = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 180, 360, 720, 1440, 10080, 43200, 525600)]


def auto_interval(span: timedelta, max_buckets: int = 60) -> timedelta:
    for step in _AUTO_STEPS:
        if span / step <= max_buckets:
            return step
    return _AUTO_STEPS[-1]


def as_tuple(v: str | Sequence[str] | None) -> tuple[str, ...]:
    """A filter argument (one name, several, or None) as a tuple."""
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    return tuple(v)


_as_tuple = as_tuple  # the old name, for code written against it


def filters(since=None, until=None, service=None, domain=None, *, now: datetime) -> Q.Filters:
    """The window and filters of a command over events, from its arguments (times as
    :func:`logkit.timeparse.parse_time` reads them, relative to ``now``)."""
    return Q.Filters(parse_time(since, now), parse_time(until, now), as_tuple(service), as_tuple(domain))


# --- the report ------------------------------------------------------------------------------
def analyze(inputs: Sequence[str] | None = None, *, db: str | Store | None = None,
            since: str | datetime | None = None, until: str | datetime | None = None,
            service: str | Sequence[str] | None = None, domain: str | Sequence[str] | None = None,
            by: str | timedelta | None = None, top: int | None = 20, now: datetime | None = None,
            progress: bool = False, sections: Sequence[str] | None = None, stdin=None,
            memory_limit: str | None = None) -> Report:
    """The report over ``inputs`` (files, globs, directories, ``-``) and/or a store (``db``).

    With ``db`` a path, the inputs are first loaded into that store (incrementally); without it,
    into an in-memory store for this analysis. Raises :class:`NothingToRead` when no event could
    be read at all; bad lines of readable files are counted in the ``bad_input`` section.
    """
    now = now or datetime.now(timezone.utc)
    flt = filters(since, until, service, domain, now=now)
    if top is not None and top < 0:
        raise ValueError(f"top must be 0 or more, not {top}")
    with event_source(inputs, db, memory_limit=memory_limit, progress=progress, stdin=stdin) as (store, loaded):
        return build(store, flt, by=by, top=top, sections=sections, input_errors=loaded.errors, now=now)

def window(flt: Q.Filters, summary: dict, *, by, top, now: datetime | None, store: str, events: int):
    """(meta, end, interval, prev_since) of a report: where its window ends, the timeline's
    interval, and the start of the earlier window "new" patterns compare with. Shared by the
    DuckDB and the Elasticsearch reports."""
    now = now or datetime.now(timezone.utc)
    first, last = summary["first_event"], summary["last_event"]
    end = flt.until or last or now
    start = flt.since or first or end
    interval = parse_duration(by) if by and by != "auto" else auto_interval(max(end - start, timedelta(0)))
    prev_since = (flt.since - ((flt.until or end) - flt.since)) if flt.since else None
    meta = {
        "since": flt.since, "until": flt.until, "start": start, "end": end,
        "interval_seconds": interval.total_seconds(), "services": list(flt.services),
        "domains": list(flt.domains), "top": top, "generated_at": now, "store": store, "events_in_store": events,
    }
    return meta, end, interval, prev_since


def build(store: Store, flt: Q.Filters, *, by=None, top: int | None = 20, sections=None,
          input_errors: dict[str, str] | None = None, now: datetime | None = None) -> Report:
    """The report's sections from a loaded store."""
    con = store.con
    cols, rows = Q.run(con, "summary", flt)
    meta, end, interval, prev_since = window(flt, dict(zip(cols, rows[0])), by=by, top=top, now=now,
                                             store=store.path or ":memory:", events=store.event_count)
    if rows[0][0] == 0:  # an empty window: what the data covers, for the message that says so
        _, whole = Q.run(con, "summary", Q.Filters())
        meta["data_first"], meta["data_last"] = whole[0][1], whole[0][2]
    rep = Report(meta, input_errors=dict(input_errors or {}))
    wanted = sections or SECTIONS
    for name in SECTIONS:
        if name not in wanted:
            continue
        q = Q.QUERIES[name]
        if name == "summary":
            c, r = cols, rows
        elif name == "failure_patterns":
            c, r = failure_patterns(con, flt, top=top, prev_since=prev_since)
        else:
            c, r = Q.run(con, name, flt, top=top, end=end, by=interval, prev_since=prev_since)
        rep.sections[name] = Section(name, q.title, q.definition, c, r)
    return rep
