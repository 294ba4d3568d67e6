"""Alert rules: YAML validation with file/line/field errors, safe templates, the default pack."""
from __future__ import annotations

import textwrap

import pytest

from logkit.alert import RuleError, default_pack, load_rules, parse
from logkit.alert.rules import Template, parse_duration


def _err(yaml_text: str) -> RuleError:
    with pytest.raises(RuleError) as ei:
        parse(textwrap.dedent(yaml_text), "r.yml")
    return ei.value


GOOD = """\
rules:
  - name: DomainErrors
    kind: threshold
    query: domains
    metric: error_rate
    group_by: domain
    op: ">"
    value: 20%
    sample: requests
    min_sample: 50
    window: 15m
    for: 10m
    labels: {severity: warning}
    annotations:
      summary: "{domain}: {value:.0%} over {window} ({requests} requests)"
"""


def test_good_rule_parses_with_units():
    rs = parse(GOOD, "r.yml")
    r = rs.rules[0]
    assert (r.kind, r.query, r.metric, r.group_by, r.op, r.value, r.sample, r.min_sample) == \
        ("threshold", "domains", "error_rate", ("domain",), ">", 0.2, "requests", 50)
    assert r.window.total_seconds() == 900 and r.for_.total_seconds() == 600 and r.line == 2
    assert parse("rules: [{name: S, kind: threshold, query: tasks, metric: runtime_p95, value: 1m}]").rules[0].value == 60


@pytest.mark.parametrize("bad, line, field, words", [
    ("""\
     rules:
       - name: X
         kind: threshold
         query: domains
         metric: error_rat
         value: 1
     """, 5, "metric", "must be a column of query 'domains'"),
    ("""\
     rules:
       - name: X
         kind: threshold
         query: nope
         metric: x
         value: 1
     """, 4, "query", "analyzer's queries"),
    ("""\
     rules:
       - name: F
         kind: frequency
         value: 3
         filter:
           event.action: download.failed
           url.domian: a.com
     """, 7, "filter.url.domian", "not a field of the logkit schema"),
    ("""\
     rules:
       - name: F
         kind: frequency
         value: 3
         filter: {log.level: fatal}
     """, 5, "filter.log.level", "not an allowed value"),
    ("""\
     rules:
       - name: F
         kind: frequency
         value: 3
         filter: {http.response.status_code: "500"}
     """, 5, "filter.http.response.status_code", "does not fit"),
    ("""\
     rules:
       - name: W
         kind: critical
         window: 15 minutes
     """, 4, "window", "not a duration"),
    ("""\
     rules:
       - name: U
         kind: critical
         treshold: 3
     """, 4, "treshold", "unknown field"),
    ("""\
     rules:
       - name: K
         kind: thresold
     """, 3, "kind", "must be one of"),
    ("""\
     rules:
       - name: T
         kind: critical
         annotations:
           summary: "{domain} broke"
     """, 5, "annotations.summary", "template variable {domain}"),
    ("""\
     rules:
       - name: T
         kind: critical
         annotations:
           summary: "{value.__class__.__mro__}"
     """, 5, "annotations.summary", "template variable"),
    ("""\
     rules:
       - name: T
         kind: critical
         annotations:
           summary: "{} {0}"
     """, 5, "annotations.summary", "positional"),
    ("""\
     rules:
       - name: T
         kind: critical
         labels: {"bad-name": x}
     """, 4, "labels.bad-name", "label name"),
    ("""\
     rules:
       - name: T
         kind: threshold
         query: tasks
         metric: failure_rate
         value: 0.1
         min_sample: 20
     """, 7, "min_sample", "needs sample"),
    ("""\
     rules:
       - name: A
         kind: absence
         window: 2h
         lookback: 1h
     """, 5, "lookback", "at least the window"),
    ("""\
     rules:
       - name: S
         kind: spike
         filter: {event.action: captcha.detected}
         ratio: 1
     """, 5, "ratio", "greater than 1"),
])
def test_errors_name_file_line_and_field(bad, line, field, words):
    e = _err(bad)
    assert e.file == "r.yml" and e.line == line and e.field == field, str(e)
    assert words in str(e) and str(e).startswith(f"r.yml:{line}: ")


def test_duplicate_rule_and_yaml_errors_have_lines():
    e = _err("""\
    rules:
      - {name: A, kind: critical}
      - {name: A, kind: critical}
    """)
    assert e.line == 3 and "already defined at line 2" in str(e)
    e = _err("rules:\n  - name: A\n    kind: [critical\n")
    assert "not valid YAML" in str(e) and e.line is not None
    e = _err("rules:\n  - name: A\n    name: B\n    kind: critical\n")
    assert e.line == 3 and "duplicate key" in str(e)


def test_routes_refuse_literal_secret_urls():
    e = _err("""\
    routes:
      - type: slack
        url: https://hooks.slack.com/services/T000/B000/XXXX
    rules: [{name: A, kind: critical}]
    """)
    assert e.line == 3 and "url_env" in str(e) and "XXXX" not in str(e)
    rs = parse("routes: [{type: alertmanager, url: 'http://127.0.0.1:9093'}, {type: slack, url_env: SLACK_URL, "
               "match: {severity: [critical]}}]\nrules: [{name: A, kind: critical}]")
    assert rs.routes[1].display == "slack($SLACK_URL)" and rs.routes[1].matches({"severity": "critical"})
    assert not rs.routes[1].matches({"severity": "warning"})


def test_templates_are_safe_and_forgiving():
    t = Template("{domain}: {value:.0%} {url.domain}")
    assert t.render({"domain": "a.com", "value": 0.25, "url.domain": "x"}) == "a.com: 25% x"
    # a spec that does not fit the value renders plainly instead of failing the alert
    assert t.render({"domain": "a.com", "value": None}) == "a.com:  "
    # a dotted name is a key, never an attribute lookup
    assert Template("{a.__class__}").render({"a": 1}) == ""
    with pytest.raises(ValueError):
        Template("{x!r}")
    with pytest.raises(ValueError):
        Template("{x:{y}}")


def test_durations():
    assert parse_duration("90s").total_seconds() == 90 and parse_duration("1.5h").total_seconds() == 5400
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_default_pack_loads_and_covers_the_issue_list():
    rs = default_pack()
    names = {r.name for r in rs.rules}
    assert {"TaskQueueWaitHigh", "TaskFailureRateHigh", "TaskSlow", "TaskRetryRateHigh", "TaskTimeoutRateHigh",
            "WorkersDown", "WorkersTooFew", "DomainErrorRateHigh", "CriticalSourceScrapeSuccessLow",
            "DomainCaptchaSpike", "DomainStale", "DeadLetterGrowing", "CriticalEvents",
            "NewFailurePattern"} <= names
    assert {r.kind for r in rs.rules} == {"threshold", "frequency", "spike", "absence", "new_pattern", "critical"}
    assert all("severity" in r.labels and "summary" in r.annotations for r in rs.rules)
    assert load_rules("pack:default").rules[0].name == rs.rules[0].name
    # thresholds read the analyzer's queries by name
    from logkit.analyze.queries import QUERIES
    assert all(r.metric in QUERIES[r.query].columns for r in rs.rules if r.kind == "threshold")
