"""Alert rules in YAML: parsing and validation (docs/alerts.md).

A rules file is a mapping with ``rules:`` (a list), and optionally ``defaults:`` (labels,
annotations, repeat_interval, every, for) and ``routes:`` (where alerts go, see sinks.py)::

    defaults:
      labels: {team: scraping}
    routes:
      - {type: slack, url_env: LOGKIT_SLACK_WEBHOOK_URL, match: {severity: critical}}
    rules:
      - name: DomainErrorRateHigh
        kind: threshold
        query: domains            # an analyzer query (logkit.analyze.queries.QUERIES)
        metric: error_rate        # one of its columns
        group_by: domain
        op: ">"
        value: 0.5
        sample: requests          # min-sample guard: at least 20 requests in the window
        min_sample: 20
        window: 1h
        for: 30m
        labels: {severity: warning}
        annotations:
          summary: "{domain}: {value:.0%} of requests failed over {window}"

Every error names the file, the line and the field (``rules.yml:12: rule 'X': field 'op': ...``):
line numbers come from the YAML parser's node marks. Field names in filters are checked against
``logkit.schema``; query and column names against the analyzer's named queries; label and annotation
templates against the variables the rule kind provides.

The rule model is in model.py, the line-numbered YAML loader in _yaml.py, the safe templates in
templates.py and the duration grammar in logkit.timeparse; this module validates and re-exports them.
"""
from __future__ import annotations

import math
import os
import re
from datetime import timedelta
from typing import Any, Iterable

import yaml

from .. import schema
from ..analyze import queries as Q
from ..timeparse import format_duration, parse_duration  # the one grammar; re-exported
# The pieces a rules file is parsed with, each in its own module; re-exported here because
# engine, evaluate, sinks, state, the CLI and users import them from logkit.alert.rules.
from ._yaml import LList, LMap, load_yaml
from .model import (FILTER_OPS, KINDS, LABEL_NAMES, NEGATED, OPS, SINK_TYPES, Condition, Route, Rule,  # noqa: F401
                    RuleError, RuleSet, label_name)
from .templates import Template

_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.-]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- validation ------------------------------------------------------------------------------
_COMMON = {"name", "kind", "description", "window", "for", "every", "repeat_interval", "labels",
           "annotations", "disabled"}
_QUERY_KEYS = {"query", "metric", "group_by", "op", "value", "sample", "min_sample", "on_null", "services",
               "domains", "domains_env"}
_ALLOWED = {
    "threshold": _COMMON | _QUERY_KEYS,
    "frequency": _COMMON | {"filter", "group_by", "op", "value"},
    "spike": _COMMON | _QUERY_KEYS | {"filter", "direction", "ratio"},
    "absence": _COMMON | {"filter", "group_by", "lookback", "distinct", "min", "expect", "activity",
                          "min_activity"},
    "new_pattern": _COMMON | {"baseline", "min_count", "services", "domains"},
    "critical": _COMMON | {"group_by", "services", "value"},
}
_CRITICAL_GROUPS = ("service", "host", "action", "error_type")
_DEFAULT_WINDOW = {"threshold": "15m", "frequency": "15m", "spike": "1h", "absence": "15m",
                   "new_pattern": "1h", "critical": "15m"}
#: Template variables every rule provides; kinds add their own (see _kind_vars).
BASE_VARS = ("rule", "kind", "value", "threshold", "op", "window", "for", "count", "severity")


def _kind_vars(kind: str, rule: Rule) -> set[str]:
    v = set(BASE_VARS) | set(rule.group_labels) | set(rule.group_by)
    if kind in ("threshold", "spike") and rule.query:
        v |= set(Q.QUERIES[rule.query].columns) | {"sample", "metric", "query"}
    if kind == "spike":
        v |= {"previous", "current", "ratio", "direction"}
    if kind == "absence":
        v |= {"lookback", "min", "activity"}
    if kind == "new_pattern":
        v |= {"pattern_id", "error_type", "template", "example", "first_seen", "services", "domains"}
    if kind == "critical":
        v |= {"message", "time", "service", "host", "action", "error_type"}
    return v


class _Ctx:
    def __init__(self, file: str, rule: str | None = None):
        self.file, self.rule = file, rule

    def err(self, msg: str, line: int | None, fld: str | None = None) -> RuleError:
        return RuleError(msg, self.file, line, self.rule, fld)


def _line(obj: Any, key: str | None = None, default: int = 0) -> int:
    if isinstance(obj, LMap):
        return obj.line_of(key) if key else obj.line
    return getattr(obj, "line", default)


