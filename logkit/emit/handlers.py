"""Handlers logkit adds to the standard library's: a non-blocking one, and file sinks by name.

Files use the stdlib handlers as they are: ``WatchedFileHandler`` reopens the file when logrotate
moves it (``create`` mode) and, since it appends, also survives ``copytruncate``;
``RotatingFileHandler`` rotates by size when no logrotate runs.
"""
from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import threading
import time
import weakref
from typing import Any

ROTATIONS = ("watch", "size", "none")


class StreamHandler(logging.StreamHandler):
    """``logging.StreamHandler`` that flushes the stream directly after the write, instead of
    through ``flush()``, which takes the handler's lock a second time on every record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            stream = self.stream
            stream.write(msg + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def make_sink(kind: str = "stream", *, stream: str = "stderr", filename: str | None = None,
              rotation: str = "watch", max_bytes: int = 100 * 2**20, backup_count: int = 5,
              encoding: str = "utf-8") -> logging.Handler:
    """A stream or file handler by name (what :class:`AsyncHandler` writes through)."""
    if kind == "stream":
        return StreamHandler(sys.stdout if stream == "stdout" else sys.stderr)
    if kind != "file" or not filename:
        raise ValueError("a sink is kind='stream', or kind='file' with a filename")
    if rotation == "watch":
        return logging.handlers.WatchedFileHandler(filename, encoding=encoding)
    if rotation == "size":
        return logging.handlers.RotatingFileHandler(filename, maxBytes=max_bytes, backupCount=backup_count,
                                                    encoding=encoding)
    if rotation == "none":
        return logging.FileHandler(filename, encoding=encoding)
    raise ValueError(f"rotation must be one of {ROTATIONS}, not {rotation!r}")


_live: "weakref.WeakSet[AsyncHandler]" = weakref.WeakSet()


class AsyncHandler(logging.Handler):
    """Formats in the caller's thread (so context variables are right), writes in a background one.

    The queue is bounded: when the writer cannot keep up, events are dropped and counted rather
    than blocking the application, and a ``log.dropped`` event says how many. Pending lines are
    written at ``close()`` and at interpreter exit.
    """

    def __init__(self, sink: dict[str, Any] | None = None, maxsize: int = 10_000, level=logging.NOTSET):
        super().__init__(level)
        self.sink = make_sink(**(sink or {}))
        self.sink.setFormatter(logging.Formatter("%(message)s"))
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.dropped = 0
        self._reported = 0
        self._thread = threading.Thread(target=self._run, name="logkit-writer", daemon=True)
        self._thread.start()
        _live.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        try:
            self.queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def _write(self, line: str) -> None:
        self.sink.handle(logging.LogRecord("logkit", logging.INFO, "", 0, line, None, None))

    def _run(self) -> None:
        q = self.queue
        while True:
            line = q.get()
            if line is None:
                return
            self._write(line)
            if self.dropped != self._reported and q.empty():
                self._report_drops()

    def _report_drops(self) -> None:
        n, self._reported = self.dropped - self._reported, self.dropped
        rec = logging.LogRecord("logkit", logging.WARNING, __file__, 0,
                                "%d log events dropped: the non-blocking queue was full", (n,), None)
        rec.__dict__.update({"event.action": "log.dropped", "logkit.dropped": n})
        try:
            self._write(self.format(rec))
        except Exception:
            pass

    def flush(self) -> None:
        deadline = time.monotonic() + 5
        while not self.queue.empty() and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.001)
        self.sink.flush()

    def close(self) -> None:
        if self._thread.is_alive():
            self.queue.put(None)
            self._thread.join(timeout=5)
        if self.dropped != self._reported:
            self._report_drops()
        self.sink.close()
        super().close()


@atexit.register
def _drain_at_exit() -> None:
    for h in list(_live):
        try:
            h.close()
        except Exception:
            pass
