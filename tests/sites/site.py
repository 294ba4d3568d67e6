"""The test site: a threaded http.server on 127.0.0.1 that is also a (forward) HTTP proxy.

Pages: ``/`` links to everything below; ``/page/N`` ok; ``/missing`` 404; ``/slow`` answers after
``slow_seconds`` (longer than the crawl's DOWNLOAD_TIMEOUT); ``/challenge`` a Cloudflare-style
managed-challenge interstitial (403, ``cf-mitigated: challenge``); ``/error`` 500; ``/items`` a
product list; ``/broken`` a page the spider's parsers fail on; a link to a refused port and,
optionally, to a host that does not resolve.
A request whose target is an absolute URL (``GET http://host:port/path``) is a proxied request:
it is served the same way and its ``Proxy-Authorization`` header is recorded.
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CHALLENGE_BODY = b"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"><meta name="robots" content="noindex,nofollow">
</head><body><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">127.0.0.1</h1>
<h2 class="h2" id="challenge-running">Checking if the site connection is secure</h2>
<noscript><div id="challenge-error-title">Enable JavaScript and cookies to continue</div></noscript>
</div></div><script>(function(){window._cf_chl_opt={cvId: '3',cType: 'managed'};}());</script>
</body></html>"""

PRODUCTS = [("A1", "Red shoe", "19.90"), ("B2", "Blue hat", "9.50"), ("DROP", "Duplicate", "1.00"),
            ("C3", "Green scarf", "12.00")]


def _html(title: str, body: str) -> bytes:
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f"{body}</body></html>").encode()


class Site:
    def __init__(self, slow_seconds: float = 4.0, refused_port: int | None = None, dns_link: bool = False):
        self.slow_seconds = slow_seconds
        self.refused_port = refused_port
        self.dns_link = dns_link
        self.proxy_auth_seen: list[str] = []
        self.hits: list[str] = []
        self._stop = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                target = self.path
                if target.startswith("http://"):
                    site.proxy_auth_seen.append(self.headers.get("Proxy-Authorization", ""))
                    parts = urlsplit(target)
                    target = parts.path + (f"?{parts.query}" if parts.query else "")
                site.hits.append(target)
                status, headers, body = site.route(target)
                if status == "slow":
                    site._stop.wait(site.slow_seconds)
                    status, headers, body = 200, {}, _html("Slow", "<p>finally</p>")
                try:
                    self.send_response(status)
                    headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-site", daemon=True)

    def route(self, path: str):
        p = urlsplit(path).path
        if p == "/":
            links = ["/page/1", "/page/2", "/page/3", "/missing", "/slow", "/challenge", "/error",
                     "/items", "/broken"]
            if self.refused_port:
                links.append(f"http://127.0.0.1:{self.refused_port}/refused")
            if self.dns_link:  # .invalid never resolves (RFC 6761)
                links.append("http://logkit-test.invalid/dns")
            return 200, {}, _html("Index", "".join(f'<a href="{u}">{u}</a> ' for u in links))
        if p.startswith("/page/"):
            return 200, {}, _html(f"Page {p.rsplit('/', 1)[-1]}", '<p>content</p><a href="/">home</a>')
        if p == "/missing":
            return 404, {}, _html("Not Found", "<p>no such page</p>")
        if p == "/slow":
            return "slow", {}, b""
        if p == "/challenge":
            return 403, {"cf-mitigated": "challenge", "Server": "cloudflare", "cf-ray": "8f0c1a2b3c4d5e6f-FRA"}, \
                CHALLENGE_BODY
        if p == "/error":
            return 500, {}, _html("Server Error", "<p>oops</p>")
        if p == "/items":
            rows = "".join(f'<div class="product" data-sku="{s}"><span class="name">{n}</span>'
                           f'<span class="price">{pr}</span></div>' for s, n, pr in PRODUCTS)
            return 200, {}, _html("Products", rows)
        if p == "/broken":
            return 200, {}, _html("Broken", '<div class="product"><span class="price">not-a-price</span></div>')
        return 404, {}, _html("Not Found", "")

    def start(self) -> "Site":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def __enter__(self) -> "Site":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # python -m tests.sites.site: serve until interrupted
    with Site() as s:
        print(s.base, flush=True)
        while True:
            time.sleep(3600)
