"""Readable one-line rendering for a developer's terminal (``renderer="console"``).

Delegates to structlog's ConsoleRenderer (colours, aligned levels, exceptions) and hides the
fields that are the same on every line. Log content is attacker-controlled, so control
characters are escaped before they reach the terminal.
"""
from __future__ import annotations

import re
import sys
from typing import Any, Mapping

import structlog

_QUIET = frozenset({"@timestamp", "log.level", "message", "log.logger", "ecs.version", "logkit.schema_version",
                    "service.name", "service.type", "service.environment", "host.hostname", "process.pid",
                    "event.id", "event.dataset", "error.stack_trace"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_terminal(s: str) -> str:
    """Control characters (ANSI escapes included) as visible ``\\xNN``; newlines and tabs kept."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


class ConsoleRenderer:
    def __init__(self, colors: bool | None = None):
        colors = sys.stderr.isatty() if colors is None else colors
        self._r = structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=structlog.dev.plain_traceback)

    def __call__(self, ev: Mapping[str, Any]) -> str:
        d: dict[str, Any] = {"timestamp": ev.get("@timestamp", "")[11:23], "level": ev.get("log.level"),
                             "event": escape_terminal(str(ev.get("message", ""))), "logger": ev.get("log.logger")}
        for k, v in ev.items():
            if k not in _QUIET and not (k == "event.action" and v == "log") and not (
                    k == "event.outcome" and v == "unknown"):
                d[k] = escape_terminal(v) if isinstance(v, str) else v
        out = self._r(None, "info", d)
        if ev.get("error.stack_trace"):
            out += "\n" + escape_terminal(str(ev["error.stack_trace"])).rstrip()
        return out
