"""``logkit alerts`` commands: check (exit 0/1/2, files and --db), explain, test, watch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from test_alert_helpers import Logs

from logkit.cli import main

RULES = """\
rules:
  - name: DomainErrors
    kind: threshold
    query: domains
    metric: error_rate
    group_by: domain
    value: 0.5
    sample: requests
    min_sample: 10
    window: 15m
    for: 10m
    every: 5m
    labels: {severity: warning}
    annotations: {summary: "{domain}: {value:.0%} failed"}
  - {name: Crit, kind: critical, window: 15m}
"""


@pytest.fixture
def files(tmp_path):
    lg = Logs()
    for k in range(70):
        lg.page(k + 0.5, "a.example", 503 if 20 <= k < 40 else 200)
        lg.page(k + 0.5, "b.example", 200)
    lg.critical(44.5, "web", "boom \x1b[2J")
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    return str(rules), lg.write(tmp_path / "logs.ndjson")


def _invoke(*args, **kw):
    return CliRunner().invoke(main, ["alerts", *args], catch_exceptions=False, **kw)


def test_check_exit_codes(files, tmp_path):
    rules, logs = files
    r = _invoke("check", rules, logs, "--now", "2026-11-24T06:10:00Z")
    assert r.exit_code == 0 and "no alert firing" in r.stdout
    r = _invoke("check", rules, logs, "--now", "2026-11-24T06:45:00Z")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("FIRING   Crit  service=web  1 critical event(s) in 15m")
    # the rule's summary annotation, not the raw ratio (issue 15)
    assert lines[1].startswith("FIRING   DomainErrors  domain=a.example  a.example: 67% failed  (since 2026-11-24T06:35")
    # pending only (for: not yet reached): exit 0
    r = _invoke("check", rules, logs, "--now", "2026-11-24T06:32:00Z")
    assert r.exit_code == 0 and r.stdout.startswith("PENDING  DomainErrors")
    # bad rules: exit 2, file and line named
    bad = tmp_path / "bad.yml"
    bad.write_text(RULES.replace("metric: error_rate", "metric: eror_rate"))
    r = _invoke("check", str(bad), logs)
    assert r.exit_code == 2 and f"{bad}:5: rule 'DomainErrors': field 'metric'" in r.stderr
    # nothing to read: exit 2
    r = _invoke("check", rules, str(tmp_path / "missing.ndjson"))
    assert r.exit_code == 2 and "no event could be read" in r.stderr
    # json
    r = _invoke("check", rules, logs, "--now", "2026-11-24T06:45:00Z", "--format", "json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and {a["rule"] for a in doc["firing"]} == {"Crit", "DomainErrors"}


def test_check_json_escapes_bidi_and_c1_in_labels(tmp_path):
    # JSON itself allows U+202E and C1 characters raw; on a terminal they reorder or hijack text.
    lg = Logs()
    evil = "a\u202eelpmaxe\x9b.example"
    for k in range(70):
        lg.page(k + 0.5, evil, 503 if 20 <= k < 40 else 200)
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    r = _invoke("check", str(rules), lg.write(tmp_path / "logs.ndjson"), "--now", "2026-11-24T06:45:00Z",
                "--format", "json")
    assert r.exit_code == 1
    assert "\u202e" not in r.stdout and "\x9b" not in r.stdout and "\\u202e" in r.stdout
    assert {a["labels"]["domain"] for a in json.loads(r.stdout)["firing"] if a["rule"] == "DomainErrors"} == {evil}


def test_check_over_a_store(files, tmp_path):
    rules, logs = files
    db = str(tmp_path / "events.duckdb")
    r = CliRunner().invoke(main, ["load", logs, "--db", db])
    assert r.exit_code == 0, r.output
    r = _invoke("check", rules, "--db", db, "--now", "2026-11-24T06:45:00Z")
    assert r.exit_code == 1 and "DomainErrors  domain=a.example" in r.stdout
    r = _invoke("check", "pack:default", "--db", db, "--now", "latest")
    assert r.exit_code in (0, 1), r.output


def test_check_state_and_route_from_the_command_line(files, tmp_path):
    rules, logs = files
    st = str(tmp_path / "st.json")
    args = ["check", rules, logs, "--now", "2026-11-24T06:45:00Z", "--state", st, "--route", "stdout"]
    r = _invoke(*args)
    notes = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert sorted(n["rule"] for n in notes) == ["Crit", "DomainErrors"]
    r = _invoke(*args)
    assert not [x for x in r.stdout.splitlines() if x.startswith("{")]    # re-run: no re-notification
    r = _invoke("check", rules, logs, "--route", "slack:https://hooks.slack.com/x")
    assert r.exit_code == 2 and "environment variable" in r.stderr


def test_explain_table_and_json(files):
    rules, logs = files
    r = _invoke("explain", rules, logs, "--now", "2026-11-24T06:30:00Z", "--format", "json")
    assert r.exit_code == 0
    rows = {(x["rule"], x["group"].get("domain")): x for x in json.loads(r.stdout)["rows"]}
    assert rows[("DomainErrors", "a.example")]["condition"] is True
    assert rows[("DomainErrors", "a.example")]["reason"] == "error_rate 0.6667 > 0.5"
    assert rows[("DomainErrors", "b.example")]["reason"] == "error_rate 0 <= 0.5"
    assert rows[("Crit", None)]["reason"] == "no group has data in the window"
    r = _invoke("explain", rules, logs, "--now", "2026-11-24T06:45:00Z")
    assert r.exit_code == 0 and "error_rate 0.6667 > 0.5" in r.stdout and "firing" in r.stdout
    assert "\x1b" not in r.stdout


def test_test_replays_one_rule(files):
    rules, logs = files
    r = _invoke("test", rules, logs, "--rule", "DomainErrors", "--step", "5m", "--format", "json")
    assert r.exit_code == 0
    trs = [(t["at"][11:16], t["status"]) for t in json.loads(r.stdout)]
    # first evaluation = first event + 5m (06:05:30), every 5 minutes
    assert trs == [("06:30", "pending"), ("06:40", "firing"), ("06:50", "resolved")]
    r = _invoke("test", rules, logs, "--rule", "DomainErrors")
    assert "FIRING   domain=a.example" in r.stdout and "fired 1 time(s), resolved 1 time(s)" in r.stderr
    r = _invoke("test", rules, logs)
    assert r.exit_code == 2 and "name one with --rule" in r.stderr


def test_watch_max_iterations_picks_up_appended_lines(files, tmp_path):
    rules, logs = files
    r = _invoke("watch", rules, logs, "--interval", "0.1s", "--max-iterations", "2", "--now", "latest",
                "--state", str(tmp_path / "w.json"))
    assert r.exit_code == 0, r.output
    assert r.stdout.count("evaluated at") == 2


def test_watch_stops_on_sigterm(files, tmp_path):
    rules, logs = files
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "logkit", "alerts", "watch", rules, logs, "--interval", "1s",
                          "--now", "latest", "--state", str(tmp_path / "w.json")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        first = ""
        while time.monotonic() < deadline and "evaluated at" not in first:
            first += p.stdout.readline()
        assert "evaluated at" in first
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert os.path.exists(tmp_path / "w.json")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
