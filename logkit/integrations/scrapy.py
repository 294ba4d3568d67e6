"""Scrapy: fetches, download failures, bot challenges, items, parse failures and the spider's close.

One setting (a Scrapy add-on), in the project's settings.py or the dict given to CrawlerProcess::

    ADDONS = {"logkit.integrations.scrapy.LogkitAddon": 0}
    LOGKIT_SERVICE = "shop-crawler"            # default: BOT_NAME
    LOGKIT_LOG_FILE = "/var/log/shop/crawler.ndjson"   # optional; stderr otherwise
    LOG_LEVEL = "INFO"

The add-on, before Scrapy configures logging, applies logkit's dictConfig and turns off
Scrapy's own root handler (``LOG_INSTALL_ROOT_HANDLER = False``), so Scrapy's records go through
logkit's formatter once; it binds the correlation id from ``LOGKIT_TRACE_ID`` (setting or
environment variable, see :func:`logkit.integrations.trace_env`); and it enables:

- :class:`LogkitDownloaderMiddleware` (order 950, next to the downloader: it sees every attempt,
  retries included, and the proxy after ``HttpProxyMiddleware`` took the credentials out):
  ``page.fetched`` (url, domain, status, duration from the request reaching the downloader to the
  response, transferred size, proxy without credentials, retry count, depth),
  ``download.failed`` (``error.type``: ``timeout``, ``dns``, ``refused``, ``connection_lost``,
  ``tls``, ``data_loss``, ``cancelled``, else the exception class), and ``captcha.detected`` /
  ``block.detected`` from :func:`logkit.detect.detect_challenge`. Each carries
  ``scrapy.proxy_outcome`` when a proxy was used, and per-proxy counts go into the stats.
- :class:`LogkitExtension`: ``spider.opened``, ``spider.closed`` (finish reason, a summary of
  Scrapy's stats), ``item.scraped`` / ``item.dropped`` (item type; ``scrapy.item.status`` when a
  pipeline called :func:`set_item_status`), ``parse.failed`` for a callback that raised.
- :class:`LogkitLogFormatter`: Scrapy's per-page and per-item lines ("Crawled (200)", "Scraped
  from", "Dropped") are left out and its "Error processing", "Spider error", "Error downloading"
  lines go to DEBUG, since the events above say the same with fields (and without the item's
  content).

``parse_guard(parser_name)`` wraps parser code (decorator or ``with``) and logs ``parse.failed``
with the domain and parser name. See docs/scrapy.md.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import logging.config
import os
import time
from collections import OrderedDict
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

from .. import logging_config
from ..emit.context import bind, get_context
from ._common import (ACTION, BODY_BYTES, DURATION, ERROR_MESSAGE, ERROR_TYPE, METHOD, OUTCOME, REASON,
                      STATUS, TRACE_ENV, TRACE_ID, URL_DOMAIN, URL_FULL, action, emit, error_fields, name,
                      new_trace_id, valid_trace_id)

__all__ = ["LogkitAddon", "LogkitExtension", "LogkitDownloaderMiddleware", "LogkitLogFormatter",
           "parse_guard", "set_item_status", "strip_proxy_credentials", "classify_download_error"]

logger = logging.getLogger("logkit.scrapy")

PAGE_FETCHED = action("page.fetched")
DOWNLOAD_FAILED = action("download.failed")
CAPTCHA = action("captcha.detected")
BLOCK = action("block.detected")
ITEM_SCRAPED = action("item.scraped")
ITEM_DROPPED = action("item.dropped")
PARSE_FAILED = action("parse.failed")
SPIDER_OPENED = action("spider.opened")
SPIDER_CLOSED = action("spider.closed")

SPIDER = name("scrapy.spider")
PROXY = name("scrapy.proxy")
PROXY_OUTCOME = name("scrapy.proxy_outcome")
RETRY_TIMES = name("scrapy.retry_times")
DEPTH = name("scrapy.depth")
CH_KIND = name("scrapy.challenge.kind")
CH_VENDOR = name("scrapy.challenge.vendor")
CH_SIGNAL = name("scrapy.challenge.signal")
ITEM_TYPE = name("scrapy.item.type")
ITEM_STATUS = name("scrapy.item.status")
PARSER = name("scrapy.parser")
FINISH_REASON = name("scrapy.finish_reason")
STATS = name("scrapy.stats")
ERROR_STACK = name("error.stack_trace")

ADDON_PATH = "logkit.integrations.scrapy.LogkitAddon"
EXTENSION_PATH = "logkit.integrations.scrapy.LogkitExtension"
MIDDLEWARE_PATH = "logkit.integrations.scrapy.LogkitDownloaderMiddleware"
LOG_FORMATTER_PATH = "logkit.integrations.scrapy.LogkitLogFormatter"
#: Next to the downloader: after HttpProxyMiddleware (750), DownloaderStats (850), HttpCache (900).
MIDDLEWARE_ORDER = 950

_T0 = "_logkit_t0"  # request.meta key: when the request reached the downloader (perf_counter_ns)
_STATUSES = ("new", "updated", "unchanged", "unknown")


# --- small pure helpers ---------------------------------------------------------------------------
def _domain(url: Any) -> str | None:
    try:
        host = urlsplit(str(url)).hostname
    except Exception:
        return None
    return host or None


def strip_proxy_credentials(proxy: Any) -> str | None:
    """``scheme://host:port`` of a proxy URL: user, password, path and query removed."""
    if not proxy:
        return None
    if isinstance(proxy, bytes):
        proxy = proxy.decode("latin-1")
    s = str(proxy).strip()
    if "://" not in s:
        s = "http://" + s
    try:
        p = urlsplit(s)
        host = p.hostname
        if not host:
            return None
        if ":" in host:  # IPv6
            host = f"[{host}]"
        netloc = f"{host}:{p.port}" if p.port else host
    except ValueError:
        return None
    return urlunsplit((p.scheme, netloc, "", "", ""))


