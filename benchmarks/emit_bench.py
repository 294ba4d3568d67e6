"""Cost per event of logkit's two emission paths, side by side with the usual peers.

    python -m benchmarks.emit_bench [--events 200000] [--repeat 5] [--json]

Every contender logs the same INFO event with 8 extra fields to the same sink (a file opened on
/dev/null), in its own fresh process, round-robin over ``--repeat`` rounds, so a noisy neighbour
hits all of them alike. Figures are medians of the rounds, in µs per event; ratios compare
medians. logkit runs with masking and truncation on (the defaults).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CONTENDERS = ["floor", "structlog-fast", "stdlib-plain", "logkit-structlog", "logkit-stdlib",
              "python-json-logger", "ecs-logging"]

EXTRA = {"url.domain": "example.com", "url.full": "https://example.com/news/2026/11/25/article-1234.html",
         "http.response.status_code": 200, "event.action": "page.fetched", "event.duration": 123_456_789,
         "scrapy.spider": "news", "http.response.body.bytes": 52_311, "user.id": "42"}


def _run_one(name: str, n: int) -> float:
    import logging
    import time

    import orjson

    sink = open("/dev/null", "w")
    bsink = open("/dev/null", "wb")
    extra = dict(EXTRA)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(logging.INFO)

    def stdlib_with(formatter) -> callable:
        h = logging.StreamHandler(sink)
        h.setFormatter(formatter)
        root.addHandler(h)
        log = logging.getLogger("bench")
        return lambda: log.info("fetched page", extra=extra)

    if name == "floor":
        w = bsink.write

        def call():
            w(orjson.dumps({"@timestamp": time.time(), "log.level": "info", "message": "fetched page", **extra}) + b"\n")
    elif name == "structlog-fast":
        import structlog
        log = structlog.wrap_logger(
            structlog.BytesLogger(bsink),
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            cache_logger_on_first_use=True,
            processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                        structlog.processors.format_exc_info,
                        structlog.processors.TimeStamper(fmt="iso", utc=True),
                        structlog.processors.JSONRenderer(serializer=orjson.dumps)])
        call = lambda: log.info("fetched page", **extra)  # noqa: E731
    elif name == "stdlib-plain":
        call = stdlib_with(logging.Formatter("%(message)s"))
    elif name in ("logkit-stdlib", "logkit-structlog"):
        # logkit as its users set it up: the dictConfig from logging_config(), defaults on
        # (masking, truncation, fast_records), with the stream pointed at the common sink.
        import logging.config

        import logkit
        logging.config.dictConfig(logkit.logging_config("bench", "scrapy", stream="stdout"))
        root.handlers[0].setStream(sink)
        if name == "logkit-stdlib":
            log = logging.getLogger("bench")
            call = lambda: log.info("fetched page", extra=extra)  # noqa: E731
        else:
            slog = logkit.get_logger("bench")
            call = lambda: slog.info("fetched page", **extra)  # noqa: E731
    elif name == "python-json-logger":
        from pythonjsonlogger.json import JsonFormatter
        call = stdlib_with(JsonFormatter())
    elif name == "ecs-logging":
        import ecs_logging
        call = stdlib_with(ecs_logging.StdlibFormatter())
    else:
        raise SystemExit(f"unknown contender {name}")
    for _ in range(2000):  # warm caches
        call()
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", nargs="*", default=CONTENDERS)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._child:
        print(_run_one(a._child, a.events))
        return
    runs: dict[str, list[float]] = {c: [] for c in a.only}
    for r in range(a.repeat):
        for c in a.only:
            out = subprocess.run([sys.executable, __file__, "--_child", c, "--events", str(a.events)],
                                 check=True, capture_output=True, text=True).stdout
            runs[c].append(float(out))
        print(f"round {r + 1}/{a.repeat}: " + ", ".join(f"{c} {runs[c][-1]:.2f}" for c in a.only),
              file=sys.stderr)
    med = {c: statistics.median(v) for c, v in runs.items()}
    if a.json:
        print(json.dumps({"events": a.events, "repeat": a.repeat, "median_us": med, "runs_us": runs}, indent=2))
        return
    print(f"| contender | median µs/event | min | max | vs floor |\n|---|---:|---:|---:|---:|")
    for c in a.only:
        print(f"| {c} | {med[c]:.2f} | {min(runs[c]):.2f} | {max(runs[c]):.2f} | {med[c] / med.get('floor', 1):.1f}× |")
    if {"logkit-structlog", "structlog-fast", "logkit-stdlib", "stdlib-plain"} <= med.keys():
        print()
        print("| target | ratio | goal |\n|---|---:|---|")
        rows = [("logkit-structlog / structlog-fast", med["logkit-structlog"] / med["structlog-fast"], "≤ 1.25"),
                ("logkit-stdlib / stdlib-plain", med["logkit-stdlib"] / med["stdlib-plain"], "≤ 1.5")]
        for peer, goal in (("python-json-logger", 2), ("ecs-logging", 8)):
            if peer in med:
                for path in ("logkit-structlog", "logkit-stdlib"):
                    rows.append((f"{peer} / {path}", med[peer] / med[path], f"≥ {goal}"))
        for label, ratio, goal in rows:
            print(f"| {label} | {ratio:.2f} | {goal} |")


if __name__ == "__main__":
    main()
