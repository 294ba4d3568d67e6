"""A site on 127.0.0.1 whose every page has a planned outcome, served plain or compressed.

``PLAN`` is the truth the end-to-end test holds ``logkit analyze`` to: for each path, the status
the server sends (or the failure it causes), and what a crawl must log about it. Challenge and
block pages are REAL captured pages from tests/fixtures/challenges/real/; decoys are ordinary
pages that talk about captchas and blocking.

``python -m tests.sites.e2e_site crawl URL --log-file F`` runs the crawl (logkit add-on, no
retries) that the test drives in a child process.
"""
from __future__ import annotations

import argparse
import gzip
import json
import socket
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "challenges" / "real"


def _real(split_name: str) -> tuple[int | None, list, bytes]:
    meta = json.loads((REAL / f"{split_name}.json").read_text())
    return meta["status"], meta["headers"], (REAL / Path(split_name).parent / meta["body"]).read_bytes()


def _page(title: str, body: str, links: int = 0) -> bytes:
    nav = "".join(f'<a href="/item/{i % 3 + 1}">related {i}</a> ' for i in range(links))
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"{body}<footer>{nav}</footer></body></html>").encode()


_DECOY_CAPTCHA = _page(
    "What is a CAPTCHA, and why do sites show one?",
    "<p>A CAPTCHA is a test that tells people and programs apart. Are you a robot? Sites ask that "
    "when traffic looks unusual, and a visitor may have to verify you are human by clicking a box.</p>"
    + "<p>Our guide compares captcha services, explains how a captcha widget works and why "
      "some users find them annoying.</p>" * 30)
_DECOY_BLOCKED = _page(
    "Blocked drains? We unblock them the same day",
    "<p>Your sink has been blocked for days? Our plumbers clear blocked drains, toilets and gutters. "
    "You have been blocked from using your kitchen long enough.</p>" * 20)


def _item(n: int) -> bytes:
    return _page(f"Item {n} | blocked-deals.example",
                 f'<div class="item" data-sku="SKU{n}"><span class="name">Thing {n}</span>'
                 f'<span class="price">{n}.99</span></div><p>{"A fine thing. " * 50}</p>', links=4)


# path -> (status, headers, body) or a failure name ("slow", "reset"); plus what must be logged.
def build_plan(refused_port: int) -> dict:
    cf_iuam = _real("tune/cf_iuam_2019_03_21")
    cf_recaptcha = _real("tune/cf_recaptcha_2019_04")
    sucuri = _real("holdout/sucuri_cloudproxy_js_2019")
    px = _real("holdout/jscm_adorama_perimeterx")
    cf_1006 = _real("holdout/cf_access_denied_1006")
    plan = {
        "/item/1": {"serve": (200, [], _item(1)), "item": "new"},
        "/item/2": {"serve": (200, [], _item(2)), "item": "new"},
        "/item/3": {"serve": (200, [], _item(3)), "item": "updated"},
        "/decoy/captcha": {"serve": (200, [], _DECOY_CAPTCHA)},
        "/decoy/blocked": {"serve": (200, [], _DECOY_BLOCKED)},
        "/missing": {"serve": (404, [], _page("Not found", "<p>No such page.</p>"))},
        "/error": {"serve": (500, [], _page("Server error", "<p>Something broke.</p>"))},
        "/slow": {"serve": "slow", "error": "timeout"},
        "/reset": {"serve": "reset", "error": "connection_lost"},
        "/challenge/cf-iuam": {"serve": (cf_iuam[0], cf_iuam[1], cf_iuam[2]), "captcha": "cloudflare"},
        "/challenge/cf-recaptcha": {"serve": (cf_recaptcha[0], cf_recaptcha[1], cf_recaptcha[2]),
                                    "captcha": "cloudflare"},
        # Captured without status or headers: served as the vendors serve them.
        "/challenge/sucuri": {"serve": (200, [["Server", "Sucuri/Cloudproxy"]], sucuri[2]), "captcha": "sucuri"},
        "/challenge/perimeterx": {"serve": (403, [], px[2]), "captcha": "perimeterx"},
        "/block/cloudflare-1006": {"serve": (cf_1006[0], cf_1006[1], cf_1006[2]), "block": "cloudflare"},
        "/block/rate-limited": {"serve": (429, [["Retry-After", "60"]], b"Too Many Requests"), "block": None},
        f"http://127.0.0.1:{refused_port}/refused": {"serve": None, "error": "refused"},
        "http://logkit-e2e.invalid/dns": {"serve": None, "error": "dns"},
    }
    links = "".join(f'<a href="{p}">{p}</a> ' for p in plan)
    plan["/"] = {"serve": (200, [], _page("Shop", f"<p>Everything we sell.</p>{links}")), "index": True}
    return plan