_ERROR_KINDS = {
    # timeouts
    "DownloadTimeoutError": "timeout", "TimeoutError": "timeout", "TCPTimedOutError": "timeout",
    "UserTimeoutError": "timeout",
    # name resolution
    "CannotResolveHostError": "dns", "DNSLookupError": "dns", "gaierror": "dns",
    # refused
    "DownloadConnectionRefusedError": "refused", "ConnectionRefusedError": "refused",
    # the connection dropped
    "ConnectionLost": "connection_lost", "ConnectionDone": "connection_lost",
    "ResponseNeverReceived": "connection_lost", "ConnectionAborted": "connection_lost",
    "ConnectionResetError": "connection_lost", "BrokenPipeError": "connection_lost",
    # data
    "ResponseDataLossError": "data_loss", "_DataLoss": "data_loss", "PotentialDataLoss": "data_loss",
    # TLS
    "SSLError": "tls", "TLSError": "tls", "CertificateError": "tls", "VerificationError": "tls",
    # cancelled
    "DownloadCancelledError": "cancelled", "CancelledError": "cancelled",
}
# Wrappers: their own class says only "the download failed"; what matters is inside.
# Wrappers: their own class says little; what matters is inside. The value is the kind a
# wrapper means when nothing inside it says more (ResponseNeverReceived without reasons:
# the connection went away before a response).
_WRAPPERS = {"DownloadFailedError": None, "ResponseFailed": "connection_lost",
             "ResponseNeverReceived": "connection_lost", "RequestGenerationFailed": None,
             "RequestTransmissionFailed": "connection_lost", "ExceptionGroup": None,
             "BaseExceptionGroup": None, "FirstError": None}
# When a chain holds several kinds, the most specific cause wins: a TLS handshake
# failure or a timeout is also, at the socket level, a lost connection.
_KIND_RANK = {"tls": 0, "timeout": 1, "dns": 2, "refused": 3, "data_loss": 4, "cancelled": 5,
              "connection_lost": 6}
_CHAIN_MAX = 32


def _own_kind(exc: BaseException) -> tuple[str | None, bool]:
    """(kind, weak): weak for a wrapper's default, which any inner kind overrides."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _WRAPPERS:
            return _WRAPPERS[cls.__name__], True
        kind = _ERROR_KINDS.get(cls.__name__)
        if kind:
            return kind, False
        if cls.__module__.startswith(("OpenSSL", "ssl")):
            return "tls", False
    return None, False


def _inner(exc: BaseException) -> list[Any]:
    """What an exception wraps: ``__cause__``, ``__context__``, Twisted's ``reasons`` (a list of
    Failures, on ResponseFailed / ResponseNeverReceived), a FirstError's ``subFailure``,
    an exception group's ``exceptions``, and a Failure given as an argument."""
    out: list[Any] = [exc.__cause__, exc.__context__]
    for attr in ("reasons", "exceptions"):
        v = getattr(exc, attr, None)
        if isinstance(v, (list, tuple)):
            out.extend(v)
    out.append(getattr(exc, "subFailure", None))
    for a in getattr(exc, "args", ()) or ():
        if isinstance(a, (list, tuple)):
            out.extend(a)
        else:
            out.append(a)
    return out


