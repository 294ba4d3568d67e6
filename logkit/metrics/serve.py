"""``logkit metrics serve``: follow log files and serve ``/metrics``.

Files are followed by the shipper's reader (:class:`logkit.ship.tail.Tailer`): globs re-scanned,
rotation by rename or copytruncate, partial last lines held until complete, oversized lines
counted. Each batch of lines goes through the :class:`~logkit.metrics.aggregate.Aggregator`; the
official ``prometheus_client`` HTTP server (its own thread) serves the aggregator's figures.

**Restarts.** Without ``--state`` every start reads the files from their beginning, so the counters
are totals over the files on disk (a restart is a counter reset to Prometheus, which ``rate()``
handles). With ``--state FILE`` the read offsets *and* the counters are saved together, in one
atomic write (temporary file, fsync, rename), every ``save_interval`` seconds and at shutdown; a
restart resumes both, so counters continue where they were and no line is counted twice, whatever
the moment of a crash (what was counted after the last save is read again and counted once, since
its counts were not saved either). ``FILE.lock`` is held (``flock``) so two exporters never share
one state.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from typing import Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from . import definitions as D
from .aggregate import OVERSIZED, PARTIAL, Aggregator

STATE_VERSION = 1


class StateLocked(RuntimeError):
    pass


class Exporter:
    """Follower + aggregator + HTTP server. ``start()``, then ``run()`` (blocks until ``stop()``)."""

    def __init__(self, inputs: Sequence[str], *, addr: str = "127.0.0.1", port: int = 9808,
                 state: str | None = None, broker: str | None = None, queues: Iterable[str] = (),
                 limits: Mapping[str, int] | None = None, allow: Mapping[str, Iterable[str]] | None = None,
                 worker_window: float = 300.0, poll_interval: float = 0.25, save_interval: float = 5.0,
                 partial_timeout: float = 5.0, rescan_interval: float = 1.0,
                 max_line_bytes: int = 1 << 20):
        from ..ship.tail import Registry, Tailer
        self.addr, self.port = addr, port
        self.poll_interval, self.save_interval = poll_interval, save_interval
        self.agg = Aggregator(limits=limits, allow=allow, worker_window=worker_window)
        self.state_path = os.path.abspath(state) if state else None
        self._lock_fd: int | None = None
        reg = Registry(None)
        if self.state_path:
            self._lock_state()
            doc = self._load_state()
            if doc:
                for e in doc.get("registry", []):
                    if isinstance(e, dict) and "key" in e and "offset" in e:
                        reg.entries[e["key"]] = e
                self.agg.restore(doc["metrics"])
        self.tailer = Tailer(inputs, reg, partial_timeout=partial_timeout, rescan_interval=rescan_interval,
                             max_line_bytes=max_line_bytes, keep_bytes=1024)
        self._lag = 0
        self._files = 0
        self.agg.extra.append(self._follower_families)
        self.broker = None
        if broker:
            from .broker import RedisQueues
            self.broker = RedisQueues(broker, queues, discovered=self.agg.queues)
            self.agg.extra.append(self.broker.collect)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.agg)
        self._stop = threading.Event()
        self.httpd = None
        self.lines_read = 0

    # --- state -------------------------------------------------------------------------------
    def _lock_state(self) -> None:
        os.makedirs(os.path.dirname(self.state_path) or ".", exist_ok=True)
        fd = os.open(self.state_path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateLocked(f"state {self.state_path} is in use by another exporter") from None
        self._lock_fd = fd

    def _load_state(self) -> dict | None:
        try:
            with open(self.state_path, "rb") as f:
                doc = json.loads(f.read() or b"{}")
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise ValueError(f"state {self.state_path} is not valid JSON ({e}); move it away to start "
                             f"over (the files would be counted again from their beginning)") from None
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"state {self.state_path} has version {doc.get('version')!r}, expected {STATE_VERSION}")
        return doc

    def save_state(self) -> None:
        if not self.state_path:
            return
        with self.agg.lock:   # offsets and counts from the same instant
            self.tailer.save()
            doc = {"version": STATE_VERSION, "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "registry": list(self.tailer.registry.entries.values()), "metrics": self.agg.snapshot()}
        data = json.dumps(doc, separators=(",", ":")).encode()
        tmp = f"{self.state_path}.tmp.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)
        dfd = os.open(os.path.dirname(self.state_path) or ".", os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    # --- following ---------------------------------------------------------------------------
    def _follower_families(self):
        lag = GaugeMetricFamily("logkit_exporter_lag_bytes", D.BY_NAME["logkit_exporter_lag_bytes"].help)
        lag.add_metric([], self._lag)
        files = GaugeMetricFamily("logkit_exporter_files", D.BY_NAME["logkit_exporter_files"].help)
        files.add_metric([], self._files)
        return [lag, files]

    def _feed(self, lines) -> None:
        from ..ship.tail import LINE, OVERSIZED as T_OVERSIZED
        acks: dict[str, int] = {}
        agg = self.agg
        with agg.lock:
            for ln in lines:
                if ln.kind == LINE:
                    agg._feed_line(ln.data, None)
                else:
                    agg._feed_line(ln.data, OVERSIZED if ln.kind == T_OVERSIZED else PARTIAL)
                acks[ln.source] = ln.end
            for src, end in acks.items():
                self.tailer.ack(src, end)
        self.lines_read += len(lines)

    def step(self) -> int:
        """Read and count what is new; returns the number of lines."""
        lines = self.tailer.poll()
        if lines:
            self._feed(lines)
        return len(lines)

    def _refresh(self) -> None:
        with contextlib.suppress(Exception):
            self._lag = self.tailer.lag()
            self._files = sum(1 for s in self.tailer.sources if not s.stdin)

    def start(self) -> "Exporter":
        from prometheus_client import start_http_server
        self.httpd, _t = start_http_server(self.port, addr=self.addr, registry=self.registry)
        self.port = self.httpd.server_port
        return self

    @property
    def url(self) -> str:
        return f"http://{self.addr}:{self.port}/metrics"

    def run(self) -> None:
        last_save = last_refresh = time.monotonic()
        try:
            while not self._stop.is_set():
                n = self.step()
                now = time.monotonic()
                if now - last_refresh >= 1.0 or not n:
                    self._refresh()
                    last_refresh = now
                if now - last_save >= self.save_interval:
                    self.save_state()
                    last_save = now
                if not n:
                    self._stop.wait(self.poll_interval)
            rest = self.tailer.finish()
            if rest:
                self._feed(rest)
            self.save_state()
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        self.tailer.close()
        if self.broker:
            self.broker.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
