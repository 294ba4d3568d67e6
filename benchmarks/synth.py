"""Synthetic event lines for the metrics' live tests and benchmark: every event-fed metric gets
data, timestamps are "now" (so freshness gauges and the worker window behave as in production), and
the same seed gives the same mix. Lines are NDJSON in logkit's nested form (what the emitters write).

Not a replacement for ``logkit demo`` (a realistic day, in the past): this is a steady stream.
"""
from __future__ import annotations

import itertools
import random
import time
from typing import Iterator

import orjson

DOMAINS = ("shop.example", "news.example", "cf.example", "down.example", "slow.example")
TASKS = ("crawl.fetch_site", "mail.send_digest", "reports.build_daily")
ROUTES = ("articles/<int:pk>/", "search/", "api/items/")
PROXIES = ("http://proxy-1.example:3128", "http://proxy-2.example:3128")


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def _nest(flat: dict) -> dict:
    out: dict = {}
    for k, v in flat.items():
        if k in ("@timestamp", "log.level", "message", "ecs.version"):
            out[k] = v
            continue
        node = out
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def events(n: int, *, seed: int = 1, now: float | None = None, spread: float = 0.0) -> Iterator[dict]:
    """Exactly ``n`` events (flat dicts) with timestamps within ``spread`` seconds before ``now``."""
    return itertools.islice(_events(n, seed=seed, now=now, spread=spread), n)


def _events(n: int, *, seed: int, now: float | None, spread: float) -> Iterator[dict]:
    rnd = random.Random(seed)
    now = time.time() if now is None else now
    for i in itertools.count():
        t = now - spread + spread * min(i, n) / max(n, 1)
        base = {"@timestamp": _ts(t), "log.level": "info", "message": "", "ecs.version": "8.11.0"}
        k = i % 20
        if k < 9:          # scrapy
            d = DOMAINS[rnd.randrange(len(DOMAINS))]
            e = {**base, "service.name": "crawler", "service.type": "scrapy", "host.hostname": "scraper-1",
                 "url.domain": d, "url.full": f"https://{d}/p/{i}", "scrapy.spider": "news",
                 "scrapy.proxy": PROXIES[i % 2]}
            if d == "down.example" and rnd.random() < 0.5:
                e.update({"event.action": "download.failed", "log.level": "error",
                          "error.type": rnd.choice(("twisted.internet.error.TimeoutError", "DNSLookupError"))})
            elif d == "cf.example" and rnd.random() < 0.5:
                yield {**e, "event.action": "page.fetched", "http.response.status_code": 403,
                       "event.outcome": "failure"}
                e.update({"event.action": "captcha.detected", "log.level": "warning", "http.response.status_code": 403,
                          "scrapy.challenge.vendor": "cloudflare", "scrapy.challenge.signal": "title"})
            elif d == "down.example":
                e.update({"event.action": "page.fetched", "http.response.status_code": rnd.choice((500, 503, 429)),
                          "event.outcome": "failure"})
                if e["http.response.status_code"] == 429:
                    yield e
                    e = {**e, "event.action": "block.detected", "scrapy.challenge.signal": "status"}
            else:
                st = 200 if rnd.random() < 0.93 else rnd.choice((301, 404))
                e.update({"event.action": "page.fetched", "http.response.status_code": st,
                          "event.duration": int(rnd.lognormvariate(19, 0.5))})
                if st == 200:
                    yield e
                    r = rnd.random()
                    if r < 0.7:
                        e = {**e, "event.action": "item.scraped", "scrapy.item.type": "Article",
                             "scrapy.item.status": "new" if r < 0.2 else "updated"}
                    elif r < 0.75:
                        e = {**e, "event.action": "item.dropped", "scrapy.item.type": "Article",
                             "event.reason": "duplicate"}
                    elif r < 0.78:
                        e = {**e, "event.action": "parse.failed", "log.level": "error",
                             "scrapy.parser": "news.detail", "error.type": "AttributeError"}
            yield e
        elif k < 15:       # celery
            task = TASKS[rnd.randrange(len(TASKS))]
            w = f"celery@worker-{rnd.randint(1, 2)}"
            c = {**base, "service.name": "workers", "service.type": "celery", "host.hostname": w[7:],
                 "celery.task.name": task, "celery.task.id": f"{rnd.getrandbits(64):016x}",
                 "celery.task.queue": "reports" if task.startswith("reports") else "default"}
            yield {**c, "event.action": "task.sent", "service.name": "dispatcher", "host.hostname": "dispatcher-1"}
            yield {**c, "event.action": "task.started", "celery.worker.hostname": w,
                   "celery.task.queue_wait": round(rnd.expovariate(2.0), 4)}
            rt = round(rnd.lognormvariate(0 if task != "reports.build_daily" else 4, 0.5), 4)
            r = rnd.random()
            if task == "mail.send_digest" and r < 0.3:
                yield {**c, "event.action": "task.retried", "celery.worker.hostname": w, "log.level": "warning"}
            elif task == "reports.build_daily" and r < 0.2:
                yield {**c, "event.action": "task.failed", "celery.worker.hostname": w, "log.level": "error",
                       "celery.task.runtime": 300.0, "celery.task.timed_out": True,
                       "error.type": "billiard.exceptions.TimeLimitExceeded"}
            elif r < 0.08:
                yield {**c, "event.action": "task.failed", "celery.worker.hostname": w, "log.level": "error",
                       "celery.task.runtime": rt, "error.type": "KeyError"}
            else:
                yield {**c, "event.action": "task.succeeded", "celery.worker.hostname": w, "celery.task.runtime": rt,
                       "event.outcome": "success"}
        else:              # django
            route = ROUTES[rnd.randrange(len(ROUTES))]
            st = 500 if rnd.random() < 0.05 else 200
            w = {**base, "service.name": "web", "service.type": "django", "host.hostname": "web-1",
                 "django.route": route, "http.request.method": "GET"}
            if st == 500:
                yield {**w, "event.action": "http.exception", "log.level": "error", "error.type": "ValueError"}
            yield {**w, "event.action": "http.request", "http.response.status_code": st,
                   "event.duration": int(rnd.lognormvariate(17.5, 0.7)), "log.level": "error" if st == 500 else "info"}
            if rnd.random() < 0.01:
                yield {**base, "service.name": "web", "event.action": "log", "log.level": "critical",
                       "message": "database connection pool exhausted"}


def lines(n: int, **kw) -> Iterator[bytes]:
    """The same as NDJSON lines (nested form, newline included)."""
    dumps = orjson.dumps
    for e in events(n, **kw):
        yield dumps(_nest(e)) + b"\n"
