"""``logkit demo``: a day of logs of a made-up deployment, written through logkit's own emitters,
then the report over them.

The deployment: a Django app (``web`` on web-1, web-2), a dispatcher sending Celery tasks, three
Celery workers (``workers`` on worker-1..3), and spiders (``crawler`` on scraper-1..3) crawling a few
hundred domains with a Zipf-like skew. Some domains fail (5xx, timeouts), some are behind a
CAPTCHA vendor, some go stale (nothing succeeds after some hour); a bad proxy times out often;
``mail.send_digest`` retries, ``reports.build_daily`` is slow and sometimes hits its time limit; the
database pool runs dry a few times (critical events).

Every line goes through the real emit path: ``logging.config.dictConfig(logkit.logging_config(...))``
with a file handler per service and host, stdlib loggers for Django and Scrapy, ``logkit.get_logger``
(structlog) for Celery, ``logkit.bound`` for the host. Only the clock is simulated: a filter on the
handler sets each record's ``created`` to the simulated time. The same seed gives the same events
(event ids excepted: they are made at emission, with random bits, as in production).
"""
from __future__ import annotations

import logging
import logging.config
import math
import os
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

DEFAULT_DAY = "2026-11-24"
VENDORS = ("cloudflare", "datadome", "akamai", "perimeterx", "hcaptcha")
SPIDERS = ("news", "shops", "jobs", "realty", "forums")
_SYL = ("ka", "lo", "mi", "ra", "ten", "vo", "su", "pe", "na", "zu", "bel", "cor", "dan", "fin",
        "gar", "hol", "jun", "lum", "mar", "nor", "pix", "qua", "ros", "sol", "tri", "umb", "ver", "wex")
_TLDS = ("com", "net", "org", "io", "de", "fr", "co.uk", "shop")


# Exceptions named like the ones the real services raise (module set for realistic error.type).
class TimeoutError_(Exception):
    pass


TimeoutError_.__module__, TimeoutError_.__qualname__, TimeoutError_.__name__ = (
    "twisted.internet.error", "TimeoutError", "TimeoutError")


class DNSLookupError(Exception):
    __module__ = "twisted.internet.error"


class TimeLimitExceeded(Exception):
    __module__ = "billiard.exceptions"


class SMTPServerDisconnected(Exception):
    __module__ = "smtplib"


class OperationalError(Exception):
    __module__ = "django.db.utils"


@dataclass
class Ev:
    t: float
    file: str           # service/host key
    logger: str
    api: str            # "stdlib" or "structlog"
    level: int
    msg: str
    fields: dict
    exc: type | None = None
    exc_msg: str = ""


@dataclass
class DemoResult:
    log_dir: str
    files: list[str]
    events: int
    report_path: str | None
    report: Any = None


