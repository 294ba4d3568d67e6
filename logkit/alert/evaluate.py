"""Evaluating rules at a given ``now`` over the DuckDB store or log files.

Each rule kind returns one :class:`Sample` per group: its value, whether the rule's condition
holds (``active``), and why (``reason``, what ``logkit alerts explain`` prints).

- threshold and spike (query form) run the analyzer's named query (``logkit.analyze.queries``)
  over the window and read one of its columns: there is no second SQL copy of any metric;
- critical runs the ``critical_events`` query; new_pattern the ``failure_events`` query, grouped by
  ``logkit.patterns.TemplateMiner``'s stable template ids;
- frequency, absence and spike (filter form) count events matching a field filter (field names
  checked against ``logkit.schema`` when the rules were loaded), with values bound as parameters.

Windows are half-open: ``[now - window, now)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from ..analyze import queries as Q
from ..analyze.columns import col
from ..analyze.store import NothingToRead, Store, nothing_read, open_store  # noqa: F401
from .rules import OPS, NEGATED, Condition, Rule, RuleSet, format_duration, label_name

TS = col("@timestamp")


@dataclass
class Sample:
    """One group of one rule at one evaluation."""
    group: dict[str, str]
    value: float | None
    active: bool
    reason: str
    vars: dict[str, Any] = field(default_factory=dict)


class RuleEvalError(Exception):
    """A rule could not be evaluated over this data (e.g. a store without a column it needs)."""


# --- sources ---------------------------------------------------------------------------------
class Source:
    """The events rules run over: a DuckDB store, either a file (``db``) or in memory (``files``).

    ``refresh()`` loads what was appended to the files since (the store is incremental), for
    ``logkit alerts watch``.
    """

    def __init__(self, files: Sequence[str] | None = None, db: str | None = None,
                 fields: Iterable[str] = (), memory_limit: str | None = None):
        self.files = list(files or [])
        self.db = db
        self.input_errors: dict[str, str] = {}
        self.bad_lines = 0
        need = set(fields)
        from .. import schema
        cols = set(Q.REPORT_FIELDS) | need
        self.store = open_store(db, inputs=self.files, fields=[n for n in schema.FIELDS if n in cols],
                                slim="message" not in need, memory_limit=memory_limit)
        missing = sorted(n for n in need if n not in self.store.fields)
        if missing:
            self.store.close()
            raise RuleEvalError(f"the store {db} has no column for {', '.join(missing)} (made by an older "
                                f"logkit? `logkit load` into it adds the columns)")
        self.refresh()

    @property
    def con(self):
        return self.store.con

    def refresh(self) -> None:
        if self.files:
            res = self.store.load(self.files)
            self.input_errors.update(res.errors)
            self.bad_lines += res.bad_lines
        if self.store.event_count == 0 and not self.store.path:
            raise nothing_read(None, inputs=self.files, errors=self.input_errors, bad_lines=self.bad_lines)

    def time_range(self) -> tuple[datetime | None, datetime | None]:
        cols, rows = Q.run(self.con, "summary", Q.Filters())
        d = dict(zip(cols, rows[0]))
        return d["first_event"], d["last_event"]

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def resolve_now(now: str | datetime | None, source: Source | None = None) -> datetime:
    """``None``: the wall clock; ``latest``: just after the last event; else a time (ISO 8601 or relative)."""
    wall = datetime.now(timezone.utc)
    if now is None or now == "":
        return wall
    if isinstance(now, datetime):
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    if now in ("latest", "last"):
        if source is None:
            raise ValueError("--now latest needs events")
        _, last = source.time_range()
        if last is None:
            raise ValueError("--now latest: no event")
        return last + timedelta(milliseconds=1)
    from ..analyze.report import parse_time
    t = parse_time(now, wall)
    assert t is not None
    return t


# --- filters -----------------------------------------------------------------------------------
def _cond_sql(c: Condition, params: dict[str, Any], prefix: str) -> str:
    k = f"{prefix}{len(params)}"
    name = col(c.field)
    if c.op == "exists":
        return f"{name} IS {'NOT ' if c.value else ''}NULL"
    params[k] = c.value
    if c.op == "eq":
        return f"{name} = ${k}"
    if c.op == "ne":
        return f"{name} IS DISTINCT FROM ${k}"
    if c.op == "in":
        return f"list_contains(${k}, {name})"
    if c.op == "not_in":
        return f"NOT coalesce(list_contains(${k}, {name}), false)"
    if c.op == "contains":
        return f"contains({name}, ${k})"
    if c.op == "prefix":
        return f"starts_with({name}, ${k})"
    return f"{name} {dict(gt='>', gte='>=', lt='<', lte='<=')[c.op]} ${k}"


def filter_sql(conds: Sequence[Condition], params: dict[str, Any], prefix: str = "f") -> str:
    """The SQL of a field filter, values bound into ``params`` (never pasted into the SQL)."""
    return " AND ".join(_cond_sql(c, params, prefix) for c in conds) or "true"


def describe_filter(conds: Sequence[Condition] | None) -> str:
    if not conds:
        return "all events"
    out = []
    for c in conds:
        sym = {"eq": "=", "ne": "!=", "in": "in", "not_in": "not in", "gt": ">", "gte": ">=", "lt": "<",
               "lte": "<=", "contains": "contains", "prefix": "starts with"}.get(c.op)
        if c.op == "exists":
            out.append(f"{c.field} {'exists' if c.value else 'missing'}")
        else:
            out.append(f"{c.field} {sym} {c.value!r}")
    return " and ".join(out)


# --- helpers ---------------------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, datetime):
        return v.timestamp()
    if isinstance(v, timedelta):
        return v.total_seconds()
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _fmt(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        return f"{v:.4g}"
    return str(v)


def _tvar(v: Any) -> Any:
    """A value as templates see it: numbers stay numbers (for {value:.0%}), times are ISO strings."""
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    if isinstance(v, (int, float, str)) or v is None:
        return v
    return str(v)


def _base_vars(rule: Rule) -> dict[str, Any]:
    return {"rule": rule.name, "kind": rule.kind, "window": format_duration(rule.window),
            "for": format_duration(rule.for_), "op": rule.op, "threshold": rule.value,
            "severity": rule.labels["severity"].text if "severity" in rule.labels else ""}


def _group_of(rule: Rule, d: dict[str, Any]) -> dict[str, str]:
    return {label_name(g): "" if d.get(g) is None else str(d[g]) for g in rule.group_by}


def _filters(rule: Rule, since: datetime | None, until: datetime) -> Q.Filters:
    return Q.Filters(since, until, tuple(rule.services), tuple(rule.effective_domains()))


def _query(con, rule: Rule, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The rule's analyzer query over [since, until), by name."""
    cols, rows = Q.run(con, rule.query, _filters(rule, since, until), top=None, end=until,
                       by=until - since, prev_since=None)
    return [dict(zip(cols, r)) for r in rows]


