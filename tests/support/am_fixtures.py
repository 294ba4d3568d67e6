"""A real Prometheus Alertmanager and a real HTTP webhook receiver, for tests.

Reusable (the alert tests and the metrics tests use it)::

    from support.am_fixtures import alertmanager, webhook_receiver  # noqa: F401  (pytest fixtures)

    def test_x(alertmanager, webhook_receiver):
        alertmanager.post_alerts([{"labels": {"alertname": "X"}}])
        alertmanager.wait_alerts(lambda alerts: len(alerts) == 1)
        webhook_receiver.wait_for(lambda reqs: any(r.json["status"] == "firing" for r in reqs))

- :class:`WebhookReceiver` — a threaded ``http.server`` on 127.0.0.1 (free port) that records every
  request (path, headers, body, parsed JSON) and answers 200, or what ``fail_next``/``respond`` say
  (e.g. two 500s then 200, or always 503). ``url`` is its base URL.
- :class:`Alertmanager` — the Debian ``prometheus-alertmanager`` binary (path from
  ``LOGKIT_TEST_ALERTMANAGER``, set by scripts/components/70-alertmanager.sh) started on 127.0.0.1 with
  a free port, ``--cluster.listen-address=`` (clustering off), ``--storage.path`` in a temporary
  directory, a route with ``group_wait``/``group_interval`` of 1s and ``group_by: ['...']`` (each alert
  its own group) whose webhook receiver (``send_resolved: true``) is a :class:`WebhookReceiver`.
  ``start()`` waits on ``/-/ready``; ``stop()`` sends SIGTERM (then SIGKILL after 10 s).
- fixtures ``webhook_receiver`` and ``alertmanager`` (function scope: each test gets a fresh one),
  and :func:`start_alertmanager` for other setups (a custom config, several receivers).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest

__all__ = ["WebhookReceiver", "Request", "Alertmanager", "start_alertmanager", "alertmanager", "webhook_receiver",
           "free_port", "wait_until"]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll ``pred`` until it returns a truthy value (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int                       # what the receiver answered
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class WebhookReceiver:
    """A real local HTTP server capturing POSTed notifications."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._plan: list[int] = []         # statuses for the next requests, then 200
        self.always: int | None = None     # answer this status to every request (a dead endpoint)
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with recv._lock:
                    status = recv.always or (recv._plan.pop(0) if recv._plan else 200)
                    recv.requests.append(Request(self.command, self.path, dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                payload = b"ok" if status < 400 else b"failing on purpose"
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next ``n`` requests get ``status``; later ones 200."""
        with self._lock:
            self._plan = [status] * n

    def received(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, pred: Callable[[list[Request]], Any], timeout: float = 30.0, path: str | None = None):
        return wait_until(lambda: pred(self.received(path)), timeout, what="webhook requests")

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_CONFIG = """\
route:
  receiver: test
  group_by: ['...']
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: {repeat_interval}
receivers:
  - name: test
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
"""


class Alertmanager:
    """One Alertmanager process (see the module docstring)."""

    def __init__(self, binary: str, webhook_url: str, workdir: str, *, group_wait: str = "1s",
                 group_interval: str = "1s", repeat_interval: str = "1h", config: str | None = None):
        self.binary = binary
        self.workdir = workdir
        self.config_path = os.path.join(workdir, "alertmanager.yml")
        self.storage = os.path.join(workdir, "data")
        self.log_path = os.path.join(workdir, "alertmanager.log")
        os.makedirs(self.storage, exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write(config or _CONFIG.format(group_wait=group_wait, group_interval=group_interval,
                                             repeat_interval=repeat_interval, webhook_url=webhook_url))
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.url = ""

    def start(self, timeout: float = 30.0) -> "Alertmanager":
        last = ""
        for _ in range(3):  # a free port can be taken between the check and the bind: retry
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [self.binary, f"--config.file={self.config_path}", f"--storage.path={self.storage}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
                 "--log.level=info"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.1)
            last = self.tail_log()
            self.stop()
        raise RuntimeError(f"Alertmanager did not become ready: {last}")

    def tail_log(self, n: int = 3000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def api(self, path: str, body: Any = None, method: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def alerts(self, active: bool | None = None) -> list[dict]:
        """``GET /api/v2/alerts`` (by default Alertmanager lists active alerts only)."""
        q = "" if active is None else f"?active={'true' if active else 'false'}"
        return self.api("/api/v2/alerts" + q)

    def post_alerts(self, alerts: list[dict]) -> None:
        self.api("/api/v2/alerts", alerts)

    def wait_alerts(self, pred: Callable[[list[dict]], Any], timeout: float = 30.0, **kw):
        return wait_until(lambda: pred(self.alerts(**kw)), timeout, what="Alertmanager alerts")

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def alertmanager_binary() -> str:
    b = os.environ.get("LOGKIT_TEST_ALERTMANAGER")
    if not b:
        pytest.fail("LOGKIT_TEST_ALERTMANAGER is not set: run the tests through scripts/test.sh "
                    "(scripts/components/70-alertmanager.sh installs prometheus-alertmanager).")
    return b


def start_alertmanager(webhook_url: str, workdir: str | None = None, **kw) -> Alertmanager:
    """Start an Alertmanager whose webhook receiver is ``webhook_url``; the caller stops it."""
    workdir = workdir or tempfile.mkdtemp(prefix="logkit-am-")
    return Alertmanager(alertmanager_binary(), webhook_url, workdir, **kw).start()


@pytest.fixture
def webhook_receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def alertmanager(webhook_receiver, tmp_path):
    """A fresh Alertmanager whose notifications go to ``webhook_receiver`` at path ``/am``."""
    am = start_alertmanager(webhook_receiver.url + "/am", str(tmp_path / "am"))
    yield am
    am.stop()
    shutil.rmtree(str(tmp_path / "am" / "data"), ignore_errors=True)
