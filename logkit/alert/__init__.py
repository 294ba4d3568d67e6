"""Stage 4, alert: rules evaluated over the logs, sent to stdout, webhooks, Slack and Alertmanager.
See docs/alerts.md.

- :func:`load_rules` — parse and validate rules files (errors name file, line and field);
- :func:`check` — evaluate once at ``now`` over files or a store, advance the state, deliver;
- :func:`explain` — every rule's value per group and why it fires or not;
- :func:`replay` — one rules file replayed over the time range of some logs (``alerts test``).

May import emit, schema, analyze and patterns; nothing imports it back.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence, TextIO

from .engine import RunResult, Transition, replay as _replay, run_once
from .evaluate import RuleEvalError, Sample, Source, evaluate, evaluate_rule, resolve_now
from .rules import Route, Rule, RuleError, RuleSet, default_pack, load as _load_one, merge, parse
from .state import AlertRecord, Notification, State, StateError

#: The API. Also importable from here, for the command line and tests: Source, resolve_now,
#: evaluate, evaluate_rule, Sample, Route, merge, Notification, AlertRecord (see their modules).
__all__ = ["load_rules", "parse", "default_pack", "check", "explain", "replay", "RuleSet", "Rule", "RuleError",
           "RuleEvalError", "State", "StateError", "RunResult", "Transition"]


def load_rules(paths: str | Sequence[str]) -> RuleSet:
    """One or more rules files (``pack:default`` = the shipped default pack) as one rule set."""
    if isinstance(paths, str):
        paths = [paths]
    sets = [_load_one(p) for p in paths]
    return sets[0] if len(sets) == 1 else merge(sets)


def check(rules: str | Sequence[str] | RuleSet, inputs: Sequence[str] | None = None, *, db: str | None = None,
          now: str | datetime | None = None, state: str | None = None, deliver: bool = True,
          stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> RunResult:
    """Evaluate ``rules`` once at ``now`` (default: the wall clock; ``"latest"``: just after the last
    event) over ``inputs`` and/or the store ``db``; persist ``state`` (a JSON file) and deliver."""
    rs = rules if isinstance(rules, RuleSet) else load_rules(rules)
    with Source(inputs, db, fields=rs.fields_needed()) as src:
        t = resolve_now(now, src)
        st = State(state)
        with st.locked():
            st = State.load(state)
            res = run_once(rs, src, t, st, deliver_to=deliver, stream=stream, env=env)
            st.save()
        return res


def explain(rules: str | Sequence[str] | RuleSet, inputs: Sequence[str] | None = None, *, db: str | None = None,
            now: str | datetime | None = None, state: str | None = None) -> RunResult:
    """Like :func:`check` without saving the state or delivering: the samples say why."""
    rs = rules if isinstance(rules, RuleSet) else load_rules(rules)
    with Source(inputs, db, fields=rs.fields_needed()) as src:
        t = resolve_now(now, src)
        st = State.load(state)
        return run_once(rs, src, t, st, deliver_to=False)


def replay(rules: str | RuleSet, inputs: Sequence[str], *, rule: str | None = None, step=None,
           start: str | datetime | None = None, end: str | datetime | None = None) -> list[Transition]:
    """Replay ``inputs`` through the rules (or the one named ``rule``) over their time range."""
    from ..timeparse import parse_duration
    rs = rules if isinstance(rules, RuleSet) else load_rules(rules)
    if rule:
        rs = RuleSet([rs.rule(rule)], [], rs.file)
    with Source(inputs, None, fields=rs.fields_needed()) as src:
        s = resolve_now(start, src) if start else None
        e = resolve_now(end, src) if end else None
        return _replay(rs, src, start=s, end=e, step=parse_duration(step) if step else None)
