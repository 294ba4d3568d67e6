"""Microseconds per page for logkit.detect_challenge over the fixture pages.

    python -m benchmarks.challenge_detect [--rounds 7] [--out results.json]

Pages: every fixture in tests/fixtures/challenges/ (challenge, block and
ordinary pages as shipped), plus synthetic large pages built from the normal
article fixture:

* ``large_200``    ~200 KB ordinary article, status 200 (the common case);
* ``large_403``    the same bytes under status 403 (forces the prefix scan);
* ``mid_200_head`` a ~48 KB status-200 page whose first 32 KiB are inline
                   scripts with no links or nav -- the most expensive 2xx path;
* ``mix``          all of the above weighted as one pass over the set.

Side by side, two floors: ``lower_prefix`` (lowercasing the 32 KiB prefix,
the least any prefix-based detector pays) and ``naive_full`` (lowercasing the
whole body and testing 25 vendor strings with ``in``, which is what a first
attempt usually does).  Medians over ``--rounds`` rounds; each round times a
loop sized to run ~50 ms per page.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from logkit.detect import detect_challenge
from logkit.detect.challenge import PREFIX_BYTES

ROOT = Path(__file__).resolve().parents[1]

FIXTURES = ROOT / "tests" / "fixtures" / "challenges"

_NAIVE_MARKERS = [
    m.encode() for m in (
        "just a moment", "_cf_chl_opt", "cf-chl-", "cf-turnstile", "g-recaptcha", "h-captcha",
        "captcha-delivery.com", "px-captcha", "press & hold", "access denied", "reference #",
        "incapsula incident id", "_incapsula_resource", "awswaf", "gokuprops", "geetest",
        "validatecaptcha", "robot check", "unusual traffic", "are you a robot", "verify you are human",
        "sec-cpt", "pardon our interruption", "error code 1020", "you have been blocked",
    )
]


def naive_full(status, headers, body):
    low = (body or b"").lower()
    return [m for m in _NAIVE_MARKERS if m in low]


def lower_prefix(status, headers, body):
    return (body or b"")[:PREFIX_BYTES].lower()


def load_pages() -> list[tuple[str, int, list, bytes | None]]:
    pages = []
    for sidecar in sorted(FIXTURES.glob("*.json")):
        case = json.loads(sidecar.read_text())
        body = (FIXTURES / case["body"]).read_bytes() if case["body"] else None
        pages.append((sidecar.stem, case["status"], case["headers"], body))

    article = (FIXTURES / "normal_article.html").read_bytes()
    head, _, rest = article.partition(b"<article>")
    middle, _, tail = rest.partition(b"</article>")
    body = middle
    while len(head) + len(body) + len(tail) < 200_000:
        body += middle
    large = head + b"<article>" + body + b"</article>" + tail
    headers = [["Server", "nginx"], ["Content-Type", "text/html; charset=utf-8"]]
    pages.append(("large_200", 200, headers, large))
    pages.append(("large_403", 403, headers, large))

    script = b"<script>var cfg={a:1,b:'x',c:[1,2,3]};function f(q){return q*2}</script>\n"
    mid = (b"<html><head><title>Dashboard</title>" + script * (PREFIX_BYTES // len(script) + 1)
           + b"</head><body>" + b"<p>row</p>\n" * 1500 + b"</body></html>")
    pages.append(("mid_200_head", 200, headers, mid))
    return pages


def time_call(fn, status, headers, body, rounds: int) -> float:
    """Median microseconds per call."""
    n = 1
    while True:  # size the loop to ~50 ms
        t0 = time.perf_counter()
        for _ in range(n):
            fn(status, headers, body)
        dt = time.perf_counter() - t0
        if dt >= 0.05 or n >= 1 << 20:
            break
        n *= 2
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn(status, headers, body)
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()

    pages = load_pages()
    rows = []
    for name, status, headers, body in pages:
        rows.append({
            "page": name,
            "status": status,
            "bytes": len(body) if body else 0,
            "detect_us": time_call(detect_challenge, status, headers, body, args.rounds),
            "lower_prefix_us": time_call(lower_prefix, status, headers, body, args.rounds),
            "naive_full_us": time_call(naive_full, status, headers, body, args.rounds),
        })

    def mix(key: str) -> float:
        return sum(r[key] for r in rows) / len(rows)

    fixtures = [r for r in rows if r["page"] not in ("large_200", "large_403", "mid_200_head")]
    summary = {
        "fixture_median_us": statistics.median(r["detect_us"] for r in fixtures),
        "fixture_max_us": max(r["detect_us"] for r in fixtures),
        "mix_mean_us": mix("detect_us"),
        "mix_mean_naive_full_us": mix("naive_full_us"),
        "mix_mean_lower_prefix_us": mix("lower_prefix_us"),
    }

    print(f"python {platform.python_version()} on {platform.machine()}, {args.rounds} rounds, median us/call")
    print()
    print("| page | status | bytes | detect_challenge | floor: lower prefix | naive: full body, 25 `in` |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['page']} | {r['status']} | {r['bytes']} | {r['detect_us']:.1f} "
              f"| {r['lower_prefix_us']:.1f} | {r['naive_full_us']:.1f} |")
    print()
    for key, value in summary.items():
        print(f"{key}: {value:.1f}")

    if args.out:
        args.out.write_text(json.dumps({"python": platform.python_version(), "rows": rows,
                                        "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
