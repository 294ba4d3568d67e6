"""Issue 15: under Django's real runserver (WSGIRequestHandler), a 500 is the middleware's events
only — no second ERROR record from ``django.server`` without ``trace.id`` and with the socket in
``extra``. A REAL ``manage.py runserver`` process on 127.0.0.1."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

from support.integrations_support import ROOT, free_port, read_ndjson, stop_process, wait_for


def test_runserver_500_is_not_logged_twice(tmp_path):
    port = free_port()
    out = tmp_path / "server.out"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.django_project.settings",
               LOGKIT_TEST_DJANGO_DB=str(tmp_path / "db.sqlite3"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(out, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "django", "runserver", "--noreload", "--skip-checks",
                                 f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=f, stderr=f,
                                start_new_session=True)
    try:
        def up():
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ok/", timeout=2).read()
                return True
            except (urllib.error.URLError, ConnectionError, OSError):
                assert proc.poll() is None, out.read_text(errors="replace")[-2000:]
                return False
        wait_for(up, 60, 0.3, "runserver")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/raises/", timeout=5)
        except urllib.error.HTTPError as e:
            assert e.code == 500
        evs = wait_for(lambda: [e for e in read_ndjson(out) if e.get("event.action") == "http.request"
                                and e.get("http.response.status_code") == 500], 30, 0.2, "the 500's event")
    finally:
        stop_process(proc)
    events = read_ndjson(out)
    assert len(evs) == 1
    tid = evs[0]["trace.id"]
    errors = [e for e in events if e.get("log.level") in ("error", "critical")]
    # the http.exception with the stack trace and the http.request with status 500, both correlated
    assert sorted(e["event.action"] for e in errors) == ["http.exception", "http.request"], errors
    assert all(e.get("trace.id") == tid for e in errors)
    assert not [e for e in events if e.get("log.logger") == "django.server" and "500" in e.get("message", "")]
    assert "socket" not in out.read_text(errors="replace")
