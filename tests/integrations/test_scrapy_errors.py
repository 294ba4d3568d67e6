"""Download-error classification on REAL failures, through a real Scrapy crawl.

Each failure is produced by a server on 127.0.0.1 (tests/sites/faults.py) or by the OS (a closed
port, a ``.invalid`` name), so the exception chain is whatever the installed Scrapy and Twisted
build — ``DownloadFailedError`` → ``ResponseNeverReceived`` → ``ConnectionLost`` on Scrapy ≥ 2.13,
Twisted's own errors before. Run this module on the oldest and the newest Scrapy the package
allows (docs/scrapy.md says how); it needs no component besides the servers it starts.
"""
from __future__ import annotations

import os
import subprocess

import pytest
import scrapy

from support.integrations_support import PYTHON, ROOT, of, read_ndjson

from logkit.integrations.scrapy import classify_download_error
from tests.sites.faults import PlainServer, ResetServer, SilentServer, closed_port


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    log = tmp_path_factory.mktemp("faults") / "faults.ndjson"
    with ResetServer() as reset, SilentServer() as silent, PlainServer() as plain:
        urls = {
            "refused": f"http://127.0.0.1:{closed_port()}/refused",
            "connection_lost": f"http://127.0.0.1:{reset.port}/reset",
            "timeout": f"http://127.0.0.1:{silent.port}/silent",
            "dns": "http://logkit-errors.invalid/dns",
            "tls": f"https://127.0.0.1:{plain.port}/tls",
        }
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.run([PYTHON, "-m", "tests.sites.faults", "--log-file", str(log), *urls.values()],
                              env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-4000:]
    events = read_ndjson(log)
    by_url = {}
    for e in of(events, "download.failed"):
        by_url.setdefault(e["url.full"], []).append(e)
    return urls, by_url, events


@pytest.mark.parametrize("kind", ["refused", "connection_lost", "timeout", "dns", "tls"])
def test_each_real_failure_gets_its_documented_type(failures, kind):
    urls, by_url, _ = failures
    [event] = by_url.get(urls[kind], [None])
    assert event is not None, f"no download.failed for {urls[kind]}"
    assert event["error.type"] == kind, (scrapy.__version__, event["error.message"])
    assert event["event.outcome"] == "failure" and event["scrapy.retry_times"] == 0


def test_nothing_else_failed_and_no_debug_lines(failures):
    urls, by_url, events = failures
    assert set(by_url) == set(urls.values())
    # LOG_LEVEL = "INFO": Scrapy's start-up DEBUG lines must not get through.
    assert not [e["message"] for e in events if e["log.level"] == "debug"]


# --- the chain walk on hand-built chains (what each Scrapy generation raises) --------------------
def _twisted():
    from twisted.internet import error as te
    from twisted.python.failure import Failure
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived
    return te, Failure, ResponseFailed, ResponseNeverReceived


def test_chain_walk_through_cause_context_and_reasons():
    te, Failure, ResponseFailed, ResponseNeverReceived = _twisted()

    class DownloadFailedError(Exception):  # Scrapy 2.13's wrapper, by name
        pass

    wrapped = DownloadFailedError("x")
    wrapped.__cause__ = ResponseNeverReceived([Failure(te.ConnectionLost())])
    assert classify_download_error(wrapped) == "connection_lost"

    ctx = DownloadFailedError("y")
    ctx.__context__ = ResponseFailed([Failure(te.ConnectionDone()), Failure(te.TimeoutError())])
    assert classify_download_error(ctx) == "timeout"  # the more specific cause wins

    assert classify_download_error(ResponseNeverReceived([])) == "connection_lost"
    assert classify_download_error(DownloadFailedError("z")) == "DownloadFailedError"


def test_chain_walk_survives_cycles_and_odd_objects():
    a, b = ValueError("a"), KeyError("b")
    a.__context__, b.__context__ = b, a
    assert classify_download_error(a) == "ValueError"

    class Weird(Exception):
        @property
        def reasons(self):
            raise RuntimeError("broken property")

    assert classify_download_error(Weird()) == "Weird"
