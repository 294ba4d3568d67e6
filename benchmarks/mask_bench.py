"""Per-call cost of logging hostile and ordinary values (issue 14: no call over ~10 ms).

    python -m benchmarks.mask_bench [--repeat 5] [--limit 16384] [--json]

Each adversarial value of tests/fixtures/adversarial/hostile_values.py (10× the truncation limit
where it is text) is logged through logkit's stdlib path as configured by ``logging_config()``
into /dev/null, ``--repeat`` times; the table gives the slowest and the median call in ms. The
second table logs ordinary values that are new on every call (so no cache helps): the cost of
masking on the common path, in µs per call, beside the same call with ``mask=False``.
"""
from __future__ import annotations

import argparse
import json
import logging
import logging.config
import statistics
import sys
import time
from pathlib import Path

import importlib.util

import logkit


def _fixture_module():
    # The adversarial values are test fixtures, not a package: loaded by path.
    path = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "adversarial" / "hostile_values.py"
    spec = importlib.util.spec_from_file_location("hostile_values", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_hv = _fixture_module()
OUT_OF_RANGE_LONGS, field_values = _hv.OUT_OF_RANGE_LONGS, _hv.field_values


def _setup(mask: bool) -> logging.Logger:
    logging.config.dictConfig(logkit.logging_config("bench", "scrapy", stream="stdout", mask=mask))
    logging.getLogger().handlers[0].setStream(open("/dev/null", "w"))
    return logging.getLogger("bench")


def hostile(repeat: int, limit: int) -> dict[str, list[float]]:
    log = _setup(True)
    out: dict[str, list[float]] = {}
    values = {**field_values(limit), **{f"{k}={v}": v for k, v in OUT_OF_RANGE_LONGS.items()}}
    for name, v in values.items():
        field = name.split("=")[0] if "=" in name else name
        msg = v if isinstance(v, str) else "hostile value"
        times = []
        for _ in range(repeat):
            logkit.emit.sanitize._cache.clear()
            t0 = time.perf_counter()
            log.info(msg, extra={field: v, "url.domain": "example.com"})
            times.append((time.perf_counter() - t0) * 1000)
        out[name.split("=")[0]] = times
    return out


ORDINARY = {
    "short message": lambda i: (f"fetched page {i}", {}),
    "url field": lambda i: ("fetched", {"url.full": f"https://example.com/news/2026/11/25/article-{i}.html"}),
    "kv message": lambda i: (f"login ok user=bob{i} status=200 took={i}ms", {}),
    "stack trace 4 KB": lambda i: ("failed", {"error.stack_trace": ("  File \"/app/views.py\", line %d, in get\n" % i) * 100}),
    "headers dict": lambda i: ("request", {"headers": {"Accept": "text/html", "Authorization": f"Bearer t{i}",
                                                       "User-Agent": f"Mozilla/5.0 ({i})"}}),
}


def ordinary(n: int) -> dict[str, dict[str, float]]:
    res: dict[str, dict[str, float]] = {}
    for mask in (True, False):
        log = _setup(mask)
        for name, make in ORDINARY.items():
            calls = [make(i) for i in range(n)]
            t0 = time.perf_counter()
            for msg, extra in calls:
                log.info(msg, extra=extra)
            res.setdefault(name, {})["masked" if mask else "mask=False"] = (time.perf_counter() - t0) / n * 1e6
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--limit", type=int, default=16_384)
    ap.add_argument("--events", type=int, default=20_000, help="calls per ordinary value")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    h = hostile(a.repeat, a.limit)
    o = ordinary(a.events)
    if a.json:
        print(json.dumps({"hostile_ms": h, "ordinary_us": o}, indent=2))
        return
    print("| hostile value | slowest call ms | median ms |\n|---|---:|---:|")
    for name, t in h.items():
        print(f"| {name} | {max(t):.2f} | {statistics.median(t):.2f} |")
    print("\n| ordinary value (new each call) | masked µs | mask=False µs |\n|---|---:|---:|")
    for name, t in o.items():
        print(f"| {name} | {t['masked']:.2f} | {t['mask=False']:.2f} |")


if __name__ == "__main__":
    main()