def _str_list(v: Any, ctx: _Ctx, line: int, fld: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
        return tuple(str(x) for x in v)
    raise ctx.err("must be a string or a list of strings", line, fld)


def _number(v: Any, ctx: _Ctx, line: int, fld: str, *, duration_ok: bool = False) -> float:
    if isinstance(v, bool) or v is None:
        raise ctx.err("must be a number", line, fld)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            raise ctx.err("must be a number, not NaN", line, fld)
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s.endswith("%"):
            try:
                return float(s[:-1]) / 100
            except ValueError:
                pass
        if duration_ok:
            try:
                return parse_duration(s).total_seconds()
            except ValueError:
                pass
        try:
            return float(s)
        except ValueError:
            pass
    raise ctx.err(f"must be a number{' or a duration (60s, 6h)' if duration_ok else ''} or a percentage, "
                  f"not {v!r}", line, fld)


def _duration(v: Any, ctx: _Ctx, line: int, fld: str) -> timedelta:
    try:
        return parse_duration(v)
    except ValueError as e:
        raise ctx.err(str(e), line, fld) from None


def _field_name(name: Any, ctx: _Ctx, line: int, fld: str) -> str:
    if not isinstance(name, str) or not schema.known(name):
        close = [f for f in schema.FIELDS if isinstance(name, str) and (name in f or f.endswith("." + name))][:4]
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `logkit schema fields`)"
        raise ctx.err(f"{name!r} is not a field of the logkit schema{hint}", line, fld)
    return name


def _conditions(v: Any, ctx: _Ctx, line: int, fld: str) -> tuple[Condition, ...]:
    if v is None:
        return ()
    if not isinstance(v, dict):
        raise ctx.err("must be a mapping of field: value, field: [values] or field: {op: value}", line, fld)
    out = []
    for name, cond in v.items():
        ln = _line(v, name, line)
        fname = _field_name(name, ctx, ln, f"{fld}.{name}")
        ftype = schema.field(fname).type
        if isinstance(cond, dict):
            if not cond:
                raise ctx.err("empty condition", ln, f"{fld}.{name}")
            for op, val in cond.items():
                if op not in FILTER_OPS:
                    raise ctx.err(f"unknown operator {op!r} (one of {', '.join(FILTER_OPS)})", _line(cond, op, ln),
                                  f"{fld}.{name}.{op}")
                out.append(Condition(fname, op, _cond_value(op, val, ftype, fname, ctx, _line(cond, op, ln),
                                                            f"{fld}.{name}.{op}")))
        elif isinstance(cond, list):
            out.append(Condition(fname, "in", _cond_value("in", cond, ftype, fname, ctx, ln, f"{fld}.{name}")))
        else:
            out.append(Condition(fname, "eq", _cond_value("eq", cond, ftype, fname, ctx, ln, f"{fld}.{name}")))
    return tuple(out)


def _scalar_ok(val: Any, ftype: str) -> bool:
    if ftype in ("long", "integer"):
        return isinstance(val, int) and not isinstance(val, bool)
    if ftype in ("double", "float"):
        return isinstance(val, (int, float)) and not isinstance(val, bool)
    if ftype == "boolean":
        return isinstance(val, bool)
    return isinstance(val, str)


def _cond_value(op: str, val: Any, ftype: str, fname: str, ctx: _Ctx, line: int, fld: str) -> Any:
    if op == "exists":
        if not isinstance(val, bool):
            raise ctx.err("exists takes true or false", line, fld)
        return val
    if op in ("contains", "prefix"):
        if not isinstance(val, str):
            raise ctx.err(f"{op} takes a string", line, fld)
        return val
    vals = val if op in ("in", "not_in") else [val]
    if op in ("in", "not_in") and not isinstance(val, list):
        raise ctx.err(f"{op} takes a list", line, fld)
    f = schema.field(fname)
    for x in vals:
        if ftype == "date" and isinstance(x, str):
            continue
        if not _scalar_ok(x, ftype):
            raise ctx.err(f"{x!r} does not fit field {fname!r} of type {ftype}", line, fld)
        if f.allowed and isinstance(x, str) and x not in f.allowed:
            raise ctx.err(f"{x!r} is not an allowed value of {fname!r} ({', '.join(f.allowed)})", line, fld)
    return list(vals) if op in ("in", "not_in") else val


