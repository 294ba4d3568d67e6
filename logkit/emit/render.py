"""The one renderer: every event, from stdlib logging or structlog, becomes a line here.

``Renderer.event()`` builds the flat event (dotted names) from a message, a level, fields and an
exception; ``Renderer.dumps()`` turns it into the ecs-logging line shape: ``@timestamp``,
``log.level``, ``message`` first, ``log.level`` and ``ecs.version`` as dotted top-level keys,
every other dotted name nested. Neither ever raises: a failure produces a minimal line that says
what went wrong.
"""
from __future__ import annotations

import os
import socket
import sys
import time
import traceback
from typing import Any, Mapping

import orjson

from .. import schema
from .context import _context
from .ids import uuid7
from .sanitize import Sanitizer

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
    sec = int(t)
    ms = int((t - sec) * 1000)
    cached_sec, prefix = _ts_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _ts_cache = (sec, prefix)
    return f"{prefix}.{ms:03d}Z"


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


def exception_fields(exc: BaseException) -> dict[str, str]:
    """``error.type``, ``error.message`` and ``error.stack_trace`` (chained causes included)."""
    t = type(exc)
    name = t.__qualname__ if t.__module__ in ("builtins", "__main__") else f"{t.__module__}.{t.__qualname__}"
    try:
        msg = str(exc)
    except Exception:
        msg = f"[unprintable {t.__name__}]"
    try:
        stack = "".join(traceback.format_exception(t, exc, exc.__traceback__))
    except Exception:
        stack = f"{name}: {msg}"
    return {"error.type": name, "error.message": msg, "error.stack_trace": stack}