_CODINGS = ("gzip", "deflate", "br")


def _encode(body: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(body)
    if coding == "deflate":
        return zlib.compress(body)
    import brotli
    return brotli.compress(body)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # the /reset page resets on purpose
        pass


class E2ESite:
    def __init__(self, plan: dict, compress: bool, slow_seconds: float = 4.0):
        self.plan = plan
        self.compress = compress
        self.slow_seconds = slow_seconds
        self.sent: dict[str, str] = {}  # path -> content coding used
        self._stop = threading.Event()
        site = self
        local = [p for p in plan if p.startswith("/")]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def finish(self):
                try:
                    super().finish()
                except OSError:
                    pass

            def do_GET(self):
                entry = site.plan.get(self.path)
                if entry is None:
                    self.send_error(404)
                    return
                serve = entry["serve"]
                if serve == "slow":
                    site._stop.wait(site.slow_seconds)
                    return
                if serve == "reset":
                    # Linger on with timeout 0: close() sends RST.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                status, headers, body = serve
                accept = self.headers.get("Accept-Encoding", "")
                coding = None
                if site.compress and body:
                    # Rotate codings over the pages so every kind of page meets every coding.
                    want = _CODINGS[local.index(self.path) % len(_CODINGS)]
                    coding = want if want in accept else next((c for c in _CODINGS if c in accept), None)
                if coding:
                    body = _encode(body, coding)
                    site.sent[self.path] = coding
                try:
                    self.send_response(status)
                    names = {n.lower() for n, _ in headers}
                    for name, value in headers:
                        if name.lower() not in ("content-length", "content-encoding", "transfer-encoding"):
                            self.send_header(name, value)
                    if "content-type" not in names:
                        self.send_header("Content-Type", "text/html; charset=utf-8")
                    if coding:
                        self.send_header("Content-Encoding", coding)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="e2e-site")

    def __enter__(self) -> "E2ESite":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def crawl_main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--log-file", required=True)
    a = ap.parse_args(argv)

    import scrapy
    from scrapy.crawler import CrawlerProcess

    from logkit.integrations.scrapy import set_item_status

    class ShopSpider(scrapy.Spider):
        name = "e2e-shop"

        async def start(self):  # Scrapy >= 2.13
            yield scrapy.Request(a.url, callback=self.parse)

        def start_requests(self):  # Scrapy < 2.13
            yield scrapy.Request(a.url, callback=self.parse)

        def parse(self, response):
            if "item" in response.css("div.item").xpath("@class").get(""):
                yield {"sku": response.css("div.item::attr(data-sku)").get()}
                return
            if response.url.rstrip("/").count("/") == 2:  # the index: follow every link once
                for href in response.css("a::attr(href)").getall():
                    yield response.follow(href, callback=self.parse, errback=self.failed)

        def failed(self, failure):
            pass

    class StatusPipeline:
        def process_item(self, item, spider=None):
            return set_item_status(item, "updated" if item["sku"] == "SKU3" else "new")

    process = CrawlerProcess({
        "ADDONS": {"logkit.integrations.scrapy.LogkitAddon": 0},
        "LOGKIT_SERVICE": "e2e-shop", "LOGKIT_LOG_FILE": a.log_file, "LOGKIT_LOG_STREAM": None,
        "LOG_LEVEL": "INFO", "TELNETCONSOLE_ENABLED": False, "ROBOTSTXT_OBEY": False,
        "RETRY_ENABLED": False, "DOWNLOAD_TIMEOUT": 1.0, "DNS_TIMEOUT": 5, "REDIRECT_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True, "CONCURRENT_REQUESTS": 8,
        # Scrapy < 2.13 runs no pre-crawler add-on hook: enable the parts directly as well.
        "DOWNLOADER_MIDDLEWARES": {"logkit.integrations.scrapy.LogkitDownloaderMiddleware": 950},
        "EXTENSIONS": {"logkit.integrations.scrapy.LogkitExtension": 0},
        "ITEM_PIPELINES": {StatusPipeline: 300},
    })
    process.crawl(ShopSpider)
    process.start()


if __name__ == "__main__":
    crawl_main()
