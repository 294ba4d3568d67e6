"""Stage 3, analyze: the report over exported or stored logs, on DuckDB. See docs/analyze.md.

- :func:`analyze` — the report (a :class:`Report` of named sections) over files and/or a store;
- :func:`load` — append files to a DuckDB store incrementally;
- :func:`query` — ad-hoc SQL over the ``events`` table/view;
- :func:`patterns` — the top failure patterns (``logkit patterns`` over logkit events);

Imports nothing from later stages.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from .queries import QUERIES, Query
from .report import Report, Section, analyze, build, filters
from .store import LoadResult, NothingToRead, Store, event_source

__all__ = ["analyze", "load", "query", "patterns", "Report", "Section", "Store", "QUERIES", "Query",
           "NothingToRead", "LoadResult"]


def load(inputs: Sequence[str], db: str, *, progress: bool = False, stdin=None) -> LoadResult:
    """Append the events of ``inputs`` not loaded before into the DuckDB file ``db``."""
    with Store(db) as store:
        return store.load(list(inputs), progress=progress, stdin=stdin)


def query(sql: str, inputs: Sequence[str] | None = None, *, db: str | None = None, progress: bool = False,
          stdin=None) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` over the ``events`` table (every schema field as a column named by its dotted name).

    Over ``db`` (opened read-only when no inputs are given) or over ``inputs`` loaded into memory.
    """
    from .columns import ALL_FIELDS
    # SQL over an existing (even empty) store is fine; inputs of which nothing could be read are not.
    with event_source(inputs, db, fields=ALL_FIELDS, progress=progress, stdin=stdin,
                      require_events=bool(inputs)) as (store, _):
        cur = store.con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()


def patterns(inputs=None, *, db: str | None = None, since=None, until=None, service=None, domain=None,
             top: int | None = 50, new_since=None, now: datetime | None = None, progress: bool = False,
             stdin=None) -> tuple[tuple[str, ...], list[tuple]]:
    """The failure patterns of ``inputs`` and/or the store ``db`` (the library side of
    ``logkit patterns``). With ``db`` the patterns' ids are kept in the store for later runs.

    ``new_since``: only patterns that occur from that time on and did not occur in the window of
    the same length just before it (nor earlier in the store's ``patterns`` table).
    """
    now = now or datetime.now(timezone.utc)
    flt = filters(new_since or since, until, service, domain, now=now)
    # Writable even without inputs: the store remembers the patterns' ids for later runs.
    with event_source(inputs, db, read_only=False, progress=progress, stdin=stdin) as (store, _):
        rep = build(store, flt, top=None if new_since else top, sections=["failure_patterns"], now=now)
    sec = rep.sections["failure_patterns"]
    rows = sec.rows
    if new_since:
        rows = [r for r in rows if r[sec.columns.index("new")]]
        rows = rows[:top] if top else rows
    return sec.columns, rows

