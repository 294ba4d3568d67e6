"""logkit's alerts in a real Prometheus Alertmanager (Debian prometheus-alertmanager, started per test
by tests/support/am_fixtures.py on 127.0.0.1 with clustering off): its v2 API shows them firing, then resolved
once logkit sends endsAt, and the webhook receiver behind it gets both notifications."""
from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

from support.am_fixtures import alertmanager, webhook_receiver  # noqa: F401  (fixtures)
from test_alert_helpers import Logs

from logkit.alert import check, parse

RULES = """
routes:
  - type: alertmanager
    url_env: LOGKIT_TEST_AM_URL
    ttl: 1h
rules:
  - name: CriticalEvents
    kind: critical
    window: 15m
    labels: {severity: critical, team: platform}
    annotations:
      summary: "{service}: {count} critical event(s); latest: {message}"
  - name: Timeouts
    kind: frequency
    filter: {event.action: download.failed}
    group_by: url.domain
    value: 3
    window: 15m
    labels: {severity: warning}
    annotations: {summary: "{domain}: {count} download failures"}
"""


def _wall_logs(tmp_path, now: datetime) -> str:
    """Problems 20 minutes ago (relative to the real clock, so Alertmanager's own clock agrees)."""
    lg = Logs()
    base = (now - timedelta(minutes=20) - _t0()).total_seconds() / 60
    lg.critical(base, "web", "pool exhausted <!channel> & more")
    for k in range(4):
        lg.download_failed(base + k * 0.1, "a.example")
    lg.page(base + 19, "a.example")     # something recent, so the files span up to now
    return lg.write(tmp_path / "logs.ndjson")


def _t0():
    from test_alert_helpers import T0
    return T0


def test_alertmanager_receives_firing_then_resolved(tmp_path, alertmanager, webhook_receiver, monkeypatch):
    monkeypatch.setenv("LOGKIT_TEST_AM_URL", alertmanager.url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    logs = _wall_logs(tmp_path, now)
    rules = parse(RULES, "am-rules.yml")
    state = str(tmp_path / "state.json")

    # 1. evaluated 19 minutes ago: both rules fire; logkit POSTs /api/v2/alerts
    res = check(rules, [logs], now=now - timedelta(minutes=19), state=state)
    assert sorted(a.rule for a in res.firing) == ["CriticalEvents", "Timeouts"]
    assert res.deliveries[0].sent == 2 and not res.deliveries[0].errors
    alerts = alertmanager.wait_alerts(lambda a: len(a) == 2 and a)
    by_name = {a["labels"]["alertname"]: a for a in alerts}
    crit = by_name["CriticalEvents"]
    assert crit["status"]["state"] == "active"
    assert crit["labels"] == {"alertname": "CriticalEvents", "severity": "critical", "team": "platform",
                              "service": "web"}
    assert crit["annotations"]["summary"] == "web: 1 critical event(s); latest: pool exhausted <!channel> & more"
    assert crit["generatorURL"].startswith("file://") and crit["generatorURL"].endswith("am-rules.yml#L7")
    starts = datetime.fromisoformat(crit["startsAt"].replace("Z", "+00:00"))
    ends = datetime.fromisoformat(crit["endsAt"].replace("Z", "+00:00"))
    assert abs((starts - (now - timedelta(minutes=19))).total_seconds()) < 1
    assert abs((ends - (now - timedelta(minutes=19) + timedelta(hours=1))).total_seconds()) < 1
    assert by_name["Timeouts"]["labels"]["domain"] == "a.example"
    firing = webhook_receiver.wait_for(
        lambda reqs: [r for r in reqs if r.json["status"] == "firing" and len(r.json["alerts"]) >= 1] and reqs,
        path="/am")
    got = {a["labels"]["alertname"] for r in firing for a in r.json["alerts"] if a["status"] == "firing"}
    assert got == {"CriticalEvents", "Timeouts"}

    # amtool (Alertmanager's own client) sees them too
    amtool = os.environ.get("LOGKIT_TEST_AMTOOL", "/usr/bin/amtool")
    out = subprocess.run([amtool, "alert", "query", "-o", "json", f"--alertmanager.url={alertmanager.url}"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert {a["labels"]["alertname"] for a in json.loads(out)} == {"CriticalEvents", "Timeouts"}

    # 2. a re-run 5 minutes later: still firing, nothing re-notified by logkit's state, but the firing
    #    alerts are re-sent to Alertmanager (it deduplicates), so they stay active
    res = check(rules, [logs], now=now - timedelta(minutes=14), state=state)
    assert res.notifications == [] and len(res.firing) == 2

    # 3. evaluated now: the window no longer holds the problems -> resolved, endsAt = now
    res = check(rules, [logs], now=now, state=state)
    assert sorted((n.rule, n.status) for n in res.notifications) == [("CriticalEvents", "resolved"),
                                                                       ("Timeouts", "resolved")]
    assert res.firing == [] and res.deliveries[0].sent == 2
    alertmanager.wait_alerts(lambda a: a == [])          # the API lists active alerts only: both gone
    resolved = webhook_receiver.wait_for(
        lambda reqs: {a["labels"]["alertname"] for r in reqs for a in r.json["alerts"] if a["status"] == "resolved"}
        == {"CriticalEvents", "Timeouts"} and reqs, path="/am")
    ends = [a["endsAt"] for r in resolved for a in r.json["alerts"] if a["status"] == "resolved"]
    assert all(abs((datetime.fromisoformat(e.replace("Z", "+00:00")) - now).total_seconds()) < 1 for e in ends)


def test_alertmanager_down_keeps_notifications_for_the_next_run(tmp_path, alertmanager, webhook_receiver,
                                                               monkeypatch):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    logs = _wall_logs(tmp_path, now)
    rules = parse(RULES, "am-rules.yml")
    state = str(tmp_path / "state.json")
    # nothing listens there
    from support.am_fixtures import free_port
    monkeypatch.setenv("LOGKIT_TEST_AM_URL", f"http://127.0.0.1:{free_port()}")
    rules.routes[0].retries, rules.routes[0].backoff = 1, 0.01
    res = check(rules, [logs], now=now - timedelta(minutes=19), state=state)
    assert res.deliveries[0].failed == 2 and res.outbox == 2
    assert "ConnectionRefusedError" in res.deliveries[0].errors[0]
    saved = json.load(open(state))
    assert len(saved["outbox"]) == 2 and "127.0.0.1" not in json.dumps(saved)   # no URL in the state
    # Alertmanager is back: the next run delivers what was kept, and the current firing alerts
    monkeypatch.setenv("LOGKIT_TEST_AM_URL", alertmanager.url)
    res = check(rules, [logs], now=now - timedelta(minutes=18), state=state)
    assert res.deliveries[0].sent == 2 and res.outbox == 0
    alertmanager.wait_alerts(lambda a: len(a) == 2)
    webhook_receiver.wait_for(lambda reqs: len({a["labels"]["alertname"] for r in reqs for a in r.json["alerts"]})
                              == 2, path="/am")


def test_fixture_config_passes_amtool_check(alertmanager):
    amtool = os.environ.get("LOGKIT_TEST_AMTOOL", "/usr/bin/amtool")
    r = subprocess.run([amtool, "check-config", alertmanager.config_path], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
