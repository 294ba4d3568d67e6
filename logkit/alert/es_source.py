"""Alert rules evaluated over the events of an Elasticsearch cluster
(``logkit alerts check|watch|explain|test --es URL --index PATTERN``).

How: at each evaluation the source reads, from the cluster, only the events the rules can look
at — ``@timestamp`` in ``[now - span, now)``, where ``span`` is the longest reach of any rule
(its window, twice the window for a spike, the lookback of an absence, window + baseline for a
new pattern, plus ``for:`` for the backfill of a first run) — and only the fields the rules
read, with a point-in-time and ``search_after`` (bounded pages, a consistent view, no scroll
context left behind). The events go into an in-memory DuckDB table through the same reader as
log files, and the same evaluator runs over them: a rule fires, resolves and carries the same
labels and values as on files by construction, which is the equality the tests check. One more
document is read: the cluster's first event, so that a ``new_pattern`` rule knows where the data
begins (its "learning" check) exactly as it does over files; it lies before every window.

Why not one aggregation per rule: the rules' metrics are the analyzer's named queries (SQL, one
definition each), the failure patterns come from the template miner, and ``for:``/backfill and
replay re-evaluate the rules at earlier times; re-implementing each in the query DSL would be a
second definition of every metric (the report's pushdown in ``logkit.analyze.es_report`` shows
the cost). The read is bounded by the rules' span; docs/alerts.md ("On Elasticsearch") gives
what it costs per evaluation and how it compares with ElastAlert2.

Failures: a request the cluster refuses, a node that does not answer, or a search that reached
only some shards (``allow_partial_search_results`` is off: a partial count would look like a
drop and resolve an alert, or fire an absence rule) is retried ``retries`` times with backoff,
then raised as :class:`EsSourceError`; the caller leaves every alert as it was (an error is not a
resolution).

Late events: an event shipped a few seconds after its ``@timestamp`` would be missing from a
window evaluated at once. With ``ingest_delay`` (default 15 s: Filebeat's 1 s flush plus the
index's 1 s refresh, with margin), a run at wall-clock time T evaluates the rules at
``T - ingest_delay``, so every window it looks at ended at least that long ago.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

from .. import schema
from ..analyze import queries as Q
from ..analyze.es_report import range_bound
from ..analyze.store import NothingToRead, Store
from .rules import RuleSet

#: Default time between an event's @timestamp and the moment a window holding it is evaluated.
DEFAULT_INGEST_DELAY = timedelta(seconds=15)
#: Documents per search_after page.
PAGE = 5000
#: How long the point in time is kept between two pages.
KEEP_ALIVE = "2m"


class EsSourceError(RuntimeError):
    """The cluster could not give a complete answer (after the retries)."""


def rule_span(rule) -> timedelta:
    """How far back from ``now`` one evaluation of ``rule`` reads events (backfill included)."""
    w = rule.window
    reach = {"spike": 2 * w, "absence": max(w, rule.lookback), "new_pattern": w + rule.baseline}.get(rule.kind, w)
    return reach + rule.for_


def span(ruleset: RuleSet) -> timedelta:
    return max((rule_span(r) for r in ruleset.rules), default=timedelta(0))


class EsSource:
    """The events of ``index`` (an index or data-stream pattern) on the cluster ``client``, read
    window by window into an in-memory store; has the ``con``/``time_range``/``close`` of
    :class:`logkit.alert.evaluate.Source`, so the engine runs over it unchanged."""

    def __init__(self, client, index: str, ruleset: RuleSet, *, retries: int = 3, backoff: float = 1.0,
                 page: int = PAGE, sleep: Callable[[float], None] = time.sleep,
                 on_page: Callable[[int], None] | None = None):
        self.client, self.index, self.ruleset = client, index, ruleset
        self.retries, self.backoff, self.page, self.sleep = retries, backoff, page, sleep
        #: called after each page with the documents read so far (progress; fault tests)
        self.on_page = on_page
        #: attempts that failed and were retried (all reads of this source)
        self.retried: list[str] = []
        need = ruleset.fields_needed()
        cols = set(Q.REPORT_FIELDS) | need
        self.fields = [n for n in schema.FIELDS if n in cols]
        self.slim = "message" not in need
        self.store: Store | None = None
        self.input_errors: dict[str, str] = {}
        self.bad_lines = 0
        #: per read: requests sent and documents fetched (docs/alerts.md, benchmarks/elastalert_compare.py)
        self.requests = 0
        self.documents = 0
        self.loaded: tuple[datetime, datetime] | None = None

    # --- the Source interface ------------------------------------------------------------------
    @property
    def con(self):
        if self.store is None:
            raise RuntimeError("EsSource: nothing read yet (call read_for(now) first)")
        return self.store.con

    def refresh(self) -> None:  # a watch reads per evaluation (read_for)
        pass

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """The first and last @timestamp on the cluster (not only what was read)."""
        r = self._call(lambda: self.client.search(
            index=self.index, size=0, ignore_unavailable=True, allow_no_indices=True,
            allow_partial_search_results=False, track_total_hits=False,
            aggs={"first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}}}))
        a = r["aggregations"]
        return _ms(a["first"]["value"]), _ms(a["last"]["value"])

    # --- reading -----------------------------------------------------------------------------------
    def read_for(self, now: datetime) -> None:
        """Read what an evaluation of every rule at ``now`` looks at."""
        self.read(now - span(self.ruleset), now)

    def read(self, since: datetime | None, until: datetime) -> None:
        """Replace the in-memory events with the cluster's events in ``[since, until)`` (all
        before ``until`` when ``since`` is None), plus the first event of the cluster."""
        attempt = 0
        while True:
            try:
                docs = self._fetch(since, until)
                break
            except EsSourceError:
                raise
            except Exception as e:  # connection lost, node down, shard failures, 5xx
                attempt += 1
                self.retried.append(_reason(e))
                if attempt > self.retries:
                    raise EsSourceError(f"cannot read {self.index} from the cluster after {attempt} attempt(s): "
                                        f"{_reason(e)}") from None
                self.sleep(self.backoff * 2 ** (attempt - 1))
        self._load(docs)
        self.loaded = (since, until) if since is not None else (datetime.min.replace(tzinfo=timezone.utc), until)

    def _call(self, fn):
        attempt = 0
        while True:
            try:
                r = fn()
                _complete(r)
                return r
            except Exception as e:
                attempt += 1
                if attempt > self.retries:
                    raise EsSourceError(f"the cluster did not answer completely after {attempt} attempt(s): "
                                        f"{_reason(e)}") from None
                self.sleep(self.backoff * 2 ** (attempt - 1))
            finally:
                self.requests += 1

    def _fetch(self, since: datetime | None, until: datetime) -> list[dict]:
        rng: dict[str, Any] = {"lt": range_bound(until), "format": "strict_date_optional_time"}
        if since is not None:
            rng["gte"] = range_bound(since)
        includes = list(self.fields)
        out: list[dict] = []
        # the first event of the cluster (for new_pattern's "learning"): outside every window
        self.requests += 1
        first = self.client.search(index=self.index, size=1, sort=[{"@timestamp": "asc"}], _source_includes=includes,
                                   query={"range": {"@timestamp": {"lt": rng["lt"]}}}, ignore_unavailable=True,
                                   allow_no_indices=True, allow_partial_search_results=False, track_total_hits=False)
        _complete(first)
        hits = first["hits"]["hits"]
        if not hits:
            return out
        first_id = (hits[0]["_index"], hits[0]["_id"])
        self.requests += 1
        pit = self.client.open_point_in_time(index=self.index, keep_alive=KEEP_ALIVE, ignore_unavailable=True)["id"]
        try:
            after = None
            seen_first = False
            while True:
                body: dict[str, Any] = {
                    "size": self.page, "pit": {"id": pit, "keep_alive": KEEP_ALIVE},
                    "query": {"range": {"@timestamp": rng}}, "_source": {"includes": includes},
                    "sort": [{"@timestamp": "asc"}, {"_shard_doc": "asc"}], "track_total_hits": False}
                if after is not None:
                    body["search_after"] = after
                self.requests += 1
                r = self.client.search(allow_partial_search_results=False, **body)
                _complete(r)
                pit = r.get("pit_id", pit)
                page = r["hits"]["hits"]
                for h in page:
                    if (h["_index"], h["_id"]) == first_id:
                        seen_first = True
                    out.append(h["_source"])
                if self.on_page is not None:
                    self.on_page(len(out))
                if len(page) < self.page:
                    break
                after = page[-1]["sort"]
            if not seen_first:
                out.insert(0, hits[0]["_source"])
        finally:
            try:
                self.requests += 1
                self.client.close_point_in_time(id=pit)
            except Exception:  # kept alive only KEEP_ALIVE anyway: not worth failing the run
                pass
        self.documents += len(out)
        return out

    def _load(self, docs: Sequence[dict]) -> None:
        self.close()
        self.store = Store(None, fields=self.fields, slim=self.slim)
        if not docs:
            return
        # the same reader as files (types, dotted and nested forms, bad values counted), so the
        # rules see exactly what they see over the shipped files
        fd, path = tempfile.mkstemp(prefix="logkit-es-", suffix=".ndjson")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for d in docs:
                    f.write(json.dumps(d, ensure_ascii=False, separators=(",", ":")))
                    f.write("\n")
            res = self.store.load([path])
            self.bad_lines += res.bad_lines
        finally:
            os.unlink(path)


def _ms(v: float | None) -> datetime | None:
    if v is None:
        return None
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=v)


def _complete(r) -> None:
    """Raise when a response covers only part of the shards (a node gone mid-search)."""
    sh = r.get("_shards") if hasattr(r, "get") else None
    if sh and sh.get("failed"):
        reasons = "; ".join(str((f.get("reason") or {}).get("reason", f)) for f in sh.get("failures", [])[:3])
        raise _Partial(f"{sh['failed']} of {sh.get('total')} shards failed: {reasons}")
    if hasattr(r, "get") and r.get("timed_out"):
        raise _Partial("the search timed out")


class _Partial(Exception):
    pass


def _reason(e: Exception) -> str:
    from ..analyze.es_report import error_reason
    return f"{type(e).__name__}: {error_reason(e)}"


def resolve_es_now(now: str | datetime | None, src: EsSource,
                   ingest_delay: timedelta = DEFAULT_INGEST_DELAY) -> datetime:
    """The evaluation time: ``now`` as for files (``latest`` from the cluster), or the wall clock
    minus the ingest delay when none is given."""
    from .evaluate import resolve_now
    if now is None or now == "":
        return datetime.now(timezone.utc) - ingest_delay
    return resolve_now(now, src)  # type: ignore[arg-type]


def replay_es(ruleset: RuleSet, src: EsSource, *, rule: str | None = None, step=None, start=None, end=None):
    """``logkit alerts test --es``: :func:`logkit.alert.replay` over the cluster's events (the same
    defaults: from the first event + step to just after the last)."""
    from .engine import replay as _replay
    from .evaluate import resolve_now
    from .rules import parse_duration
    if rule:
        ruleset = RuleSet([ruleset.rule(rule)], [], ruleset.file)
    src.ruleset = ruleset
    first, last = src.time_range()
    if first is None or last is None:
        raise NothingToRead(f"no event in {src.index}")
    s = resolve_now(start, src) if start else None  # type: ignore[arg-type]
    e = resolve_now(end, src) if end else None  # type: ignore[arg-type]
    stp = parse_duration(step) if step else None
    every = stp or min(r.every for r in ruleset.rules)
    lo = (s or first + every) - span(ruleset)
    hi = (e or last) + timedelta(milliseconds=1)
    src.read(lo if lo > first else None, hi)
    return _replay(ruleset, src, start=s, end=e, step=stp)  # type: ignore[arg-type]