def _templates(v: Any, ctx: _Ctx, line: int, fld: str, *, labels: bool) -> dict[str, Template]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ctx.err("must be a mapping of name: text", line, fld)
    out = {}
    for k, t in v.items():
        ln = _line(v, k, line)
        if labels and not _LABEL_RE.match(k):
            raise ctx.err("a label name must match [A-Za-z_][A-Za-z0-9_]* (as in Prometheus)", ln, f"{fld}.{k}")
        if not isinstance(t, (str, int, float)) or isinstance(t, bool):
            raise ctx.err("must be a string", ln, f"{fld}.{k}")
        try:
            out[k] = Template(str(t))
        except ValueError as e:
            raise ctx.err(f"bad template: {e}", ln, f"{fld}.{k}") from None
    return out


def _check_vars(rule: Rule, ctx: _Ctx, raw: LMap) -> None:
    allowed = _kind_vars(rule.kind, rule) | set(rule.labels)
    for section, temps in (("labels", rule.labels), ("annotations", rule.annotations)):
        node = raw.get(section)
        for k, t in temps.items():
            for name in t.fields:
                if name not in allowed:
                    raise ctx.err(f"template variable {{{name}}} is not provided by a {rule.kind} rule "
                                  f"(available: {', '.join(sorted(allowed))})", _line(node, k, raw.line),
                                  f"{section}.{k}")