def classify_download_error(exc: BaseException) -> str:
    """A short kind for a download exception: timeout, dns, refused, connection_lost, data_loss,
    tls, cancelled — or the exception's class name when it is none of those.

    Walks the whole chain breadth-first (``__cause__``, ``__context__``, Twisted's wrapped
    ``reasons`` and Failures), because Scrapy ≥ 2.13 raises ``DownloadFailedError`` from
    ``ResponseNeverReceived([Failure(ConnectionLost())])`` and the like; the most specific
    kind found anywhere in the chain wins. Class names are matched through the MRO, so
    Scrapy's own ``Download*Error`` classes and Twisted's both classify."""
    best: str | None = None
    weak: str | None = None
    seen: set[int] = set()
    queue: list[Any] = [exc]
    try:
        while queue and len(seen) < _CHAIN_MAX:
            item = queue.pop(0)
            item = getattr(item, "value", item)  # a twisted Failure
            if not isinstance(item, BaseException) or id(item) in seen:
                continue
            seen.add(id(item))
            kind, is_weak = _own_kind(item)
            if kind is not None:
                if is_weak:
                    weak = weak or kind
                elif best is None or _KIND_RANK[kind] < _KIND_RANK[best]:
                    best = kind
                    if _KIND_RANK[kind] == 0:
                        break
            queue.extend(_inner(item))
    except Exception:
        pass  # an exotic exception object must not break the crawl's logging
    return best or weak or type(exc).__name__


def _scrapy_decodable(codings: list) -> list | None:
    """The Content-Encoding values when this Scrapy's HttpCompressionMiddleware decodes every one
    of them (so the spider will see the decoded body); None when there is nothing to decode or
    a coding Scrapy leaves alone (the spider then gets those bytes as they are)."""
    if not codings:
        return None
    try:
        from scrapy.downloadermiddlewares.httpcompression import ACCEPTED_ENCODINGS
        accepted = {bytes(e).lower() for e in ACCEPTED_ENCODINGS} | {b"x-gzip", b"identity"}
    except Exception:
        accepted = {b"gzip", b"x-gzip", b"deflate", b"identity"}
    parts = [p.strip().lower() for c in codings for p in (c if isinstance(c, bytes) else str(c).encode()).split(b",")]
    if all(p in accepted for p in parts if p):
        return codings
    return None


def _callback_name(response: Any, spider: Any = None) -> str:
    req = getattr(response, "request", None)
    cb = getattr(req, "callback", None) if req is not None else None
    if cb is None:
        return "parse"
    return getattr(cb, "__name__", None) or str(cb)


def _item_type(item: Any) -> str:
    return type(item).__name__


# --- correlation id -------------------------------------------------------------------------------
def _crawl_trace_id(crawler: Any) -> str:
    """The crawl's correlation id: LOGKIT_TRACE_ID (setting, then environment), else the bound one
    (the add-on binds one at process start), else a new one; the same for every component of one
    crawler. logkit's own events always carry it explicitly."""
    tid = getattr(crawler, "_logkit_trace_id", None)
    if tid:
        return tid
    settings = getattr(crawler, "settings", None)
    tid = (valid_trace_id(settings.get("LOGKIT_TRACE_ID")) if settings is not None else None) \
        or valid_trace_id(os.environ.get(TRACE_ENV)) or valid_trace_id(get_context().get(TRACE_ID)) \
        or new_trace_id()
    try:
        crawler._logkit_trace_id = tid
    except Exception:
        pass
    return tid


# --- item status (new / updated) ------------------------------------------------------------------
_item_status: "OrderedDict[int, str]" = OrderedDict()
_ITEM_STATUS_MAX = 10_000


def set_item_status(item: Any, status: str) -> Any:
    """Say, from a pipeline, whether ``item`` was ``new``, ``updated`` or ``unchanged`` in your store.

    ``item.scraped`` then carries ``scrapy.item.status``. Call it on the item object the pipeline
    returns (the status is kept by object identity until the item leaves the pipelines, so the
    item's own fields are never touched). Returns the item, so ``return set_item_status(item, "new")``
    works."""
    if status not in _STATUSES:
        raise ValueError(f"status must be one of {_STATUSES}, not {status!r}")
    key = id(item)
    _item_status[key] = status
    _item_status.move_to_end(key)
    while len(_item_status) > _ITEM_STATUS_MAX:
        _item_status.popitem(last=False)
    return item


def _pop_item_status(item: Any) -> str | None:
    return _item_status.pop(id(item), None)


# Names of the spiders open in this process (for parse_guard used without a spider at hand).
_open_spiders: dict[str, int] = {}


# --- parse_guard ----------------------------------------------------------------------------------
_LOGGED = "__logkit_logged__"


