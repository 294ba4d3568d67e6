"""One evaluation run: evaluate every rule, advance the state, deliver the notifications.

``for:`` when a rule has no history (first run, or ``alerts check`` without a state file): rather
than report every long-standing problem as merely "pending", the engine re-evaluates the rule at
earlier times, every ``every`` back to ``now - for`` (at most 48 points), and starts each active
group's pending period where its condition began to hold continuously — the same answer a
scheduler running every ``every`` would have reached (Prometheus restores ``for`` state after a
restart for the same reason).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence, TextIO

import duckdb

from .evaluate import Sample, Source, evaluate_rule
from .rules import Route, Rule, RuleSet
from .sinks import Sink, make_sink
from .state import AlertRecord, Notification, State, fingerprint, iso, render

MAX_BACKFILL_POINTS = 48


@dataclass
class DeliveryReport:
    route: str
    target: str           # safe to print (the env variable's name, never the URL)
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    now: datetime
    samples: dict[str, list[Sample]]
    notifications: list[Notification]
    deliveries: list[DeliveryReport]
    firing: list[AlertRecord]
    pending: list[AlertRecord]
    errors: dict[str, str]
    outbox: int = 0

    @property
    def delivery_failed(self) -> bool:
        return any(d.failed or d.errors for d in self.deliveries)


def active_since(con, rule: Rule, now: datetime, samples: list[Sample]) -> dict[str, datetime]:
    """For each active group, the start of its continuous active run within ``for`` before now."""
    active = {}
    for s in samples:
        if s.active:
            active[fingerprint(render(rule, s)[0])] = now
    if not active or rule.for_.total_seconds() <= 0:
        return active
    step = rule.every
    n = math.ceil(rule.for_ / step)
    if n > MAX_BACKFILL_POINTS:
        n = MAX_BACKFILL_POINTS
        step = rule.for_ / n
    alive = set(active)
    for k in range(1, n + 1):
        t = now - k * step
        if not alive:
            break
        known = None
        if rule.kind == "new_pattern":
            known = {}
        try:
            past = evaluate_rule(con, rule, t, known=known)
        except duckdb.Error:
            break
        still = {fingerprint(render(rule, s)[0]) for s in past if s.active}
        for fp in list(alive):
            if fp in still:
                active[fp] = t
            else:
                alive.discard(fp)
    return active


def evaluate_all(ruleset: RuleSet, con, now: datetime, state: State, *, backfill: bool = True
                 ) -> tuple[dict[str, list[Sample]], list[Notification], dict[str, str]]:
    samples: dict[str, list[Sample]] = {}
    notes: list[Notification] = []
    errors: dict[str, str] = {}
    for rule in ruleset.rules:
        known = state.patterns.setdefault(rule.name, {}) if rule.kind == "new_pattern" else None
        try:
            ss = evaluate_rule(con, rule, now, known=known)
        except (duckdb.Error, ValueError, KeyError) as e:
            # The rule's alerts are left as they are: an error is not a resolution.
            errors[rule.name] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            continue
        samples[rule.name] = ss
        since = None
        if backfill and rule.for_.total_seconds() > 0 and not state.seen(rule.name):
            since = active_since(con, rule, now, ss)
        notes += state.apply(rule, ss, now, since)
    state.prune(now)
    return samples, notes, errors


def deliver(routes: Sequence[Route], notes: Sequence[Notification], state: State, now: datetime, *,
            stream: TextIO | None = None, env: Mapping[str, str] | None = None,
            sleep: Callable[[float], None] | None = None, rule_urls: Mapping[str, str] | None = None
            ) -> list[DeliveryReport]:
    """Send ``notes`` (and what the outbox kept from earlier runs) along ``routes``; what fails goes
    back to ``state.outbox``."""
    import time
    kw = {"stream": stream, "env": env, "sleep": sleep or time.sleep}
    # Which routes each new notification takes: in order; a matching route with continue: false stops it.
    per_route: dict[str, list[Notification]] = {r.name: [] for r in routes}
    for n in notes:
        for r in routes:
            if r.matches(n.labels):
                per_route[r.name].append(n)
                if not r.continue_:
                    break
    old: dict[str, list[dict]] = {}
    for e in state.outbox:
        old.setdefault(e["route"], []).append(e)
    new_outbox: list[dict] = []
    reports = []
    for r in routes:
        sink: Sink = make_sink(r, **kw)
        kept = old.pop(r.name, [])
        batch = [Notification.from_dict(e["notification"]) for e in kept] + per_route[r.name]
        firing = [a for a in state.by_status("firing") if r.matches(a.labels)] if r.type == "alertmanager" else []
        rep = DeliveryReport(r.name, r.display)
        if not batch and not firing:
            reports.append(rep)
            continue
        results = sink.send(batch, firing, now, rule_urls)
        for i, (n, err) in enumerate(zip(batch, results)):
            if err is None:
                rep.sent += 1
                continue
            rep.failed += 1
            if err not in rep.errors:
                rep.errors.append(err)
            prior = kept[i] if i < len(kept) else None
            new_outbox.append({
                "route": r.name, "notification": n.to_dict(),
                "attempts": (prior["attempts"] if prior else 0) + 1,
                "first_failed_at": prior["first_failed_at"] if prior else iso(now),
                "last_error": err,
            })
        if sink.other_error:
            rep.errors.append(sink.other_error)
        reports.append(rep)
    # Notifications for a route that is no longer configured: kept, and reported.
    for name, entries in old.items():
        new_outbox.extend(entries)
        reports.append(DeliveryReport(name, "(route no longer configured)", failed=len(entries),
                                      errors=[f"{len(entries)} undelivered notification(s) kept for a route "
                                              f"that is not in the rules file"]))
    state.outbox = new_outbox
    return reports


def rule_urls(ruleset: RuleSet) -> dict[str, str]:
    """generatorURL default: where the rule is defined (``file://PATH#L12``)."""
    out = {}
    for r in ruleset.rules:
        f = r.file
        if f.startswith("pack:"):
            from .rules import default_pack_path
            f = default_pack_path()
        out[r.name] = "file://" + os.path.abspath(f) + (f"#L{r.line}" if r.line else "")
    return out


def run_once(ruleset: RuleSet, source: Source, now: datetime, state: State, *, deliver_to: bool = True,
             stream: TextIO | None = None, env: Mapping[str, str] | None = None,
             sleep: Callable[[float], None] | None = None, backfill: bool = True) -> RunResult:
    """Evaluate, update ``state`` (not saved: the caller saves), deliver."""
    samples, notes, errors = evaluate_all(ruleset, source.con, now, state, backfill=backfill)
    reports: list[DeliveryReport] = []
    if deliver_to:
        reports = deliver(ruleset.routes, notes, state, now, stream=stream, env=env, sleep=sleep,
                          rule_urls=rule_urls(ruleset))
    return RunResult(now, samples, notes, reports, state.by_status("firing"), state.by_status("pending"), errors,
                     len(state.outbox))


# --- replay (``logkit alerts test``) ------------------------------------------------------------------
@dataclass
class Transition:
    at: datetime
    status: str            # pending | firing | resolved | dropped (pending that never fired)
    labels: dict[str, str]
    value: float | None
    reason: str
    annotations: dict[str, str] = field(default_factory=dict)


def replay(ruleset: RuleSet, source: Source, *, start: datetime | None = None, end: datetime | None = None,
           step: timedelta | None = None) -> list[Transition]:
    """Evaluate the rules every ``step`` (default: the smallest rule ``every``) from ``start`` to ``end``
    (default: the data's time range: first event + step to just after the last event — the logs say
    nothing past their end, where every absence rule would fire), with a fresh state and no delivery;
    the transitions in time order."""
    first, last = source.time_range()
    if first is None:
        return []
    step = step or min(r.every for r in ruleset.rules)
    t = start or first + step
    end = end or last + timedelta(milliseconds=1)
    state = State()
    out: list[Transition] = []
    prev: dict[str, tuple[str, dict]] = {}
    while t <= end:
        evaluate_all(ruleset, source.con, t, state, backfill=False)
        cur = {fp: (a.status, a.labels) for fp, a in state.alerts.items()}
        for fp, (st, _) in cur.items():
            a = state.alerts[fp]
            was = prev.get(fp, (None, {}))[0]
            if was != st and not (st == "resolved" and was is None):
                out.append(Transition(t, st, dict(a.labels), a.value, a.reason, dict(a.annotations)))
        for fp, (st, labels) in prev.items():
            if fp not in cur and st == "pending":
                out.append(Transition(t, "dropped", dict(labels), None,
                                      "the condition stopped holding before for: elapsed"))
        prev = cur
        t += step
    return out
