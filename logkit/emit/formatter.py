"""``logkit.JSONFormatter``: the stdlib face of the renderer, nameable in any dictConfig.

    "formatters": {"json": {"()": "logkit.JSONFormatter", "service": "shop", "service_type": "django"}}
"""
from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS  # the LogRecord attributes that are not user extras

from .render import Renderer, level_name

# python-json-logger keeps the authoritative list of LogRecord attributes; add the ones
# formatters and newer Pythons set, and the record attribute the structlog path uses.
_RESERVED = frozenset(RESERVED_ATTRS) | {"message", "asctime", "taskName", "logkit_fields", "color_message"}


class JSONFormatter(logging.Formatter):
    """Formats a LogRecord as one logkit JSON event (or a readable line with ``renderer="console"``).

    Extra attributes (``logger.info("...", extra={"url.domain": d})``) become fields; dotted
    schema names land where the schema puts them, unknown names under ``extra.*``.
    """

    def __init__(self, service: str | None = None, service_type: str = "script", *,
                 environment: str | None = None, dataset: str | None = None, version: str | None = None,
                 mask: bool = True, secret_keys=None, extra_secret_keys=(), max_length: int = 16_384,
                 max_stack_trace: int = 65_536, include_origin: bool = False, renderer: str = "json",
                 fmt=None, datefmt=None, style="%", validate=True, **_ignored: Any):
        super().__init__()
        if renderer not in ("json", "console"):
            raise ValueError("renderer must be 'json' or 'console'")
        self.renderer = Renderer(service, service_type, environment=environment, dataset=dataset,
                                 version=version, mask=mask,
                                 secret_keys=tuple(secret_keys) if secret_keys else None,
                                 extra_secret_keys=tuple(extra_secret_keys), max_length=max_length,
                                 max_stack_trace=max_stack_trace, include_origin=include_origin)
        self._console = None
        if renderer == "console":
            from .console import ConsoleRenderer
            self._console = ConsoleRenderer()

    def event(self, record: logging.LogRecord) -> dict[str, Any]:
        """The flat event for a record (what :meth:`format` serialises)."""
        fields = getattr(record, "logkit_fields", None)
        if fields is None:
            d = record.__dict__
            fields = {k: v for k, v in d.items() if k not in _RESERVED}
        try:
            message = record.getMessage()
        except Exception as e:  # bad %-args must not lose the event
            message = f"{record.msg!r} % {record.args!r} [logkit: message formatting failed: {e}]"
        exc = None
        if record.exc_info:
            exc = record.exc_info[1]
        origin = (record.pathname, record.lineno, record.funcName) if self.renderer.include_origin else None
        ev = self.renderer.event(message, level_name(record.levelno), record.name, record.created,
                                 fields, exc, origin)
        if record.stack_info:
            ev.setdefault("error.stack_trace", self.renderer.sanitizer.text(record.stack_info))
        return ev

    def format(self, record: logging.LogRecord) -> str:
        try:
            ev = self.event(record)
            if self._console is not None:
                return self._console(ev)
            return self.renderer.dumps(ev).decode()
        except Exception as e:  # never into the application
            return self.renderer.dumps({"@timestamp": None, "log.level": "error",
                                        "message": f"[logkit formatter failed: {type(e).__name__}]"}).decode()
