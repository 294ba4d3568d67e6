"""`logkit metrics serve`: following files (logkit.ship.tail: rotation, partial lines, restarts with
--state) and serving /metrics; Celery queue depth from the real Redis broker (LOGKIT_TEST_REDIS_URL)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from logkit.metrics.broker import queue_keys
from logkit.metrics.serve import Exporter, StateLocked


def ev(action: str, ts: str = "2026-11-24T10:00:00.000Z", **fields) -> bytes:
    e = {"@timestamp": ts, "log.level": "info", "message": "m", "event.action": action, "service.name": "spiders"}
    e.update({k.replace("__", "."): v for k, v in fields.items()})
    return json.dumps(e).encode() + b"\n"


def page(domain: str, status: int = 200) -> bytes:
    return ev("page.fetched", url__domain=domain, http__response__status_code=status)


def scrape(url: str) -> dict[tuple, float]:
    r = requests.get(url, timeout=10)
    r.raise_for_status()
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def pages(url: str, domain: str, cls: str = "2xx") -> float:
    return scrape(url).get(("logkit_scrapy_pages_total", (("domain", domain), ("status_class", cls))), 0.0)


def wait_for(fn, want, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = fn()
        if got == want:
            return got
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout}s: got {got!r}, want {want!r}")


class Running:
    def __init__(self, *args, **kw):
        kw.setdefault("poll_interval", 0.05)
        kw.setdefault("partial_timeout", 0.5)
        kw.setdefault("rescan_interval", 0.2)
        self.ex = Exporter(*args, port=0, **kw).start()
        self.t = threading.Thread(target=self.ex.run, daemon=True)
        self.t.start()

    @property
    def url(self):
        return self.ex.url

    def stop(self):
        self.ex.stop()
        self.t.join(30)
        assert not self.t.is_alive()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def test_follows_appends_partial_lines_and_rotation(tmp_path):
    log = tmp_path / "spiders.ndjson"
    log.write_bytes(page("a") * 3)
    with Running([str(tmp_path / "*.ndjson")]) as r:
        wait_for(lambda: pages(r.url, "a"), 3)
        line = page("a")
        with open(log, "ab") as f:       # a line written in two pieces
            f.write(line[:20])
            f.flush()
            time.sleep(0.5)
            assert pages(r.url, "a") == 3
            f.write(line[20:])
        wait_for(lambda: pages(r.url, "a"), 4)
        # rotation by rename: the rest of the old file and the new file are both counted
        with open(log, "ab") as f:
            f.write(page("a", 503))
        os.rename(log, tmp_path / "spiders.ndjson.1")
        log.write_bytes(page("b") * 2)
        wait_for(lambda: pages(r.url, "b"), 2)
        wait_for(lambda: pages(r.url, "a", "5xx"), 1)
        # copytruncate: the file shrinks and is read again from its start
        log.write_bytes(page("c"))
        wait_for(lambda: pages(r.url, "c"), 1)
        # a new file matching the glob is found
        (tmp_path / "more.ndjson").write_bytes(page("d") + b"{broken\n")
        wait_for(lambda: pages(r.url, "d"), 1)
        s = scrape(r.url)
        assert s[("logkit_exporter_lines_malformed_total", (("reason", "malformed_json"),))] == 1
        assert s[("logkit_exporter_files", ())] >= 2
        wait_for(lambda: scrape(r.url)[("logkit_exporter_lag_bytes", ())], 0.0)
        assert pages(r.url, "a") == 4      # nothing counted twice


def test_partial_last_line_is_taken_at_shutdown_or_after_rotation(tmp_path):
    log = tmp_path / "x.ndjson"
    log.write_bytes(page("a") + page("a").rstrip(b"\n"))     # the last line never gets its newline
    r = Running([str(log)])
    wait_for(lambda: pages(r.url, "a"), 1)
    time.sleep(0.8)          # > partial_timeout: still waiting, the file may grow
    assert pages(r.url, "a") == 1
    os.rename(log, tmp_path / "x.ndjson.1")      # rotated away: the partial line is final
    wait_for(lambda: pages(r.url, "a"), 2)
    r.stop()


def test_state_keeps_counters_and_offsets_across_restarts(tmp_path):
    log = tmp_path / "x.ndjson"
    state = str(tmp_path / "state" / "metrics.json")
    log.write_bytes(page("a") * 5)
    with Running([str(log)], state=state, save_interval=0.2) as r:
        wait_for(lambda: pages(r.url, "a"), 5)
        with pytest.raises(StateLocked):     # one exporter per state
            Exporter([str(log)], port=0, state=state)
    with open(log, "ab") as f:
        f.write(page("a") * 2)
    with Running([str(log)], state=state) as r:
        wait_for(lambda: pages(r.url, "a"), 7)   # 5 restored + 2 new, none counted twice
        time.sleep(0.5)
        assert pages(r.url, "a") == 7
    # without a state, a start counts the files from their beginning
    with Running([str(log)]) as r:
        wait_for(lambda: pages(r.url, "a"), 7)
    doc = json.load(open(state))
    assert doc["version"] == 1 and doc["registry"] and doc["metrics"]["events_read"] == 7


def test_corrupt_state_is_refused_clearly(tmp_path):
    state = tmp_path / "s.json"
    state.write_text("{half")
    with pytest.raises(ValueError, match="not valid JSON"):
        Exporter([str(tmp_path / "x")], port=0, state=str(state))


def test_queue_depth_from_the_redis_broker(tmp_path, redis_url):
    import redis
    rc = redis.Redis.from_url(redis_url)
    names = ["lkm-default", "lkm-reports", "lkm-extra"]
    for q in names:
        for k in queue_keys(q):
            rc.delete(k)
    try:
        # celery's redis transport: priority 0 in "<queue>", priority p in "<queue>\x06\x16<p>"
        rc.lpush("lkm-default", *[b"msg"] * 4)
        rc.lpush("lkm-default\x06\x163", *[b"msg"] * 2)
        rc.lpush("lkm-default\x06\x169", b"msg")
        rc.lpush("lkm-extra", *[b"m"] * 3)
        log = tmp_path / "w.ndjson"
        log.write_bytes(ev("task.sent", celery__task__name="t", celery__task__id="1", celery__task__queue="lkm-default")
                        + ev("task.sent", celery__task__name="t", celery__task__id="2",
                             celery__task__queue="lkm-reports"))
        with Running([str(log)], broker=redis_url, queues=["lkm-extra"]) as r:
            def q():
                s = scrape(r.url)
                return {k[1][0][1]: v for k, v in s.items() if k[0] == "logkit_celery_queue_length"}
            wait_for(q, {"lkm-default": 7, "lkm-reports": 0, "lkm-extra": 3})
            rc.rpop("lkm-default")
            rc.lpush("lkm-reports", b"m")
            wait_for(q, {"lkm-default": 6, "lkm-reports": 1, "lkm-extra": 3})
            assert scrape(r.url)[("logkit_celery_broker_up", ())] == 1
    finally:
        for q in names:
            for k in queue_keys(q):
                rc.delete(k)


def test_broker_down_is_reported_not_raised(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens there
    log = tmp_path / "x.ndjson"
    log.write_bytes(page("a"))
    with Running([str(log)], broker=f"redis://127.0.0.1:{port}/0", queues=["celery"]) as r:
        wait_for(lambda: pages(r.url, "a"), 1)
        s = scrape(r.url)
        assert s[("logkit_celery_broker_up", ())] == 0
        assert not any(k[0] == "logkit_celery_queue_length" for k in s)


def test_cli_serve_starts_serves_and_stops_on_sigterm(tmp_path):
    log = tmp_path / "x.ndjson"
    log.write_bytes(page("a") * 2)
    p = subprocess.Popen([sys.executable, "-m", "logkit", "metrics", "serve", str(log), "--port", "0",
                          "--top-domains", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), (line, p.stderr.read() if p.poll() is not None else "")
        url = line.split()[1]
        wait_for(lambda: pages(url, "a"), 2)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 0


def test_cli_serve_bad_state_exits_2(tmp_path):
    st = tmp_path / "s.json"
    st.write_text("nope")
    p = subprocess.run([sys.executable, "-m", "logkit", "metrics", "serve", str(tmp_path / "x"), "--port", "0",
                        "--state", str(st)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "not valid JSON" in p.stderr