def _parse_rule(raw: Any, ctx: _Ctx, defaults: LMap, line: int) -> Rule | None:
    if not isinstance(raw, dict):
        raise ctx.err("a rule must be a mapping", line)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ctx.err("every rule needs a name matching [A-Za-z_][A-Za-z0-9_:.-]*", _line(raw, "name", line), "name")
    ctx.rule = name
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ctx.err(f"must be one of {', '.join(KINDS)}", _line(raw, "kind", line), "kind")
    allowed = _ALLOWED[kind]
    for k in raw:
        if k not in allowed:
            raise ctx.err(f"unknown field for a {kind} rule (allowed: {', '.join(sorted(allowed))})",
                          _line(raw, k), k)
    if raw.get("disabled") is True:
        return None
    L = lambda k: _line(raw, k, line)  # noqa: E731
    merged = {k: v for k, v in (defaults or {}).items() if k in ("for", "every", "repeat_interval")}
    r = Rule(name=name, kind=kind, file=ctx.file, line=line)
    r.window = _duration(raw.get("window", _DEFAULT_WINDOW[kind]), ctx, L("window"), "window")
    if r.window.total_seconds() <= 0:
        raise ctx.err("must be longer than 0s", L("window"), "window")
    for key, attr in (("for", "for_"), ("every", "every"), ("repeat_interval", "repeat_interval")):
        if key in raw or key in merged:
            v = raw[key] if key in raw else merged[key]
            setattr(r, attr, _duration(v, ctx, L(key) if key in raw else _line(defaults, key), key))
    if r.every.total_seconds() <= 0:
        raise ctx.err("must be longer than 0s", L("every"), "every")
    desc = raw.get("description", "")
    if not isinstance(desc, str):
        raise ctx.err("must be a string", L("description"), "description")
    r.description = " ".join(desc.split())
    if "services" in raw:
        r.services = _str_list(raw["services"], ctx, L("services"), "services")
    if "domains" in raw:
        r.domains = _str_list(raw["domains"], ctx, L("domains"), "domains")
    if "domains_env" in raw:
        if not isinstance(raw["domains_env"], str) or not _ENV_RE.match(raw["domains_env"]):
            raise ctx.err("must be the name of an environment variable", L("domains_env"), "domains_env")
        r.domains_env = raw["domains_env"]

    if kind in ("threshold", "spike") and ("query" in raw or kind == "threshold"):
        _parse_query_part(r, raw, ctx, L)
    if kind in ("frequency", "spike", "absence"):
        if kind == "spike" and "query" in raw and "filter" in raw:
            raise ctx.err("a spike rule watches either a query metric (query/metric) or a count of "
                          "events (filter), not both", L("filter"), "filter")
        if kind != "spike" or "query" not in raw:
            if kind == "frequency" and "filter" not in raw:
                raise ctx.err("a frequency rule needs a filter (which events to count)", line, "filter")
            r.filter = _conditions(raw.get("filter"), ctx, L("filter"), "filter")
            gb = raw.get("group_by")
            r.group_by = tuple(_field_name(g, ctx, L("group_by"), "group_by")
                               for g in _str_list(gb, ctx, L("group_by"), "group_by"))
            for k in ("sample", "metric", "services", "domains", "domains_env", "op", "value", "on_null"):
                if k in raw and kind == "spike":
                    raise ctx.err("only with query: a spike of a count of events compares the counts "
                                  "(use min_sample for the smallest count that matters)", L(k), k)
    if kind == "frequency":
        r.op = raw.get("op", ">=")
        if r.op not in OPS:
            raise ctx.err(f"must be one of {' '.join(OPS)}", L("op"), "op")
        if "value" not in raw:
            raise ctx.err("a frequency rule needs value (how many events)", line, "value")
        r.value = _number(raw["value"], ctx, L("value"), "value")
    if kind == "spike":
        r.direction = raw.get("direction", "up")
        if r.direction not in ("up", "down"):
            raise ctx.err("must be up or down", L("direction"), "direction")
        r.ratio = _number(raw.get("ratio", 2), ctx, L("ratio"), "ratio")
        if r.ratio <= 1:
            raise ctx.err("must be greater than 1 (2 = doubled for up, halved for down)", L("ratio"), "ratio")
        if "query" not in raw and "min_sample" in raw:
            r.min_sample = _number(raw["min_sample"], ctx, L("min_sample"), "min_sample")
    if kind == "absence":
        r.lookback = _duration(raw.get("lookback", "24h"), ctx, L("lookback"), "lookback")
        if r.lookback < r.window:
            raise ctx.err("must be at least the window", L("lookback"), "lookback")
        if "distinct" in raw:
            r.distinct = _field_name(raw["distinct"], ctx, L("distinct"), "distinct")
        r.min = _number(raw.get("min", 1), ctx, L("min"), "min")
        if r.min < 1:
            raise ctx.err("must be at least 1 (fires when the count is below min)", L("min"), "min")
        r.expect = _str_list(raw.get("expect"), ctx, L("expect"), "expect")
        if r.expect and len(r.group_by) != 1:
            raise ctx.err("expect needs exactly one group_by field (the values are its values)", L("expect"), "expect")
        if "activity" in raw:
            r.activity = _conditions(raw["activity"], ctx, L("activity"), "activity")
            r.min_activity = _number(raw.get("min_activity", 1), ctx, L("min_activity"), "min_activity")
        elif "min_activity" in raw:
            raise ctx.err("min_activity needs activity (a filter of the events that show the source is tried)",
                          L("min_activity"), "min_activity")
    if kind == "new_pattern":
        r.baseline = _duration(raw.get("baseline", "24h"), ctx, L("baseline"), "baseline")
        mc = _number(raw.get("min_count", 1), ctx, L("min_count"), "min_count")
        if mc < 1 or mc != int(mc):
            raise ctx.err("must be a whole number >= 1", L("min_count"), "min_count")
        r.min_count = int(mc)
    if kind == "critical":
        gb = _str_list(raw.get("group_by", "service"), ctx, L("group_by"), "group_by")
        for g in gb:
            if g not in _CRITICAL_GROUPS:
                raise ctx.err(f"must be among {', '.join(_CRITICAL_GROUPS)} (columns of the critical_events query)",
                              L("group_by"), "group_by")
        r.group_by = gb
        r.value = _number(raw.get("value", 1), ctx, L("value"), "value")
        r.op = ">="
    # labels and annotations (defaults first, the rule's own win)
    lab = _templates((defaults or {}).get("labels"), ctx, _line(defaults, "labels"), "defaults.labels", labels=True)
    lab.update(_templates(raw.get("labels"), ctx, L("labels"), "labels", labels=True))
    ann = _templates((defaults or {}).get("annotations"), ctx, _line(defaults, "annotations"),
                     "defaults.annotations", labels=False)
    ann.update(_templates(raw.get("annotations"), ctx, L("annotations"), "annotations", labels=False))
    for reserved in ("alertname",):
        if reserved in lab:
            raise ctx.err(f"label {reserved!r} is set by logkit (the rule name)", L("labels"), f"labels.{reserved}")
    clash = set(lab) & set(r.group_labels)
    if clash:
        raise ctx.err(f"label(s) {', '.join(sorted(clash))} would hide the group's own label", L("labels"), "labels")
    r.labels, r.annotations = lab, ann
    _check_vars(r, ctx, raw)
    return r