def _mark_logged(exc: BaseException) -> None:
    try:
        setattr(exc, _LOGGED, True)
    except Exception:
        pass


def _parse_failed(parser: str, exc: BaseException, url: Any = None, spider: Any = None,
                  trace_id: str | None = None) -> None:
    fields: dict[str, Any] = {ACTION: PARSE_FAILED, OUTCOME: "failure", PARSER: parser}
    if url:
        fields[URL_FULL] = str(url)
        d = _domain(url)
        if d:
            fields[URL_DOMAIN] = d
    sname = getattr(spider, "name", None)
    if not sname and len(_open_spiders) == 1:  # the usual one-spider process: it is that one
        sname = next(iter(_open_spiders))
    if sname:
        fields[SPIDER] = sname
    if trace_id:
        fields[TRACE_ID] = trace_id
    fields.update(error_fields(exc))
    emit(logger, logging.ERROR, f"Parser {parser} failed on {url or 'a page'}: "
         f"{type(exc).__name__}: {fields[ERROR_MESSAGE]}", fields,
         exc_info=(type(exc), exc, exc.__traceback__))
    _mark_logged(exc)


class parse_guard(contextlib.ContextDecorator):
    """Log ``parse.failed`` (domain, parser name, error, stack) when parser code raises.

    As a context manager::

        with parse_guard("price", response=response):           # re-raises
            price = parse_price(response)
        with parse_guard("reviews", url=response.url, swallow=True):   # logs and carries on
            reviews = parse_reviews(response)

    As a decorator on a callback or a parser function; the URL is taken from a ``response``
    argument (or any argument with ``.url``), and generator / async callbacks are covered::

        @parse_guard("product")
        def parse_product(self, response): ...

    ``swallow=True`` logs and suppresses the exception (a decorated function then returns None /
    stops yielding). The exception is marked as logged, so the extension's ``spider_error``
    handler does not report it a second time when it propagates to Scrapy.
    """

    def __init__(self, parser_name: str, *, response: Any = None, url: Any = None, swallow: bool = False,
                 spider: Any = None):
        self.parser_name = str(parser_name)
        self.url = url if url is not None else getattr(response, "url", None)
        self.swallow = swallow
        self.spider = spider

    def __enter__(self) -> "parse_guard":
        return self

    def __exit__(self, et, exc, tb) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        if not getattr(exc, _LOGGED, False):
            _parse_failed(self.parser_name, exc, self.url, self.spider)
        return self.swallow

    def _with_args(self, args: tuple, kwargs: dict) -> "parse_guard":
        url, spider = self.url, self.spider
        for a in (kwargs.get("response"), *args):
            if url is None and a is not None and hasattr(a, "url") and hasattr(a, "status"):
                url = a.url
            if spider is None and a is not None and hasattr(a, "crawler") and hasattr(a, "name"):
                spider = a
        return parse_guard(self.parser_name, url=url, swallow=self.swallow, spider=spider)

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def agen(*args, **kwargs):
                with self._with_args(args, kwargs):
                    async for x in fn(*args, **kwargs):
                        yield x
            return agen
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen(*args, **kwargs):
                with self._with_args(args, kwargs):
                    yield from fn(*args, **kwargs)
            return gen
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def coro(*args, **kwargs):
                with self._with_args(args, kwargs):
                    return await fn(*args, **kwargs)
            return coro

        @functools.wraps(fn)
        def plain(*args, **kwargs):
            with self._with_args(args, kwargs):
                return fn(*args, **kwargs)
        return plain


