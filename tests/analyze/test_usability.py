"""Issue 15, usability: CLI errors and exit codes, format inference, empty windows, the demo's
hint, the new report sections, the terminal table at 80 and 100 columns, the HTML report's
definitions and charts, Kibana CSV and pretty _search inputs, alert text output and
WorkersTooFew."""
from __future__ import annotations

import io
import json
import os
import re
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from logkit.analyze import analyze
from logkit.look.render import render, to_string
from logkit.cli import main
from logkit.emit import Renderer

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "analyze")
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc).timestamp()


def run(*args, input=None):
    r = CliRunner().invoke(main, list(args), input=input)
    return r


# --- CLI -------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, needle", [
    (["analyze", FIX, "--top", "-1"], "--top"),
    (["analyze", FIX, "-o", "/nonexistent/x.html"], "does not exist"),
    (["analyze", FIX, "--since", "yesterday-ish"], "not a time"),
    (["analyze", FIX, "--by", "5 parsecs"], "not a duration"),
    (["analyze", FIX, "--format", "pdf"], "--format"),
    (["analyze", FIX, "--section", "nope"], "--section"),
    (["query", "SELECT 1", FIX, "-o", "/nonexistent/dir/q.csv"], "does not exist"),
    (["demo", "--events", "5"], "--events"),
    (["demo", "--day", "24/11/2026"], "not a day"),
    (["demo", "--top", "-3"], "--top"),
])
def test_bad_arguments_exit_2_with_a_message(args, needle):
    r = run(*args)
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert needle in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("ext, check", [
    (".html", lambda s: s.startswith("<!DOCTYPE html>")),
    (".json", lambda s: "sections" in json.loads(s)),
    (".csv", lambda s: s.startswith("# summary\n")),
    (".md", lambda s: s.startswith("# logkit report")),
])
def test_output_format_follows_the_extension(tmp_path, ext, check):
    out = tmp_path / f"report{ext}"
    r = run("analyze", FIX, "-o", str(out))
    assert r.exit_code == 0, r.output
    assert check(out.read_text())


def test_explicit_format_wins_over_the_extension(tmp_path):
    out = tmp_path / "report.html"
    r = run("analyze", FIX, "--format", "json", "-o", str(out))
    assert r.exit_code == 0 and json.loads(out.read_text())["meta"]


def test_empty_window_says_what_the_data_covers():
    r = run("analyze", FIX, "--since", "2026-11-25T00:00:00Z", "--format", "json")
    assert r.exit_code == 0
    assert "41 event(s) read, none in the window" in r.output
    assert "the data covers 2026-11-24T10:00:00Z to 2026-11-24T16:04:00Z" in r.output


def test_since_after_until_is_an_error_with_the_span():
    r = run("analyze", FIX, "--since", "2026-11-24T15:00:00Z", "--until", "2026-11-24T12:00:00Z")
    assert r.exit_code == 2
    assert "--since is not before --until" in r.output and "the data covers" in r.output


def test_demo_hint_selects_events(tmp_path):
    from logkit.look.demo import DEFAULT_DAY, demo
    from logkit.cli.demo import next_command
    res = demo(str(tmp_path / "d"), events=2000, report=False)
    cmd = next_command(res.log_dir, DEFAULT_DAY).split()
    assert cmd[:2] == ["logkit", "analyze"]
    r = run(*cmd[1:])
    assert r.exit_code == 0, r.output
    assert "none in the window" not in r.output
    assert "## Per domain" in r.output and "| " in r.output


