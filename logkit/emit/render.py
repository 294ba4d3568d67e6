"""The one renderer: every event, from stdlib logging or structlog, becomes a line here.

``Renderer.event()`` builds the flat event (dotted names) from a message, a level, fields and an
exception; ``Renderer.dumps()`` turns it into the ecs-logging line shape: ``@timestamp``,
``log.level``, ``message`` first, ``log.level`` and ``ecs.version`` as dotted top-level keys,
every other dotted name nested. Neither ever raises: a failure produces a minimal line that says
what went wrong.
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import re
import socket
import sys
import time
import traceback
from typing import Any, Mapping, NamedTuple

import orjson

from .. import schema
from .context import get_context
from .ids import uuid7
from . import sanitize as _san
from .sanitize import MASK, Sanitizer, notes_state, clean_text, mask_text, note, safe_int, takenotes_state, truncate

_LEVELS = {
    "debug": "debug", "info": "info", "warning": "warning", "warn": "warning", "error": "error",
    "exception": "error", "critical": "critical", "fatal": "critical", "notset": "debug", "trace": "debug",
}


def level_name(level: Any) -> str:
    """Schema level for a stdlib level number or any level name."""
    if isinstance(level, int):
        return ("debug" if level < 20 else "info" if level < 30 else "warning" if level < 40
                else "error" if level < 50 else "critical")
    return _LEVELS.get(str(level).lower(), "info")


_pid = os.getpid()


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)

_ts_cache: tuple[int, str] = (-1, "")


def format_timestamp(t: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC) for a Unix time; the seconds part is cached."""
    global _ts_cache
    sec, frac = divmod(int(t * 1000), 1000)
    cached_sec, prefix = _ts_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _ts_cache = (sec, prefix)
    return "%s.%03dZ" % (prefix, frac)


def _otel_ids() -> tuple[str, str] | None:
    # Only when the application itself imported OpenTelemetry: importing it here would cost
    # every process that does not use it.
    trace_mod = sys.modules.get("opentelemetry.trace")
    if trace_mod is None:
        return None
    try:
        ctx = trace_mod.get_current_span().get_span_context()
        if ctx.is_valid:
            return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
    except Exception:
        pass
    return None


def error_type_and_message(exc: BaseException) -> tuple[str, str]:
    """``error.type`` (module-qualified unless builtin) and ``error.message``; never raises."""
    t = type(exc)
    name = t.__qualname__ if t.__module__ in ("builtins", "__main__") else f"{t.__module__}.{t.__qualname__}"
    try:
        msg = str(exc)
    except Exception:
        msg = f"[unprintable {t.__name__}]"
    return name, msg


def exception_fields(exc: BaseException) -> dict[str, str]:
    """``error.type``, ``error.message`` and ``error.stack_trace`` (chained causes included)."""
    t = type(exc)
    name, msg = error_type_and_message(exc)
    try:
        stack = "".join(traceback.format_exception(t, exc, exc.__traceback__))
    except Exception:
        stack = f"{name}: {msg}"
    return {"error.type": name, "error.message": msg, "error.stack_trace": stack}


class _Plan(NamedTuple):
    """Where an application key goes (cached per key by :meth:`Renderer._plan`)."""
    kind: object                       # _PLAIN, _TEXT, _SECRET or _SPREAD
    path: Any                          # the field's dotted name split (a str for _SPREAD)
    parents: tuple[str, ...] | None    # set only when build() may place a value directly
    leaf: str | None
    accept: Any                        # the Python types the field takes as they are
    es_type: str | None


