"""The incremental aggregator: events in, Prometheus metric families out.

:class:`Aggregator` is fed one event (or one line) at a time and keeps plain Python counters keyed
by label values; it is a custom collector for the official ``prometheus_client``
(``registry.register(agg)``), which turns :meth:`Aggregator.collect` into the exposition format.
``logkit metrics serve`` and ``logkit metrics textfile`` both feed one, so the two never disagree.

Everything it counts is declared in definitions.py; this module only interprets those
declarations (a plan per ``event.action``, compiled once).

Label values from logs are bounded by :class:`Folder` (first come, first served; sticky): once a
value has its own series it keeps it, and a value that arrives when its group is full is counted
under ``__other__`` from then on. No series ever moves, so every counter stays monotonic.

Thread safety: feeding and collecting take one lock (the HTTP server collects from its own thread).
"""
from __future__ import annotations

import bisect
import calendar
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from . import definitions as D

# reasons of logkit_exporter_lines_malformed_total
MALFORMED_JSON, NOT_OBJECT, NON_UTF8, OVERSIZED, PARTIAL, NO_TIMESTAMP = "malformed_json", "not_object", \
    "non_utf8", "oversized", "partial", "no_timestamp"
REASONS = (MALFORMED_JSON, NOT_OBJECT, NON_UTF8, OVERSIZED, PARTIAL, NO_TIMESTAMP)


class Folder:
    """Bounds the distinct values of one label group: the allow-list, plus the first ``limit``
    other values seen; anything else becomes ``__other__`` (counted in ``folded``)."""

    __slots__ = ("limit", "allow", "seen", "folded")

    def __init__(self, limit: int, allow: Iterable[str] = ()):
        self.limit = max(0, int(limit))
        self.allow = frozenset(allow)
        self.seen: set[str] = set()
        self.folded = 0

    def __call__(self, v: str) -> str:
        if v in self.seen or v in self.allow:
            return v
        if len(self.seen) < self.limit and v != D.OTHER:
            self.seen.add(v)
            return v
        self.folded += 1
        return D.OTHER

    @property
    def values(self) -> int:
        return len(self.seen) + len(self.allow)


def label_value(v: Any) -> str:
    """A label value from a log value: ``unknown`` when absent, at most 128 characters, no
    control characters (the exposition format escapes quotes, backslashes and newlines itself)."""
    if v is None or v == "":
        return D.UNKNOWN
    s = v if isinstance(v, str) else (str(v).lower() if isinstance(v, bool) else str(v))
    if len(s) > D.MAX_LABEL_CHARS:
        s = s[:D.MAX_LABEL_CHARS]
    if not s.isprintable():
        s = "".join(c if c.isprintable() else "?" for c in s)
    return s


_MINUTES: dict[str, float] = {}