# --- the kinds -------------------------------------------------------------------------------------
def _unconfigured(rule: Rule) -> bool:
    """A rule limited to the domains of an environment variable that is unset watches nothing."""
    return bool(rule.domains_env) and not rule.effective_domains()


def threshold(con, rule: Rule, now: datetime) -> list[Sample]:
    out = []
    if _unconfigured(rule):
        return out
    cmp = OPS[rule.op]
    for d in _query(con, rule, now - rule.window, now):
        v = _num(d[rule.metric])
        vars_ = {**_base_vars(rule), **{k: _tvar(x) for k, x in d.items()}, "value": v,
                 "metric": rule.metric, "query": rule.query}
        grp = _group_of(rule, d)
        if rule.sample:
            n = _num(d[rule.sample]) or 0
            vars_["sample"] = n
            if n < rule.min_sample:
                why = f"{rule.sample} {_fmt(n)} < min_sample {_fmt(rule.min_sample)}"
                out.append(Sample(grp, v, False, why, vars_))
                continue
        if v is None:
            if rule.on_null == "fire":
                out.append(Sample(grp, None, True, f"{rule.metric} is empty (on_null: fire)", vars_))
            else:
                out.append(Sample(grp, None, False, f"{rule.metric} is empty", vars_))
            continue
        ok = cmp(v, rule.value)
        rel = rule.op if ok else NEGATED[rule.op]
        out.append(Sample(grp, v, ok, f"{rule.metric} {_fmt(v)} {rel} {_fmt(rule.value)}", vars_))
    return out


