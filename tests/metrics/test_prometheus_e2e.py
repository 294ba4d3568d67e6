"""End to end, real components only: `logkit demo` logs -> `logkit metrics serve` -> a real Prometheus
(127.0.0.1, 1 s scrape and evaluation, the rule pack with `for:` cut to 1 s) -> alert rules fire -> a
real Alertmanager (tests/support/am_fixtures.py) -> its webhook receiver gets the notifications."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

from support.am_fixtures import alertmanager, webhook_receiver  # noqa: F401 (fixtures)
from support.env import require_env
from test_prometheus_live import Prom, Serve, short_for_rules, wait_until


def _notified(reqs, alertname: str, **labels) -> list[dict]:
    out = []
    for r in reqs:
        body = r.json
        if body.get("status") != "firing":
            continue
        for a in body.get("alerts", []):
            lb = a.get("labels", {})
            if lb.get("alertname") == alertname and all(lb.get(k) == v for k, v in labels.items()):
                out.append(a)
    return out


def test_demo_logs_to_alertmanager(tmp_path, alertmanager, webhook_receiver):  # noqa: F811
    binary = require_env("LOGKIT_TEST_PROMETHEUS")
    from logkit.look.demo import demo
    # yesterday (UTC), so the freshness gauges are in the past whatever today's date is
    day = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    res = demo(str(tmp_path / "demo"), seed=1, events=6000, day=day, report=False)
    serve = Serve([os.path.join(res.log_dir, "*.ndjson")], ["--state", str(tmp_path / "state.json")])
    am_target = alertmanager.url.split("//")[1]
    prom = Prom(binary, str(tmp_path), serve.target, short_for_rules(str(tmp_path / "rules.yml")),
                alertmanager=am_target)
    try:
        wait_until(lambda: prom.query('logkit_exporter_events_read_total > 0'), 60, "the demo logs to be scraped")
        # 1) a stale data source, from the logs as they are
        # (the demo has domains whose fetches stop succeeding in the afternoon: > 6 h before now)
        got = webhook_receiver.wait_for(lambda reqs: _notified(reqs, "LogkitDataSourceStale"),
                                        timeout=120, path="/am")
        a = got[0]
        assert a["labels"]["severity"] == "warning"
        stale = prom.query("time() - logkit_scrapy_last_success_timestamp_seconds > 6 * 3600")
        assert a["labels"]["domain"] in {s["metric"]["domain"] for s in stale}
        assert a["labels"]["domain"] in a["annotations"]["summary"]
        # 2) a critical event logged now (appended to a followed file) pages within seconds
        now = datetime.now(timezone.utc)
        line = {"@timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "log.level": "critical",
                "message": "database connection pool exhausted; requests are failing", "ecs.version": "8.11.0",
                "service": {"name": "web", "type": "django"}, "event": {"action": "log"}}
        # let Prometheus see the counter before the increase, so increase() has two samples to compare
        time.sleep(2.5)
        with open(os.path.join(res.log_dir, "web-web-1.ndjson"), "a") as f:
            f.write(json.dumps(line) + "\n")
        t0 = time.monotonic()
        got = webhook_receiver.wait_for(lambda reqs: _notified(reqs, "LogkitCriticalEvents", service="web"),
                                        timeout=90, path="/am")
        assert got[0]["labels"]["severity"] == "critical"
        assert "web logged critical events" == got[0]["annotations"]["summary"]
        assert time.monotonic() - t0 < 90
        # Alertmanager itself lists it as active
        alertmanager.wait_alerts(lambda al: any(x["labels"]["alertname"] == "LogkitCriticalEvents" for x in al))
    finally:
        prom.stop()
        serve.stop()