class _Clock(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.t = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        record.created = self.t
        record.msecs = (self.t - int(self.t)) * 1000
        return True


def _domains(rnd: random.Random, n: int) -> list[str]:
    out, seen = [], set()
    while len(out) < n:
        name = "".join(rnd.choice(_SYL) for _ in range(rnd.randint(2, 3))) + "." + rnd.choice(_TLDS)
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def simulate(seed: int = 1, events: int = 60_000, day: str = DEFAULT_DAY) -> list[Ev]:
    """The day's events, in no particular order (emit() sorts them per file)."""
    rnd = random.Random(seed)
    t0 = datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()
    n_dom = 300
    domains = _domains(rnd, n_dom)
    weights = [1 / (i + 1) ** 1.1 for i in range(n_dom)]
    profile: dict[str, dict] = {}
    for i, d in enumerate(domains):
        r = rnd.random()
        p: dict[str, Any] = {"spider": SPIDERS[i % len(SPIDERS)], "kind": "ok"}
        if r < 0.05:
            p["kind"] = "failing"
        elif r < 0.11:
            p.update(kind="captcha", vendor=rnd.choice(VENDORS), rate=rnd.uniform(0.2, 0.7))
        elif r < 0.16:
            p.update(kind="stale", after=t0 + 3600 * rnd.uniform(5, 18))
        profile[d] = p
    # Make sure the head of the distribution shows each behaviour.
    profile[domains[1]]["kind"] = "failing"
    profile[domains[2]].update(kind="captcha", vendor="cloudflare", rate=0.5)
    profile[domains[3]].update(kind="stale", after=t0 + 3600 * 14)
    proxies = [f"http://proxy-{i}.demo.net:3128" for i in range(1, 7)]
    out: list[Ev] = []
    n_pages = int(events * 0.45)
    n_tasks = int(events * 0.06)
    n_web = int(events * 0.12)

    def day_t(diurnal: bool = False) -> float:
        if not diurnal:
            return t0 + rnd.random() * 86400
        while True:  # more traffic in the afternoon (UTC)
            x = rnd.random()
            if rnd.random() < 0.55 + 0.45 * math.sin(math.pi * x):
                return t0 + x * 86400

    # --- spiders ------------------------------------------------------------------------------
    for sp_i, sp in enumerate(SPIDERS):
        host = f"scraper-{sp_i % 3 + 1}"
        out.append(Ev(t0 + 5 + sp_i, f"crawler@{host}", "scrapy.core.engine", "stdlib", logging.INFO,
                      f"Spider opened: {sp}", {"event.action": "spider.opened", "scrapy.spider": sp}))
    for _ in range(n_pages):
        d = rnd.choices(domains, weights)[0]
        p = profile[d]
        t = day_t()
        sp = p["spider"]
        host = f"scraper-{SPIDERS.index(sp) % 3 + 1}"
        key = f"crawler@{host}"
        path = f"/{sp}/{rnd.randint(1, 99999)}"
        proxy = rnd.choice(proxies)
        base = {"url.domain": d, "url.full": f"https://{d}{path}", "scrapy.spider": sp, "scrapy.proxy": proxy,
                "http.request.method": "GET", "trace.id": f"{rnd.getrandbits(128):032x}"}
        kind = p["kind"]
        fail_timeout = 0.01 + (0.25 if proxy.startswith("http://proxy-6") else 0)
        if kind == "failing":
            fail_timeout += 0.2
        if kind == "stale" and t > p["after"]:
            status = rnd.choice((404, 410, 500, 503)) if rnd.random() < 0.7 else None
            if status is None:
                out.append(Ev(t, key, "scrapy.downloadermiddlewares.retry", "stdlib", logging.ERROR,
                              f"Gave up retrying <GET https://{d}{path}>: DNS lookup failed",
                              {**base, "event.action": "download.failed", "event.duration": 5_000_000_000},
                              DNSLookupError, f"DNS lookup failed: no results for hostname lookup: {d}."))
                continue
        elif rnd.random() < fail_timeout:
            secs = rnd.choice((60, 120, 180))
            out.append(Ev(t, key, "scrapy.downloadermiddlewares.retry", "stdlib", logging.ERROR,
                          f"Gave up retrying <GET https://{d}{path}> (failed 3 times): User timeout",
                          {**base, "event.action": "download.failed", "event.duration": secs * 1_000_000_000},
                          TimeoutError_, f"User timeout caused connection failure: Getting https://{d}{path} "
                                         f"took longer than {secs}.0 seconds."))
            continue
        elif kind == "failing":
            status = rnd.choice((500, 502, 503, 503, 200))
        elif kind == "captcha" and rnd.random() < p["rate"]:
            status = 403
            dur = int(rnd.lognormvariate(19.5, 0.5))
            out.append(Ev(t, key, "scrapy.core.engine", "stdlib", logging.INFO, f"Crawled ({status}) <GET https://{d}{path}>",
                          {**base, "event.action": "page.fetched", "http.response.status_code": status,
                           "event.duration": dur, "event.outcome": "failure"}))
            out.append(Ev(t + 0.002, key, "logkit.detect", "stdlib", logging.WARNING,
                          f"{p['vendor']} challenge on {d}",
                          {**base, "event.action": "captcha.detected", "http.response.status_code": status,
                           "scrapy.challenge.vendor": p["vendor"], "scrapy.challenge.kind": "captcha",
                           "scrapy.challenge.signal": "title"}))
            continue
        else:
            r = rnd.random()
            status = 200 if r < 0.95 else 301 if r < 0.97 else 404 if r < 0.99 else 500
        dur = int(rnd.lognormvariate(19.3, 0.6))
        out.append(Ev(t, key, "scrapy.core.engine", "stdlib", logging.INFO, f"Crawled ({status}) <GET https://{d}{path}>",
                      {**base, "event.action": "page.fetched", "http.response.status_code": status, "event.duration": dur,
                       "event.outcome": "success" if status < 400 else "failure",
                       "http.response.body.bytes": rnd.randint(5_000, 300_000)}))
        if status == 200:
            r = rnd.random()
            if r < 0.6:
                out.append(Ev(t + 0.05, key, "scrapy.core.scraper", "stdlib", logging.INFO,
                              f"Scraped from <200 https://{d}{path}>",
                              {"event.action": "item.scraped", "url.domain": d, "url.full": f"https://{d}{path}",
                               "scrapy.spider": sp, "scrapy.item.type": f"{sp.title()}Item",
                               "scrapy.item.status": "new" if rnd.random() < 0.3 else "updated"}))
            elif r < 0.62:
                out.append(Ev(t + 0.05, key, "scrapy.core.scraper", "stdlib", logging.WARNING,
                              "Dropped: duplicate item", {"event.action": "item.dropped", "url.domain": d,
                                                          "scrapy.spider": sp, "scrapy.item.type": f"{sp.title()}Item",
                                                          "event.reason": "duplicate"}))
            elif r < 0.625:
                out.append(Ev(t + 0.05, key, f"spiders.{sp}", "stdlib", logging.ERROR,
                              f"Parser {sp}.detail failed on https://{d}{path}",
                              {"event.action": "parse.failed", "url.domain": d, "url.full": f"https://{d}{path}",
                               "scrapy.spider": sp, "scrapy.parser": f"{sp}.detail"},
                              AttributeError, "'NoneType' object has no attribute 'get_text'"))
    for sp_i, sp in enumerate(SPIDERS):
        host = f"scraper-{sp_i % 3 + 1}"
        out.append(Ev(t0 + 86390 + sp_i, f"crawler@{host}", "scrapy.core.engine", "stdlib", logging.INFO,
                      f"Spider closed ({sp}): finished",
                      {"event.action": "spider.closed", "scrapy.spider": sp, "scrapy.finish_reason": "finished",
                       "event.duration": 86_380 * 10**9}))

    # --- celery ---------------------------------------------------------------------------------
    tasks = [("crawl.fetch_site", 0.4, (0.0, 0.5)), ("crawl.parse_page", 0.25, (-1.0, 0.6)),
             ("index.update_search", 0.15, (0.5, 0.4)), ("mail.send_digest", 0.1, (0.3, 0.5)),
             ("images.thumbnail", 0.07, (-1.5, 0.3)), ("reports.build_daily", 0.03, (4.0, 0.5))]
    for k in range(n_tasks):
        name = rnd.choices([t[0] for t in tasks], [t[1] for t in tasks])[0]
        mu, sigma = dict((t[0], t[2]) for t in tasks)[name]
        t = day_t(diurnal=True)
        tid = f"{rnd.getrandbits(128):032x}"
        worker = f"worker-{rnd.randint(1, 3)}"
        queue = "reports" if name.startswith("reports") else "default"
        common = {"celery.task.name": name, "celery.task.id": tid, "celery.task.queue": queue}
        out.append(Ev(t, "dispatcher@dispatcher-1", "crawl.dispatch", "structlog", logging.INFO,
                      f"Task {name}[{tid}] sent", {**common, "event.action": "task.sent"}))
        wait = rnd.expovariate(1 / (0.3 if queue == "default" else 20.0))
        ts = t + wait
        wk = f"workers@{worker}"
        wf = {**common, "celery.worker.hostname": f"celery@{worker}"}
        out.append(Ev(ts, wk, "celery.worker", "structlog", logging.INFO, f"Task {name}[{tid}] started",
                      {**wf, "event.action": "task.started", "celery.task.queue_wait": round(wait, 4)}))
        runtime = rnd.lognormvariate(mu, sigma)
        retries = 0
        if name == "mail.send_digest":
            while rnd.random() < 0.15 and retries < 3:
                out.append(Ev(ts + runtime, wk, "celery.worker", "structlog", logging.WARNING,
                              f"Task {name}[{tid}] retry: Retry in 30s: SMTPServerDisconnected",
                              {**wf, "event.action": "task.retried", "celery.task.retries": retries,
                               "event.reason": "SMTPServerDisconnected('Connection unexpectedly closed')"},
                              SMTPServerDisconnected, "Connection unexpectedly closed"))
                retries += 1
                ts += runtime + 30
                runtime = rnd.lognormvariate(mu, sigma)
        if name == "reports.build_daily" and rnd.random() < 0.12:
            out.append(Ev(ts + 300, wk, "celery.worker", "structlog", logging.ERROR,
                          f"Task {name}[{tid}] raised unexpected: TimeLimitExceeded(300)",
                          {**wf, "event.action": "task.failed", "celery.task.runtime": 300.0,
                           "celery.task.timed_out": True, "celery.task.retries": retries},
                          TimeLimitExceeded, "TimeLimitExceeded(300,)"))
        elif name != "mail.send_digest" and rnd.random() < 0.02:
            out.append(Ev(ts + runtime, wk, "celery.worker", "structlog", logging.ERROR,
                          f"Task {name}[{tid}] raised unexpected: KeyError",
                          {**wf, "event.action": "task.failed", "celery.task.runtime": round(runtime, 4),
                           "celery.task.retries": retries}, KeyError, f"'item_{rnd.randint(1, 5000)}'"))
        else:
            out.append(Ev(ts + runtime, wk, "celery.worker", "structlog", logging.INFO,
                          f"Task {name}[{tid}] succeeded in {runtime:.3f}s",
                          {**wf, "event.action": "task.succeeded", "celery.task.runtime": round(runtime, 4),
                           "celery.task.retries": retries, "event.duration": int(runtime * 1e9)}))

    # --- django ---------------------------------------------------------------------------------
    routes = [("articles/<int:pk>/", "articles.views.detail", 0.5), ("search/", "search.views.search", 0.2),
              ("api/items/", "api.views.items", 0.2), ("accounts/login/", "accounts.views.login", 0.1)]
    pool_outage = t0 + 3600 * 19.5  # 19:30 UTC: the database pool runs dry for ten minutes
    for _ in range(n_web):
        route, view, _w = rnd.choices(routes, [r[2] for r in routes])[0]
        t = day_t(diurnal=True)
        host = f"web-{rnd.randint(1, 2)}"
        pk = rnd.randint(1, 20000)
        path = "/" + route.replace("<int:pk>", str(pk))
        outage = pool_outage <= t < pool_outage + 600
        status = 500 if (outage and rnd.random() < 0.5) or rnd.random() < 0.004 else 200
        rid = f"{rnd.getrandbits(64):016x}"
        f = {"http.request.method": "GET", "django.route": route, "django.view": view, "url.path": path,
             "http.request.id": rid, "user.id": str(rnd.randint(1, 5000)) if rnd.random() < 0.4 else None,
             "client.ip": f"203.0.113.{rnd.randint(1, 254)}", "trace.id": f"{rnd.getrandbits(128):032x}"}
        f = {k: v for k, v in f.items() if v is not None}
        dur = int(rnd.lognormvariate(17.5, 0.6)) * (5 if outage else 1)
        if status == 500:
            exc, msg = (OperationalError, "connection pool exhausted: timeout after 30s") if outage else \
                (ValueError, f"invalid literal for int() with base 10: '{rnd.choice(['abc', 'null', 'x1'])}'")
            out.append(Ev(t, f"web@{host}", "django.request", "stdlib", logging.ERROR,
                          f"Internal Server Error: {path}",
                          {"event.action": "http.exception", "django.route": route, "url.path": path,
                           "http.request.method": "GET"}, exc, msg))
        out.append(Ev(t + dur / 1e9, f"web@{host}", "django.request", "stdlib",
                      logging.ERROR if status >= 500 else logging.INFO, f"GET {path} {status}",
                      {**f, "event.action": "http.request", "http.response.status_code": status,
                       "event.duration": dur, "event.outcome": "failure" if status >= 500 else "success"}))
    for k in range(3):
        out.append(Ev(pool_outage + 60 + k * 200, "web@web-1", "myapp.db", "stdlib", logging.CRITICAL,
                      "database connection pool exhausted; requests are failing", {"event.action": "log"}))
    out.append(Ev(t0 + 3600 * 22, "workers@worker-2", "myapp.ops", "structlog", logging.CRITICAL,
                  "disk /var/lib/celery 97% full", {"event.action": "log"}))
    return out


_TYPES = {"crawler": "scrapy", "web": "django", "workers": "celery", "dispatcher": "celery"}


def emit(evs: list[Ev], log_dir: str) -> list[str]:
    """Write the events through logkit's emit path, one file per service and host."""
    import logkit
    os.makedirs(log_dir, exist_ok=True)
    by_file: dict[str, list[Ev]] = {}
    for e in evs:
        by_file.setdefault(e.file, []).append(e)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    paths = []
    try:
        for key in sorted(by_file):
            service, host = key.split("@")
            path = os.path.join(log_dir, f"{service}-{host}.ndjson")
            if os.path.exists(path):
                os.unlink(path)
            paths.append(path)
            logging.config.dictConfig(logkit.logging_config(
                service, _TYPES[service], filename=path, stream=None, rotation="none",
                environment="production", version="2026.11.3"))
            clock = _Clock()
            for h in root.handlers:
                h.addFilter(clock)
            with logkit.bound(**{"host.hostname": host}):
                for e in sorted(by_file[key], key=lambda e: e.t):
                    clock.t = e.t
                    exc_info = None
                    if e.exc is not None:
                        try:
                            raise e.exc(e.exc_msg)
                        except Exception as x:
                            exc_info = (type(x), x, x.__traceback__)
                    if e.api == "structlog":
                        lg = logkit.get_logger(e.logger)
                        kw = dict(e.fields)
                        if exc_info:
                            kw["exc_info"] = exc_info[1]
                        lg.log(e.level, e.msg, **kw)
                    else:
                        logging.getLogger(e.logger).log(e.level, e.msg, extra=e.fields, exc_info=exc_info)
            for h in list(root.handlers):
                root.removeHandler(h)
                h.close()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    return paths


def demo(out: str = "logkit-demo", *, seed: int = 1, events: int = 60_000, day: str = DEFAULT_DAY,
         report: bool = True, top: int = 20) -> DemoResult:
    """Write the demo logs under ``out/logs`` and (``report=True``) the report to ``out/report.html``."""
    log_dir = os.path.join(out, "logs")
    evs = simulate(seed, events, day)
    files = emit(evs, log_dir)
    res = DemoResult(log_dir, files, len(evs), None)
    if report:
        from .render import render
        from ..analyze.report import analyze
        rep = analyze([log_dir], top=top)
        res.report = rep
        res.report_path = os.path.join(out, "report.html")
        with open(res.report_path, "w", encoding="utf-8") as f:
            render(rep, "html", f)
    return res