# --- downloader middleware --------------------------------------------------------------------------
class LogkitDownloaderMiddleware:
    """``page.fetched``, ``download.failed``, ``captcha.detected`` / ``block.detected``, per attempt."""

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.trace_id = _crawl_trace_id(crawler)
        self.detect = crawler.settings.getbool("LOGKIT_DETECT_CHALLENGES", True)
        self.stats = crawler.stats
        from scrapy import signals
        crawler.signals.connect(self._reached_downloader, signal=signals.request_reached_downloader)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "LogkitDownloaderMiddleware":
        return cls(crawler)

    @staticmethod
    def _reached_downloader(request: Any = None, **kw) -> None:
        try:
            request.meta[_T0] = time.perf_counter_ns()
        except Exception:
            pass

    def _spider_name(self, spider: Any) -> str | None:
        spider = spider or getattr(self.crawler, "spider", None)
        return getattr(spider, "name", None)

    def _base(self, request: Any, spider: Any) -> dict[str, Any]:
        meta = request.meta
        fields: dict[str, Any] = {
            URL_FULL: request.url,
            METHOD: request.method,
            RETRY_TIMES: int(meta.get("retry_times", 0) or 0),
            TRACE_ID: self.trace_id,
        }
        d = _domain(request.url)
        if d:
            fields[URL_DOMAIN] = d
        if meta.get("depth") is not None:
            try:
                fields[DEPTH] = int(meta["depth"])
            except (TypeError, ValueError):
                pass
        sname = self._spider_name(spider)
        if sname:
            fields[SPIDER] = sname
        proxy = strip_proxy_credentials(meta.get("proxy"))
        if proxy:
            fields[PROXY] = proxy
        t0 = meta.get(_T0)
        if isinstance(t0, int):
            fields[DURATION] = time.perf_counter_ns() - t0
        elif isinstance(meta.get("download_latency"), (int, float)):
            fields[DURATION] = int(meta["download_latency"] * 1e9)
        return fields

    def _proxy_outcome(self, fields: dict, ok: bool) -> None:
        proxy = fields.get(PROXY)
        if not proxy:
            return
        fields[PROXY_OUTCOME] = "success" if ok else "failure"
        try:
            self.stats.inc_value(f"logkit/proxy/{proxy}/{'success' if ok else 'failure'}")
        except Exception:
            pass

    def process_request(self, request: Any, spider: Any = None) -> None:
        return None

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        try:
            self._fetched(request, response, spider)
        except Exception:
            pass
        return response

    def _fetched(self, request: Any, response: Any, spider: Any) -> None:
        fields = self._base(request, spider)
        status = int(response.status)
        fields[STATUS] = status
        fields[URL_FULL] = response.url or request.url
        try:
            fields[BODY_BYTES] = len(response.body)
        except Exception:
            pass
        challenge = None
        if self.detect:
            from ..detect import detect_challenge
            # At order 950 the body is still as transferred: HttpCompressionMiddleware (590)
            # decodes it later and then drops Content-Encoding. Whatever the order a project
            # gives this middleware, a Content-Encoding still present means undecoded bytes.
            try:
                encoding = _scrapy_decodable(response.headers.getlist("Content-Encoding"))
            except Exception:
                encoding = None
            challenge = detect_challenge(status, response.headers, response.body, content_encoding=encoding)
            if not challenge:
                challenge = None
        failed = status >= 400 or challenge is not None
        fields[OUTCOME] = "failure" if failed else "success"
        self._proxy_outcome(fields, challenge is None and status not in (407, 502, 504))
        level = logging.WARNING if status >= 500 else logging.INFO
        emit(logger, level, f"Fetched {status} {fields[URL_FULL]}", {**fields, ACTION: PAGE_FETCHED})
        if challenge is not None:
            ev = {k: v for k, v in fields.items() if k not in (DURATION, BODY_BYTES)}
            ev.update({OUTCOME: "failure", CH_KIND: challenge.kind, CH_SIGNAL: challenge.signal or "unknown"})
            if challenge.kind == "captcha":
                ev[ACTION] = CAPTCHA
                ev[CH_VENDOR] = challenge.vendor or "generic"
                msg = f"CAPTCHA/bot challenge ({ev[CH_VENDOR]}) on {fields.get(URL_DOMAIN)}: {challenge.signal}"
            else:
                ev[ACTION] = BLOCK
                if challenge.vendor:
                    ev[CH_VENDOR] = challenge.vendor
                msg = f"Blocked ({challenge.vendor or 'no vendor'}) on {fields.get(URL_DOMAIN)}: {challenge.signal}"
            try:
                self.stats.inc_value(f"logkit/{challenge.kind}_count")
            except Exception:
                pass
            emit(logger, logging.WARNING, msg, ev)

    def process_exception(self, request: Any, exception: BaseException, spider: Any = None) -> None:
        try:
            from scrapy.exceptions import IgnoreRequest
            if isinstance(exception, IgnoreRequest):
                return None  # robots.txt, offsite, a middleware's decision: not a download failure
            fields = self._base(request, spider)
            kind = classify_download_error(exception)
            fields.update({ACTION: DOWNLOAD_FAILED, OUTCOME: "failure", ERROR_TYPE: kind,
                           ERROR_MESSAGE: f"{type(exception).__name__}: {exception}"})
            self._proxy_outcome(fields, False)
            emit(logger, logging.WARNING, f"Download failed ({kind}) {request.url}", fields)
        except Exception:
            pass
        return None


# --- extension --------------------------------------------------------------------------------------
_STAT_PREFIXES = (
    "downloader/request_count", "downloader/response_count", "downloader/response_status_count/",
    "downloader/exception_count", "downloader/exception_type_count/", "downloader/request_bytes",
    "downloader/response_bytes", "item_scraped_count", "item_dropped_count", "item_dropped_reasons_count/",
    "response_received_count", "retry/", "log_count/", "elapsed_time_seconds", "spider_exceptions/",
    "request_depth_max", "scheduler/enqueued", "dupefilter/filtered", "httperror/", "logkit/",
    "offsite/", "robotstxt/", "memusage/max",
)


