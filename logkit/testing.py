"""Helpers for testing code that logs through logkit: capture the events it emits.

    from logkit.testing import capture_events

    def test_order_is_logged():
        with capture_events() as events:
            place_order(42)
        assert events[-1]["event.action"] == "order.placed"

Like ``structlog.testing.capture_logs``, but what you get is what logkit writes: each event is the
JSON object the renderer produces for the line (masking, truncation, schema placement and type
fixes applied), decoded again — flat (dotted names, the default) or nested (``flat=False``, the
exact shape of the line). stdlib ``logging`` calls and ``logkit.get_logger()`` (structlog) calls are
captured alike, and nothing is written to a file or a stream by the capture itself.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

import orjson

from .emit.formatter import JSONFormatter
from .emit.render import flatten

__all__ = ["capture_events", "CaptureHandler"]


class CaptureHandler(logging.Handler):
    """A handler that keeps each record's rendered event (a dict) in :attr:`events`."""

    def __init__(self, formatter: JSONFormatter, *, flat: bool = True, level: int = logging.NOTSET):
        super().__init__(level)
        self.logkit_formatter = formatter
        self.flat = flat
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            f = self.logkit_formatter
            # Through the line's bytes and back: the dict holds exactly what the line holds
            # (datetimes as strings, masked secrets, truncated values), not the renderer's inputs.
            ev = orjson.loads(f.renderer.dumps(f.build(record)))
            self.events.append(flatten(ev) if self.flat else ev)
        except Exception:
            self.handleError(record)


def _configured_formatter(logger: logging.Logger) -> JSONFormatter | None:
    """The logkit formatter the application configured on ``logger`` or its ancestors, if any."""
    c: logging.Logger | None = logger
    while c is not None:
        for h in c.handlers:
            if isinstance(h.formatter, JSONFormatter):
                return h.formatter
        c = c.parent if c.propagate else None
    return None


@contextlib.contextmanager
def capture_events(logger: str | None = None, *, level: int | str = logging.DEBUG, flat: bool = True,
                   formatter: JSONFormatter | None = None, service: str | None = None,
                   service_type: str = "script", **options: Any) -> Iterator[list[dict[str, Any]]]:
    """Collect, in a list, every event logged to ``logger`` (default: the root logger, which every
    propagating logger reaches) while the block runs.

    The events are rendered by ``formatter`` when given; else, when ``service`` or ``options``
    (``mask``, ``max_length``, ...) are given, by a new :class:`~logkit.JSONFormatter` made with them;
    else by the logkit formatter the application configured (found on the logger's handlers), or a
    ``JSONFormatter(service="test")`` when there is none. The logger's
    level is lowered to ``level`` for the block (and restored), so debug events are seen too;
    its handlers keep the level the logger had, so they write what they wrote before.
    Events of loggers with ``propagate=False`` reach only their own handlers: name such a logger.
    """
    lg = logging.getLogger(logger)
    if formatter is not None:
        fmt = formatter
    elif service is not None or options or service_type != "script":
        fmt = JSONFormatter(service or "test", service_type, **options)
    else:
        fmt = _configured_formatter(lg) or JSONFormatter("test")
    handler = CaptureHandler(fmt, flat=flat)
    lvl = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(lvl, int):
        raise ValueError(f"not a logging level: {level!r}")
    old_level, effective = lg.level, lg.getEffectiveLevel()
    raised: list[tuple[logging.Handler, int]] = []
    if effective > lvl:
        # Let the lower levels through to the capture only: the application's handlers get the
        # level the logger had, so what they write does not change while the block runs.
        c: logging.Logger | None = lg
        while c is not None:
            for h in c.handlers:
                if h.level < effective:
                    raised.append((h, h.level))
                    h.setLevel(effective)
            c = c.parent if c.propagate else None
        lg.setLevel(lvl)
    lg.addHandler(handler)
    try:
        yield handler.events
    finally:
        lg.removeHandler(handler)
        lg.setLevel(old_level)
        for h, level in raised:
            h.setLevel(level)
