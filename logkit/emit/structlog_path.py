"""``logkit.get_logger()``: a structlog logger whose events go through the same handlers and the
same renderer as stdlib logging, so both produce identical lines.

The bound logger hands its event dict to the stdlib logger of the same name as a record carrying
the fields (``record.logkit_fields``); logkit's formatter renders them directly. Levels, handlers,
filters and propagation are the stdlib's, configured once by ``logging_config()``. This costs one
LogRecord per event, which is what makes every handler (files, queues, pytest's caplog, Sentry)
work with structlog events without a second configuration.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys
import time
import traceback
from typing import Any

import structlog
from structlog.contextvars import merge_contextvars

from .formatter import JSONFormatter
from .handlers import StreamHandler

# Handlers whose emit() is "write the formatted line to self.stream": safe to shortcut.
_SHORTCUT = frozenset({logging.StreamHandler, StreamHandler, logging.FileHandler,
                       logging.handlers.WatchedFileHandler})

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "exception": 40,
           "critical": 50, "fatal": 50, "msg": 20}


_METHODS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}


class _StdlibSink:
    """The wrapped logger: turns (level, event dict) into a stdlib record."""

    __slots__ = ("_logger",)

    def __init__(self, name: str | None):
        self._logger = logging.getLogger(name)

    def enabled(self, levelno: int) -> bool:
        return self._logger.isEnabledFor(levelno)

    def emit(self, levelno: int, event_dict: dict[str, Any]) -> None:
        lg = self._logger
        msg = event_dict.pop("event", "")
        exc_info = event_dict.pop("exc_info", None)
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        elif exc_info is not None and not isinstance(exc_info, tuple):
            exc_info = None
        if exc_info is not None and exc_info[0] is None:
            exc_info = None
        stack_info = event_dict.pop("stack_info", None)
        if lg.disabled:
            return
        if lg.filters or stack_info:
            return self._via_record(levelno, msg, exc_info, event_dict, bool(stack_info))
        # Shortcut for the common handlers (a stream or plain file with a logkit formatter):
        # render straight from the fields, skipping the LogRecord; any other handler gets a
        # record as usual. Propagation and handler levels are honoured as in Logger.callHandlers.
        created = time.time()
        lines: dict[int, str] = {}
        record = None
        found = False
        c = lg
        while c is not None:
            for h in c.handlers:
                found = True
                if levelno < h.level:
                    continue
                f = h.formatter
                if type(h) in _SHORTCUT and isinstance(f, JSONFormatter) and not h.filters \
                        and h.stream is not None:
                    line = lines.get(id(f))
                    if line is None:
                        line = lines[id(f)] = f.format_fields(
                            levelno, msg, lg.name, created, event_dict, exc_info[1] if exc_info else None)
                    try:
                        with h.lock:
                            if type(h) is logging.handlers.WatchedFileHandler:
                                h.reopenIfNeeded()
                            stream = h.stream
                            stream.write(line + h.terminator)
                            stream.flush()  # as StreamHandler.flush(), without taking the lock twice
                    except Exception:
                        h.handleError(None)
                else:
                    if record is None:
                        record = self._record(levelno, msg, exc_info, event_dict, False)
                    h.handle(record)
            if not c.propagate:
                break
            c = c.parent
        if not found:
            self._via_record(levelno, msg, exc_info, event_dict, False)

    def _record(self, levelno, msg, exc_info, event_dict, stack_info: bool) -> logging.LogRecord:
        lg = self._logger
        rec = lg.makeRecord(lg.name, levelno, "", 0, msg, None, exc_info or None)
        if stack_info:
            rec.stack_info = "".join(traceback.format_stack()[:-4])
        rec.logkit_fields = event_dict
        return rec

    def _via_record(self, levelno, msg, exc_info, event_dict, stack_info: bool) -> None:
        try:
            self._logger.handle(self._record(levelno, msg, exc_info, event_dict, stack_info))
        except Exception:
            pass  # handlers report their own errors; nothing reaches the application


class BoundLogger(structlog.BoundLoggerBase):
    """structlog's bind/unbind/new API; one method per level. ``exception()`` adds the traceback."""

    def _log(self, levelno: int, event: Any, args: tuple, kw: dict) -> None:
        if not self._logger._logger.isEnabledFor(levelno):
            return None
        try:
            if args:
                try:
                    event = event % args
                except Exception:
                    event = f"{event!r} % {args!r}"
            event_dict = {**self._context, **kw, "event": event}
            method = _METHODS.get(levelno) or logging.getLevelName(levelno).lower()
            for proc in self._processors:
                event_dict = proc(self._logger, method, event_dict)
            self._logger.emit(levelno, event_dict)
        except Exception:
            pass  # a failing processor must not reach the application
        return None

    def debug(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self._log(10, event, args, kw)

    def info(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self._log(20, event, args, kw)

    msg = info

    def warning(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self._log(30, event, args, kw)

    warn = warning

    def error(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self._log(40, event, args, kw)

    def exception(self, event: Any = None, *args: Any, **kw: Any) -> None:
        kw.setdefault("exc_info", True)
        return self._log(40, event, args, kw)

    def critical(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self._log(50, event, args, kw)

    fatal = critical

    def log(self, level: int, event: Any = None, *args: Any, **kw: Any) -> None:
        return self._log(level, event, args, kw)


def get_logger(name: str | None = None, *processors: Any, **initial: Any) -> BoundLogger:
    """A structlog logger named ``name`` that renders logkit events through the stdlib handlers.

    ``processors`` are structlog processors run first (they see and return the event dict);
    ``initial`` fields are bound on every event. ``structlog.contextvars.bind_contextvars`` works
    as well as ``logkit.bind``.
    """
    return BoundLogger(_StdlibSink(name), [_merge_structlog_contextvars, *processors], initial)


def _merge_structlog_contextvars(logger, method_name, event_dict):
    # structlog's merge_contextvars walks every context variable of the process on each call;
    # skip it while nothing was ever bound through structlog.contextvars.
    if getattr(structlog.contextvars, "_CONTEXT_VARS", True):
        return merge_contextvars(logger, method_name, event_dict)
    return event_dict
