"""Scrapy integration: a REAL crawl (CrawlerProcess in a child process, tests/sites/crawl.py) of a
site served on 127.0.0.1 by a threaded http.server (tests/sites/site.py), plus unit tests."""
from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess

import pytest

from support.integrations_support import (PYTHON, ROOT, capture, closed_port, of, read_ndjson, schema_problems,
                                  validate_file)

from logkit.integrations.scrapy import (LogkitAddon, LogkitLogFormatter, classify_download_error, parse_guard,
                                        set_item_status, stats_summary, strip_proxy_credentials)
from tests.sites.site import Site

HEX32 = re.compile(r"[0-9a-f]{32}")
TRACE = "crawl-7f3a"


def run_crawl(url, log_file, *args, trace_id=None, timeout=180):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("LOGKIT_TRACE_ID", None)
    if trace_id:
        env["LOGKIT_TRACE_ID"] = trace_id
    return subprocess.run([PYTHON, "-m", "tests.sites.crawl", url, "--log-file", str(log_file), *args],
                          env=env, cwd=ROOT, capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    d = tmp_path_factory.mktemp("crawl")
    refused, dead_proxy = closed_port(), closed_port()
    with Site(slow_seconds=4.0, refused_port=refused, dns_link=True) as site:
        proc = run_crawl(site.base + "/", d / "crawl.ndjson", "--proxy", f"http://bob:s3cret-pw@127.0.0.1:{site.port}",
                         "--dead-proxy", f"http://eve:hunter2@127.0.0.1:{dead_proxy}", trace_id=TRACE)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-4000:]
        return {"events": read_ndjson(d / "crawl.ndjson"), "file": d / "crawl.ndjson", "site": site,
                "refused": refused, "dead_proxy": dead_proxy, "stderr": proc.stderr.decode(errors="replace"),
                "stdout": proc.stdout.decode(errors="replace")}


def fetched(crawl, path):
    return [e for e in of(crawl["events"], "page.fetched") if e["url.full"].endswith(path)]


def test_ok_pages(crawl):
    [e] = fetched(crawl, "/page/1")
    assert e["http.response.status_code"] == 200 and e["event.outcome"] == "success"
    assert e["url.domain"] == "127.0.0.1" and e["http.request.method"] == "GET"
    assert isinstance(e["event.duration"], int) and 0 < e["event.duration"] < 60e9
    assert e["http.response.body.bytes"] > 50
    assert e["scrapy.spider"] == "testsite" and e["scrapy.retry_times"] == 0 and e["scrapy.depth"] == 1
    assert "scrapy.proxy" not in e and "scrapy.proxy_outcome" not in e
    assert e["service.type"] == "scrapy" and e["service.name"] == "shop-crawler"


def test_404_and_500_are_fetches_with_failure_outcome_and_retries_counted(crawl):
    [nf] = fetched(crawl, "/missing")
    assert nf["http.response.status_code"] == 404 and nf["event.outcome"] == "failure"
    err = fetched(crawl, "/error")
    assert [e["scrapy.retry_times"] for e in err] == [0, 1]  # RETRY_TIMES = 1: every attempt is seen
    assert all(e["http.response.status_code"] == 500 and e["log.level"] == "warning" for e in err)
    assert not [e for e in crawl["events"] if e["event.action"] == "block.detected"
                and e["url.full"].endswith(("/missing", "/error"))]


def test_timeout_refused_and_dns_failures(crawl):
    fails = of(crawl["events"], "download.failed")
    slow = [e for e in fails if e["url.full"].endswith("/slow")]
    assert [e["error.type"] for e in slow] == ["timeout", "timeout"]
    assert [e["scrapy.retry_times"] for e in slow] == [0, 1]
    assert all(e["event.duration"] >= 1.0e9 for e in slow)  # DOWNLOAD_TIMEOUT = 1.5 s
    refused = [e for e in fails if e["url.full"].endswith("/refused")]
    assert {e["error.type"] for e in refused} == {"refused"} and len(refused) == 2
    assert refused[0]["url.domain"] == "127.0.0.1" and "Refused" in refused[0]["error.message"]
    dns = [e for e in fails if e["url.domain"] == "logkit-test.invalid"]
    assert dns and {e["error.type"] for e in dns} == {"dns"}
    assert all(e["event.outcome"] == "failure" and e["log.level"] == "warning" for e in fails)


def test_cloudflare_challenge_is_a_captcha_event(crawl):
    [cap] = of(crawl["events"], "captcha.detected")
    assert cap["url.full"].endswith("/challenge") and cap["url.domain"] == "127.0.0.1"
    assert cap["scrapy.challenge.vendor"] == "cloudflare" and cap["scrapy.challenge.kind"] == "captcha"
    assert "cf-mitigated" in cap["scrapy.challenge.signal"]
    assert cap["http.response.status_code"] == 403 and cap["event.outcome"] == "failure"
    [page] = fetched(crawl, "/challenge")
    assert page["event.outcome"] == "failure"


