"""The alert rule model: :class:`Rule`, :class:`Route`, :class:`RuleSet`, their operators and
:class:`RuleError` (what a rules file parses into; the parsing and validation are in rules.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping

from .templates import Template

KINDS = ("threshold", "frequency", "spike", "absence", "new_pattern", "critical")
OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
       "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
#: Filter operators on a field (``{field: {op: value}}``); a bare value means ``eq``, a list ``in``.
FILTER_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "contains", "prefix")
SINK_TYPES = ("stdout", "webhook", "slack", "alertmanager")

#: Short label names for common fields (the analyzer's column names for the same things).
LABEL_NAMES = {
    "url.domain": "domain", "service.name": "service", "celery.task.name": "task",
    "celery.task.queue": "queue", "host.hostname": "host", "celery.worker.hostname": "worker",
    "error.type": "error_type", "event.action": "action", "scrapy.spider": "spider",
    "scrapy.proxy": "proxy", "scrapy.challenge.vendor": "vendor", "service.type": "service_type",
    "log.level": "level", "django.route": "route",
}


def label_name(column_or_field: str) -> str:
    """The label a grouping column or field becomes (``url.domain`` -> ``domain``)."""
    return LABEL_NAMES.get(column_or_field, column_or_field.replace(".", "_").replace("@", ""))


class RuleError(ValueError):
    """A rules file is invalid: ``str()`` names the file, line, rule and field."""

    def __init__(self, message: str, file: str = "<rules>", line: int | None = None,
                 rule: str | None = None, field: str | None = None):
        self.file, self.line, self.rule, self.field, self.msg = file, line, rule, field, message
        where = f"{file}:{line}" if line else file
        parts = [where]
        if rule:
            parts.append(f"rule {rule!r}")
        if field:
            parts.append(f"field {field!r}")
        super().__init__(": ".join(parts) + ": " + message)


# --- the rule model --------------------------------------------------------------------------
@dataclass
class Condition:
    """One field condition of a filter: ``field op value``."""
    field: str
    op: str
    value: Any


@dataclass
class Rule:
    name: str
    kind: str
    file: str = "<rules>"
    line: int = 0
    window: timedelta = timedelta(minutes=15)
    for_: timedelta = timedelta(0)
    every: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    labels: dict[str, Template] = field(default_factory=dict)
    annotations: dict[str, Template] = field(default_factory=dict)
    description: str = ""
    # threshold / spike on a query
    query: str | None = None
    metric: str | None = None
    group_by: tuple[str, ...] = ()
    op: str = ">"
    value: float | None = None
    sample: str | None = None
    min_sample: float = 0
    on_null: str = "skip"
    services: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    domains_env: str | None = None
    # frequency / absence / spike on events
    filter: tuple[Condition, ...] = ()
    # spike
    direction: str = "up"
    ratio: float = 2.0
    # absence
    lookback: timedelta = timedelta(hours=24)
    distinct: str | None = None
    min: float = 1
    expect: tuple[str, ...] = ()
    activity: tuple[Condition, ...] | None = None
    min_activity: float = 1
    # new_pattern
    baseline: timedelta = timedelta(hours=24)
    min_count: int = 1

    @property
    def uses_query(self) -> bool:
        return self.query is not None

    @property
    def group_labels(self) -> tuple[str, ...]:
        if self.kind == "new_pattern":
            return ("pattern_id", "error_type")
        return tuple(label_name(g) for g in self.group_by)

    def fields_needed(self) -> set[str]:
        """Event fields this rule reads beyond the analyzer's report columns."""
        out: set[str] = set()
        for c in self.filter + (self.activity or ()):
            out.add(c.field)
        if self.kind in ("frequency", "absence", "spike") and not self.uses_query:
            out.update(self.group_by)
        if self.distinct:
            out.add(self.distinct)
        return out

    def effective_domains(self) -> tuple[str, ...]:
        doms = list(self.domains)
        if self.domains_env:
            doms += [d.strip() for d in os.environ.get(self.domains_env, "").split(",") if d.strip()]
        return tuple(doms)


@dataclass
class Route:
    """Where notifications go: a sink type, its target (from the environment), label matchers."""
    type: str
    name: str
    url: str | None = None            # not secret (an Alertmanager on localhost); else url_env
    url_env: str | None = None
    headers_env: dict[str, str] = field(default_factory=dict)
    match: dict[str, tuple[str, ...]] = field(default_factory=dict)
    retries: int = 3
    backoff: float = 0.5
    timeout: float = 10.0
    ttl: timedelta = timedelta(hours=1)  # alertmanager: endsAt of a firing alert = now + ttl
    generator_url: Template | None = None
    continue_: bool = True
    line: int = 0

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) in vs for k, vs in self.match.items())

    @property
    def display(self) -> str:
        """Safe to print: the environment variable's name, never the URL."""
        if self.url_env:
            return f"{self.type}(${self.url_env})"
        if self.url:
            return f"{self.type}({self.url})"
        return self.type


@dataclass
class RuleSet:
    rules: list[Rule]
    routes: list[Route]
    file: str = "<rules>"

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(f"no rule named {name!r} in {self.file} (rules: {', '.join(r.name for r in self.rules)})")

    def fields_needed(self) -> set[str]:
        out: set[str] = set()
        for r in self.rules:
            out |= r.fields_needed()
        return out
