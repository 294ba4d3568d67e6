"""`logkit demo`: a day of logs through logkit's emitters, and the report over them."""
from __future__ import annotations

import os

from click.testing import CliRunner

from logkit.look.demo import demo
from logkit.cli import main


def _figures(rep):
    keep = ("summary", "domains", "tasks", "services", "failure_patterns", "captcha_vendors")
    return {n: [r for r in rep.sections[n].rows] for n in keep}


def test_demo_realistic_and_deterministic(tmp_path):
    a = demo(str(tmp_path / "a"), seed=7, events=6000)
    b = demo(str(tmp_path / "b"), seed=7, events=6000)
    assert _figures(a.report) == _figures(b.report)
    c = demo(str(tmp_path / "c"), seed=8, events=6000, report=True)
    assert _figures(c.report) != _figures(a.report)
    rep = a.report
    s = rep.sections["summary"].dicts()[0]
    assert s["services"] == 4 and s["hosts"] >= 8 and s["domains"] > 100 and s["critical"] >= 1
    assert rep.sections["bad_input"].rows == []
    doms = rep.sections["domains"].dicts()
    assert any(d["captchas"] for d in doms) and any(d["error_rate"] and d["error_rate"] > 0.5 for d in doms)
    assert any(d["stale_seconds"] and d["stale_seconds"] > 3 * 3600 for d in doms)
    tasks = {t["task"]: t for t in rep.sections["tasks"].dicts()}
    assert tasks["mail.send_digest"]["retried"] > 0
    assert tasks["reports.build_daily"]["runtime_p50"] > 10 * tasks["crawl.fetch_site"]["runtime_p50"]
    assert len({t["workers"] for t in tasks.values()}) >= 1 and max(t["workers"] for t in tasks.values()) == 3
    assert os.path.getsize(a.report_path) > 20_000
    # the lines are the emitters' own: ecs-logging order, nested fields, a stack trace on failures
    with open(os.path.join(a.log_dir, "workers-worker-1.ndjson")) as f:
        first = f.readline()
    assert first.startswith('{"@timestamp":"2026-11-24T') and '"log.level":' in first and '"celery":{"task":' in first


def test_demo_cli(tmp_path):
    r = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "d"), "--events", "3000", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "Per domain" in r.stdout and os.path.exists(tmp_path / "d" / "report.html")
