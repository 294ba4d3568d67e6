"""Stage 3, analyze: the report over exported or stored logs, on DuckDB. See docs/analyze.md.

- :func:`analyze` — the report (a :class:`Report` of named sections) over files and/or a store;
- :func:`load` — append files to a DuckDB store incrementally;
- :func:`query` — ad-hoc SQL over the ``events`` table/view;
- :func:`demo` — a day of logs of a made-up deployment, through logkit's own emitters, and its report.

Imports nothing from later stages.
"""
from __future__ import annotations

from typing import Sequence

from .queries import QUERIES, Query
from .report import Report, Section, analyze
from .store import LoadResult, NothingToRead, Store, event_source

__all__ = ["analyze", "load", "query", "demo", "Report", "Section", "Store", "QUERIES", "Query",
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


def demo(*args, **kwargs):
    from .demo import demo as _demo
    return _demo(*args, **kwargs)
