"""The rule pack against the real promtool (Debian package `prometheus`, LOGKIT_TEST_PROMTOOL):
`check rules`, `test rules` (every alert has a firing and a non-firing case), and `check metrics` on
what the exporter writes."""
from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from support.env import require_env
from logkit.metrics import render
from logkit.metrics import definitions as D

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "prometheus", "rules", "logkit.rules.yml")
TESTS = os.path.join(ROOT, "prometheus", "rules", "logkit.tests.yml")
FIX = os.path.join(ROOT, "tests", "fixtures", "analyze")


@pytest.fixture(scope="module")
def promtool():
    return require_env("LOGKIT_TEST_PROMTOOL")


def run(*args, stdin=None):
    return subprocess.run(list(args), input=stdin, capture_output=True, timeout=300)


def test_check_rules(promtool):
    r = run(promtool, "check", "rules", RULES)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert b"SUCCESS" in r.stdout


def test_unit_tests_pass(promtool):
    r = run(promtool, "test", "rules", TESTS, )
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def test_every_alert_has_a_firing_and_a_quiet_case():
    rules = yaml.safe_load(open(RULES))
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    for needed in ("LogkitCeleryQueueHigh", "LogkitCeleryNoWorkers", "LogkitTaskFailureRateHigh", "LogkitTaskSlow",
                   "LogkitTaskRetryRateHigh", "LogkitTaskTimeoutRateHigh", "LogkitScrapeSuccessLow",
                   "LogkitCaptchaSpike", "LogkitDataSourceStale", "LogkitCriticalEvents"):
        assert needed in alerts
    fires, quiet = set(), set()
    for t in yaml.safe_load(open(TESTS))["tests"]:
        for a in t.get("alert_rule_test", []):
            (fires if a.get("exp_alerts") else quiet).add(a["alertname"])
    assert alerts - fires == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested quiet"


def test_rules_use_only_exported_metrics():
    """Every logkit_* name in the rules is a metric of definitions.py (or one of its histogram series)."""
    text = open(RULES).read()
    names = set(re.findall(r"(?<![:\w])logkit_[a-z_]+(?![:\w])", text))  # not recorded names (a:b:c)
    known = {m.name for m in D.METRICS} | {m.name + s for m in D.METRICS if m.type == "histogram"
                                           for s in ("_bucket", "_sum", "_count")}
    # names inside a {__name__=~"a|b"} regex are split on |
    assert names <= known, names - known


def test_check_metrics_on_the_exporter_output(promtool, tmp_path):
    text = render([FIX])
    r = run(promtool, "check", "metrics", stdin=text)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def test_check_metrics_with_hostile_label_values(promtool):
    from logkit.metrics import Aggregator
    from prometheus_client import CollectorRegistry, generate_latest
    agg = Aggregator()
    for d in ('a"b', "back\\slash", "new\nline", "\x1b[2J", "ünïcode.example", "x" * 500, "}", "{=}"):
        agg.feed({"@timestamp": "2026-11-24T10:00:00.000Z", "event.action": "page.fetched", "url.domain": d,
                  "http.response.status_code": 200, "service.name": d, "log.level": "info"})
    reg = CollectorRegistry(auto_describe=False)
    reg.register(agg)
    r = run(promtool, "check", "metrics", stdin=generate_latest(reg))
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