# --- report sections -------------------------------------------------------------------------
def _events(tmp_path) -> str:
    """A Django app, two spiders and page failures, written through logkit's renderer."""
    web, spi = Renderer("web", "django"), Renderer("crawler", "scrapy")
    lines = []
    durs = {"articles/<int:pk>/": [0.010, 0.020, 0.030, 0.040, 0.500], "search/": [0.2, 0.4]}
    k = 0
    for route, ds in durs.items():
        for i, d in enumerate(ds):
            status = 500 if (route == "search/" and i == 0) else 404 if i == 3 else 200
            lines.append(web.render(f"GET /{route} {status}", "error" if status >= 500 else "info", "django.request",
                                    T0 + k, {"event.action": "http.request", "django.route": route,
                                             "http.request.method": "GET", "http.response.status_code": status,
                                             "event.duration": int(d * 1e9),
                                             "event.outcome": "failure" if status >= 500 else "success"}))
            k += 1
    lines.append(web.render("GET /nope 404", "info", "django.request", T0 + 20, {
        "event.action": "http.request", "http.request.method": "GET", "http.response.status_code": 404,
        "event.duration": 1_000_000}))
    for dom, status in [("a.example", 503), ("a.example", 503), ("b.example", 503), ("a.example", 404),
                        ("c.example", 200)]:
        k += 1
        lines.append(spi.render(f"Crawled ({status})", "info", "scrapy.core.engine", T0 + 100 + k, {
            "event.action": "page.fetched", "url.domain": dom, "url.full": f"https://{dom}/",
            "http.response.status_code": status, "event.outcome": "failure" if status >= 400 else "success"}))
    # a stdlib record that merely names a domain: no domain row for it
    lines.append(spi.render("slow DNS for z.example", "warning", "myapp", T0 + 200, {"url.domain": "z.example"}))
    for run_i, (sp, reason, stats) in enumerate([
            ("news", "finished", {"item_scraped_count": 10, "retry/count": 2, "downloader/request_count": 30}),
            ("news", "closespider_timeout", {"item_scraped_count": 5, "log_count/ERROR": 1}),
            ("shops", "shutdown", {})]):
        lines.append(spi.render(f"Spider closed ({sp})", "info", "scrapy.core.engine", T0 + 300 + run_i, {
            "event.action": "spider.closed", "scrapy.spider": sp, "scrapy.finish_reason": reason,
            "scrapy.stats": stats}))
    p = tmp_path / "sections.ndjson"
    p.write_bytes(b"\n".join(lines) + b"\n")
    return str(p)


def test_new_sections(tmp_path):
    rep = analyze([_events(tmp_path)], top=None)
    routes = {r["route"]: r for r in rep["django_routes"].dicts()}
    a = routes["articles/<int:pk>/"]
    assert (a["requests"], a["status_4xx"], a["status_5xx"], a["server_error_rate"]) == (5, 1, 0, 0.0)
    # [0.01, 0.02, 0.03, 0.04, 0.5]: p50 = 0.03, p95 at rank 3.8 -> 0.04 + 0.8 * 0.46 = 0.408
    assert a["duration_p50"] == pytest.approx(0.03) and a["duration_p95"] == pytest.approx(0.408)
    s = routes["search/"]
    assert (s["requests"], s["status_5xx"], s["server_error_rate"]) == (2, 1, 0.5)
    assert routes[None]["requests"] == 1
    assert list(routes)[0] == "articles/<int:pk>/"
    sp = {r["spider"]: r for r in rep["spiders"].dicts()}
    assert (sp["news"]["runs"], sp["news"]["finish_reason"], sp["news"]["items"], sp["news"]["retries"],
            sp["news"]["errors"], sp["news"]["requests"]) == (2, "closespider_timeout", 15, 2, 1, 30)
    assert (sp["shops"]["runs"], sp["shops"]["finish_reason"], sp["shops"]["items"]) == (1, "shutdown", None)
    pf = rep["page_failures"].dicts()
    assert [(r["status_code"], r["pages"], r["domains"], r["some_domains"]) for r in pf] == [
        (503, 3, 2, ["a.example", "b.example"]), (404, 1, 1, ["a.example"])]
    doms = [r["domain"] for r in rep["domains"].dicts()]
    assert "z.example" not in doms and set(doms) == {"a.example", "b.example", "c.example"}
    for fmt in ("table", "json", "csv", "markdown", "html"):
        text = to_string(rep, fmt)
        for needle in ("closespider", "articles/", "Per Django route" if fmt not in ("csv", "json") else "django_routes"):
            assert needle in text, (fmt, needle)


