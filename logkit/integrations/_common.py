"""What the three integrations share: the correlation id, schema-checked names, safe emission."""
from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from typing import Any, Mapping

from .. import schema
from ..emit.context import get_context
from ..emit.render import error_type_and_message


def name(field: str) -> str:
    """``field`` if the schema names it; a KeyError at import time otherwise (a rename fails loudly)."""
    schema.field(field)
    return field


def action(event_type: str) -> str:
    """``event_type`` if the schema defines it."""
    if event_type not in schema.EVENT_TYPES:
        raise KeyError(f"logkit schema has no event type {event_type!r}")
    return event_type


# Names used by more than one integration.
TRACE_ID = name("trace.id")
ACTION = name("event.action")
OUTCOME = name("event.outcome")
DURATION = name("event.duration")
REASON = name("event.reason")
ERROR_TYPE = name("error.type")
ERROR_MESSAGE = name("error.message")
ERROR_STACK = name("error.stack_trace")
URL_FULL = name("url.full")
URL_DOMAIN = name("url.domain")
URL_PATH = name("url.path")
METHOD = name("http.request.method")
STATUS = name("http.response.status_code")
BODY_BYTES = name("http.response.body.bytes")

#: Environment variable (and Scrapy setting) that hands a correlation id to a child process.
TRACE_ENV = "LOGKIT_TRACE_ID"

# A correlation id taken from outside (a header, an environment variable) must be safe to log,
# to put in a header and to use as a search term: a bounded run of URL-safe characters.
_TRACE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


def valid_trace_id(value: Any) -> str | None:
    """``value`` as a correlation id if it is 1–128 characters of ``[A-Za-z0-9._:-]``, else None."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _TRACE_RE.fullmatch(value) else None


def new_trace_id() -> str:
    """A fresh correlation id: 32 hex digits, the shape of an OpenTelemetry trace id."""
    return uuid.uuid4().hex


def otel_trace_id() -> str | None:
    """The active OpenTelemetry span's trace id, if the application uses OpenTelemetry."""
    trace_mod = sys.modules.get("opentelemetry.trace")
    if trace_mod is None:  # never import it ourselves: it costs processes that do not use it
        return None
    try:
        ctx = trace_mod.get_current_span().get_span_context()
        if ctx.is_valid:
            return format(ctx.trace_id, "032x")
    except Exception:
        pass
    return None


def current_trace_id() -> str | None:
    """The correlation id events get right now: an active span's trace id, else the bound ``trace.id``."""
    return otel_trace_id() or valid_trace_id(get_context().get(TRACE_ID))


def trace_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default ``os.environ``) carrying the current correlation id.

    Pass it to a child process (``subprocess.run(cmd, env=logkit.integrations.trace_env())``):
    a Scrapy crawl started with the logkit add-on binds it to every event.
    """
    env = dict(os.environ if environ is None else environ)
    tid = current_trace_id()
    if tid:
        env[TRACE_ENV] = tid
    return env


def emit(logger: logging.Logger, level: int, message: str, fields: dict[str, Any],
         exc_info: Any = None) -> None:
    """Log one event; never raises into the framework that called us."""
    try:
        if logger.isEnabledFor(level):
            logger.log(level, message, extra=fields, exc_info=exc_info)
    except Exception:
        pass


def error_fields(exc: BaseException) -> dict[str, str]:
    """``error.type`` and ``error.message`` for an exception (the stack comes from ``exc_info``)."""
    tname, msg = error_type_and_message(exc)
    return {ERROR_TYPE: tname, ERROR_MESSAGE: msg}