def test_proxy_is_logged_without_credentials_with_its_outcome(crawl):
    site = crawl["site"]
    [via] = [e for e in of(crawl["events"], "page.fetched") if "via=proxy" in e["url.full"]]
    assert via["scrapy.proxy"] == f"http://127.0.0.1:{site.port}"
    assert via["scrapy.proxy_outcome"] == "success" and via["http.response.status_code"] == 200
    assert site.proxy_auth_seen and site.proxy_auth_seen[0].startswith("Basic ")  # it really went through
    [dead] = [e for e in of(crawl["events"], "download.failed") if "via=dead-proxy" in e["url.full"]]
    assert dead["scrapy.proxy"] == f"http://127.0.0.1:{crawl['dead_proxy']}"
    assert dead["scrapy.proxy_outcome"] == "failure" and dead["error.type"] == "refused"
    text = crawl["file"].read_text()
    for secret in ("s3cret-pw", "hunter2", "bob:", "eve:", site.proxy_auth_seen[0].split()[1]):
        assert secret not in text
    [closed] = of(crawl["events"], "spider.closed")
    stats = closed["scrapy.stats"]
    assert stats[f"logkit/proxy/http://127.0.0.1:{site.port}/success"] == 1
    assert stats[f"logkit/proxy/http://127.0.0.1:{crawl['dead_proxy']}/failure"] == 1


def test_items_scraped_with_status_and_dropped(crawl):
    products = [e for e in of(crawl["events"], "item.scraped") if e["scrapy.item.type"] == "Product"]
    assert sorted(e["scrapy.item.status"] for e in products) == ["new", "new", "updated"]
    assert all(e["url.full"].endswith("/items") and e["url.domain"] == "127.0.0.1" for e in products)
    dicts = [e for e in of(crawl["events"], "item.scraped") if e["scrapy.item.type"] == "dict"]
    assert len(dicts) == 4 and all("scrapy.item.status" not in e for e in dicts)  # pages 1-3 and 9
    [dropped] = of(crawl["events"], "item.dropped")
    assert dropped["scrapy.item.type"] == "Product" and dropped["event.reason"] == "duplicate sku"
    # item content (names, prices) never reaches the log
    assert "Green scarf" not in crawl["file"].read_text()


def test_parse_failures_guarded_and_unguarded_are_logged_once_each(crawl):
    fails = of(crawl["events"], "parse.failed")
    assert sorted(e["scrapy.parser"] for e in fails) == ["parse_broken", "price"]
    for e in fails:
        assert e["url.domain"] == "127.0.0.1" and e["url.full"].endswith("/broken")
        assert e["error.type"] == "ValueError" and "Traceback" in e["error.stack_trace"]
        assert e["log.level"] == "error" and e["scrapy.spider"] == "testsite"
    assert "unguarded parser bug" in [e for e in fails if e["scrapy.parser"] == "parse_broken"][0]["error.message"]


def test_spider_open_and_close_with_stats(crawl):
    [opened] = of(crawl["events"], "spider.opened")
    [closed] = of(crawl["events"], "spider.closed")
    assert opened["scrapy.spider"] == closed["scrapy.spider"] == "testsite"
    assert closed["scrapy.finish_reason"] == "finished" and closed["event.outcome"] == "success"
    assert closed["event.duration"] > 0
    st = closed["scrapy.stats"]
    assert st["item_scraped_count"] == 7 and st["item_dropped_count"] == 1
    assert st["downloader/response_status_count/404"] == 1 and st["logkit/captcha_count"] == 1
    assert st["retry/count"] >= 3 and "elapsed_time_seconds" in st


def test_every_event_shares_the_correlation_id_and_is_schema_valid(crawl):
    evs = crawl["events"]
    assert len(evs) > 30
    assert {e.get("trace.id") for e in evs} == {TRACE}  # Scrapy's own records and the spider's too
    bad = [(e.get("event.action"), schema_problems(e)) for e in evs if schema_problems(e)]
    assert bad == []
    invalid, examples = validate_file(crawl["file"])
    assert invalid == 0, examples


def test_scrapy_records_go_through_logkit_only(crawl):
    evs = crawl["events"]
    own = [e for e in evs if e["log.logger"].startswith("scrapy.")]
    assert any(e["message"] == "Spider opened" for e in own)
    assert all(e["service.name"] == "shop-crawler" for e in own)
    assert not [e for e in evs if e["message"].startswith(("Crawled (", "Scraped from", "Dropped:"))]
    spider_log = [e for e in evs if e["log.logger"] == "testsite"]
    assert spider_log and all(e["trace.id"] == TRACE for e in spider_log)
    # nothing written in Scrapy's own text format, on either stream
    for stream in (crawl["stderr"], crawl["stdout"]):
        assert "[scrapy.core.engine]" not in stream and " INFO: " not in stream, stream[-2000:]


