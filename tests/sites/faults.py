"""Servers on 127.0.0.1 that fail in the ways a crawler meets on real sites, and a crawl of them.

- :class:`ResetServer` accepts, reads the request, then resets the connection (``SO_LINGER 0``).
- :class:`SilentServer` accepts and never answers (the client times out).
- :class:`PlainServer` speaks plain HTTP: an ``https://`` request to it fails in the TLS handshake.
- a closed port (refused) and ``*.invalid`` (RFC 6761: never resolves) need no server.

``python -m tests.sites.faults --log-file F URL...`` crawls the URLs once each (no retries) with
the logkit add-on and exits; ``download.failed`` events land in F.
"""
from __future__ import annotations

import argparse
import socket
import struct
import threading


class _Server:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._loop, daemon=True, name=type(self).__name__)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sock.close()
        for c in self._held:
            try:
                c.close()
            except OSError:
                pass


class ResetServer(_Server):
    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            conn.recv(65536)
            # Linger on, timeout 0: close() sends RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            conn.close()


class SilentServer(_Server):
    def _serve(self, conn: socket.socket) -> None:
        self._held.append(conn)  # read nothing, answer nothing, keep it open until stopped
        self._stop.wait(60)


class PlainServer(_Server):
    """Answers anything with a plain-text HTTP 400, as an HTTP server does to a TLS ClientHello."""

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("urls", nargs="+")
    ap.add_argument("--log-file", required=True)
    ap.add_argument("--timeout", type=float, default=1.0)
    a = ap.parse_args()

    import scrapy
    from scrapy.crawler import CrawlerProcess

    class FaultSpider(scrapy.Spider):
        name = "faults"

        def _requests(self):
            for u in a.urls:
                yield scrapy.Request(u, callback=self.parse, errback=self.failed, dont_filter=True)

        async def start(self):  # Scrapy >= 2.13 (2.19 no longer calls start_requests)
            for r in self._requests():
                yield r

        def start_requests(self):  # Scrapy < 2.13
            return self._requests()

        def parse(self, response):
            pass

        def failed(self, failure):
            pass

    process = CrawlerProcess({
        "ADDONS": {"logkit.integrations.scrapy.LogkitAddon": 0},
        # Scrapy < 2.13 has no pre-crawler add-on hook; the add-on then configures logging
        # when the crawler starts. These three make both paths write the same file.
        "LOGKIT_SERVICE": "faults", "LOGKIT_LOG_FILE": a.log_file, "LOGKIT_LOG_STREAM": None,
        "LOG_LEVEL": "INFO", "TELNETCONSOLE_ENABLED": False, "ROBOTSTXT_OBEY": False,
        "RETRY_ENABLED": False, "DOWNLOAD_TIMEOUT": a.timeout, "DNS_TIMEOUT": 5,
        "DOWNLOADER_MIDDLEWARES": {"logkit.integrations.scrapy.LogkitDownloaderMiddleware": 950},
        "EXTENSIONS": {"logkit.integrations.scrapy.LogkitExtension": 0},
    })
    process.crawl(FaultSpider)
    process.start()


if __name__ == "__main__":
    main()