# --- terminal table --------------------------------------------------------------------------
@pytest.mark.parametrize("width", [80, 100])
def test_terminal_table_keeps_key_columns_whole(width):
    rep = analyze([FIX], top=None)
    # a long domain, as real ones are
    text = to_string(rep, "table", width=width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    for sec, key in (("domains", "domain"), ("tasks", "task"), ("proxies", "proxy")):
        for row in rep[sec].dicts():
            assert any(row[key] in line for line in lines), (sec, row[key])
    head = next(line for line in lines if re.match(r"^\s*domain\s{2,}", line))
    assert "requests" in head and "error %" in head
    if width == 80:
        assert "items upd" not in head  # a low-value column went first


def test_terminal_table_drops_columns_rather_than_wrap_a_long_domain(tmp_path):
    spi = Renderer("crawler", "scrapy")
    dom = "shop.very-long-subdomain-name.example-retailer.co.uk"
    lines = [spi.render("Crawled", "info", "x", T0 + i, {"event.action": "page.fetched", "url.domain": dom,
                                                          "url.full": f"https://{dom}/", "http.response.status_code": 200})
             for i in range(3)]
    p = tmp_path / "long.ndjson"
    p.write_bytes(b"\n".join(lines) + b"\n")
    text = to_string(analyze([str(p)]), "table", width=80)
    assert any(dom in line for line in text.splitlines())


# --- HTML ------------------------------------------------------------------------------------
def test_html_definitions_have_no_raw_markdown_and_charts_show_rates():
    from logkit.look.render.html import render_html
    rep = analyze([FIX], top=None)
    html = to_string(rep, "html")
    assert 'class="legend"' not in html  # nothing stale for more than an hour
    html = render_html(rep, stale_after=1800)
    defs = re.findall(r'<p class="def">(.*?)</p>', html)
    assert defs and not any("**" in d or "`" in d for d in defs)
    assert "<b>requests</b>" in html and "<code>page.fetched</code>" in html
    assert "Error rate per domain" in html and "50.0%" in html  # a.example: 4 errors / 8 requests
    assert 'class="legend"' in html and html.count('<tr class="stale">') == 2  # b (59m) and c (43m)
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', html)
    assert ticks and all(re.fullmatch(r"[\d,]+", t) for t in ticks), ticks


def test_nice_ticks_are_whole_numbers():
    from logkit.look.render.svg import nice_ticks
    for vmax in (1, 3, 7, 38.5, 77, 1234):
        t = nice_ticks(vmax)
        assert t[0] == 0 and t[-1] >= vmax and all(float(x).is_integer() for x in t)


# --- Kibana CSV and pretty _search ------------------------------------------------------------
_NON_ALNUM = re.compile(r"[^a-zA-Z0-9]")


def kibana_csv_value(v: str) -> str:
    """What Kibana's @kbn/generate-csv writes for a formatted value (createEscapeValue with
    csv:quoteValues true and escapeFormulaValues true; CSV_FORMULA_CHARS = = + - @)."""
    if v and v[0] in "=+-@":
        v = "'" + v
    if v and _NON_ALNUM.search(v):
        return '"' + v.replace('"', '""') + '"'
    return v


def kibana_date(t: datetime) -> str:
    """Kibana's default dateFormat, MMM D, YYYY @ HH:mm:ss.SSS, in UTC."""
    return f"{t.strftime('%b')} {t.day}, {t.year} @ {t.strftime('%H:%M:%S')}.{t.microsecond // 1000:03d}"


def kibana_number(n: int) -> str:
    """The default number format 0,0.[000]."""
    return f"{n:,}"


def test_kibana_discover_csv(tmp_path):
    cols = ["@timestamp", "log.level", "message", "service.name", "event.action", "url.domain",
            "http.response.status_code", "event.duration", "_id"]
    t = datetime(2026, 12, 2, 5, 53, 17, 431000, tzinfo=timezone.utc)
    rows = [
        [kibana_date(t), "info", 'Crawled (200) <GET https://a.example/x?a=1,b="2">', "crawler", "page.fetched",
         "a.example", "200", kibana_number(1_234_567), "id1"],
        [kibana_date(t + timedelta(seconds=1)), "error", "=HYPERLINK(\"http://evil\")\nsecond line", "crawler",
         "page.fetched", "a.example", "503", kibana_number(12_000), "id2"],
        [kibana_date(t + timedelta(seconds=2)), "info", "-5 items", "crawler", "page.fetched", "b.example", "200",
         "-", "id3"],
        ["not a date", "info", "x", "crawler", "page.fetched", "b.example", "200", "1", "id4"],
    ]
    text = ",".join(kibana_csv_value(c) for c in cols) + "\n"
    text += "\n".join(",".join(kibana_csv_value(v) for v in r) for r in rows) + "\n"
    text += '"only","three","cells"\n'
    p = tmp_path / "discover.csv"
    p.write_text(text)
    rep = analyze([str(p)], top=None)
    s = rep["summary"].dicts()[0]
    assert s["events"] == 3 and s["first_event"] == t
    d = {r["domain"]: r for r in rep["domains"].dicts()}
    assert d["a.example"]["requests"] == 2 and d["a.example"]["status_5xx"] == 1
    bad = {r["reason"]: r["count"] for r in rep["bad_input"].dicts()}
    assert bad == {"missing or invalid @timestamp": 1, "not a JSON object": 1}
    from logkit.analyze import query
    cols_, got = query('SELECT message, "event.duration" FROM events ORDER BY "@timestamp"', [str(p)])
    assert got[0] == ('Crawled (200) <GET https://a.example/x?a=1,b="2">', 1_234_567)
    assert got[1][0] == '=HYPERLINK("http://evil")\nsecond line'  # the formula escape undone
    assert got[2] == ("-5 items", None)


def test_pretty_search_response_and_scroll_pages(tmp_path):
    def hit(i, dom):
        return {"_index": ".ds-logs-logkit.scrapy-default-2026.11.24-000001", "_id": f"id{i}", "_score": None,
                "_source": {"@timestamp": f"2026-11-24T10:00:0{i}.000Z", "log": {"level": "info"},
                            "message": "Crawled", "event": {"action": "page.fetched", "id": f"e{i}"},
                            "url": {"domain": dom}, "service": {"name": "crawler"},
                            "http": {"response": {"status_code": 200}}}}
    page1 = {"_scroll_id": "FGluY2x1ZGVfY29udGV4dF91dWlk", "took": 3, "timed_out": False,
             "hits": {"total": {"value": 5, "relation": "eq"}, "hits": [hit(i, "a.example") for i in range(3)]}}
    page2 = {"_scroll_id": "FGluY2x1ZGVfY29udGV4dF91dWlk", "took": 1, "timed_out": False,
             "hits": {"total": {"value": 5, "relation": "eq"}, "hits": [hit(i, "b.example") for i in range(3, 5)]}}
    one = tmp_path / "search.json"
    one.write_text(json.dumps(page1, indent=2) + "\n")
    many = tmp_path / "scroll.json"
    many.write_text(json.dumps(page1, indent=2) + "\n" + json.dumps(page2, indent=2) + "\n{\n  \"took\": ")
    rep = analyze([str(one)], top=None)
    assert rep["summary"].dicts()[0]["events"] == 3 and not rep["bad_input"].rows
    rep = analyze([str(many)], top=None)
    assert rep["summary"].dicts()[0]["events"] == 5
    assert {r["reason"]: r["count"] for r in rep["bad_input"].dicts()} == {"malformed JSON": 1}
    r = run("analyze", str(one), "--format", "json")
    assert r.exit_code == 0, r.output


# --- alerts ----------------------------------------------------------------------------------
def _worker_log(tmp_path, workers_before, workers_now) -> str:
    w = Renderer("workers", "celery")
    lines = []
    base = T0
    for k in range(40):  # the day before: every 30 minutes, each worker runs a task
        for wk in (workers_before if k < 36 else workers_now):
            lines.append(w.render("done", "info", "celery.worker", base + k * 1800, {
                "event.action": "task.succeeded", "celery.task.name": "t", "celery.task.id": f"{k}-{wk}",
                "celery.worker.hostname": f"celery@{wk}", "celery.task.runtime": 0.1}))
    p = tmp_path / "w.ndjson"
    p.write_bytes(b"\n".join(lines) + b"\n")
    return str(p)


def test_workers_too_few_spares_a_one_worker_team(tmp_path):
    from logkit.alert import Source, load_rules
    from logkit.alert.engine import evaluate_all
    from logkit.alert.state import State
    rs = load_rules("pack:default")
    rs.rules = [rs.rule("WorkersTooFew")]
    for before, now, fires in ((["w1"], ["w1"], False), (["w1", "w2"], ["w1"], True),
                               (["w1", "w2", "w3"], ["w1", "w2"], False)):
        path = _worker_log(tmp_path, before, now)
        src = Source([path], None, fields=rs.fields_needed())
        try:
            t = datetime.fromtimestamp(T0 + 39 * 1800 + 60, timezone.utc)
            samples, _, errors = evaluate_all(rs, src.con, t, State())
        finally:
            src.close()
        assert not errors
        assert [s.active for s in samples["WorkersTooFew"]] == [fires], (before, now, samples)


def test_alert_text_output_prints_the_summary(tmp_path):
    path = _worker_log(tmp_path, ["w1", "w2"], ["w1"])
    rules = tmp_path / "r.yml"
    import yaml
    from logkit import data
    pack = yaml.safe_load(data.path("alerts/default.yml").read_text())
    pack["rules"] = [r for r in pack["rules"] if r["name"] == "WorkersTooFew"]
    for r in pack["rules"]:
        r.pop("for", None)
    rules.write_text(yaml.safe_dump(pack))
    r = run("alerts", "check", str(rules), path, "--now", "latest", "--no-deliver")
    assert r.exit_code == 1, r.output
    line = next(x for x in r.output.splitlines() if "WorkersTooFew" in x)
    assert "service=workers" in line
    assert "workers: only 1 distinct worker(s) ran tasks in 30m (want at least 2)" in line
    assert "< min" not in line


# --- ship --once against a closed port --------------------------------------------------------
def test_ship_once_against_a_closed_port_is_short_and_says_the_cause_once(tmp_path):
    import socket
    import subprocess
    import sys
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    log = tmp_path / "a.ndjson"
    log.write_text('{"@timestamp":"2026-11-24T10:00:00.000Z","log.level":"info","message":"x"}\n')
    p = subprocess.run([sys.executable, "-m", "logkit", "ship", str(log), "--es", f"http://127.0.0.1:{port}",
                        "--index", "x", "--registry", str(tmp_path / "r.json"), "--dead-letter",
                        str(tmp_path / "dl.ndjson"), "--once", "--connect-timeout", "2"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.splitlines()
    assert lines[-1].startswith("logkit ship: Elasticsearch did not answer within 2s") and "gave up" in lines[-1]
    attempts = int(re.search(r"\((\d+) attempt", lines[-1]).group(1))
    assert len(lines) <= attempts + 1  # one line per retry at most, then the error
    assert p.stderr.count("Connection refused") == 1
    assert "stack_trace" not in p.stderr and "Traceback" not in p.stderr


# --- every command's options: bad values end in a message, never a traceback -----------------
def _commands():
    import click as _click
    ctx = _click.Context(main)
    out = []

    def walk(cmd, path):
        if isinstance(cmd, _click.Group):
            for n in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, n), path + [n])
        else:
            out.append((path, cmd))
    walk(main, [])
    return out


def _bad_values(opt):
    import click as _click
    t = opt.type
    if isinstance(t, (_click.types.IntParamType, _click.types.FloatParamType)):
        yield "not-a-number"
        if isinstance(t, (_click.IntRange, _click.FloatRange)) and t.min is not None:
            yield str(t.min - 1)
    elif isinstance(t, _click.Choice):
        yield "no-such-choice"
    elif isinstance(t, _click.Path) and not t.exists and t.file_okay and not t.dir_okay:
        yield "/nonexistent/dir/x.out"  # an output file in a missing directory


def test_every_option_rejects_bad_values_without_a_traceback():
    checked = 0
    for path, cmd in _commands():
        for opt in cmd.params:
            if not isinstance(opt, __import__("click").Option) or opt.is_flag or opt.count:
                continue
            for bad in _bad_values(opt):
                r = CliRunner().invoke(main, path + [opt.opts[0], bad], input="")
                checked += 1
                assert r.exception is None or isinstance(r.exception, SystemExit), (path, opt.opts, bad, r.output)
                assert r.exit_code == 2, (path, opt.opts, bad, r.exit_code, r.output)
                assert "Traceback" not in r.output
    assert checked > 40


def test_progress_moves_within_one_big_file(tmp_path):
    from logkit.analyze.store import Store
    p = tmp_path / "big.ndjson"
    with open(p, "w") as f:
        for i in range(300_000):
            f.write('{"@timestamp":"2026-11-24T10:00:00.000Z","log.level":"info","message":"m%d",'
                    '"event":{"action":"page.fetched"},"url":{"domain":"d%d.example"}}\n' % (i, i % 50))
    with Store(None) as st:
        st.load([str(p)], progress=True)
        assert st.event_count == 300_000
        assert 0 < st.progress_within_file < 1  # the bar moved before the file was done
