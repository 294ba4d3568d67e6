"""The default rule pack on ``logkit demo``'s day of logs: it fires where the demo plants problems
(failing, CAPTCHA-blocked and stale domains; mail.send_digest retrying; reports.build_daily slow and
hitting its time limit; the database pool outage's critical events; the disk-full critical event)
and stays quiet where it does not (healthy domains, the other tasks, the workers, dead letters).

The ground truth is read from the demo's own events, not from its code: CAPTCHA domains are those
with a ``captcha.detected`` event, stale domains those whose fetches end in DNS failures (only the
stale profile produces them), failing domains those with most requests failing over the day.
"""
from __future__ import annotations

import collections
import json
import os

import pytest

from logkit.alert import check, replay
from logkit.look.demo import demo


@pytest.fixture(scope="module")
def demo_logs(tmp_path_factory):
    out = tmp_path_factory.mktemp("alert-demo")
    res = demo(str(out), seed=1, events=60_000, report=False)
    return res.log_dir


@pytest.fixture(scope="module")
def truth(demo_logs):
    req, err, captcha, dns = collections.Counter(), collections.Counter(), set(), set()
    for name in os.listdir(demo_logs):
        if not name.startswith("crawler"):
            continue
        with open(os.path.join(demo_logs, name)) as f:
            for line in f:
                e = json.loads(line)
                d = (e.get("url") or {}).get("domain")
                action = e["event"]["action"]
                if action == "captcha.detected":
                    captcha.add(d)
                if action in ("page.fetched", "download.failed"):
                    req[d] += 1
                    status = ((e.get("http") or {}).get("response") or {}).get("status_code")
                    if action == "download.failed" or (status or 0) >= 400:
                        err[d] += 1
                    if "DNSLookupError" in ((e.get("error") or {}).get("type") or ""):
                        dns.add(d)
    failing = {d for d in req if err[d] / req[d] > 0.4 and d not in captcha and d not in dns}
    healthy = set(req) - captcha - dns - failing
    top = [d for d, _ in req.most_common()]
    return {"captcha": captcha, "stale": dns, "failing": failing, "healthy": healthy, "top": top}


@pytest.fixture(scope="module")
def fired(demo_logs):
    """(rule -> groups that fired at some point) over the day, evaluated every 15 minutes."""
    out: dict[str, set] = collections.defaultdict(set)
    for tr in replay("pack:default", [demo_logs], step="15m"):
        if tr.status == "firing":
            g = tuple(v for k, v in sorted(tr.labels.items()) if k not in ("alertname", "severity", "team"))
            out[tr.labels["alertname"]].add(g[0] if len(g) == 1 else g)
    return out


def _first(top: list[str], among: set[str]) -> str:
    return next(d for d in top if d in among)


@pytest.mark.slow
def test_domain_rules_fire_on_planted_domains_only(fired, truth):
    planted = truth["captcha"] | truth["stale"] | truth["failing"]
    assert truth["healthy"] and truth["captcha"] and truth["stale"] and truth["failing"]
    # the busiest domain of each planted kind fires its rule
    assert _first(truth["top"], truth["failing"]) in fired["DomainErrorRateHigh"]
    assert _first(truth["top"], truth["captcha"]) in fired["DomainCaptchaRateHigh"]
    assert _first(truth["top"], truth["stale"]) in fired["DomainStale"]
    # and no rule ever fires for a healthy domain
    assert fired["DomainErrorRateHigh"] <= planted
    assert fired["DomainCaptchaRateHigh"] <= truth["captcha"]
    assert fired["DomainCaptchaSpike"] <= truth["captcha"]
    # a heavily CAPTCHA-blocked domain can go 6 hours without a 2xx too: its data is stale as well
    assert fired["DomainStale"] <= planted
    assert len(fired["DomainStale"] & truth["stale"]) >= 5
    busiest_healthy = [d for d in truth["top"] if d in truth["healthy"]][:20]
    for rule in ("DomainErrorRateHigh", "DomainCaptchaRateHigh", "DomainCaptchaSpike", "DomainStale"):
        assert not (fired[rule] & set(busiest_healthy)), rule
    # the critical-sources rule watches nothing until LOGKIT_CRITICAL_DOMAINS names some
    assert not fired["CriticalSourceScrapeSuccessLow"]


@pytest.mark.slow
def test_task_and_service_rules(fired):
    assert fired["TaskSlow"] == {"reports.build_daily"}
    assert fired["TaskTimeoutRateHigh"] == {"reports.build_daily"}
    assert fired["TaskRetryRateHigh"] == {"mail.send_digest"}
    assert fired["CriticalEvents"] == {"web", "workers"}        # pool outage (19:30), disk full (22:00)
    new = {g[0] for g in fired["NewFailurePattern"]}            # (error_type, pattern_id)
    assert "django.db.utils.OperationalError" in new             # the pool outage's new failure
    assert not new & {"KeyError", "AttributeError", "captcha.detected", "page.fetched",
                      "twisted.internet.error.TimeoutError"}      # failures seen all day long
    for quiet in ("TaskQueueWaitHigh", "TaskFailureRateHigh", "WorkersDown", "WorkersTooFew", "DeadLetterGrowing"):
        assert not fired[quiet], (quiet, fired[quiet])


def test_check_at_the_outage(demo_logs, tmp_path, monkeypatch, truth):
    """One cron-style check at 19:45: the outage's critical events and the new failure fire; with
    LOGKIT_CRITICAL_DOMAINS naming a failing domain and a healthy one, only the failing one fires."""
    failing = _first(truth["top"], truth["failing"])
    healthy = _first(truth["top"], truth["healthy"])
    monkeypatch.setenv("LOGKIT_CRITICAL_DOMAINS", f"{failing},{healthy}")
    res = check("pack:default", [demo_logs], now="2026-11-24T19:45:00Z", state=str(tmp_path / "s.json"))
    got = {(a.rule, a.labels.get("service") or a.labels.get("domain") or a.labels.get("error_type"))
           for a in res.firing}
    assert ("CriticalEvents", "web") in got
    assert ("NewFailurePattern", "django.db.utils.OperationalError") in got
    assert ("CriticalSourceScrapeSuccessLow", failing) in got
    assert not [g for g in got if g[1] == healthy]
    crit = next(a for a in res.firing if a.rule == "CriticalEvents")
    assert crit.annotations["summary"] == ("web: 3 critical event(s) in 15m; latest: database connection pool "
                                           "exhausted; requests are failing")
    assert not res.errors
