"""State persisted between runs: a re-run does not re-notify; the repeat interval re-notifies; a
resolution is notified once; the state file is atomic, versioned and free of secrets."""
from __future__ import annotations

import io
import json

import pytest

from test_alert_helpers import Logs, at

from logkit.alert import State, StateError, check, parse
from logkit.alert.state import fingerprint

RULES = """
routes: [{type: stdout}]
rules:
  - name: Timeouts
    kind: frequency
    filter: {event.action: download.failed}
    group_by: url.domain
    value: 3
    window: 30m
    repeat_interval: 20m
    labels: {severity: warning, team: scraping}
    annotations: {summary: "{domain}: {count} failures"}
"""


def _logs(tmp_path) -> str:
    lg = Logs()
    for k in range(40):                 # a.example fails every minute from 0 to 40
        lg.download_failed(k + 0.5, "a.example")
    lg.download_failed(5.5, "b.example")
    return lg.write(tmp_path / "logs.ndjson")


def _run(rules, logs, minute, state):
    buf = io.StringIO()
    res = check(rules, [logs], now=at(minute), state=state, stream=buf)
    return res, [json.loads(x) for x in buf.getvalue().splitlines()]


def test_rerun_does_not_renotify_and_repeat_interval_does(tmp_path):
    rules, logs, state = parse(RULES), _logs(tmp_path), str(tmp_path / "state.json")
    res, out = _run(rules, logs, 10, state)
    assert [(n["status"], n["labels"]["domain"], n["repeat"]) for n in out] == [("firing", "a.example", False)]
    assert res.firing[0].labels == {"alertname": "Timeouts", "severity": "warning", "team": "scraping",
                                    "domain": "a.example"}
    # the same check again (cron, a minute later, or the very same time): nothing new to say
    for m in (10, 11, 25):
        res, out = _run(rules, logs, m, state)
        assert out == [] and len(res.firing) == 1
    # repeat_interval (20m) after the last notification: notified again, marked as a repeat
    res, out = _run(rules, logs, 30, state)
    assert [(n["status"], n["repeat"]) for n in out] == [("firing", True)]
    _, out = _run(rules, logs, 35, state)
    assert out == []
    # the failures stop at 40; the window [41, 71) is clean at 71: resolved, once
    _, out = _run(rules, logs, 71, state)
    assert [(n["status"], n["ends_at"]) for n in out] == [("resolved", "2026-11-24T07:11:00.000Z")]
    assert _run(rules, logs, 72, state)[1] == []
    # a new episode after resolution is a new alert (new startsAt), notified again
    doc = json.load(open(state))
    (rec,) = doc["alerts"].values()
    assert rec["status"] == "resolved" and rec["fired_at"] == "2026-11-24T06:10:00.000Z"


def test_without_state_every_run_notifies(tmp_path):
    rules, logs = parse(RULES), _logs(tmp_path)
    assert len(_run(rules, logs, 10, None)[1]) == 1
    assert len(_run(rules, logs, 11, None)[1]) == 1


def test_state_file_shape_and_fingerprint(tmp_path):
    rules, logs, state = parse(RULES), _logs(tmp_path), str(tmp_path / "d" / "state.json")
    _run(rules, logs, 10, state)
    doc = json.load(open(state))
    assert doc["version"] == 1 and set(doc) == {"version", "alerts", "rules", "patterns", "outbox"}
    (fp, rec), = doc["alerts"].items()
    assert fp == fingerprint(rec["labels"]) and rec["status"] == "firing"
    assert doc["rules"]["Timeouts"]["last_eval"] == "2026-11-24T06:10:00.000Z"
    # labels in another order: the same fingerprint
    assert fingerprint(dict(reversed(list(rec["labels"].items())))) == fp
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.startswith(".logkit-alerts-")]  # no temp left


def test_corrupt_state_is_a_clear_error(tmp_path):
    p = tmp_path / "state.json"
    p.write_text("{not json")
    with pytest.raises(StateError, match="cannot read the alert state"):
        State.load(str(p))
    p.write_text('{"version": 99}')
    with pytest.raises(StateError, match="not a logkit alert state"):
        State.load(str(p))


def test_alerts_of_a_rule_that_errors_are_kept_not_resolved(tmp_path):
    """An evaluation error is not a resolution: the alert stays firing in the state."""
    rules, logs, state = parse(RULES), _logs(tmp_path), str(tmp_path / "state.json")
    _run(rules, logs, 10, state)
    st = State.load(state)
    from logkit.alert.engine import evaluate_all

    class Broken:
        def execute(self, *a, **k):
            import duckdb
            raise duckdb.IOException("disk gone")

    _, notes, errors = evaluate_all(rules, Broken(), at(80), st)
    assert errors == {"Timeouts": "IOException: disk gone"} and notes == []
    assert [a.status for a in st.alerts.values()] == ["firing"]
