"""Top failure patterns: the one place that decides how failures are grouped.

Failures (the ``failure_events`` query) are grouped by kind (``error.type``, else
``event.action``) and by the template logkit's miner (:class:`logkit.patterns.TemplateMiner`)
finds in their messages, using the miner's final pass so a template's members are settled before
they are counted. ``miner="sql"`` groups with the ``failure_patterns`` query's SQL normalisation
instead (numbers, hex, UUIDs, URLs masked), and any object whose ``add(message)`` returns a match
with ``template_id``/``template`` can be passed as ``miner``.

Pattern ids are stable: an id is a hash of the kind and the miner's template id, and in a DuckDB
store the templates are kept in a ``patterns`` table and loaded into the miner before each run, so
a pattern keeps its id from one day to the next even when its template widens (the miner keeps
the known id; see docs/patterns.md). The ``patterns`` table also remembers when each pattern was
first seen, so "new" survives the events themselves being pruned.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from . import queries as Q

COLUMNS = ("id",) + Q.QUERIES["failure_patterns"].columns

_TABLE = """CREATE TABLE IF NOT EXISTS patterns (
    id VARCHAR PRIMARY KEY, kind VARCHAR, template VARCHAR, miner_id VARCHAR,
    first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, count BIGINT)"""


def pattern_id(kind: str, template_key: str) -> str:
    from ..patterns import template_id
    return template_id(f"{kind}\x1f{template_key}")


def _known(con) -> dict[str, tuple]:
    """id -> (kind, template, miner_id, first_seen) from the store, when it has the table."""
    try:
        rows = con.execute("SELECT id, kind, template, miner_id, first_seen FROM patterns").fetchall()
    except Exception:  # no table yet, or not a store
        return {}
    return {r[0]: r[1:] for r in rows}


def _remember(con, groups: dict[str, dict]) -> None:
    """Upsert the patterns seen into the store; silently nothing on a read-only store."""
    try:
        con.execute(_TABLE)
        con.executemany(
            """INSERT INTO patterns VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET template = excluded.template,
                 first_seen = least(patterns.first_seen, excluded.first_seen),
                 last_seen = greatest(patterns.last_seen, excluded.last_seen),
                 count = greatest(patterns.count, excluded.count)""",
            [(pid, g["kind"], g["template"], g["miner_id"], g["all_first"], g["all_last"], g["all_count"])
             for pid, g in groups.items()])
    except Exception:
        pass  # read-only store (a report on a shared store): ids stay stable through the hash


def failure_patterns(con, flt: Q.Filters, *, top: int | None = 20, prev_since: datetime | None = None,
                     miner: Any = None, remember: bool = True) -> tuple[tuple[str, ...], list[tuple]]:
    """(columns, rows) of the top failure patterns; columns are ``id`` + the query's columns."""
    if miner == "sql":
        cols, rows = Q.run(con, "failure_patterns", flt, top=top, prev_since=prev_since)
        ti = cols.index("template")
        return COLUMNS, [(pattern_id(r[0], r[ti]),) + tuple(r) for r in rows]
    _, rows = Q.run(con, "failure_events", flt, prev_since=prev_since)
    known = _known(con)
    if miner is None:
        from ..patterns import TemplateMiner
        miner = TemplateMiner()
        miner.load([(m, t) for (_, t, m, _) in known.values() if m])
    if hasattr(miner, "mine"):
        assigned = miner.mine(r[2] for r in rows)  # final ids, after the miner settles its groups
    else:
        assigned = [(m.template_id, m.template) for m in map(miner.add, (r[2] for r in rows))]
    groups: dict[str, dict] = {}
    for (ts, kind, msg, domain, service), (tid, template) in zip(rows, assigned):
        pid = pattern_id(kind, tid)
        g = groups.get(pid)
        if g is None:
            g = groups[pid] = {"kind": kind, "template": template, "miner_id": tid, "count": 0, "before": 0,
                               "first": None, "last": None, "example": None, "domains": set(),
                               "services": set(), "all_first": ts, "all_last": ts, "all_count": 0}
        g["all_count"] += 1
        g["all_last"] = ts
        if flt.since is not None and ts < flt.since:
            g["before"] += 1
            continue
        g["count"] += 1
        if g["first"] is None:
            g["first"], g["example"] = ts, msg
        g["last"] = ts
        if domain is not None:
            g["domains"].add(domain)
        if service is not None:
            g["services"].add(service)
    if remember and groups:
        _remember(con, groups)
    out = []
    for pid, g in groups.items():
        if not g["count"]:
            continue
        doms = sorted(g["domains"])
        new = None
        if prev_since is not None:
            seen_earlier = pid in known and known[pid][3] is not None and flt.since is not None \
                and known[pid][3] < flt.since
            new = g["before"] == 0 and not seen_earlier
        out.append((pid, g["kind"], g["template"], g["count"], g["first"], g["last"], g["example"], len(doms),
                    doms[:3] or None, sorted(g["services"]) or None, new))
    out.sort(key=lambda r: (-r[3], r[1], r[2]))
    return COLUMNS, out[:top] if top else out

