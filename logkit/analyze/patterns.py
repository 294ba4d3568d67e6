"""Top failure patterns: the one place that decides how failures are grouped.

Today: DuckDB groups by kind (error.type, else event.action) and a normalised message (UUIDs, URLs,
hex ids and numbers masked) — the ``failure_patterns`` query. With ``miner=`` (any object whose
``add(message)`` returns a match with ``template_id`` and ``template``, e.g.
``logkit.patterns.TemplateMiner()``), the failures are fetched (the ``failure_events`` query) and
grouped by the miner's templates instead, with the same output columns.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from . import queries as Q


def failure_patterns(con, flt: Q.Filters, *, top: int | None = 20, prev_since: datetime | None = None,
                     miner: Any = None) -> tuple[tuple[str, ...], list[tuple]]:
    if miner is None:
        return Q.run(con, "failure_patterns", flt, top=top, prev_since=prev_since)
    _, rows = Q.run(con, "failure_events", flt, prev_since=prev_since)
    groups: dict[tuple[str, str], dict] = {}
    for ts, kind, msg, domain, service in rows:
        m = miner.add(msg)
        key = (kind, m.template_id)
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"template": m.template, "count": 0, "before": 0, "first": None, "last": None,
                               "example": None, "domains": set(), "services": set()}
        g["template"] = m.template  # the template generalises as messages arrive
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
    out = []
    for (kind, _), g in groups.items():
        if not g["count"]:
            continue
        doms = sorted(g["domains"])
        out.append((kind, g["template"], g["count"], g["first"], g["last"], g["example"], len(doms),
                    doms[:3] or None, sorted(g["services"]) or None,
                    None if prev_since is None else g["before"] == 0))
    out.sort(key=lambda r: (-r[2], r[0], r[1]))
    return Q.QUERIES["failure_patterns"].columns, out[:top] if top else out
