"""Generic webhooks and Slack payloads to a real local HTTP server: payloads, escaping, retries on
500 then success, a permanently failing delivery kept for the next run, secrets never printed."""
from __future__ import annotations

import io
import json
import re

import pytest
from click.testing import CliRunner

from support.am_fixtures import webhook_receiver  # noqa: F401  (fixture)
from test_alert_helpers import Logs, at

from logkit.alert import check, parse
from logkit.alert.sinks import post_json, slack_escape
from logkit.cli import main

SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxb-very-secret-token"
TOKEN = "Bearer tok-7f3a9c-super-secret"

HOSTILE = "evil <!channel> <https://phish.example|click here> & @here `x` \x1b[31mred"


def _rules(kind_route: str, extra: str = "") -> str:
    return f"""
routes:
  {kind_route}
rules:
  - name: Crit
    kind: critical
    window: 15m
    labels: {{severity: critical}}
    annotations:
      summary: "{{service}}: {{message}}"
      runbook_url: "https://runbooks.example/crit"
{extra}
"""


def _logs(tmp_path) -> str:
    return Logs().critical(10.5, "web", HOSTILE).write(tmp_path / "logs.ndjson")


@pytest.fixture
def env(webhook_receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", webhook_receiver.url + SECRET_PATH)
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    return webhook_receiver


def test_webhook_payload_headers_and_resolution(tmp_path, env):
    rules = parse(_rules("- {type: webhook, name: ops, url_env: HOOK_URL, headers_env: {Authorization: HOOK_TOKEN}}"))
    logs, state = _logs(tmp_path), str(tmp_path / "s.json")
    res = check(rules, [logs], now=at(12), state=state)
    assert res.deliveries[0].sent == 1
    (req,) = env.received()
    assert req.path == SECRET_PATH and req.headers["Authorization"] == TOKEN
    assert req.headers["Content-Type"] == "application/json"
    body = req.json
    assert body["version"] == "logkit.alerts/1" and body["receiver"] == "ops" and body["status"] == "firing"
    (a,) = body["alerts"]
    assert a["status"] == "firing" and a["labels"] == {"alertname": "Crit", "severity": "critical", "service": "web"}
    assert a["annotations"]["summary"] == "web: " + HOSTILE       # JSON carries the text as is (encoded)
    assert a["starts_at"] == "2026-11-24T06:12:00.000Z" and a["ends_at"] is None
    check(rules, [logs], now=at(30), state=state)
    assert [r.json["alerts"][0]["status"] for r in env.received()] == ["firing", "resolved"]
    assert env.received()[1].json["alerts"][0]["ends_at"] == "2026-11-24T06:30:00.000Z"
    blob = open(state).read()
    assert "SECRET" not in blob and "tok-7f3a9c" not in blob


def test_slack_payload_escapes_log_content(tmp_path, env):
    rules = parse(_rules("- {type: slack, url_env: HOOK_URL}"))
    check(rules, [_logs(tmp_path)], now=at(12))
    (req,) = env.received()
    p = req.json
    assert p["unfurl_links"] is False and p["unfurl_media"] is False
    texts = [p["text"], p["blocks"][0]["text"]["text"], p["blocks"][1]["elements"][0]["text"]]
    assert p["blocks"][0]["text"]["verbatim"] is True
    main_text = texts[1]
    assert "&lt;!channel&gt;" in main_text and "&lt;https://phish.example|click here&gt; &amp;" in main_text
    assert "@\u200bhere" in main_text and "\x1b" not in main_text
    for t in texts:
        # no control sequence can form: the only < > & are the ones we escaped
        assert "<" not in t and ">" not in t, t
        assert "<!channel>" not in t and not re.search(r"(?<![\u200b])@here", t)
        assert not re.search(r"&(?!amp;|lt;|gt;)", t), t
    assert main_text.startswith("*🔥 FIRING (critical): Crit* — service=web")
    assert "runbook: https://runbooks.example/crit" in texts[2]


def test_slack_escape_unit():
    assert slack_escape("<!here> a&b <@U123> @channel") == "&lt;!here&gt; a&amp;b &lt;@U123&gt; @\u200bchannel"
    assert len(slack_escape("x" * 10_000)) <= 2900


def test_retries_on_500_then_success(tmp_path, env):
    rules = parse(_rules("- {type: webhook, url_env: HOOK_URL, retries: 3, backoff: 0.05}"))
    env.fail_next(2, 500)
    res = check(rules, [_logs(tmp_path)], now=at(12), state=str(tmp_path / "s.json"))
    assert res.deliveries[0].sent == 1 and res.outbox == 0
    assert [r.status for r in env.received()] == [500, 500, 200]
    gaps = [b.at - a.at for a, b in zip(env.received(), env.received()[1:])]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09          # exponential backoff: 0.05 s, then 0.1 s


def test_client_errors_are_not_retried():
    from support.am_fixtures import WebhookReceiver
    r = WebhookReceiver()
    try:
        r.fail_next(1, 400)
        res = post_json(r.url + "/x", b"{}", {}, retries=3, backoff=0.01)
        assert not res.ok and res.attempts == 1 and res.error.startswith("HTTP 400")
    finally:
        r.close()


def test_permanent_failure_is_reported_kept_and_delivered_next_run(tmp_path, env):
    rules = parse(_rules("- {type: webhook, url_env: HOOK_URL, retries: 2, backoff: 0.01}\n"
                         "  - {type: slack, name: chat, url_env: HOOK_URL, retries: 0}"))
    logs, state = _logs(tmp_path), str(tmp_path / "s.json")
    env.always = 503
    res = check(rules, [logs], now=at(12), state=state)
    assert [(d.route, d.failed) for d in res.deliveries] == [("webhook-0", 1), ("chat", 1)]
    assert res.deliveries[0].errors == ["HTTP 503: failing on purpose (after 3 attempts)"]
    assert res.outbox == 2 and len(env.received()) == 4
    saved = json.load(open(state))
    assert [e["route"] for e in saved["outbox"]] == ["webhook-0", "chat"]
    assert saved["outbox"][0]["notification"]["status"] == "firing" and saved["outbox"][0]["attempts"] == 1
    # still down at the next run: kept again (attempts counted), and the new resolution queued behind it
    res = check(rules, [logs], now=at(30), state=state)
    saved = json.load(open(state))
    assert [(e["route"], e["notification"]["status"], e["attempts"]) for e in saved["outbox"]] == [
        ("webhook-0", "firing", 2), ("webhook-0", "resolved", 1), ("chat", "firing", 2), ("chat", "resolved", 1)]
    # the endpoint is back: everything kept is delivered, in order, and the outbox is empty
    env.always = None
    env.clear()
    res = check(rules, [logs], now=at(31), state=state)
    assert res.outbox == 0 and [d.sent for d in res.deliveries] == [2, 2]
    hook = [r.json for r in env.received() if "alerts" in r.json]
    assert [a["status"] for a in hook[0]["alerts"]] == ["firing", "resolved"]
    slack = [r.json["text"] for r in env.received() if "blocks" in r.json]
    assert [t.split(":")[0] for t in slack] == ["FIRING", "RESOLVED"]


def test_missing_env_variable_is_a_kept_delivery_failure(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_URL", raising=False)
    rules = parse(_rules("- {type: slack, url_env: NOPE_URL}"))
    res = check(rules, [_logs(tmp_path)], now=at(12), state=str(tmp_path / "s.json"))
    assert res.deliveries[0].errors == ["environment variable NOPE_URL is not set"] and res.outbox == 1


def test_cli_never_prints_the_secret_url_or_token(tmp_path, env):
    env.always = 500
    rules_path = tmp_path / "r.yml"
    rules_path.write_text(_rules("- {type: webhook, url_env: HOOK_URL, retries: 1, backoff: 0.01, "
                                 "headers_env: {X-Token: HOOK_TOKEN}}"))
    r = CliRunner().invoke(main, ["alerts", "check", str(rules_path), _logs(tmp_path), "--now", "2026-11-24T06:12:00Z",
                                  "--state", str(tmp_path / "s.json")],
                           env={"HOOK_URL": env.url + SECRET_PATH, "HOOK_TOKEN": TOKEN})
    assert r.exit_code == 1, r.output
    out = r.output + (r.stderr if r.stderr_bytes is not None else "")
    assert "webhook($HOOK_URL)" in out and "kept for the next run" in out
    assert "SECRET" not in out and "tok-7f3a9c" not in out and str(env.port) not in out
    assert "\x1b" not in out                     # terminal output escapes the hostile message


def test_stdout_sink_writes_json_lines(tmp_path):
    rules = parse(_rules("- {type: stdout}"))
    buf = io.StringIO()
    check(rules, [_logs(tmp_path)], now=at(12), stream=buf)
    (line,) = buf.getvalue().splitlines()
    d = json.loads(line)
    assert d["route"] == "stdout-0" and d["status"] == "firing" and d["labels"]["service"] == "web"
