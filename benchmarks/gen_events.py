"""Deterministic generator of N logkit events (NDJSON, ecs-logging shape) for the analyzer benchmark.

    python -m benchmarks.gen_events N OUT.ndjson [--seed 1] [--files K] [--start 2026-11-24T00:00:00Z]

This is a benchmark generator, not an example of emission: it writes orjson lines from
pre-built event templates (the shape `logkit.emit.render.Renderer` produces: ``@timestamp``,
``log.level``, ``message``, ``ecs.version`` dotted at the top, everything else nested), so that
10M events take a minute rather than an hour. ``logkit demo`` is the realistic, emitter-made data.

The mix: Scrapy pages (2xx/3xx/4xx/5xx), download failures, CAPTCHAs, blocks, items, Celery task
lifecycles (with retries and timeouts) and Django requests over 500 domains with a Zipf-like skew,
one day long. Same N and seed -> byte-identical output.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timezone

import orjson

_ACTIONS = [  # (action, weight)
    ("page.fetched", 48), ("download.failed", 5), ("captcha.detected", 3), ("block.detected", 1),
    ("item.scraped", 18), ("item.dropped", 1), ("parse.failed", 1), ("task.started", 5),
    ("task.succeeded", 5), ("task.failed", 1), ("task.retried", 1), ("http.request", 9), ("log", 2),
]
_TASKS = ["crawl.fetch_site", "crawl.parse_page", "index.update", "report.build", "mail.send"]
_VENDORS = ["cloudflare", "akamai", "datadome", "perimeterx", "recaptcha"]
_PROXIES = [f"http://proxy-{i}.example.net:3128" for i in range(8)]
_ERRORS = [("twisted.internet.error.TimeoutError", "User timeout caused connection failure: took {n} s."),
           ("twisted.internet.error.DNSLookupError", "DNS lookup failed: no results for hostname lookup: {d}."),
           ("twisted.internet.error.ConnectionRefusedError", "Connection was refused by other side: 111: Connection refused.")]


def _ts(t: float) -> str:
    sec, ms = divmod(int(t * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%03dZ" % ms


def generate(n: int, out_paths: list[str], *, seed: int = 1, start: float | None = None,
             n_domains: int = 500) -> None:
    rnd = random.Random(seed)
    start = start if start is not None else datetime(2026, 11, 24, tzinfo=timezone.utc).timestamp()
    domains = [f"site{i:03d}.example" for i in range(n_domains)]
    # Zipf-like skew: weight 1/rank.
    dom_cum = []
    acc = 0.0
    for i in range(n_domains):
        acc += 1.0 / (i + 1)
        dom_cum.append(acc)
    actions = [a for a, _ in _ACTIONS]
    act_cum = []
    acc = 0
    for _, w in _ACTIONS:
        acc += w
        act_cum.append(acc)
    step = 86_400.0 / max(n, 1)
    outs = [open(p, "wb") for p in out_paths]
    seq = 0
    pick_dom = rnd.choices
    try:
        buf: list[bytes] = []
        for i in range(n):
            t = start + i * step
            action = rnd.choices(actions, cum_weights=act_cum)[0]
            d = pick_dom(domains, cum_weights=dom_cum)[0]
            di = int(d[4:7])
            seq += 1
            level = "info"
            outcome = "success"
            ev: dict = {"@timestamp": _ts(t), "log.level": level, "message": "", "ecs.version": "8.11.0",
                        "logkit": {"schema_version": "1.0"}}
            if action.startswith("task."):
                svc = {"name": "workers", "type": "celery", "environment": "production"}
                host = f"worker-{seq % 4}"
                task = _TASKS[seq % len(_TASKS)]
                tid = f"{seq:032x}"
                ct = {"name": task, "id": tid, "queue": "default", "retries": 0}
                c = {"task": ct, "worker": {"hostname": f"celery@{host}"}}
                if action == "task.started":
                    ct["queue_wait"] = round(rnd.expovariate(2.0), 4)
                    outcome = "unknown"
                    msg = f"Task {task}[{tid}] started"
                elif action == "task.succeeded":
                    ct["runtime"] = round(rnd.lognormvariate(0 if task != "report.build" else 2.5, 0.6), 4)
                    msg = f"Task {task}[{tid}] succeeded in {ct['runtime']}s"
                elif action == "task.failed":
                    level, outcome = "error", "failure"
                    timed_out = rnd.random() < 0.3
                    ct["runtime"] = 30.0 if timed_out else round(rnd.random() * 5, 3)
                    ct["timed_out"] = timed_out
                    msg = f"Task {task}[{tid}] raised unexpected: " + ("TimeLimitExceeded(30)" if timed_out
                                                                     else f"KeyError('row {seq % 977}')")
                    ev["error"] = {"type": "billiard.exceptions.TimeLimitExceeded" if timed_out else "KeyError",
                                   "message": msg}
                else:
                    level, outcome = "warning", "unknown"
                    ct["retries"] = 1 + seq % 3
                    msg = f"Task {task}[{tid}] retry: Retry in 10s"
                ev.update(service=svc, host={"hostname": host}, event={"action": action, "outcome": outcome,
                                                                      "dataset": "logkit.celery"}, celery=c)
            elif action == "http.request":
                status = 500 if rnd.random() < 0.01 else 200
                outcome = "failure" if status >= 500 else "success"
                level = "error" if status >= 500 else "info"
                route = ["articles/<int:pk>/", "api/items/", "search/", "login/"][seq % 4]
                msg = f"GET /{route} {status}"
                ev.update(service={"name": "web", "type": "django", "environment": "production"},
                          host={"hostname": f"web-{seq % 2}"},
                          event={"action": action, "outcome": outcome, "dataset": "logkit.django",
                                 "duration": int(rnd.lognormvariate(18, 0.5))},
                          http={"request": {"method": "GET"}, "response": {"status_code": status}},
                          django={"route": route}, url={"path": "/" + route})
            elif action == "log":
                level = "critical" if rnd.random() < 0.02 else "info"
                outcome = "failure" if level == "critical" else "unknown"
                msg = "database connection pool exhausted" if level == "critical" else f"heartbeat {seq}"
                ev.update(service={"name": "web", "type": "django", "environment": "production"},
                          host={"hostname": "web-0"}, event={"action": "log", "outcome": outcome,
                                                             "dataset": "logkit.django"})
            else:
                spider = f"spider{di % 6}"
                ev["service"] = {"name": "spiders", "type": "scrapy", "environment": "production"}
                ev["host"] = {"hostname": f"scraper-{di % 3}"}
                path = f"/p/{seq % 100_000}"
                ev["url"] = {"full": f"https://{d}{path}", "domain": d}
                sc: dict = {"spider": spider}
                ev["scrapy"] = sc
                e = {"action": action, "dataset": "logkit.scrapy"}
                ev["event"] = e
                if action == "page.fetched":
                    r = rnd.random()
                    bad = di % 17 == 3  # some domains fail a lot
                    status = (503 if r < 0.5 else 200) if bad else (200 if r < 0.9 else 301 if r < 0.95 else 404
                                                                     if r < 0.98 else 500)
                    e["outcome"] = outcome = "success" if status < 400 else "failure"
                    e["duration"] = int(rnd.lognormvariate(19, 0.7))
                    ev["http"] = {"request": {"method": "GET"}, "response": {"status_code": status,
                                                                            "body": {"bytes": 20_000 + seq % 50_000}}}
                    sc["proxy"] = _PROXIES[seq % len(_PROXIES)]
                    msg = f"Crawled ({status}) <GET https://{d}{path}>"
                elif action == "download.failed":
                    level, e["outcome"] = "error", "failure"
                    etype, emsg = _ERRORS[seq % 3]
                    emsg = emsg.format(n=180 + seq % 7, d=d)
                    ev["error"] = {"type": etype, "message": emsg}
                    sc["proxy"] = _PROXIES[seq % len(_PROXIES)]
                    msg = f"Error downloading <GET https://{d}{path}>: {emsg}"
                elif action in ("captcha.detected", "block.detected"):
                    level, e["outcome"] = "warning", "failure"
                    sc["challenge"] = {"vendor": _VENDORS[di % 5], "signal": "title",
                                       "kind": "captcha" if action == "captcha.detected" else "block"}
                    ev["http"] = {"response": {"status_code": 403}}
                    msg = f"{'CAPTCHA' if action == 'captcha.detected' else 'Block'} on {d} ({_VENDORS[di % 5]})"
                elif action == "item.scraped":
                    e["outcome"] = "success"
                    sc["item"] = {"type": "ArticleItem", "status": "new" if seq % 3 else "updated"}
                    msg = f"Scraped from <200 https://{d}{path}>"
                elif action == "item.dropped":
                    e["outcome"] = "failure"
                    e["reason"] = "duplicate"
                    sc["item"] = {"type": "ArticleItem"}
                    msg = "Dropped: duplicate item"
                else:  # parse.failed
                    level, e["outcome"] = "error", "failure"
                    sc["parser"] = "article"
                    ev["error"] = {"type": "AttributeError", "message": "'NoneType' object has no attribute 'text'"}
                    msg = f"Parser article failed on https://{d}{path}"
            ev["log.level"] = level
            ev["message"] = msg
            ev["event"]["id"] = f"019a{seq:028x}"
            buf.append(orjson.dumps(ev))
            if len(buf) >= 4096:
                _flush(buf, outs, i)
        _flush(buf, outs, n)
    finally:
        for f in outs:
            f.close()


def ensure_events(n: int, d: str) -> str:
    """``d/events-N.ndjson`` (seed 1), generated once and shared by the benchmarks that read it."""
    import os
    path = os.path.join(d, f"events-{n}.ndjson")
    if not os.path.exists(path):
        os.makedirs(d, exist_ok=True)
        t0 = time.perf_counter()
        generate(n, [path + ".tmp"], seed=1)
        os.rename(path + ".tmp", path)
        print(f"generated {n:,} events in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return path


def _flush(buf: list[bytes], outs, i: int) -> None:
    if buf:
        f = outs[(i // 4096) % len(outs)]
        f.write(b"\n".join(buf) + b"\n")
        buf.clear()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out", help="output file; with --files K, OUT is a prefix: OUT-000.ndjson ...")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=1)
    a = ap.parse_args(argv)
    paths = [a.out] if a.files == 1 else [f"{a.out}-{k:03d}.ndjson" for k in range(a.files)]
    t0 = time.perf_counter()
    generate(a.n, paths, seed=a.seed)
    print(f"{a.n} events -> {', '.join(paths)} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