def timestamp(v: Any) -> float | None:
    """``@timestamp`` as Unix seconds: a number is taken as is; the common
    ``YYYY-MM-DDTHH:MM:SS.fffZ`` is parsed through a per-minute cache; other ISO 8601 forms by
    ``datetime.fromisoformat``. None when unusable."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, datetime):
        return v.timestamp()
    if not isinstance(v, str):
        return None
    if len(v) >= 20 and v[-1] == "Z" and v[10] == "T" and v[16] == ":":
        base = _MINUTES.get(v[:16])
        if base is None:
            try:
                base = float(calendar.timegm(time.strptime(v[:16], "%Y-%m-%dT%H:%M")))
            except ValueError:
                return None
            if len(_MINUTES) > 4096:
                _MINUTES.clear()
            _MINUTES[v[:16]] = base
        try:
            sec = float(v[17:-1])
        except ValueError:
            return None
        if 0 <= sec < 61:
            return base + sec
        return None
    try:
        t = datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith("Z") else v)
    except ValueError:
        return None
    if t.tzinfo is None:
        return calendar.timegm(t.timetuple()) + t.microsecond / 1e6
    return t.timestamp()


_PARTS: dict[str, tuple[str, ...]] = {}


def getter(obj: Mapping) -> Callable[[str], Any]:
    """``get(field)`` for an event in dotted (``{"url.domain": ..}``) or nested form."""
    memo: dict[str, Any] = {}

    def get(name: str) -> Any:
        try:
            return memo[name]
        except KeyError:
            pass
        v = obj.get(name)
        if v is None and "." in name:
            parts = _PARTS.get(name)
            if parts is None:
                parts = _PARTS[name] = tuple(name.split("."))
            cur: Any = obj
            for p in parts:
                if isinstance(cur, dict):
                    cur = cur.get(p)
                else:
                    cur = None
                    break
            v = cur
        memo[name] = v
        return v
    return get


@dataclass
class _Entry:
    metric: D.Metric
    kind: str
    store: dict
    labels: tuple[tuple[Callable, Folder | None], ...]
    cond: Callable | None
    value: D.Value | None
    buckets: tuple[float, ...]


class Aggregator:
    """Counts events into the metrics of definitions.py.

    ``limits``: fold group -> how many distinct values get their own series (default: each
    group's ``default_limit``); ``allow``: fold group -> values that always get their own series.
    ``worker_window``: seconds within which a worker counts as active (wall clock, ``clock``).
    """

    def __init__(self, *, limits: Mapping[str, int] | None = None,
                 allow: Mapping[str, Iterable[str]] | None = None, worker_window: float = 300.0,
                 clock: Callable[[], float] = time.time):
        self.lock = threading.RLock()
        limits = dict(limits or {})
        allow = dict(allow or {})
        unknown = (set(limits) | set(allow)) - set(D.FOLD_GROUPS)
        if unknown:
            raise ValueError(f"unknown label group(s): {', '.join(sorted(unknown))}")
        self.folders = {g: Folder(limits.get(g, fg.default_limit), allow.get(g, ()))
                        for g, fg in D.FOLD_GROUPS.items()}
        self.worker_window = worker_window
        self.clock = clock
        self.events_read = 0
        self.malformed: dict[str, int] = {}
        self.data: dict[str, dict] = {m.name: {} for m in D.METRICS}
        #: Extra families from outside (broker, follower): callables returning metric families.
        self.extra: list[Callable[[], Iterable]] = []
        self._plan: dict[str, list[_Entry]] = {}
        self._every: list[_Entry] = []
        for m in D.METRICS:
            if m.source != D.EVENTS or not m.actions:
                continue
            e = _Entry(m, m.type, self.data[m.name],
                       tuple((lb.derive, self.folders[lb.group] if lb.group else None) for lb in m.labels),
                       m.when.test if m.when else None, m.value, m.buckets)
            if m.actions == ("*",):
                self._every.append(e)
            else:
                for a in m.actions:
                    self._plan.setdefault(a, []).append(e)
        self._task_actions = frozenset(D.TASK_ACTIONS)
        self._queue_folder = self.folders["queue"]

    # --- feeding ---------------------------------------------------------------------------
    def feed(self, event: Mapping) -> None:
        """Count one event (a dict, dotted or nested; an Elasticsearch hit's ``_source`` is used)."""
        with self.lock:
            self._feed(event)

    def _feed(self, event: Mapping) -> None:
        src = event.get("_source")
        if isinstance(src, dict):
            event = src
        get = getter(event)
        ts = timestamp(get("@timestamp"))
        if ts is None:   # as in the analyzer: a figure needs a time
            self.bad(NO_TIMESTAMP)
            return
        self.events_read += 1
        action = get("event.action")
        plan = self._plan.get(action) if isinstance(action, str) else None
        if plan:
            self._apply(plan, get, ts)
        self._apply(self._every, get, ts)
        if action in self._task_actions:
            q = get("celery.task.queue")
            if q:
                self._queue_folder(label_value(q))

    def _apply(self, entries: list[_Entry], get, ts: float) -> None:
        for e in entries:
            if e.cond is not None and not e.cond(get):
                continue
            key = tuple(label_value(derive(get)) if fold is None else fold(label_value(derive(get)))
                        for derive, fold in e.labels)
            kind = e.kind
            if kind == "counter":
                e.store[key] = e.store.get(key, 0) + 1
            elif kind == "gauge":
                if e.value is None:
                    e.store[key] = 1
                    continue
                t = ts if e.value.field == "@timestamp" else _number(get(e.value.field))
                if t is None:
                    continue
                if t > e.store.get(key, -math.inf):
                    e.store[key] = t
            else:
                v = _number(get(e.value.field))
                if v is None or v < 0:
                    continue
                v *= e.value.scale
                h = e.store.get(key)
                if h is None:
                    h = e.store[key] = [[0] * (len(e.buckets) + 1), 0.0, 0]
                h[0][bisect.bisect_left(e.buckets, v)] += 1
                h[1] += v
                h[2] += 1

    def feed_line(self, line: bytes, *, kind: str | None = None) -> None:
        """Count one NDJSON line (bad lines are counted by reason, never raised).
        ``kind``: ``partial`` or ``oversized`` when the follower says so."""
        with self.lock:
            self._feed_line(line, kind)

    def feed_lines(self, lines: Iterable[bytes]) -> None:
        with self.lock:
            for ln in lines:
                self._feed_line(ln, None)

    def _feed_line(self, line: bytes, kind: str | None) -> None:
        if kind == OVERSIZED:
            self.bad(OVERSIZED)
            return
        s = line.strip()
        if not s:
            return
        try:
            obj = orjson.loads(s)
        except orjson.JSONDecodeError:
            try:
                s.decode("utf-8")
                self.bad(PARTIAL if kind == PARTIAL else MALFORMED_JSON)
                return
            except UnicodeDecodeError:
                try:
                    obj = orjson.loads(s.decode("utf-8", "replace").encode("utf-8"))
                except orjson.JSONDecodeError:
                    self.bad(MALFORMED_JSON)
                    return
                self.bad(NON_UTF8)
        if not isinstance(obj, dict):
            self.bad(NOT_OBJECT)
            return
        self._feed(obj)

    def bad(self, reason: str, n: int = 1) -> None:
        self.malformed[reason] = self.malformed.get(reason, 0) + n

    # --- reading the figures ---------------------------------------------------------------
    def value(self, name: str, **labels: str) -> float:
        """A counter/gauge's value (histograms: the count) for the labels given; the sum over the
        labels not given. 0 when nothing matches."""
        m = D.BY_NAME[name]
        idx = [(m.label_names.index(k), v) for k, v in labels.items()]
        total = 0.0
        with self.lock:
            for key, v in self.data[name].items():
                if all(key[i] == want for i, want in idx):
                    total += v[2] if m.type == D.HISTOGRAM else v
        return total

    def series(self) -> int:
        """Number of series (histograms count their buckets, sum and count)."""
        with self.lock:
            return sum(len(d) * ((len(D.BY_NAME[n].buckets) + 3) if D.BY_NAME[n].type == D.HISTOGRAM else 1)
                       for n, d in self.data.items())

    def describe(self):
        return []   # registering does not need to collect

    def collect(self):
        now = self.clock()
        with self.lock:
            snap = {n: dict(d) for n, d in self.data.items()}
            hist = {m.name: {k: (list(v[0]), v[1], v[2]) for k, v in snap[m.name].items()}
                    for m in D.METRICS if m.type == D.HISTOGRAM}
            events_read, malformed = self.events_read, dict(self.malformed)
            folded = {g: f.folded for g, f in self.folders.items()}
            nvalues = {g: f.values for g, f in self.folders.items()}
        out = []
        for m in D.METRICS:
            if m.source != D.EVENTS:
                continue
            names = list(m.label_names)
            if m.type == D.COUNTER:
                fam = CounterMetricFamily(m.name, m.help, labels=names)
                for k in sorted(snap[m.name]):
                    fam.add_metric(list(k), snap[m.name][k])
            elif m.type == D.GAUGE:
                fam = GaugeMetricFamily(m.name, m.help, labels=names)
                for k in sorted(snap[m.name]):
                    fam.add_metric(list(k), snap[m.name][k])
            else:
                fam = HistogramMetricFamily(m.name, m.help, labels=names)
                les = [_le(b) for b in m.buckets] + ["+Inf"]
                for k in sorted(hist[m.name]):
                    counts, total, n = hist[m.name][k]
                    cum, acc = [], 0
                    for le, c in zip(les, counts):
                        acc += c
                        cum.append((le, acc))
                    fam.add_metric(list(k), cum, total)
            out.append(fam)
        workers = snap["logkit_celery_worker_last_seen_timestamp_seconds"]
        g = GaugeMetricFamily("logkit_celery_workers_active", D.BY_NAME["logkit_celery_workers_active"].help)
        g.add_metric([], sum(1 for t in workers.values() if now - t <= self.worker_window))
        out.append(g)
        c = CounterMetricFamily("logkit_exporter_events_read_total",
                                D.BY_NAME["logkit_exporter_events_read_total"].help)
        c.add_metric([], events_read)
        out.append(c)
        c = CounterMetricFamily("logkit_exporter_lines_malformed_total",
                                D.BY_NAME["logkit_exporter_lines_malformed_total"].help, labels=["reason"])
        for r in REASONS:
            c.add_metric([r], malformed.get(r, 0))
        out.append(c)
        c = CounterMetricFamily("logkit_exporter_label_values_folded_total",
                                D.BY_NAME["logkit_exporter_label_values_folded_total"].help, labels=["group"])
        g = GaugeMetricFamily("logkit_exporter_label_values", D.BY_NAME["logkit_exporter_label_values"].help,
                              labels=["group"])
        for grp in sorted(folded):
            c.add_metric([grp], folded[grp])
            g.add_metric([grp], nvalues[grp])
        out += [c, g]
        for fn in self.extra:
            try:
                out.extend(fn())
            except Exception:   # an extra source must never break the scrape
                pass
        return out

    def queues(self) -> list[str]:
        """Queue names seen in task events (bounded by the ``queue`` group)."""
        with self.lock:
            return sorted(self._queue_folder.seen | self._queue_folder.allow)

    # --- persistence (serve --state) -------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            return {
                "version": 1,
                "data": {n: [[list(k), v] for k, v in d.items()] for n, d in self.data.items() if d},
                "folders": {g: {"seen": sorted(f.seen), "folded": f.folded} for g, f in self.folders.items()},
                "events_read": self.events_read, "malformed": dict(self.malformed),
            }

    def restore(self, snap: Mapping) -> None:
        if snap.get("version") != 1:
            raise ValueError(f"metrics state version {snap.get('version')!r} is not 1")
        with self.lock:
            for n, rows in snap.get("data", {}).items():
                if n not in self.data:
                    continue   # a metric this version no longer has
                d = self.data[n]
                for k, v in rows:
                    d[tuple(k)] = v
            for g, st in snap.get("folders", {}).items():
                if g in self.folders:
                    self.folders[g].seen.update(st.get("seen", ()))
                    self.folders[g].folded = st.get("folded", 0)
            self.events_read = snap.get("events_read", 0)
            self.malformed = dict(snap.get("malformed", {}))


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v) if math.isfinite(v) else None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _le(b: float) -> str:
    return repr(float(b))