def _parse_query_part(r: Rule, raw: LMap, ctx: _Ctx, L) -> None:
    qn = raw.get("query")
    if qn not in Q.QUERIES:
        raise ctx.err(f"must be one of the analyzer's queries: {', '.join(_metric_queries())}", L("query"), "query")
    q = Q.QUERIES[qn]
    if not q.filtered:
        raise ctx.err(f"query {qn!r} describes the inputs, not the events: not a metric", L("query"), "query")
    r.query = qn
    metric = raw.get("metric")
    if metric not in q.columns:
        raise ctx.err(f"must be a column of query {qn!r}: {', '.join(q.columns)}", L("metric"), "metric")
    r.metric = metric
    gb = _str_list(raw.get("group_by", q.columns[0] if qn != "summary" else None), ctx, L("group_by"), "group_by")
    for g in gb:
        if g not in q.columns:
            raise ctx.err(f"must be column(s) of query {qn!r}: {', '.join(q.columns)}", L("group_by"), "group_by")
    r.group_by = gb
    if r.kind == "threshold":
        r.op = raw.get("op", ">")
        if r.op not in OPS:
            raise ctx.err(f"must be one of {' '.join(OPS)}", L("op"), "op")
        if "value" not in raw:
            raise ctx.err("a threshold rule needs value", r.line, "value")
        r.value = _number(raw["value"], ctx, L("value"), "value", duration_ok=True)
        r.on_null = raw.get("on_null", "skip")
        if r.on_null not in ("skip", "fire"):
            raise ctx.err("must be skip or fire", L("on_null"), "on_null")
    elif "op" in raw or "on_null" in raw or "value" in raw:
        k = next(k for k in ("op", "on_null", "value") if k in raw)
        raise ctx.err("a spike compares two windows: use ratio and direction", L(k), k)
    if "sample" in raw:
        if raw["sample"] not in q.columns:
            raise ctx.err(f"must be a column of query {qn!r}: {', '.join(q.columns)}", L("sample"), "sample")
        r.sample = raw["sample"]
    if "min_sample" in raw:
        r.min_sample = _number(raw["min_sample"], ctx, L("min_sample"), "min_sample")
        if r.sample is None and r.kind == "threshold":
            raise ctx.err("min_sample needs sample (the column counted, e.g. requests or attempts)",
                          L("min_sample"), "min_sample")


def _metric_queries() -> list[str]:
    return [n for n, q in Q.QUERIES.items() if q.filtered]


def _parse_route(raw: Any, ctx: _Ctx, line: int, i: int) -> Route:
    fld = f"routes[{i}]"
    if not isinstance(raw, dict):
        raise ctx.err("a route must be a mapping", line, fld)
    allowed = {"type", "name", "url", "url_env", "headers_env", "match", "retries", "backoff", "timeout", "ttl",
               "generator_url", "continue"}
    for k in raw:
        if k not in allowed:
            raise ctx.err(f"unknown field (allowed: {', '.join(sorted(allowed))})", _line(raw, k), f"{fld}.{k}")
    t = raw.get("type")
    if t not in SINK_TYPES:
        raise ctx.err(f"must be one of {', '.join(SINK_TYPES)}", _line(raw, "type", line), f"{fld}.type")
    rt = Route(type=t, name=str(raw.get("name") or f"{t}-{i}"), line=line)
    if "url" in raw:
        if t != "alertmanager":
            raise ctx.err("a webhook or Slack URL is a secret: put it in an environment variable and name it "
                          "with url_env", _line(raw, "url"), f"{fld}.url")
        if not isinstance(raw["url"], str) or not raw["url"].startswith(("http://", "https://")):
            raise ctx.err("must be an http(s) URL", _line(raw, "url"), f"{fld}.url")
        rt.url = raw["url"].rstrip("/")
    if "url_env" in raw:
        if not isinstance(raw["url_env"], str) or not _ENV_RE.match(raw["url_env"]):
            raise ctx.err("must be the name of an environment variable", _line(raw, "url_env"), f"{fld}.url_env")
        rt.url_env = raw["url_env"]
    if t != "stdout" and not (rt.url or rt.url_env):
        raise ctx.err("needs url_env (the environment variable holding the URL)"
                      + (" or url" if t == "alertmanager" else ""), line, fld)
    he = raw.get("headers_env") or {}
    if not isinstance(he, dict) or not all(isinstance(v, str) and _ENV_RE.match(v) for v in he.values()):
        raise ctx.err("must map header names to environment variable names", _line(raw, "headers_env", line),
                      f"{fld}.headers_env")
    rt.headers_env = {str(k): v for k, v in he.items()}
    m = raw.get("match") or {}
    if not isinstance(m, dict):
        raise ctx.err("must map label names to a value or a list of values", _line(raw, "match", line), f"{fld}.match")
    rt.match = {k: _str_list(v, ctx, _line(m, k, line), f"{fld}.match.{k}") for k, v in m.items()}
    for k, attr, lo in (("retries", "retries", 0), ("backoff", "backoff", 0), ("timeout", "timeout", 0.1)):
        if k in raw:
            v = _number(raw[k], ctx, _line(raw, k), f"{fld}.{k}")
            if v < lo:
                raise ctx.err(f"must be at least {lo}", _line(raw, k), f"{fld}.{k}")
            setattr(rt, attr, int(v) if k == "retries" else v)
    if "ttl" in raw:
        rt.ttl = _duration(raw["ttl"], ctx, _line(raw, "ttl"), f"{fld}.ttl")
    if "generator_url" in raw:
        try:
            rt.generator_url = Template(str(raw["generator_url"]))
        except ValueError as e:
            raise ctx.err(f"bad template: {e}", _line(raw, "generator_url"), f"{fld}.generator_url") from None
    if "continue" in raw:
        rt.continue_ = bool(raw["continue"])
    return rt


