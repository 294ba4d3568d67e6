"""logkit.metrics: definitions, the aggregator, the textfile writer, the CLI, and agreement with the
analyzer's report over the same logs."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import orjson
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from logkit import schema
from logkit.cli import main
from logkit.metrics import METRICS, Aggregator, definitions as D, docs, render
from logkit.metrics.aggregate import label_value, timestamp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures", "analyze")


def samples(text: bytes | str) -> dict[tuple, float]:
    """{(sample name, sorted label items): value} of an exposition."""
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def ev(action: str, **fields) -> dict:
    e = {"@timestamp": fields.pop("ts", "2026-11-24T10:00:00.000Z"), "log.level": fields.pop("level", "info"),
         "message": "m", "event.action": action, "service.name": fields.pop("service", "svc")}
    e.update({k.replace("__", "."): v for k, v in fields.items()})
    return e


# --- definitions ---------------------------------------------------------------------------------
def test_every_metric_reads_only_schema_fields_and_actions():
    for m in METRICS:
        for f in m.fields:
            assert f in schema.FIELDS, (m.name, f)
        for a in m.actions:
            assert a == "*" or a in schema.EVENT_TYPES, (m.name, a)


def test_naming_conventions():
    for m in METRICS:
        assert m.name.startswith("logkit_")
        assert m.name.endswith("_total") == (m.type == "counter")
        if m.type == "histogram" or "timestamp" in m.name:
            assert m.name.endswith("_seconds"), m.name
        assert m.help.endswith("."), m.name
    names = {m.name for m in METRICS}
    for required in ("logkit_scrapy_pages_total", "logkit_celery_tasks_total",
                     "logkit_scrapy_last_success_timestamp_seconds", "logkit_celery_task_runtime_seconds",
                     "logkit_celery_task_queue_wait_seconds", "logkit_django_request_duration_seconds",
                     "logkit_celery_queue_length", "logkit_exporter_lines_malformed_total"):
        assert required in names


def test_a_renamed_field_fails_at_import(monkeypatch):
    """definitions.py checks every name against the schema when it is imported."""
    code = ("import logkit.schema as s; del s.FIELDS['url.domain'];\n"
            "import logkit.metrics.definitions")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0 and "url.domain" in r.stderr


def test_docs_file_is_generated_from_the_definitions():
    with open(os.path.join(ROOT, "docs", "metrics.md"), encoding="utf-8") as f:
        assert f.read() == docs(), "docs/metrics.md is stale: run `logkit metrics docs --out docs/metrics.md`"
    text = docs()
    for m in METRICS:
        assert f"`{m.name}`" in text
        for lb in m.labels:
            assert f"`{lb.name}`" in text


def test_docs_command_prints_the_same():
    r = CliRunner().invoke(main, ["metrics", "docs"])
    assert r.exit_code == 0 and r.output == docs()


# --- aggregator ----------------------------------------------------------------------------------
def test_counts_nested_and_dotted_events_alike():
    agg = Aggregator()
    agg.feed(ev("page.fetched", url__domain="a.example", http__response__status_code=200))
    agg.feed({"@timestamp": "2026-11-24T10:00:01.000Z", "log.level": "info", "message": "m",
              "event": {"action": "page.fetched"}, "url": {"domain": "a.example"},
              "http": {"response": {"status_code": 503}}, "service": {"name": "svc"}})
    agg.feed({"_source": ev("page.fetched", url__domain="a.example", http__response__status_code=204)})
    assert agg.value("logkit_scrapy_pages_total", domain="a.example", status_class="2xx") == 2
    assert agg.value("logkit_scrapy_pages_total", domain="a.example", status_class="5xx") == 1
    assert agg.value("logkit_events_total", service="svc", level="info") == 3


def test_each_metric_from_hand_made_events():
    agg = Aggregator()
    feed = agg.feed
    P = "http://proxy-1:3128"
    feed(ev("page.fetched", url__domain="d", http__response__status_code=200, scrapy__proxy=P,
            ts="2026-11-24T10:00:00.500Z"))
    feed(ev("page.fetched", url__domain="d", http__response__status_code=200, scrapy__proxy=P,
            ts="2026-11-24T09:00:00.000Z"))
    feed(ev("page.fetched", url__domain="d", http__response__status_code=404, scrapy__proxy=P))
    feed(ev("page.fetched", url__domain="d", http__response__status_code=200, scrapy__proxy=P))
    feed(ev("captcha.detected", url__domain="d", scrapy__challenge__vendor="cloudflare", scrapy__proxy=P,
            http__response__status_code=200))   # a challenge served with 200: a proxy failure
    feed(ev("captcha.detected", url__domain="d", scrapy__proxy=P, http__response__status_code=403))
    feed(ev("block.detected", url__domain="d", http__response__status_code=429))
    feed(ev("download.failed", url__domain="d", error__type="twisted.internet.error.TimeoutError", scrapy__proxy=P))
    feed(ev("download.failed", url__domain="d", error__type="DNSLookupError"))
    feed(ev("item.scraped", url__domain="d", scrapy__item__status="new", scrapy__item__type="I"))
    feed(ev("item.scraped", url__domain="d", scrapy__item__status="updated", scrapy__item__type="I"))
    feed(ev("item.scraped", url__domain="d", scrapy__item__status="bogus", scrapy__item__type="I"))
    feed(ev("item.dropped", scrapy__spider="news", scrapy__item__type="I"))
    feed(ev("parse.failed", scrapy__parser="news.detail", error__type="AttributeError"))
    t = {"celery__task__name": "t1", "celery__task__id": "x"}
    feed(ev("task.sent", **t, celery__task__queue="default", host__hostname="dispatcher"))
    feed(ev("task.started", **t, celery__task__queue_wait=0.3, celery__worker__hostname="celery@w1",
            ts="2026-11-24T10:00:03.000Z"))
    feed(ev("task.succeeded", **t, celery__task__runtime=0.2, celery__worker__hostname="celery@w1"))
    feed(ev("task.failed", **t, celery__task__runtime=300.0, celery__task__timed_out=True, error__type="X",
            host__hostname="w2"))
    feed(ev("task.failed", **t, celery__task__runtime=1.0, error__type="billiard.exceptions.TimeLimitExceeded",
            celery__worker__hostname="celery@w1"))
    feed(ev("task.retried", **t, celery__worker__hostname="celery@w1"))
    feed(ev("http.request", django__route="a/<int:pk>/", http__response__status_code=500, event__duration=250_000_000,
            http__request__method="GET"))
    feed(ev("http.exception", django__route="a/<int:pk>/", error__type="E", error__message="m",
            error__stack_trace="s", level="critical"))
    v = agg.value
    assert v("logkit_scrapy_pages_total", domain="d") == 4
    assert v("logkit_scrapy_pages_total", domain="d", status_class="4xx") == 1
    assert v("logkit_scrapy_captchas_total", domain="d", vendor="cloudflare") == 1
    assert v("logkit_scrapy_captchas_total", domain="d", vendor="unknown") == 1
    assert v("logkit_scrapy_blocks_total", domain="d") == 1
    assert v("logkit_scrapy_download_failures_total", domain="d", reason="timeout") == 1
    assert v("logkit_scrapy_download_failures_total", domain="d", reason="dns") == 1
    assert v("logkit_scrapy_proxy_requests_total", proxy=P) == 5          # 4 pages + 1 failed download
    # failures: 404, the 200-served captcha, the timeout (the 403 captcha was already a failed page)
    assert v("logkit_scrapy_proxy_failures_total", proxy=P) == 3
    assert v("logkit_scrapy_items_total", domain="d", status="new") == 1
    assert v("logkit_scrapy_items_total", domain="d", status="updated") == 1
    assert v("logkit_scrapy_items_total", domain="d", status="unknown") == 1
    assert v("logkit_scrapy_items_dropped_total", spider="news") == 1
    assert v("logkit_scrapy_parse_failures_total", parser="news.detail") == 1
    assert v("logkit_scrapy_last_success_timestamp_seconds", domain="d") == pytest.approx(
        timestamp("2026-11-24T10:00:00.500Z"))
    for state, n in (("sent", 1), ("started", 1), ("succeeded", 1), ("failed", 2), ("retried", 1)):
        assert v("logkit_celery_tasks_total", task="t1", state=state) == n
    assert v("logkit_celery_task_timeouts_total", task="t1") == 2
    assert v("logkit_celery_task_runtime_seconds", task="t1") == 3          # histogram count
    assert v("logkit_celery_task_queue_wait_seconds", task="t1") == 1
    assert v("logkit_celery_worker_last_seen_timestamp_seconds", worker="celery@w1") == \
        timestamp("2026-11-24T10:00:03.000Z")
    assert v("logkit_celery_worker_last_seen_timestamp_seconds", worker="w2") > 0   # host.hostname fallback
    assert v("logkit_celery_worker_last_seen_timestamp_seconds", worker="dispatcher") == 0  # task.sent: not a worker
    assert v("logkit_django_requests_total", route="a/<int:pk>/", status_class="5xx") == 1
    assert v("logkit_django_exceptions_total", route="a/<int:pk>/") == 1
    assert v("logkit_events_total", level="critical") == 1
    assert agg.queues() == ["default"]
    s = samples(render_agg(agg))
    # histogram: 0.25 s lands in le=0.25 (le is inclusive), sum is seconds
    key = ("logkit_django_request_duration_seconds_bucket", (("le", "0.25"), ("route", "a/<int:pk>/")))
    assert s[key] == 1
    assert s[("logkit_django_request_duration_seconds_bucket", (("le", "0.1"), ("route", "a/<int:pk>/")))] == 0
    assert s[("logkit_django_request_duration_seconds_sum", (("route", "a/<int:pk>/"),))] == pytest.approx(0.25)
    assert s[("logkit_celery_task_runtime_seconds_bucket", (("le", "+Inf"), ("task", "t1")))] == 3
    assert s[("logkit_celery_task_runtime_seconds_sum", (("task", "t1"),))] == pytest.approx(301.2)


def render_agg(agg: Aggregator) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest
    reg = CollectorRegistry(auto_describe=False)
    reg.register(agg)
    return generate_latest(reg)


def test_bad_lines_are_counted_never_raised():
    agg = Aggregator()
    agg.feed_lines([b"{not json", b"[1, 2]", b"", b"   ", b'{"@timestamp": "2026-11-24T10:00:00.000Z", "event.action": "log", "message": "caf\xe9"}',
                    b'{"event.action": "log"}',
                    b'"a string"', b"\x00\x01"])
    agg.feed_line(b"", kind="oversized")
    agg.feed_line(b'{"event.act', kind="partial")
    assert agg.malformed == {"malformed_json": 2, "not_object": 2, "non_utf8": 1, "oversized": 1, "partial": 1,
                             "no_timestamp": 1}
    assert agg.events_read == 1
    s = samples(render_agg(agg))
    assert s[("logkit_exporter_lines_malformed_total", (("reason", "not_object"),))] == 2


def test_odd_values_do_not_break_anything():
    agg = Aggregator()
    for weird in (None, "", "x" * 10_000, 'a"b\\c\nd', "\x1b[31mred", 12, True, {"a": 1}, ["x"]):
        agg.feed(ev("page.fetched", url__domain=weird, http__response__status_code=weird, ts=weird))
        agg.feed(ev("task.succeeded", celery__task__name=weird, celery__task__id="i", celery__task__runtime=weird))
        agg.feed(ev("http.request", django__route=weird, event__duration=weird, http__response__status_code=999))
    out = render_agg(agg)
    s = samples(out)    # parses
    assert all(len(dict(k[1]).get("domain", "")) <= D.MAX_LABEL_CHARS for k in s)
    assert b"\x1b" not in out
    assert label_value(None) == "unknown" and label_value("\x1bz") == "?z" and label_value(True) == "true"
    assert s[("logkit_django_requests_total", (("route", "unknown"), ("status_class", "unknown")))] == 2  # None, ""
    # negative / NaN / non-numeric durations are not observed
    agg2 = Aggregator()
    for bad in (-1, float("nan"), "abc", float("inf")):
        agg2.feed(ev("task.succeeded", celery__task__name="t", celery__task__id="i", celery__task__runtime=bad))
    assert agg2.value("logkit_celery_task_runtime_seconds", task="t") == 0


def test_timestamps():
    assert timestamp("2026-11-24T10:00:00.123Z") == pytest.approx(1795514400.123)
    assert timestamp("2026-11-24T11:00:00.123+01:00") == pytest.approx(1795514400.123)
    assert timestamp("2026-11-24T10:00:00") == pytest.approx(1795514400)
    assert timestamp(1795514400.5) == 1795514400.5
    for bad in ("yesterday", "2026-13-40T10:00:00.000Z", None, float("nan"), True, "2026-11-24T10:00:99.000Z"):
        assert timestamp(bad) is None


def test_100k_distinct_domains_keep_series_bounded():
    agg = Aggregator(limits={"domain": 100})
    for i in range(100_000):
        d = f"d{i}.example"
        agg.feed(ev("page.fetched", url__domain=d, http__response__status_code=200 if i % 3 else 503))
        if i % 10 == 0:
            agg.feed(ev("captcha.detected", url__domain=d, scrapy__challenge__vendor=f"v{i % 400}"))
    pages = agg.data["logkit_scrapy_pages_total"]
    assert len({k[0] for k in pages}) == 101 and len(pages) <= 202
    assert ("__other__", "2xx") in pages
    # nothing is lost: the fold keeps the totals
    assert agg.value("logkit_scrapy_pages_total") == 100_000
    assert agg.value("logkit_scrapy_captchas_total") == 10_000
    # the vendor label (group "small", 50) is bounded too
    assert len({k[1] for k in agg.data["logkit_scrapy_captchas_total"]}) <= 51
    assert agg.series() < 3000
    s = samples(render_agg(agg))
    assert s[("logkit_exporter_label_values", (("group", "domain"),))] == 100
    assert s[("logkit_exporter_label_values_folded_total", (("group", "domain"),))] > 99_000
    assert len(s) < 3000


def test_fold_is_sticky_so_counters_stay_monotonic():
    agg = Aggregator(limits={"domain": 2}, allow={"domain": ["vip.example"]})
    seq = ["a", "b", "c", "a", "vip.example", "c", "b", "d"]
    last: dict = {}
    for d in seq:
        agg.feed(ev("page.fetched", url__domain=d, http__response__status_code=200))
        now = dict(agg.data["logkit_scrapy_pages_total"])
        for k, v in last.items():
            assert now[k] >= v
        last = now
    assert {k[0] for k in last} == {"a", "b", "vip.example", "__other__"}
    assert last[("__other__", "2xx")] == 3   # c, c, d
    # a log value spelled like the fold marker cannot take a slot
    agg.feed(ev("page.fetched", url__domain="__other__", http__response__status_code=200))
    assert agg.folders["domain"].seen == {"a", "b"}


def test_workers_active_uses_the_wall_clock_window():
    now = [1795514400.0 + 1000]
    agg = Aggregator(worker_window=300, clock=lambda: now[0])
    agg.feed(ev("task.started", celery__task__name="t", celery__task__id="i", celery__worker__hostname="w1",
                ts="2026-11-24T10:15:00.000Z"))   # 100 s before "now"
    agg.feed(ev("task.started", celery__task__name="t", celery__task__id="i", celery__worker__hostname="w2",
                ts="2026-11-24T10:00:00.000Z"))   # 1000 s before
    s = samples(render_agg(agg))
    assert s[("logkit_celery_workers_active", ())] == 1
    now[0] += 10_000
    assert samples(render_agg(agg))[("logkit_celery_workers_active", ())] == 0


def test_snapshot_restore_round_trip():
    a = Aggregator(limits={"domain": 1})
    for d in ("x", "y"):
        a.feed(ev("page.fetched", url__domain=d, http__response__status_code=200))
        a.feed(ev("task.succeeded", celery__task__name="t", celery__task__id="i", celery__task__runtime=2.0))
    a.feed_line(b"{bad")
    b = Aggregator(limits={"domain": 1})
    b.restore(orjson.loads(orjson.dumps(a.snapshot())))
    assert render_agg(a) == render_agg(b)
    b.feed(ev("page.fetched", url__domain="y", http__response__status_code=200))
    assert b.value("logkit_scrapy_pages_total", domain="__other__") == 2


# --- textfile --------------------------------------------------------------------------------------
def test_textfile_from_files_and_from_the_store_agree(tmp_path):
    from logkit.analyze import load
    db = str(tmp_path / "s.duckdb")
    load([FIX], db)
    a = samples(render([FIX]))
    b = samples(render(db=db))
    drop = {"logkit_exporter_events_read_total", "logkit_exporter_lines_malformed_total",
            "logkit_celery_workers_active"}
    a = {k: v for k, v in a.items() if k[0] not in drop}
    b = {k: v for k, v in b.items() if k[0] not in drop}
    assert a == b
    assert a[("logkit_scrapy_pages_total", (("domain", "a.example"), ("status_class", "2xx")))] == 4


def test_textfile_write_is_atomic_and_cli(tmp_path):
    out = tmp_path / "logkit.prom"
    out.write_text("old\n")
    r = CliRunner().invoke(main, ["metrics", "textfile", FIX, "--out", str(out), "--top-domains", "1"])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "logkit_scrapy_pages_total" in text and 'domain="__other__"' in text
    assert os.listdir(tmp_path) == ["logkit.prom"]      # no temporary file left behind
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"
    r = CliRunner().invoke(main, ["metrics", "textfile", FIX, "--out", "-"])
    assert r.exit_code == 0 and r.output.startswith("# HELP")
    r = CliRunner().invoke(main, ["metrics", "textfile", str(tmp_path / "nope"), "--out", str(out)])
    assert r.exit_code == 2 and "no such file" in r.output
    r = CliRunner().invoke(main, ["metrics", "textfile", "--out", str(out)])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["metrics", "textfile", FIX, "--out", str(out), "--allow", "nogroup=x"])
    assert r.exit_code == 2 and "GROUP=VALUE" in r.output
    assert out.read_text() == text      # failed runs leave the last good file


def test_textfile_counts_bad_input_of_the_fixtures():
    s = samples(render([FIX]))
    assert s[("logkit_exporter_lines_malformed_total", (("reason", "malformed_json"),))] >= 1
    assert s[("logkit_exporter_lines_malformed_total", (("reason", "partial"),))] == 1   # the cut gzip member


# --- agreement with the analyzer ----------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_logs(tmp_path_factory):
    from logkit.look.demo import demo
    d = tmp_path_factory.mktemp("demo")
    return demo(str(d), seed=3, events=8000, report=False).log_dir


@pytest.mark.parametrize("which", ["fixtures", "demo"])
def test_exporter_and_analyzer_agree(which, demo_logs):
    from logkit.analyze import analyze
    src = FIX if which == "fixtures" else demo_logs
    rep = analyze([src], top=None)
    agg = Aggregator()
    from logkit.metrics.sources import feed_files
    feed_files(agg, [src])
    v = agg.value
    domains = rep.sections["domains"].dicts()
    assert domains
    for r in domains:
        d = r["domain"]
        for c in ("2xx", "3xx", "4xx", "5xx"):
            assert v("logkit_scrapy_pages_total", domain=d, status_class=c) == r[f"status_{c}"], (d, c)
        assert v("logkit_scrapy_captchas_total", domain=d) == r["captchas"], d
        assert v("logkit_scrapy_blocks_total", domain=d) == r["blocks"], d
        assert v("logkit_scrapy_download_failures_total", domain=d) == r["download_failed"], d
        assert v("logkit_scrapy_items_total", domain=d, status="new") == r["items_new"], d
        assert v("logkit_scrapy_items_total", domain=d, status="updated") == r["items_updated"], d
        last = v("logkit_scrapy_last_success_timestamp_seconds", domain=d)
        if r["last_success"] is None:
            assert last == 0
        else:
            assert last == pytest.approx(r["last_success"].timestamp(), abs=1e-3), d
    for r in rep.sections["captcha_vendors"].dicts():
        assert v("logkit_scrapy_captchas_total", domain=r["domain"], vendor=r["vendor"]) == r["captchas"]
    tasks = rep.sections["tasks"].dicts()
    assert tasks
    for r in tasks:
        t = r["task"]
        assert v("logkit_celery_tasks_total", task=t, state="failed") == r["failed"], t
        assert v("logkit_celery_tasks_total", task=t, state="succeeded") == r["succeeded"], t
        assert v("logkit_celery_tasks_total", task=t, state="retried") == r["retried"], t
        assert v("logkit_celery_task_timeouts_total", task=t) == r["timeouts"], t
        assert v("logkit_celery_tasks_total", task=t, state="revoked") == r["revoked"], t
    for r in rep.sections["proxies"].dicts():
        p = r["proxy"]
        assert v("logkit_scrapy_proxy_requests_total", proxy=p) == r["requests"]
        assert v("logkit_scrapy_proxy_requests_total", proxy=p) - v("logkit_scrapy_proxy_failures_total", proxy=p) \
            == r["ok"]
    for r in rep.sections["services"].dicts():
        for lvl in ("debug", "info", "warning", "error", "critical"):
            assert v("logkit_events_total", service=r["service"], level=lvl) == r[lvl], (r["service"], lvl)
    # every event the analyzer kept was counted once
    assert v("logkit_events_total") >= rep.sections["summary"].dicts()[0]["events"]
    assert math.isclose(v("logkit_events_total"), agg.events_read)