class Renderer:
    """Turns events into JSON lines for one service. Options are fixed at construction."""

    def __init__(self, service: str | None = None, service_type: str = "script", *,
                 environment: str | None = None, dataset: str | None = None,
                 version: str | None = None, mask: bool = True,
                 secret_keys: tuple[str, ...] | None = None, extra_secret_keys: tuple[str, ...] = (),
                 max_length: int = 16_384, max_stack_trace: int = 65_536, include_origin: bool = False):
        if service_type not in schema.SERVICE_TYPES:
            raise ValueError(f"service_type must be one of {schema.SERVICE_TYPES}, not {service_type!r}")
        service = service or os.environ.get("LOGKIT_SERVICE") or os.environ.get("OTEL_SERVICE_NAME") \
            or os.path.basename(sys.argv[0] or "python") or "python"
        environment = environment or os.environ.get("LOGKIT_ENVIRONMENT") or "development"
        self.dataset = dataset or f"logkit.{service_type}"
        self.static: dict[str, Any] = {
            "ecs.version": schema.ECS_VERSION,
            "logkit.schema_version": schema.SCHEMA_VERSION,
            "service.name": service,
            "service.type": service_type,
            "service.environment": environment,
            "host.hostname": socket.gethostname(),
        }
        if version:
            self.static["service.version"] = version
        keys = tuple(secret_keys) if secret_keys is not None else None
        kw = {} if keys is None else {"secret_keys": keys}
        self.sanitizer = Sanitizer(mask=mask, max_length=max_length, max_stack_trace=max_stack_trace, **kw)
        if extra_secret_keys:
            self.sanitizer = Sanitizer(mask=mask, max_length=max_length, max_stack_trace=max_stack_trace,
                                       secret_keys=tuple(self.sanitizer.secret_keys) + tuple(extra_secret_keys))
        self.include_origin = include_origin
        self._keymap: dict[str, str | None] = {}

    # --- building the flat event ---------------------------------------------------------
    def key(self, k: str) -> str | None:
        """Where an application key goes: itself, its alias's field, or ``extra.<k>``.

        None means "a namespace given as a dict: flatten it". Cached: keys repeat.
        """
        hit = self._keymap.get(k, _MISS)
        if hit is _MISS:
            if k in schema.FIELDS:
                hit = k
            elif k in schema.ALIASES:
                hit = schema.ALIASES[k]
            elif k.split(".", 1)[0] in schema.TOP_LEVEL:
                hit = None if "." not in k else k
            else:
                hit = "extra." + k
            if len(self._keymap) < 10_000:
                self._keymap[k] = hit
        return hit

    def _put(self, ev: dict, k: str, v: Any, depth: int = 0) -> None:
        target = self.key(k) if type(k) is str else "extra." + str(k)
        if target is None:
            if isinstance(v, Mapping) and depth < 4:
                for sub, x in v.items():
                    self._put(ev, f"{k}.{sub}", x, depth + 1)
                return
            # A bare namespace name with a scalar ("url": "...") would clash with the nested
            # object that name holds in the schema; keep it under extra.
            target = "extra." + k
        ev[target] = v

    def event(self, message: Any, level: str, logger: str | None, created: float,
              fields: Mapping[str, Any] | None = None, exc: BaseException | None = None,
              origin: tuple[str, int, str] | None = None) -> dict[str, Any]:
        """The flat event, sanitised and ready for :meth:`dumps`."""
        san = self.sanitizer
        msg = message if type(message) is str else _safe_message(message)
        ev: dict[str, Any] = {
            "@timestamp": format_timestamp(created),
            "log.level": level,
            "message": san.text(msg),
            **self.static,
            "event.id": uuid7(int(created * 1000)),
            "process.pid": _pid,
            "log.logger": logger or "root",
        }
        ctx = _context.get()
        if ctx:
            for k, v in ctx.items():
                self._put(ev, k, v)
        if fields:
            for k, v in fields.items():
                self._put(ev, k, v)
        if exc is not None:
            for k, v in exception_fields(exc).items():
                ev.setdefault(k, v)
        otel = _otel_ids()
        if otel is not None:  # an active span's ids win: logs then join traces
            ev["trace.id"], ev["span.id"] = otel
        if origin is not None and self.include_origin:
            ev["log.origin.file.name"], ev["log.origin.file.line"], ev["log.origin.function"] = origin
        action = ev.get("event.action")
        if action is None:
            action = ev["event.action"] = "log"
        ev.setdefault("event.dataset", self.dataset)
        if "event.outcome" not in ev:
            et = schema.EVENT_TYPES.get(action)
            ev["event.outcome"] = (et.outcomes[0] if et is not None and len(et.outcomes) == 1
                                   else "failure" if level in ("error", "critical") else "unknown")
        for k, v in ev.items():
            if k not in _TRUSTED:
                ev[k] = san.field(k, v)
        return ev

    # --- the line ------------------------------------------------------------------------
    def dumps(self, ev: Mapping[str, Any]) -> bytes:
        """The JSON line (without newline) in the ecs-logging shape."""
        try:
            return orjson.dumps(nest(ev))
        except Exception as e:  # e.g. a value orjson refuses after a hostile __str__
            try:
                return orjson.dumps(nest({k: self.sanitizer.value(v) for k, v in ev.items()}))
            except Exception:
                return orjson.dumps({
                    "@timestamp": ev.get("@timestamp") or format_timestamp(time.time()),
                    "log.level": ev.get("log.level", "error"),
                    "message": f"[logkit could not render this event: {type(e).__name__}]",
                    "ecs.version": schema.ECS_VERSION,
                    "event": {"id": uuid7(), "action": "log", "outcome": "unknown"},
                })

    def render(self, *args, **kwargs) -> bytes:
        return self.dumps(self.event(*args, **kwargs))


_MISS = object()
# Fields the renderer itself sets from safe values: skip re-sanitising them.
_TRUSTED = frozenset({"@timestamp", "log.level", "message", "ecs.version", "logkit.schema_version",
                      "service.name", "service.type", "service.environment", "host.hostname",
                      "event.id", "process.pid"})
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


def _safe_message(m: Any) -> str:
    try:
        return str(m)
    except Exception:
        return f"[unprintable {type(m).__name__}]"