def stats_summary(stats: dict) -> dict[str, Any]:
    """The numeric stats worth keeping at spider close (what pages, errors, items and retries did)."""
    out = {}
    for k, v in (stats or {}).items():
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if k.startswith(_STAT_PREFIXES):
            out[k] = v
    return dict(sorted(out.items())[:300])


class LogkitExtension:
    """Spider open/close, items, callback failures."""

    def __init__(self, crawler: Any):
        from scrapy import signals
        self.crawler = crawler
        self.trace_id = _crawl_trace_id(crawler)
        self.opened_at: float | None = None
        settings = crawler.settings
        if not settings.getbool("LOG_INSTALL_ROOT_HANDLER", True):
            # Scrapy sets the "scrapy" logger to DEBUG and applies LOG_LEVEL only in the root
            # handler it installs; without that handler, apply LOG_LEVEL here.
            lvl = settings.get("LOG_LEVEL") or "DEBUG"
            logging.getLogger("scrapy").setLevel(lvl if isinstance(lvl, int) else str(lvl).upper())
        s = crawler.signals
        s.connect(self.spider_opened, signal=signals.spider_opened)
        s.connect(self.spider_closed, signal=signals.spider_closed)
        s.connect(self.item_scraped, signal=signals.item_scraped)
        s.connect(self.item_dropped, signal=signals.item_dropped)
        s.connect(self.item_error, signal=signals.item_error)
        s.connect(self.spider_error, signal=signals.spider_error)

    @classmethod
    def from_crawler(cls, crawler: Any) -> "LogkitExtension":
        return cls(crawler)

    def _common(self, spider: Any) -> dict[str, Any]:
        spider = spider or getattr(self.crawler, "spider", None)
        f: dict[str, Any] = {TRACE_ID: self.trace_id}
        if getattr(spider, "name", None):
            f[SPIDER] = spider.name
        return f

    def spider_opened(self, spider: Any = None, **kw) -> None:
        self.opened_at = time.perf_counter()
        f = {**self._common(spider), ACTION: SPIDER_OPENED, OUTCOME: "success"}
        if f.get(SPIDER):
            _open_spiders[f[SPIDER]] = _open_spiders.get(f[SPIDER], 0) + 1
        emit(logger, logging.INFO, f"Spider {f.get(SPIDER)} opened", f)

    def spider_closed(self, spider: Any = None, reason: str | None = None, **kw) -> None:
        reason = str(reason or "unknown")
        sname = getattr(spider or getattr(self.crawler, "spider", None), "name", None)
        if sname in _open_spiders:
            _open_spiders[sname] -= 1
            if _open_spiders[sname] <= 0:
                del _open_spiders[sname]
        ok = reason == "finished" or reason.startswith("closespider_")
        f = {**self._common(spider), ACTION: SPIDER_CLOSED, FINISH_REASON: reason,
             OUTCOME: "success" if ok else "failure"}
        try:
            f[STATS] = stats_summary(self.crawler.stats.get_stats())
        except Exception:
            pass
        if self.opened_at is not None:
            f[DURATION] = int((time.perf_counter() - self.opened_at) * 1e9)
        emit(logger, logging.INFO if ok else logging.WARNING, f"Spider {f.get(SPIDER)} closed ({reason})", f)

    def _item_fields(self, item: Any, response: Any, spider: Any) -> dict[str, Any]:
        f = {**self._common(spider), ITEM_TYPE: _item_type(item)}
        url = getattr(response, "url", None)
        if url:
            f[URL_FULL] = url
            d = _domain(url)
            if d:
                f[URL_DOMAIN] = d
        return f

    def item_scraped(self, item: Any = None, response: Any = None, spider: Any = None, **kw) -> None:
        f = {**self._item_fields(item, response, spider), ACTION: ITEM_SCRAPED, OUTCOME: "success"}
        status = _pop_item_status(item)
        if status:
            f[ITEM_STATUS] = status
        emit(logger, logging.INFO, f"Item {f[ITEM_TYPE]} scraped" + (f" ({status})" if status else ""), f)

    def item_dropped(self, item: Any = None, response: Any = None, exception: Any = None, spider: Any = None,
                     **kw) -> None:
        _pop_item_status(item)
        f = {**self._item_fields(item, response, spider), ACTION: ITEM_DROPPED, OUTCOME: "failure",
             REASON: str(exception) if exception is not None else "dropped"}
        f.pop(URL_FULL, None)
        emit(logger, logging.INFO, f"Item {f[ITEM_TYPE]} dropped: {f[REASON]}", f)

    def item_error(self, item: Any = None, response: Any = None, spider: Any = None, failure: Any = None,
                   **kw) -> None:
        """A pipeline raised (not DropItem): the item is lost, so it is an ``item.dropped`` with the error."""
        _pop_item_status(item)
        exc = getattr(failure, "value", None)
        f = {**self._item_fields(item, response, spider), ACTION: ITEM_DROPPED, OUTCOME: "failure",
             REASON: f"pipeline error: {type(exc).__name__}" if exc is not None else "pipeline error"}
        f.pop(URL_FULL, None)
        exc_info = None
        if isinstance(exc, BaseException):
            f.update(error_fields(exc))
            exc_info = (type(exc), exc, getattr(failure, "tb", None) or exc.__traceback__)
            if exc_info[2] is None:
                try:
                    f[ERROR_STACK] = failure.getTraceback()
                except Exception:
                    pass
                exc_info = None
        emit(logger, logging.ERROR, f"Item {f[ITEM_TYPE]} lost: {f[REASON]}", f, exc_info=exc_info)

    def spider_error(self, failure: Any = None, response: Any = None, spider: Any = None, **kw) -> None:
        """A callback raised: ``parse.failed`` with the callback's name as the parser."""
        exc = getattr(failure, "value", None)
        if not isinstance(exc, BaseException) or getattr(exc, _LOGGED, False):
            return
        fields = {**self._common(spider), ACTION: PARSE_FAILED, OUTCOME: "failure",
                  PARSER: _callback_name(response, spider)}
        url = getattr(response, "url", None)
        if url:
            fields[URL_FULL] = url
            d = _domain(url)
            if d:
                fields[URL_DOMAIN] = d
        fields.update(error_fields(exc))
        tb = getattr(failure, "tb", None) or exc.__traceback__
        exc_info = (type(exc), exc, tb) if tb is not None else None
        if exc_info is None:
            try:
                fields[ERROR_STACK] = failure.getTraceback()
            except Exception:
                pass
        emit(logger, logging.ERROR, f"Callback {fields[PARSER]} failed on {url}: {type(exc).__name__}: "
             f"{fields[ERROR_MESSAGE]}", fields, exc_info=exc_info)
        _mark_logged(exc)