def _counts(con, rule: Rule, start: datetime, mid: datetime, end: datetime, *, distinct: str | None = None,
            activity: Sequence[Condition] | None = None) -> list[dict[str, Any]]:
    """Per group: ``cur`` = matching events in [mid, end), ``prev`` = in [start, mid); with
    ``distinct``, distinct values instead of events; with ``activity``, ``act`` = events matching it in
    [mid, end)."""
    params: dict[str, Any] = {"start": start, "mid": mid, "end": end}
    fsql = filter_sql(rule.filter, params, "f")
    what = f"DISTINCT {col(distinct)}" if distinct else "*"
    groups = ", ".join(f"{col(g)} AS g{i}" for i, g in enumerate(rule.group_by))
    sel = [groups] if groups else []
    sel += [f"count({what}) FILTER (WHERE {TS} >= $mid AND ({fsql})) AS cur",
            f"count({what}) FILTER (WHERE {TS} < $mid AND ({fsql})) AS prev"]
    where = f"({fsql})"
    if activity is not None:
        asql = filter_sql(activity, params, "a")
        sel.append(f"count(*) FILTER (WHERE {TS} >= $mid AND ({asql})) AS act")
        where = f"(({fsql}) OR ({asql}))"
    sql = (f"SELECT {', '.join(sel)} FROM events WHERE {TS} >= $start AND {TS} < $end AND {where}"
           + (" GROUP BY ALL" if groups else ""))
    cur = con.execute(sql, params)
    names = [c[0] for c in cur.description]
    out = []
    for r in cur.fetchall():
        d = dict(zip(names, r))
        for i, g in enumerate(rule.group_by):
            d[g] = d.pop(f"g{i}")
        out.append(d)
    return out


def frequency(con, rule: Rule, now: datetime) -> list[Sample]:
    out = []
    cmp = OPS[rule.op]
    start = now - rule.window
    for d in _counts(con, rule, start, start, now):
        n = d["cur"]
        grp = _group_of(rule, d)
        vars_ = {**_base_vars(rule), **{label_name(g): d[g] for g in rule.group_by},
                 **{g: d[g] for g in rule.group_by}, "value": n, "count": n}
        ok = cmp(n, rule.value)
        out.append(Sample(grp, n, ok, f"{n} matching event(s) {rule.op if ok else NEGATED[rule.op]} "
                                      f"{_fmt(rule.value)} in {format_duration(rule.window)} "
                                      f"({describe_filter(rule.filter)})", vars_))
    return out


def spike(con, rule: Rule, now: datetime) -> list[Sample]:
    w = rule.window
    if _unconfigured(rule):
        return []
    rows: dict[tuple, tuple[dict, float | None, float | None, float, float]] = {}
    if rule.query:
        cur = {tuple(d[g] for g in rule.group_by): d for d in _query(con, rule, now - w, now)}
        prev = {tuple(d[g] for g in rule.group_by): d for d in _query(con, rule, now - 2 * w, now - w)}
        for key in set(cur) | set(prev):
            c, p = cur.get(key), prev.get(key)
            base = c or p
            cv = _num(c[rule.metric]) if c else None
            pv = _num(p[rule.metric]) if p else None
            cs = (_num(c[rule.sample]) or 0) if (c and rule.sample) else (cv or 0)
            ps = (_num(p[rule.sample]) or 0) if (p and rule.sample) else (pv or 0)
            rows[key] = (base, cv, pv, cs, ps)
    else:
        for d in _counts(con, rule, now - 2 * w, now - w, now):
            key = tuple(d[g] for g in rule.group_by)
            rows[key] = (d, float(d["cur"]), float(d["prev"]), float(d["cur"]), float(d["prev"]))
    out = []
    what = rule.metric if rule.query else "matching events"
    for key in sorted(rows, key=lambda k: tuple("" if x is None else str(x) for x in k)):
        d, cv, pv, cs, ps = rows[key]
        grp = _group_of(rule, d)
        if cv is None or pv is None:
            ratio = None
        elif pv == 0:
            ratio = math.inf if cv > 0 else None
        else:
            ratio = cv / pv
        vars_ = {**_base_vars(rule), **({k: _tvar(x) for k, x in d.items()} if rule.query else
                                        {label_name(g): d[g] for g in rule.group_by}),
                 "value": cv, "current": cv, "previous": pv, "ratio": ratio, "direction": rule.direction,
                 "threshold": rule.ratio, "count": cv}
        ref = cs if rule.direction == "up" else ps
        lbl = "this window" if rule.direction == "up" else "the previous window"
        win = format_duration(w)
        if ref < rule.min_sample:
            out.append(Sample(grp, cv, False, f"{_fmt(ref)} in {lbl} < min_sample {_fmt(rule.min_sample)}", vars_))
            continue
        if cv is None or pv is None:
            out.append(Sample(grp, cv, False, f"no {what} in {'this' if cv is None else 'the previous'} window",
                              vars_))
            continue
        if rule.direction == "up":
            ok = ratio is not None and ratio >= rule.ratio
            why = f"{what} {_fmt(cv)} vs {_fmt(pv)} in the previous {win}: x{_fmt(ratio)} " \
                  f"{'>=' if ok else '<'} x{_fmt(rule.ratio)}"
        else:
            ok = cv <= pv / rule.ratio and pv > 0
            why = f"{what} {_fmt(cv)} vs {_fmt(pv)} in the previous {win}: " \
                  f"{'fell to' if ok else 'not below'} 1/{_fmt(rule.ratio)}"
        out.append(Sample(grp, cv, ok, why, vars_))
    return out


