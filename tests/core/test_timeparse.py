"""The one time/duration grammar (logkit.timeparse), and that the report and the rules use it."""
from datetime import datetime, timedelta, timezone

import pytest

from logkit import timeparse as T
from logkit.alert import rules
from logkit.analyze import report

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("text,seconds", [
    ("250ms", 0.25), ("90s", 90), ("90sec", 90), ("15m", 900), ("15min", 900), ("15 MIN", 900),
    ("1.5h", 5400), ("1d", 86400), ("1w", 604800), ("2H", 7200), (" 30 s ", 30), ("90", 90), ("0.5", 0.5),
    (300, 300), (1.5, 1.5), (timedelta(minutes=2), 120),
])
def test_durations_accepted(text, seconds):
    assert T.parse_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["soon", "", "5 parsecs", "-5m", "1h30m", "m", True, None, -1, float("nan"),
                                 float("inf"), [1], timedelta(seconds=-1)])
def test_durations_refused_with_the_accepted_forms(bad):
    with pytest.raises(ValueError) as e:
        T.parse_duration(bad)
    assert "not a duration" in str(e.value)
    if not isinstance(bad, timedelta):
        assert "90s" in str(e.value)


def test_format_roundtrips():
    for td in (timedelta(seconds=90), timedelta(hours=1), timedelta(days=7), timedelta(seconds=1.5),
               timedelta(minutes=45)):
        assert T.parse_duration(T.format_duration(td)) == td
    assert T.format_duration(timedelta(minutes=60)) == "1h"
    assert T.format_duration(timedelta(seconds=90)) == "90s"


def test_times():
    assert T.parse_time("2h", NOW) == NOW - timedelta(hours=2)
    assert T.parse_time("250ms", NOW) == NOW - timedelta(milliseconds=250)
    assert T.parse_time("30 min", NOW) == NOW - timedelta(minutes=30)
    assert T.parse_time("2026-11-24T13:00:00Z", NOW) == datetime(2026, 11, 24, 13, tzinfo=timezone.utc)
    assert T.parse_time("2026-11-24", NOW) == datetime(2026, 11, 24, tzinfo=timezone.utc)
    assert T.parse_time(None, NOW) is None and T.parse_time("", NOW) is None
    naive = datetime(2026, 1, 1)
    assert T.parse_time(naive, NOW).tzinfo is timezone.utc
    with pytest.raises(ValueError, match="not a time"):
        T.parse_time("2026", NOW)  # a bare number is not a relative time: likely a year
    with pytest.raises(ValueError, match="not a time"):
        T.parse_time("yesterday", NOW)


def test_report_and_rules_share_the_grammar():
    # Before, the report refused `ms` and the rules refused `min`/`sec`: one grammar now.
    assert report.parse_duration is T.parse_duration and rules.parse_duration is T.parse_duration
    assert report.parse_time is T.parse_time
    assert report.parse_duration("250ms") == timedelta(milliseconds=250)
    rs = rules.parse("rules:\n  - {name: A, kind: critical, window: 15min, for: 90sec}\n")
    assert rs.rules[0].window == timedelta(minutes=15) and rs.rules[0].for_ == timedelta(seconds=90)


def test_rule_file_duration_error_names_line_and_field():
    with pytest.raises(rules.RuleError) as e:
        rules.parse("rules:\n  - name: A\n    kind: critical\n    window: fortnight\n")
    msg = str(e.value)
    assert ":4:" in msg and "window" in msg and "not a duration" in msg