# --- log formatter ----------------------------------------------------------------------------------
def _log_formatter_base():
    from scrapy.logformatter import LogFormatter
    return LogFormatter


class LogkitLogFormatter(_log_formatter_base()):
    """Scrapy's LogFormatter minus the lines logkit's events replace.

    ``crawled`` (→ ``page.fetched``), ``scraped`` and ``dropped`` (→ ``item.scraped`` /
    ``item.dropped``; Scrapy's lines would also print the whole item) return None, Scrapy's
    documented way to not log an action. ``item_error``, ``spider_error`` and ``download_error``
    must return a dict in Scrapy 2.19 (its scraper does not accept None there), so they keep
    Scrapy's message at DEBUG: below the usual ``LOG_LEVEL``, and logkit's ``item.dropped``,
    ``parse.failed`` and ``download.failed`` events carry the error.
    """

    def crawled(self, *args, **kwargs):
        return None

    def scraped(self, *args, **kwargs):
        return None

    def dropped(self, *args, **kwargs):
        return None

    @staticmethod
    def _debug(result):
        if isinstance(result, dict):
            result = {**result, "level": logging.DEBUG}
        return result

    def item_error(self, *args, **kwargs):
        return self._debug(super().item_error(*args, **kwargs))

    def spider_error(self, *args, **kwargs):
        return self._debug(super().spider_error(*args, **kwargs))

    def download_error(self, *args, **kwargs):
        return self._debug(super().download_error(*args, **kwargs))