def absence(con, rule: Rule, now: datetime) -> list[Sample]:
    rows = _counts(con, rule, now - rule.lookback, now - rule.window, now, distinct=rule.distinct,
                   activity=rule.activity)
    by_key = {tuple(d[g] for g in rule.group_by): d for d in rows}
    for v in rule.expect:
        if (v,) not in by_key:
            by_key[(v,)] = {rule.group_by[0]: v, "cur": 0, "prev": 0, "act": 0}
    if not rule.group_by and not by_key:
        by_key[()] = {"cur": 0, "prev": 0, "act": 0}
    out = []
    unit = f"distinct {rule.distinct}" if rule.distinct else "matching events"
    win = format_duration(rule.window)
    for key in sorted(by_key, key=lambda k: tuple("" if x is None else str(x) for x in k)):
        d = by_key[key]
        n = d["cur"]
        grp = _group_of(rule, d)
        vars_ = {**_base_vars(rule), **{label_name(g): d[g] for g in rule.group_by},
                 **{g: d[g] for g in rule.group_by}, "value": n, "count": n, "threshold": rule.min,
                 "min": rule.min, "lookback": format_duration(rule.lookback), "activity": d.get("act")}
        if n >= rule.min:
            out.append(Sample(grp, n, False, f"{n} {unit} in {win} >= min {_fmt(rule.min)}", vars_))
            continue
        if rule.distinct and d.get("prev", 0) < rule.min and n >= d.get("prev", 0) and not (
                rule.expect and key[0] in rule.expect):
            # A group that never had `min` distinct values in its lookback (a team running one
            # worker) has lost nothing: firing on it would never stop.
            out.append(Sample(grp, n, False, f"{n} {unit} in {win}; only {d.get('prev', 0)} in the "
                                             f"{format_duration(rule.lookback)} before (never {_fmt(rule.min)})",
                              vars_))
            continue
        if rule.activity is not None and d.get("act", 0) < rule.min_activity:
            out.append(Sample(grp, n, False, f"{n} {unit} in {win}, but only {d.get('act', 0)} activity event(s) "
                                             f"< min_activity {_fmt(rule.min_activity)} (not tried)", vars_))
            continue
        seen = "expected" if (rule.expect and key[0] in rule.expect) else \
            f"seen in the last {format_duration(rule.lookback)}"
        out.append(Sample(grp, n, True, f"{n} {unit} in {win} < min {_fmt(rule.min)} ({seen})", vars_))
    return out


def critical(con, rule: Rule, now: datetime) -> list[Sample]:
    cols, rows = Q.run(con, "critical_events", _filters(rule, now - rule.window, now), top=None)
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        d = dict(zip(cols, r))
        groups.setdefault(tuple(d[g] for g in rule.group_by), []).append(d)
    out = []
    for key in sorted(groups, key=lambda k: tuple("" if x is None else str(x) for x in k)):
        evs = groups[key]
        latest = max(evs, key=lambda d: d["time"])
        n = len(evs)
        vars_ = {**_base_vars(rule), **{k: _tvar(v) for k, v in latest.items()}, "value": n, "count": n}
        ok = n >= (rule.value or 1)
        grp = {g: "" if latest[g] is None else str(latest[g]) for g in rule.group_by}
        out.append(Sample(grp, n, ok, f"{n} critical event(s) in {format_duration(rule.window)}"
                                      + ("" if ok else f" < {_fmt(rule.value)}"), vars_))
    return out


#: Templates a new_pattern rule remembers (the least recently seen are forgotten past this).
MAX_KNOWN_PATTERNS = 5000


