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
from typing import Any, Callable

from ..patterns import TemplateMiner, template_id
from ..patterns.masking import masks_like_normal_form
from . import queries as Q

COLUMNS = ("id",) + Q.QUERIES["failure_patterns"].columns

_TABLE = """CREATE TABLE IF NOT EXISTS patterns (
    id VARCHAR PRIMARY KEY, kind VARCHAR, template VARCHAR, miner_id VARCHAR,
    first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, count BIGINT)"""


def pattern_id(kind: str, template_key: str) -> str:
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


# The miner's digit normalization (logkit.patterns.masking.normalize) in SQL: every ASCII digit
# becomes 1, except 0 when the text holds 0x/0X. Failures whose messages share this form and
# whose masked form keeps no digit get the same template, so they are counted in DuckDB and the
# miner sees each form once, with its count (a store's failures are mostly the same few
# templates with other numbers and ids: thousands of forms for hundreds of thousands of rows).
_NORM = ("CASE WHEN contains(msg, '0x') OR contains(msg, '0X') THEN translate(msg, '23456789', '11111111') "
         "ELSE translate(msg, '0123456789', '1111111111') END")
_IN = "($since IS NULL OR ts >= $since)"
_GROUPED = f"""WITH e AS ({{events}}), n AS (SELECT *, {{key}} AS key FROM e)
    SELECT kind, key, arg_min(msg, ts) AS rep, count(*) AS all_count, min(ts) AS all_first,
      max(ts) AS all_last, count(*) FILTER (WHERE ts < $since) AS before,
      count(*) FILTER (WHERE {_IN}) AS count, min(ts) FILTER (WHERE {_IN}) AS first,
      max(ts) FILTER (WHERE {_IN}) AS last, arg_min(msg, ts) FILTER (WHERE {_IN}) AS example,
      list(DISTINCT domain) FILTER (WHERE domain IS NOT NULL AND {_IN}) AS domains,
      list(DISTINCT service) FILTER (WHERE service IS NOT NULL AND {_IN}) AS services
    FROM n {{where}} GROUP BY kind, key ORDER BY all_first, kind, key"""


def _grouped_failures(con, flt: Q.Filters, prev_since: datetime | None,
                      exact: Callable[[str], bool] = masks_like_normal_form) -> list[tuple]:
    """The failures of ``failure_events`` counted per (kind, message form); a form whose
    messages may mask differently (a digit survives masking, `ssh2`) is counted per message.
    Rows as ``_GROUPED`` selects them, oldest first."""
    events = Q.QUERIES["failure_events"].sql
    cut = events.rindex("ORDER BY")
    w, params = Q.where(flt, with_since=False)
    events = events[:cut].replace("__WHERE_NO_SINCE__", w)
    params.update(since=flt.since, prev_since=prev_since)
    rows = con.execute(_GROUPED.format(events=events, key=_NORM, where=""), params).fetchall()
    inexact = [r[1] for r in rows if not exact(r[2])]
    if not inexact:
        return rows
    drop = set(inexact)
    rows = [r for r in rows if r[1] not in drop]
    params["forms"] = inexact
    rows += con.execute(_GROUPED.format(events=events, key="msg", where=f"WHERE list_contains($forms, {_NORM})"),
                        params).fetchall()
    rows.sort(key=lambda r: r[4])
    return rows


def failure_patterns(con, flt: Q.Filters, *, top: int | None = 20, prev_since: datetime | None = None,
                     miner: Any = None, remember: bool = True) -> tuple[tuple[str, ...], list[tuple]]:
    """(columns, rows) of the top failure patterns; columns are ``id`` + the query's columns.

    The failures are counted in DuckDB per kind and message form first, and the miner sees each
    form once with its count (``TemplateMiner.mine_counts``): the same templates and figures as
    mining every failure row, at the cost of the distinct forms. A miner without
    ``mine_counts`` gets one ``add`` per distinct form.
    """
    if miner == "sql":
        cols, rows = Q.run(con, "failure_patterns", flt, top=top, prev_since=prev_since)
        ti = cols.index("template")
        return COLUMNS, [(pattern_id(r[0], r[ti]),) + tuple(r) for r in rows]
    known = _known(con)
    if miner is None:
        miner = TemplateMiner()
        miner.load([(m, t) for (_, t, m, _) in known.values() if m])
    forms = _grouped_failures(con, flt, prev_since,
                              getattr(miner, "masks_like_normal_form", None) or masks_like_normal_form)
    if hasattr(miner, "mine_counts"):
        # final ids, after the miner settles its groups
        assigned = miner.mine_counts((r[2], r[3]) for r in forms)
    else:
        assigned = [(m.template_id, m.template) for m in map(miner.add, (r[2] for r in forms))]
    groups: dict[str, dict] = {}
    for (kind, _, _, n, all_first, all_last, before, count, first, last, example, domains, services), \
            (tid, template) in zip(forms, assigned):
        pid = pattern_id(kind, tid)
        g = groups.get(pid)
        if g is None:  # forms come oldest first: the template of the pattern's first failure
            g = groups[pid] = {"kind": kind, "template": template, "miner_id": tid, "count": 0, "before": 0,
                               "first": None, "last": None, "example": None, "domains": set(),
                               "services": set(), "all_first": all_first, "all_last": all_last, "all_count": 0}
        g["all_count"] += n
        if all_last > g["all_last"]:
            g["all_last"] = all_last
        g["before"] += before
        if not count:
            continue
        g["count"] += count
        if g["first"] is None or first < g["first"]:
            g["first"], g["example"] = first, example
        if g["last"] is None or last > g["last"]:
            g["last"] = last
        if domains:
            g["domains"].update(domains)
        if services:
            g["services"].update(services)
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