def test_a_crawl_without_a_given_id_makes_one(tmp_path):
    with Site() as site:
        proc = run_crawl(site.base + "/page/1", tmp_path / "c.ndjson", "--no-follow")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    evs = read_ndjson(tmp_path / "c.ndjson")
    ids = {e.get("trace.id") for e in evs}
    assert len(ids) == 1 and HEX32.fullmatch(ids.pop())
    assert len(of(evs, "page.fetched")) == 1


# --- units ------------------------------------------------------------------------------------
@pytest.mark.parametrize("proxy,want", [
    ("http://user:pass@proxy.example:8080", "http://proxy.example:8080"),
    ("https://tok@p.example", "https://p.example"),
    ("p.example:3128", "http://p.example:3128"),
    ("http://[2001:db8::1]:8080/path?key=x", "http://[2001:db8::1]:8080"),
    (b"http://u:p@10.0.0.1:1", "http://10.0.0.1:1"),
    ("", None), (None, None), ("http://:99999999", None),
])
def test_strip_proxy_credentials(proxy, want):
    assert strip_proxy_credentials(proxy) == want


def test_classify_download_errors():
    from scrapy import exceptions as se
    from twisted.internet import error as te
    from twisted.web._newclient import ResponseFailed
    from twisted.python.failure import Failure
    cases = {
        "timeout": [getattr(se, "DownloadTimeoutError", te.TimeoutError)("x"), te.TimeoutError(), te.TCPTimedOutError()],
        "dns": [te.DNSLookupError("x"), getattr(se, "CannotResolveHostError", te.DNSLookupError)("x")],
        "refused": [te.ConnectionRefusedError(), getattr(se, "DownloadConnectionRefusedError", te.ConnectionRefusedError)("x")],
        "connection_lost": [te.ConnectionLost(), te.ConnectionDone()],
    }
    for kind, excs in cases.items():
        for exc in excs:
            assert classify_download_error(exc) == kind, exc
    assert classify_download_error(ResponseFailed([Failure(te.TimeoutError())])) == "timeout"
    assert classify_download_error(KeyError("x")) == "KeyError"


def test_parse_guard_forms(tmp_path):
    class Resp:
        url = "https://shop.example/p/1"
        status = 200

    @parse_guard("plain")
    def plain(response):
        raise KeyError("missing field")

    @parse_guard("gen", swallow=True)
    def gen(response):
        yield 1
        raise ValueError("bad row")

    @parse_guard("coro")
    async def coro(response):
        raise TypeError("async parser")

    with capture("crawler", "scrapy") as h:
        with pytest.raises(KeyError):
            plain(Resp())
        assert list(gen(Resp())) == [1]
        with pytest.raises(TypeError):
            asyncio.run(coro(response=Resp()))
        with parse_guard("ctx", url="https://other.example/x", swallow=True):
            int("nope")
        with parse_guard("ok"):
            pass
        # an exception already logged is not logged again by an outer guard
        with pytest.raises(KeyError), parse_guard("outer"):
            plain(Resp())
    fails = of(h.events, "parse.failed")
    assert [e["scrapy.parser"] for e in fails] == ["plain", "gen", "coro", "ctx", "plain"]
    assert [e["url.domain"] for e in fails] == ["shop.example"] * 3 + ["other.example", "shop.example"]
    assert all(schema_problems(e) == [] for e in fails)


def test_item_status_values_and_log_formatter():
    item = {"a": 1}
    assert set_item_status(item, "new") is item
    with pytest.raises(ValueError):
        set_item_status(item, "brand-new")
    lf = LogkitLogFormatter()
    assert lf.crawled(None, None, None) is None and lf.scraped({}, None, None) is None
    assert lf.dropped({}, Exception("x"), None, None) is None
    assert stats_summary({"item_scraped_count": 3, "start_time": object(), "log_count/ERROR": 1,
                          "scheduler/dequeued": 5}) == {"item_scraped_count": 3, "log_count/ERROR": 1}


def test_addon_enables_the_components():
    from scrapy.settings import Settings
    s = Settings({"LOGKIT_CONFIGURE_LOGGING": False})
    LogkitAddon().update_settings(s)
    assert s["EXTENSIONS"]["logkit.integrations.scrapy.LogkitExtension"] == 0
    assert s["DOWNLOADER_MIDDLEWARES"]["logkit.integrations.scrapy.LogkitDownloaderMiddleware"] == 950
    assert s["LOG_FORMATTER"] == "logkit.integrations.scrapy.LogkitLogFormatter"


def test_telnet_password_is_masked():
    from logkit.integrations.scrapy import _MaskTelnetPassword
    rec = logging.LogRecord("scrapy.extensions.telnet", 20, "", 0, "Telnet Password: %s", ("0123abcd",), None)
    assert _MaskTelnetPassword().filter(rec) and rec.getMessage() == "Telnet Password: [MASKED]"