def parse(text: str, file: str = "<rules>") -> RuleSet:
    """Parse and validate a rules document; raises :class:`RuleError`."""
    doc = load_yaml(text, file)
    ctx = _Ctx(file)
    if isinstance(doc, list):  # a bare list of rules
        tmp = LMap(rules=doc)
        tmp.line, tmp.key_lines = 1, {"rules": 1}
        doc = tmp
    if not isinstance(doc, dict):
        raise ctx.err("a rules file is a mapping with a 'rules:' list", 1)
    for k in doc:
        if k not in ("rules", "defaults", "routes"):
            raise ctx.err("unknown top-level key (rules, defaults, routes)", _line(doc, k), k)
    defaults = doc.get("defaults") or LMap()
    if not isinstance(defaults, dict):
        raise ctx.err("must be a mapping", _line(doc, "defaults"), "defaults")
    for k in defaults:
        if k not in ("labels", "annotations", "for", "every", "repeat_interval"):
            raise ctx.err("unknown field (labels, annotations, for, every, repeat_interval)", _line(defaults, k),
                          f"defaults.{k}")
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ctx.err("needs a non-empty 'rules:' list", _line(doc, "rules", 1), "rules")
    rules, seen = [], {}
    for i, raw in enumerate(raw_rules):
        line = raw_rules.item_lines[i] if isinstance(raw_rules, LList) else 0
        rctx = _Ctx(file)
        r = _parse_rule(raw, rctx, defaults, line)
        if r is None:
            continue
        if r.name in seen:
            raise RuleError(f"a rule with this name is already defined at line {seen[r.name]}", file, line, r.name,
                            "name")
        seen[r.name] = line
        rules.append(r)
    raw_routes = doc.get("routes") or []
    if not isinstance(raw_routes, list):
        raise ctx.err("must be a list", _line(doc, "routes"), "routes")
    routes = []
    for i, raw in enumerate(raw_routes):
        line = raw_routes.item_lines[i] if isinstance(raw_routes, LList) else 0
        routes.append(_parse_route(raw, _Ctx(file), line, i))
    names = [r.name for r in routes]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ctx.err(f"route names must be unique: {', '.join(sorted(dup))}", _line(doc, "routes"), "routes")
    return RuleSet(rules, routes, file)


def load(path: str) -> RuleSet:
    """Read and validate the rules file ``path`` (``pack:default`` is the shipped default pack)."""
    if path in ("pack:default", "default"):
        return default_pack()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise RuleError(f"cannot read: {e.strerror or e}", path) from None
    except UnicodeDecodeError:
        raise RuleError("not UTF-8 text", path) from None
    return parse(text, path)


def default_pack_path() -> str:
    from .. import data
    return str(data.path("alerts/default.yml"))


def default_pack() -> RuleSet:
    with open(default_pack_path(), encoding="utf-8") as f:
        return parse(f.read(), "pack:default")


def merge(sets: Iterable[RuleSet]) -> RuleSet:
    """Several rules files as one (rule names must stay unique)."""
    rules, routes, files, seen = [], [], [], {}
    for s in sets:
        files.append(s.file)
        for r in s.rules:
            if r.name in seen:
                raise RuleError(f"rule defined in both {seen[r.name]} and {s.file}", s.file, r.line, r.name, "name")
            seen[r.name] = s.file
            rules.append(r)
        routes += s.routes
    return RuleSet(rules, routes, ",".join(files))