# --- logging setup and the add-on -----------------------------------------------------------------
class _MaskTelnetPassword(logging.Filter):
    """Scrapy's telnet console logs its password at INFO: mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "password" in record.msg.lower() and record.args:
            record.args = tuple("[MASKED]" for _ in (record.args if isinstance(record.args, tuple) else (record.args,)))
        return True


_configured: dict[str, bool] = {}


def logging_settings_config(settings: Any) -> dict:
    """The dictConfig the add-on applies, from ``LOGKIT_*`` and ``LOG_LEVEL`` settings."""
    cfg = settings.get("LOGKIT_LOGGING")
    if isinstance(cfg, dict):
        return cfg
    options = dict(settings.get("LOGKIT_LOGGING_OPTIONS") or {})
    # Scrapy's Settings.get() turns a None value into the default: read the raw value.
    stream = settings["LOGKIT_LOG_STREAM"] if "LOGKIT_LOG_STREAM" in settings else "stderr"
    if stream in ("", "none", "None", False, None):
        stream = None
    filename = settings.get("LOGKIT_LOG_FILE") or None
    if stream is None and not filename:
        stream = "stderr"
    lvl = settings.get("LOG_LEVEL") or "DEBUG"
    level = logging.getLevelName(lvl) if isinstance(lvl, int) else str(lvl).upper()
    cfg = logging_config(settings.get("LOGKIT_SERVICE") or settings.get("BOT_NAME") or "scrapy", "scrapy",
                         environment=settings.get("LOGKIT_ENVIRONMENT"), level=level, stream=stream,
                         filename=filename, **options)
    # Scrapy's configure_logging runs after this and sets the "scrapy" logger to DEBUG; its own
    # root handler then applies LOG_LEVEL. That handler is off, so logkit's handlers apply it,
    # or Scrapy's start-up DEBUG lines ("Using reactor", "Using asyncio event loop") get through.
    for handler in (cfg.get("handlers") or {}).values():
        if isinstance(handler, dict):
            handler.setdefault("level", level)
    return cfg


def configure_logging(settings: Any) -> None:
    """Apply logkit's dictConfig for a crawl process (what the add-on does; once per process)."""
    if _configured.get("done"):
        return
    logging.config.dictConfig(logging_settings_config(settings))
    telnet = logging.getLogger("scrapy.extensions.telnet")
    if not any(isinstance(f, _MaskTelnetPassword) for f in telnet.filters):
        telnet.addFilter(_MaskTelnetPassword())
    _configured["done"] = True


class LogkitAddon:
    """``ADDONS = {"logkit.integrations.scrapy.LogkitAddon": 0}``: logging, correlation id, components.

    Settings: ``LOGKIT_CONFIGURE_LOGGING`` (default True; False if you apply a logkit dictConfig
    yourself), ``LOGKIT_SERVICE``, ``LOGKIT_ENVIRONMENT``, ``LOGKIT_LOG_FILE``, ``LOGKIT_LOG_STREAM``
    ("stderr", "stdout" or None), ``LOGKIT_LOGGING_OPTIONS`` (more ``logging_config`` options),
    ``LOGKIT_LOGGING`` (a whole dictConfig instead), ``LOGKIT_TRACE_ID``, ``LOGKIT_DETECT_CHALLENGES``.
    """

    @classmethod
    def update_pre_crawler_settings(cls, settings: Any) -> None:
        """Runs in CrawlerProcess/CrawlerRunner before Scrapy configures logging."""
        if settings.getbool("LOGKIT_CONFIGURE_LOGGING", True):
            settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="addon")
            configure_logging(settings)
        tid = valid_trace_id(settings.get("LOGKIT_TRACE_ID")) or valid_trace_id(os.environ.get(TRACE_ENV)) \
            or valid_trace_id(get_context().get(TRACE_ID)) or new_trace_id()
        if get_context().get(TRACE_ID) != tid:
            # Bound here, at the top of the process before the reactor runs, every callback
            # inherits it (Scrapy's own records and the spider's included). Components created
            # later run inside copied contexts, where a binding would not reach the callbacks.
            bind(**{TRACE_ID: tid})

    def update_settings(self, settings: Any) -> None:
        settings["EXTENSIONS"][EXTENSION_PATH] = 0
        settings["DOWNLOADER_MIDDLEWARES"][MIDDLEWARE_PATH] = MIDDLEWARE_ORDER
        settings.set("LOG_FORMATTER", LOG_FORMATTER_PATH, priority="addon")
        if settings.getbool("LOGKIT_CONFIGURE_LOGGING", True) and not _configured.get("done"):
            # The add-on was enabled per spider (custom_settings), after Scrapy set up logging:
            # take Scrapy's root handler out and apply logkit's config now.
            from scrapy.utils import log as scrapy_log
            uninstall = getattr(scrapy_log, "_uninstall_scrapy_root_handler", None)
            handler = scrapy_log.get_scrapy_root_handler()
            if uninstall is not None:
                uninstall()
            elif handler is not None:
                logging.getLogger().removeHandler(handler)
            settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="addon")
            configure_logging(settings)
            tid = valid_trace_id(settings.get("LOGKIT_TRACE_ID")) or valid_trace_id(os.environ.get(TRACE_ENV))
            if tid and get_context().get(TRACE_ID) != tid:
                bind(**{TRACE_ID: tid})  # best effort this late; logkit's own events carry it anyway