def new_pattern(con, rule: Rule, now: datetime, known: dict[str, Any] | None = None) -> list[Sample]:
    """Failure patterns first seen in the window.

    Patterns are the analyzer's (``logkit.analyze.failures.failure_patterns``: the one place that
    groups failures, with ``logkit.patterns.TemplateMiner`` and stable pattern ids — the ids
    ``logkit patterns`` and the report show). A pattern is new when it occurs in the window, not in
    the baseline before it (the analyzer's ``new``), and not in this rule's memory.

    ``known`` is that memory, kept in the state and updated in place: ``{"since": ISO, "templates":
    {pattern_id: {kind, template, first_seen, last_seen}}, "miner": [[miner_id, template], ...]}``
    (the miner is seeded with its templates, so ids stay stable across runs). ``since`` is the
    earliest time the memory covers; until the memory or the data covers the whole baseline, the
    rule is *learning* and fires nothing (otherwise every pattern would look new on a first run).
    """
    from ..analyze.failures import failure_patterns
    from ..patterns import TemplateMiner
    known = {} if known is None else known
    mem = known.setdefault("templates", {})
    start = now - rule.window
    prev = start - rule.baseline
    scols, srows = Q.run(con, "summary", Q.Filters(None, now))
    first_event = dict(zip(scols, srows[0]))["first_event"]
    covered = [t for t in (first_event, _parse_iso(known.get("since"))) if t is not None]
    since = min(covered) if covered else None
    if since is not None:
        known["since"] = since.isoformat()
    learning = since is None or since > prev
    miner = TemplateMiner()
    miner.load([tuple(x) for x in known.get("miner", [])])
    cols, rows = failure_patterns(con, _filters(rule, start, now), top=None, prev_since=prev, miner=miner,
                                  remember=False)
    known["miner"] = [list(x) for x in miner.dump()[:MAX_KNOWN_PATTERNS]]
    out = []
    for row in sorted((dict(zip(cols, r)) for r in rows), key=lambda d: (d["first_seen"], d["id"])):
        pid = row["id"]
        prior = mem.get(pid)
        first = row["first_seen"]
        if prior is not None:
            first = min(first, _parse_iso(prior["first_seen"]) or first)
        mem[pid] = {"kind": row["kind"], "template": row["template"], "first_seen": first.isoformat(),
                    "last_seen": row["last_seen"].isoformat()}
        n = row["count"]
        grp = {"pattern_id": pid, "error_type": row["kind"]}
        vars_ = {**_base_vars(rule), **grp, "template": row["template"], "example": row["example"],
                 "first_seen": _tvar(first), "value": n, "count": n, "services": _tvar(row["services"] or []),
                 "domains": _tvar(row["some_domains"] or []), "threshold": rule.min_count}
        if first < start or row["new"] is False:
            seen = _tvar(first) if first < start else f"in the {format_duration(rule.baseline)} baseline"
            out.append(Sample(grp, n, False, f"not new: seen {seen}, before the window", vars_))
        elif learning:
            out.append(Sample(grp, n, False, f"learning: the data and the state cover only since {_tvar(since)}, "
                                             f"not the {format_duration(rule.baseline)} baseline from {_tvar(prev)}",
                              vars_))
        elif n < rule.min_count:
            out.append(Sample(grp, n, False, f"new, but {n} < min_count {rule.min_count}", vars_))
        else:
            out.append(Sample(grp, n, True, f"new: first seen {_tvar(first)}, not in the "
                                            f"{format_duration(rule.baseline)} before the window", vars_))
    if len(mem) > MAX_KNOWN_PATTERNS:
        for k in sorted(mem, key=lambda k: mem[k].get("last_seen", ""))[:len(mem) - MAX_KNOWN_PATTERNS]:
            del mem[k]
    return out


def _parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


KIND_FUNCS = {"threshold": threshold, "frequency": frequency, "spike": spike, "absence": absence,
              "critical": critical}


def evaluate_rule(con, rule: Rule, now: datetime, *, known: dict | None = None) -> list[Sample]:
    """The samples of ``rule`` at ``now`` (``known``: the new_pattern memory, updated in place)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    if rule.kind == "new_pattern":
        return new_pattern(con, rule, now, known)
    return KIND_FUNCS[rule.kind](con, rule, now)


def evaluate(ruleset: RuleSet, source: Source, now: datetime,
             known: dict[str, dict] | None = None) -> dict[str, list[Sample]]:
    """Every rule's samples at ``now``. ``known``: rule name -> new_pattern memory (updated)."""
    known = {} if known is None else known
    return {r.name: evaluate_rule(source.con, r, now, known=known.setdefault(r.name, {})
                                  if r.kind == "new_pattern" else None)
            for r in ruleset.rules}
