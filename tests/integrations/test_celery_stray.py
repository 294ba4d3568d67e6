"""Issue 15: a logkit-configured Celery worker writes only logkit events — billiard's pool
supervisor records (a child killed with SIGKILL) and Celery's warnings included. A REAL prefork
worker on the REAL Redis broker."""
from __future__ import annotations

import json
import os
import signal

import pytest

from support.integrations_support import running_worker, wait_events, wait_for

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_killed_pool_child_and_warnings_are_logkit_events(redis_url, tmp_path):
    with running_worker(redis_url, tmp_path / "w", concurrency=1) as (proc, log_file, err_file):
        kids = wait_for(lambda: _children(proc.pid), 30, 0.2, "the pool child")
        os.kill(kids[0], signal.SIGKILL)
        evs = wait_events(log_file, lambda evs: [e for e in evs if "exited with" in e.get("message", "")],
                          what="billiard's 'exited with' record")
        [ev] = [e for e in evs if "exited with" in e["message"]]
        assert "signal 9" in ev["message"] and ev["log.level"] == "error"
        assert ev["log.logger"] == "multiprocessing" and ev["service.name"] == "shop-worker" and ev["event.id"]
        # the pool replaces the child and the worker goes on
        wait_for(lambda: [k for k in _children(proc.pid) if k != kids[0]], 30, 0.2, "a new pool child")
        if os.geteuid() == 0:  # Celery warns a worker running as root: that warning is an event too
            sec = [e for e in evs if "superuser privileges" in e.get("message", "")]
            assert sec and sec[0]["log.logger"] == "py.warnings", [e["message"] for e in evs][:20]
    err = err_file.read_text(errors="replace")
    for line in err.splitlines():
        # the stream copy is off (stream=None): stderr/stdout hold at most Celery's banner, which is print()
        assert "exited with" not in line and "Warning" not in line and "Traceback" not in line, line
        if line.startswith("{"):
            json.loads(line)