class Renderer:
    """Turns events into JSON lines for one service. Options are fixed at construction.

    The line is built as the nested object directly (no flat intermediate) from per-key plans
    cached on first sight, and the fields that never change are shared, pre-nested objects:
    this is the hot path of every log call in every service.
    """

    def __init__(self, service: str | None = None, service_type: str = "script", *,
                 environment: str | None = None, dataset: str | None = None,
                 version: str | None = None, mask: bool = True,
                 secret_keys: tuple[str, ...] | None = None, extra_secret_keys: tuple[str, ...] = (),
                 max_length: int = 16_384, max_stack_trace: int = 65_536, include_origin: bool = False,
                 max_line_bytes: int = 512 * 1024):
        if service_type not in schema.SERVICE_TYPES:
            raise ValueError(f"service_type must be one of {schema.SERVICE_TYPES}, not {service_type!r}")
        service = service or os.environ.get("LOGKIT_SERVICE") or os.environ.get("OTEL_SERVICE_NAME") \
            or os.path.basename(sys.argv[0] or "python") or "python"
        environment = environment or os.environ.get("LOGKIT_ENVIRONMENT") or "development"
        self.dataset = dataset or f"logkit.{service_type}"
        svc = {"name": service, "type": service_type, "environment": environment}
        if version:
            svc["version"] = version
        # Shared between events: copied before any event writes into them.
        self._static = {"logkit": {"schema_version": schema.SCHEMA_VERSION}, "service": svc,
                        "host": {"hostname": socket.gethostname()}}
        keys = tuple(secret_keys) if secret_keys is not None else _san.DEFAULT_SECRET_KEYS
        self.sanitizer = Sanitizer(mask=mask, max_length=max_length, max_stack_trace=max_stack_trace,
                                   secret_keys=keys + tuple(extra_secret_keys))
        self.mask = mask
        self.max_length = max_length
        #: Longest line written (below ``logkit validate``'s 1 MiB): past it, values are cut.
        self.max_line_bytes = max_line_bytes
        self.include_origin = include_origin
        self._plans: dict[Any, _Plan] = {}
        self._shapes: dict[tuple, Any] = {}

    # --- where each key goes ---------------------------------------------------------------
    def _plan(self, k: Any) -> _Plan:
        """(kind, path) for an application key; cached, since keys repeat.

        kind: _PLAIN (sanitise by type), _TEXT (also mask secrets in string values),
        _SECRET (the key names a secret), _SPREAD (a namespace given as a dict).
        """
        plan = self._plans.get(k)
        if plan is not None:
            return plan
        name = k if type(k) is str else "extra." + _safe_message(k)
        name = schema.ALIASES.get(name, name)
        if name in _OWNED:  # the renderer's own fields; an application's value is kept, aside
            name = "extra." + name
        f = schema.FIELDS.get(name)
        if f is None:
            top = name.split(".", 1)[0]
            if top not in schema.TOP_LEVEL:
                name = "extra." + name
            elif "." not in name:
                # A bare namespace: a dict spreads into it; a scalar would clash with the
                # object the schema keeps there, so it goes to extra.
                plan = _Plan(_SPREAD, name, None, None, None, None)
        if plan is None:
            if self.mask and self.sanitizer.is_secret_key(name):
                kind = _SECRET
            elif f is not None and not f.free_text:
                kind = _PLAIN
            else:
                kind = _TEXT
            path = tuple(name.split("."))
            accept = _ACCEPT.get(f.type) if f is not None else None
            if f is not None and f.name == "tags":
                accept = _TAGS
            # parents/leaf make the common case (a value of the right type for a field that is
            # not one of the shared static objects) a dict operation or two in build().
            fast = kind is _PLAIN and accept is not None and path[0] not in self._static and \
                f.type not in ("date", "ip")
            plan = _Plan(kind, path, path[:-1] if fast else None, path[-1], accept,
                    f.type if f is not None else None)
        if len(self._plans) < 10_000:  # keys can be attacker-made; keep the cache bounded
            self._plans[k] = plan
        return plan

    def _put(self, out: dict, k: Any, v: Any, depth: int = 0) -> None:
        kind, path, _, _, accept, es_type = self._plan(k)
        if kind is _SPREAD:
            if isinstance(v, Mapping) and depth < 4:
                for sub, x in v.items():
                    self._put(out, f"{k}.{sub}", x, depth + 1)
                return
            kind, path = _TEXT, ("extra", path)
        elif accept is not None and type(v) not in accept and kind is not _SECRET:
            # A value of the wrong type for a schema field would make Elasticsearch reject the
            # whole event: stringify what reads naturally as text, keep the rest under extra.
            if v is None:
                if ".".join(path) in _CORE:
                    return
            elif es_type == "date" and isinstance(v, (_dt.date, _dt.time)):
                v = v.isoformat()  # a tzinfo that raises is caught by build(): the value is replaced
            elif str in accept and es_type != "date" and type(v) not in (dict, list, tuple, set, frozenset, bytes):
                v = self.sanitizer.value(v)
                v = v if type(v) is str else _safe_message(v)
            else:
                kind, path = _TEXT, ("extra", *path)
        if accept is _TAGS and type(v) is list:  # tags: a keyword or a list of them
            v = [x if type(x) is str else _safe_message(self.sanitizer.value(x)) for x in v]
        if es_type == "ip" and type(v) is str and kind is not _SECRET:
            try:
                ipaddress.ip_address(v)
            except ValueError:
                kind, path = _TEXT, ("extra", *path)
        elif es_type == "date" and type(v) is str and kind is not _SECRET and not _RFC3339.match(v):
            kind, path = _TEXT, ("extra", *path)
        elif type(v) is int and accept is not None and not -_I64 <= v < _I64 and kind is not _SECRET:
            # Elasticsearch refuses a long outside 64 bits, and the whole event with it
            note(f"{'.'.join(path)}: integer out of the long range moved to extra")
            if es_type in ("double", "float"):
                try:
                    v = float(v)
                except OverflowError:
                    kind, path = _TEXT, ("extra", *path)
            else:
                kind, path = _TEXT, ("extra", *path)
        if kind is _SECRET:
            v = MASK
        else:
            t = type(v)
            if t is str:
                limit = self.sanitizer.max_stack_trace if path == _STACK else self.max_length
                if kind is _TEXT:
                    v = clean_text(v, limit, self.mask)
                elif len(v) > limit:
                    v = truncate(v, limit)
            elif t is not int and t is not float and t is not bool and v is not None:
                v = self.sanitizer.value(v)
            elif t is int and not -(2**63) <= v < 2**64:
                v = safe_int(v)
        node = out
        for part in path[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif type(nxt) is not dict:
                node[part + "_value"] = nxt  # a scalar where an object goes: keep both, visibly
                nxt = node[part] = {}
            elif nxt is self._static.get(part) and node is out:
                nxt = node[part] = dict(nxt)
            node = nxt
        leaf = path[-1]
        if type(v) is dict and type(node.get(leaf)) is dict:
            node[leaf] = {**node[leaf], **v}
        else:
            node[leaf] = v

    def _compile_shape(self, keys: tuple) -> Any:
        """A function placing the fields of one call-site shape, or None when it cannot.

        Log calls repeat the same keys at the same call site. For such a tuple of keys this
        generates straight-line code: unpack the values, check each has its field's type and a
        safe size, mask the free-text ones, and write nested dict literals. It returns False
        (having changed nothing) whenever a value or the event so far does not fit, and the
        general per-key path runs instead; so it is only ever a shortcut, and a test checks the
        two give identical events. Field names reach the code as ``repr()`` literals only, and only
        for keys that are plain identifiers-with-dots of bounded length.
        """
        if not 0 < len(keys) <= 32:
            return None
        tree: dict = {}
        guards, masks = [], []
        for i, k in enumerate(keys):
            if type(k) is not str or len(k) > 100 or not _SAFE_KEY.match(k):
                return None
            kind, path, _, _, accept, es_type = self._plan(k)
            if kind not in (_PLAIN, _TEXT) or path[0] in self._static or es_type in ("date", "ip") \
                    or (path[0] == "event" and len(path) != 2):
                return None
            v = f"v{i}"
            if accept is None:
                if es_type is not None:  # tags and other any-shaped schema fields
                    return None
                guards.append(f"(type({v}) is str and len({v}) <= M or type({v}) is int and -I <= {v} < I "
                              f"or type({v}) in S)")
            elif accept is _S:
                guards.append(f"type({v}) is str and len({v}) <= M")
            elif accept is _I:
                guards.append(f"type({v}) is int and -I <= {v} < I")
            elif accept is _F:
                guards.append(f"(type({v}) is float or type({v}) is int and -I <= {v} < I)")
            elif accept is _B:
                guards.append(f"type({v}) is bool")
            else:
                return None
            if kind is _TEXT and self.mask:
                masks.append(f"    if type({v}) is str: {v} = mask({v})")
            node = tree
            for part in path[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    return None
            if path[-1] in node:
                return None
            node[path[-1]] = v

        def literal(node) -> str:
            return "{" + ", ".join(f"{k!r}: {literal(x) if isinstance(x, dict) else x}" for k, x in node.items()) + "}"

        tops = [t for t in tree if t != "event"]
        lines = ["def apply(out, fields):",
                 f"    {', '.join(f'v{i}' for i in range(len(keys)))}, = fields.values()",
                 f"    if not ({' and '.join(guards)}):", "        return False"]
        if tops:
            lines += [f"    if {' or '.join(f'{t!r} in out' for t in tops)}:", "        return False"]
        lines += masks
        for t in tops:
            lines.append(f"    out[{t!r}] = {literal(tree[t])}")
        if "event" in tree:
            lines.append("    ev = out['event']")
            lines += [f"    ev[{leaf!r}] = {v}" for leaf, v in tree["event"].items()]
        lines.append("    return True")
        ns = {"M": self.max_length, "I": _I64, "S": _SCALARS, "mask": mask_text}
        exec(compile("\n".join(lines), "<logkit shape>", "exec"), ns)  # noqa: S102 - see docstring
        return ns["apply"]

    # --- the event -------------------------------------------------------------------------
    def build(self, message: Any, level: str, logger: str | None, created: float,
              fields: Mapping[str, Any] | None = None, exc: BaseException | None = None,
              origin: tuple[str, int, str] | None = None) -> dict[str, Any]:
        """The nested event, sanitised, in ecs-logging order."""
        global _ts_cache
        msg = message if type(message) is str else _safe_message(message)
        if len(msg) > self.max_length or not self.mask:
            msg = clean_text(msg, self.max_length, self.mask)
        else:
            msg = mask_text(msg)
        ms = int(created * 1000)
        sec, frac = divmod(ms, 1000)
        cached_sec, prefix = _ts_cache  # format_timestamp(), inlined: this is the hot path
        if sec != cached_sec:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            _ts_cache = (sec, prefix)
        out: dict[str, Any] = {
            "@timestamp": "%s.%03dZ" % (prefix, frac),
            "log.level": level,
            "message": msg,
            "ecs.version": _ECS_VERSION,
            **self._static,
            "event": {"id": uuid7(ms), "action": "log", "dataset": self.dataset},
            "process": {"pid": _pid},
            "log": {"logger": logger or "root"},
        }
        ctx = get_context()
        if ctx:
            for k, v in ctx.items():
                try:
                    self._put(out, k, v)
                except Exception as e:
                    self._replace(out, k, v, e)
        if fields:
            keys = tuple(fields)
            shape = self._shapes.get(keys, _MISS)
            if shape is _MISS:
                shape = self._compile_shape(keys)
                if len(self._shapes) < 512:
                    self._shapes[keys] = shape
            if shape is not None and shape(out, fields):
                fields = None
        if fields:
            plans = self._plans
            maxlen = self.max_length
            for k, v in fields.items():
                plan = plans.get(k)
                t = type(v)
                if plan is not None and plan.parents is not None and t in plan.accept and (
                        t is str and len(v) <= maxlen or t is int and -_I64 <= v < _I64 or t in _SCALARS):
                    parents = plan.parents
                    if len(parents) == 1:  # most fields: "url.domain", "event.action"
                        node = out.get(parents[0])
                        if node is None:
                            out[parents[0]] = {plan.leaf: v}
                            continue
                        if type(node) is dict:
                            node[plan.leaf] = v
                            continue
                    else:
                        node = out
                        for part in parents:
                            nxt = node.get(part)
                            if nxt is None:
                                nxt = node[part] = {}
                            elif type(nxt) is not dict:
                                break
                            node = nxt
                        else:
                            node[plan.leaf] = v
                            continue
                try:
                    self._put(out, k, v)
                except Exception as e:  # one bad value must not lose the event
                    self._replace(out, k, v, e)
        if exc is not None:
            err = out.get("error")
            for k, v in exception_fields(exc).items():
                if not (type(err) is dict and k[6:] in err):
                    try:
                        self._put(out, k, v)
                    except Exception as e:
                        self._replace(out, k, v, e)
        if "opentelemetry.trace" in sys.modules:
            otel = _otel_ids()
            if otel is not None:  # an active span's ids win: logs then join traces
                self._put(out, "trace.id", otel[0])
                self._put(out, "span.id", otel[1])
        if origin is not None and self.include_origin:
            self._put(out, "log.origin", {"file": {"name": origin[0], "line": origin[1]}, "function": origin[2]})
        # Values reach event.* only through type-checked placement, so action and dataset are
        # strings here; the outcome must also be one of the allowed values.
        ev_obj = out["event"]
        outcome = ev_obj.get("outcome")
        if outcome is None or outcome not in _OUTCOMES:
            if outcome is not None:
                del ev_obj["outcome"]
                self._put(out, "extra.event.outcome", outcome)
            ev_obj["outcome"] = _DEFAULT_OUTCOME.get(ev_obj["action"]) or (
                "failure" if level == "error" or level == "critical" else "unknown")
        if notes_state.items:
            self._flag(out, takenotes_state())
        return out

    def _replace(self, out: dict, k: Any, v: Any, e: Exception) -> None:
        """Put a placeholder where a value could not be rendered, and say so."""
        name = k if type(k) is str else _safe_message(k)
        try:
            note(f"{name[:100]}: {type(v).__name__} value replaced ({type(e).__name__})")
            self._put(out, "extra." + name[:200], f"[unloggable {type(v).__name__}]")
        except Exception:
            pass

    @staticmethod
    def _flag(out: dict, notes: list[str]) -> None:
        lk = out.get("logkit")
        lk = out["logkit"] = dict(lk) if type(lk) is dict else {}
        prev = lk.get("replaced")
        lk["replaced"] = (prev if type(prev) is list else []) + notes

    def event(self, *args, **kwargs) -> dict[str, Any]:
        """The flat event (dotted names), as readers see it."""
        return flatten(self.build(*args, **kwargs))

    # --- the line --------------------------------------------------------------------------
    def dumps(self, out: Mapping[str, Any]) -> bytes:
        """The JSON line (without newline), at most ``max_line_bytes``. Falls back rather than raise:
        a value JSON cannot carry (a lone surrogate, an object) is replaced and flagged in
        ``logkit.replaced``, and the rest of the event is kept."""
        try:
            line = orjson.dumps(out)
        except Exception as e:
            try:
                notes: list[str] = []
                fixed = _repair(out, "", notes, 0)
                self._flag(fixed, notes or [f"value replaced ({type(e).__name__})"])
                line = orjson.dumps(fixed)
                out = fixed
            except Exception as e2:
                return self.fallback_line(f"[logkit could not render this event: {type(e2).__name__}]",
                                          out.get("log.level"), out)
        if len(line) > self.max_line_bytes:
            line = self._shrink(out, len(line))
        return line

    def _shrink(self, out: Mapping[str, Any], size: int) -> bytes:
        """Cut the event's long values until its line fits, with visible markers."""
        limit, items = self.max_length, 256
        while limit >= 64:
            limit //= 4
            items = max(4, items // 4)
            cut = _cut(out, limit, items, 0)
            self._flag(cut, [f"line of {size} bytes over the {self.max_line_bytes} limit: values cut to {limit} chars"])
            try:
                line = orjson.dumps(cut)
            except Exception:
                break
            if len(line) <= self.max_line_bytes:
                return line
        return self.fallback_line(f"[logkit: event of {size} bytes dropped its fields: over the line limit] "
                                  + truncate(str(out.get("message", "")), 1024), out.get("log.level"), out)

    def fallback_line(self, message: str, level: Any = None, out: Mapping[str, Any] | None = None) -> bytes:
        """A minimal event that still passes ``logkit validate`` (every core field present)."""
        out = out or {}
        ts = out.get("@timestamp")
        ev = out.get("event") if isinstance(out.get("event"), dict) else {}
        eid = ev.get("id")
        lg = out.get("log") if isinstance(out.get("log"), dict) else {}
        line = {
            "@timestamp": ts if type(ts) is str and _RFC3339.match(ts) else format_timestamp(time.time()),
            "log.level": level if level in schema.LEVELS else "error",
            "message": _repair_str(message),
            "ecs.version": schema.ECS_VERSION,
            **self._static,
            "event": {"id": eid if type(eid) is str and len(eid) == 36 else uuid7(), "action": "log",
                      "dataset": self.dataset, "outcome": "unknown"},
            "process": {"pid": _pid},
            "log": {"logger": _repair_str(lg.get("logger")) if type(lg.get("logger")) is str else "logkit"},
        }
        try:
            return orjson.dumps(line)
        except Exception:
            line["message"] = "[logkit could not render this event]"
            line["log"] = {"logger": "logkit"}
            return orjson.dumps(line)

    def render(self, *args, **kwargs) -> bytes:
        return self.dumps(self.build(*args, **kwargs))


_PLAIN, _TEXT, _SECRET, _SPREAD = "plain", "text", "secret", "spread"
# Values of plain (non-free-text) fields that need no sanitising at all.
_SCALARS = frozenset({float, bool, type(None)})
_I64 = 2**63
_OUTCOMES = frozenset(schema.OUTCOMES)
_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_CORE = frozenset(schema.CORE_FIELDS)
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)?$")
# Python types a value may have for each Elasticsearch field type (bool is not an int here).
_S, _I, _F, _B, _D = frozenset({str}), frozenset({int}), frozenset({int, float}), frozenset({bool}), frozenset({dict})
_TAGS = frozenset({str, list})
_ACCEPT = {"keyword": _S, "wildcard": _S, "constant_keyword": _S, "match_only_text": _S, "text": _S, "date": _S, "ip": _S,
           "long": _I, "integer": _I, "double": _F, "float": _F, "boolean": _B, "object": _D, "flattened": _D}
# Set by the renderer on every event; application values for them go to extra.* instead.
_OWNED = frozenset({"@timestamp", "log.level", "message", "ecs.version", "event.id", "logkit.schema_version"})
_ECS_VERSION = schema.ECS_VERSION
# Event types that can only end one way (task.succeeded -> success) default to that outcome.
_DEFAULT_OUTCOME = {a: e.outcomes[0] for a, e in schema.EVENT_TYPES.items() if len(e.outcomes) == 1}
_STACK = ("error", "stack_trace")
_MISS = object()
_TOP_DOTTED = ("@timestamp", "log.level", "message", "ecs.version")
_paths: dict[str, tuple[str, ...]] = {}


def nest(ev: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted names to nested objects, except the keys ecs-logging keeps dotted at the top."""
    out: dict[str, Any] = {}
    for k in _TOP_DOTTED:
        if k in ev:
            out[k] = ev[k]
    for k, v in ev.items():
        if k in out:
            continue
        path = _paths.get(k)
        if path is None:
            path = tuple(k.split("."))
            if len(_paths) < 10_000:
                _paths[k] = path
        if len(path) == 1:
            if k in out and isinstance(out[k], dict) and isinstance(v, dict):
                out[k].update(v)
            else:
                out[k] = v
            continue
        node = out
        for part in path[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                if nxt is not None:  # a scalar where an object must go: keep both, visibly
                    node[part + "_value"] = nxt
                nxt = node[part] = {}
            node = nxt
        leaf = path[-1]
        if isinstance(node.get(leaf), dict) and isinstance(v, dict):
            node[leaf].update(v)
        else:
            node[leaf] = v
    return out


def flatten(obj: Mapping[str, Any], prefix: str = "", out: dict | None = None,
            keep: frozenset[str] = frozenset(n for n, f in schema.FIELDS.items()
                                              if f.type in ("flattened", "object"))) -> dict[str, Any]:
    """Nested (or mixed dotted/nested) event to flat dotted names; the inverse of :func:`nest`.

    Values of ``flattened``/``object`` fields (``extra``, ``labels``, ``scrapy.stats``) stay whole.
    """
    out = {} if out is None else out
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v and name not in keep:
            flatten(v, name + ".", out, keep)
        else:
            out[name] = v
    return out


def _repair_str(s: str) -> str:
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:  # lone surrogates: shown as \udXXX text
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _repair(v: Any, path: str, notes: list[str], depth: int) -> Any:
    """A copy of rendered data that JSON can carry, noting each replacement."""
    t = type(v)
    if t is str:
        r = _repair_str(v)
        if r is not v:
            notes.append(f"{path or 'value'}: lone surrogate escaped")
        return r
    if t is dict:
        if depth > 40:
            return "[max depth]"
        return {_repair(k, path, notes, depth + 1) if type(k) is str else _safe_message(k):
                _repair(x, f"{path}.{k}" if path else str(k), notes, depth + 1) for k, x in v.items()}
    if t is list or t is tuple:
        return [_repair(x, path, notes, depth + 1) for x in v]
    if t is int:
        if -(2**63) <= v < 2**64:
            return v
        notes.append(f"{path}: integer too large for JSON")
        return safe_int(v) if abs(v).bit_length() < 14000 else f"[int of {v.bit_length()} bits]"
    if t is float or t is bool or v is None:
        return v
    notes.append(f"{path}: {t.__name__} value replaced")
    return f"[unloggable {t.__name__}]"


def _cut(v: Any, limit: int, items: int, depth: int) -> Any:
    t = type(v)
    if t is str:
        return truncate(v, limit)
    if t is dict:
        if depth == 0:  # the line's own fields stay whole
            return {k: (x if k in _TOP_DOTTED[:2] or k == "ecs.version" else _cut(x, limit, items, 1)) for k, x in v.items()}
        out = {}
        for i, (k, x) in enumerate(v.items()):
            if i >= items * 4:
                out["…"] = f"[{len(v) - i} more keys cut: line size limit]"
                break
            out[truncate(k, 256)] = _cut(x, limit, items, depth + 1)
        return out
    if t is list:
        out = [_cut(x, limit, items, depth + 1) for x in v[:items]]
        if len(v) > items:
            out.append(f"…[{len(v) - items} more items cut: line size limit]")
        return out
    return v


def _safe_message(m: Any) -> str:
    try:
        return str(m)
    except Exception:
        return f"[unprintable {type(m).__name__}]"
