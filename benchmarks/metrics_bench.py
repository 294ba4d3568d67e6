"""How fast `logkit metrics serve` follows logs, side by side with mtail in one run.

    python -m benchmarks.metrics_bench [--events 200000] [--rate 2000] [--seconds 10] [--rounds 3] [--write-docs]

Both get the same file of logkit NDJSON lines (benchmarks.synth: Scrapy, Celery and Django events,
nested form) and count the same things: mtail runs benchmarks/mtail/logkit.mtail (events by service and
level, pages by domain and status class, CAPTCHAs by domain and vendor, task events by task and state,
task run time histogram); logkit's exporter counts those and every other metric of docs/metrics.md.

1. **Catch-up**: a file of --events lines exists; the follower reads it from its start. logkit:
   `logkit metrics serve FILE` until its /metrics says every event was counted; mtail: `--one_shot`
   (reads the file and exits). Wall time from spawn (process start included) and the process's CPU.
2. **Steady follow**: both followers run on one new file while a writer appends --rate events/s for
   --seconds; CPU seconds each process used over the window, as % of one core per 1,000 events/s.
   Both must have counted every event at the end (checked).

Medians of --rounds rounds. The machine is shared, so ratios matter more than absolute figures.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import psutil
import requests

from benchmarks import synth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MTAIL_PROGS = os.path.join(ROOT, "benchmarks", "mtail")


def free_port() -> int:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def total(url: str, metric: str) -> float:
    try:
        text = requests.get(url, timeout=5).text
    except requests.RequestException:
        return -1
    return sum(float(m.group(1)) for m in re.finditer(rf"^{metric}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def start_logkit(path: str) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([sys.executable, "-m", "logkit", "metrics", "serve", path, "--port", "0",
                          "--poll-interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("serving "):
        raise RuntimeError(f"logkit metrics serve did not start: {line!r}")
    return p, line.split()[1]


def start_mtail(mtail: str, path: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    p = subprocess.Popen([mtail, "--progs", MTAIL_PROGS, "--logs", path, "--address", "127.0.0.1",
                          "--port", str(port), "--poll_interval", "100ms", "--logtostderr"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 30
    while total(url, "logkit_events_total") < 0:
        if time.monotonic() > deadline:
            raise RuntimeError("mtail did not start")
        time.sleep(0.05)
    return p, url


def stop(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def catch_up_logkit(path: str, n: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    p, url = start_logkit(path)
    pp = psutil.Process(p.pid)
    while total(url, "logkit_exporter_events_read_total") < n:
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    c = cpu(pp)
    stop(p)
    return wall, c


def catch_up_mtail(mtail: str, path: str, n: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    p = subprocess.Popen([mtail, "--one_shot", "--one_shot_format", "prometheus", "--progs", MTAIL_PROGS,
                          "--logs", path, "--address", "127.0.0.1", "--port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = p.communicate(timeout=600)
    wall = time.perf_counter() - t0
    counted = sum(float(m.group(1)) for m in re.finditer(rb"^logkit_events_total{[^}]*} ([0-9.e+]+)$", out, re.M))
    if counted != n:
        raise RuntimeError(f"mtail counted {counted} of {n} events")
    return wall, _child_cpu()


_last_child = [0.0]


def _child_cpu() -> float:
    """CPU of children reaped since the last call (mtail --one_shot is a reaped child)."""
    t = os.times()
    now = t.children_user + t.children_system
    d = now - _last_child[0]
    _last_child[0] = now
    return d


def steady(mtail: str, d: str, rate: int, seconds: float, seed: int) -> dict:
    path = os.path.join(d, f"steady-{seed}.ndjson")
    # the first line gives the file its identity for logkit's follower; mtail starts at the end of a
    # file that exists when it starts, so it is not counted there
    with open(path, "wb") as f:
        f.write(next(synth.lines(1, seed=seed)))
    lk, lk_url = start_logkit(path)
    mt, mt_url = start_mtail(mtail, path)
    time.sleep(1.0)
    lkp, mtp = psutil.Process(lk.pid), psutil.Process(mt.pid)
    c_lk, c_mt = cpu(lkp), cpu(mtp)
    written = 1
    batch = max(1, rate // 20)
    t0 = time.perf_counter()
    with open(path, "ab", buffering=0) as f:
        k = 0
        while True:
            el = time.perf_counter() - t0
            if el >= seconds:
                break
            due = int(el * rate) - (written - 1)
            if due >= batch:
                lines = list(synth.lines(due, seed=seed * 1000 + k))
                k += 1
                f.write(b"".join(lines))
                written += len(lines)
            else:
                time.sleep(0.01)
    deadline = time.monotonic() + 60
    lk_n = mt_n = 0.0
    while time.monotonic() < deadline:
        lk_n = total(lk_url, "logkit_exporter_events_read_total")
        mt_n = total(mt_url, "logkit_events_total")
        if lk_n >= written and mt_n >= written - 1:
            break
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    cpu_lk, cpu_mt = cpu(lkp) - c_lk, cpu(mtp) - c_mt
    stop(lk)
    stop(mt)
    os.unlink(path)
    if lk_n != written or mt_n != written - 1:
        raise RuntimeError(f"events written {written}, logkit counted {lk_n}, mtail {mt_n} (of {written - 1})")
    per_k = written / wall / 1000
    return {"events": written, "rate": written / wall, "logkit_pct_per_k": cpu_lk / wall * 100 / per_k,
            "mtail_pct_per_k": cpu_mt / wall * 100 / per_k}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mtail", default=shutil.which("mtail") or "/usr/bin/mtail")
    ap.add_argument("--write-docs", action="store_true", help="Replace the ## Metrics section of docs/performance.md.")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="logkit-metrics-bench-")
    try:
        path = os.path.join(d, "catchup.ndjson")
        with open(path, "wb") as f:
            for ln in synth.lines(a.events, seed=7):
                f.write(ln)
        size = os.path.getsize(path)
        _child_cpu()
        cu_lk, cu_mt, st = [], [], []
        for r in range(a.rounds):
            cu_lk.append(catch_up_logkit(path, a.events))
            cu_mt.append(catch_up_mtail(a.mtail, path, a.events))
            st.append(steady(a.mtail, d, a.rate, a.seconds, seed=r + 1))
            print(f"round {r + 1}: catch-up logkit {cu_lk[-1][0]:.2f}s, mtail {cu_mt[-1][0]:.2f}s; steady "
                  f"{st[-1]['rate']:.0f} ev/s: logkit {st[-1]['logkit_pct_per_k']:.1f}%, "
                  f"mtail {st[-1]['mtail_pct_per_k']:.1f}% of a core per 1k ev/s", file=sys.stderr)
        med = statistics.median
        lk_wall, lk_cpu = med(w for w, _ in cu_lk), med(c for _, c in cu_lk)
        mt_wall, mt_cpu = med(w for w, _ in cu_mt), med(c for _, c in cu_mt)
        rate = med(s["rate"] for s in st)
        s_lk, s_mt = med(s["logkit_pct_per_k"] for s in st), med(s["mtail_pct_per_k"] for s in st)
        cmd = (f"python -m benchmarks.metrics_bench --events {a.events} --rate {a.rate} --seconds {a.seconds:g} "
               f"--rounds {a.rounds}")
        mv = subprocess.run([a.mtail, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        text = f"""## Metrics

`{cmd}` (medians of {a.rounds} rounds; {a.events:,} synthetic events, {size / 2**20:.0f} MiB of
nested NDJSON, from `benchmarks.synth`). mtail ({mv.strip()}) runs `benchmarks/mtail/logkit.mtail`,
which counts 5 of logkit's metrics (events by service/level, pages by domain/status class,
CAPTCHAs, task events by task/state, task run time histogram) with regular expressions that depend
on the key order of the emitted JSON; logkit's exporter parses each line as JSON (either form) and
keeps all {len(__import__('logkit.metrics.definitions', fromlist=['x']).METRICS)} metrics of docs/metrics.md.

| | logkit metrics serve | mtail |
| --- | --- | --- |
| catch-up: {a.events:,} events, wall (process start included) | {lk_wall:.2f} s ({a.events / lk_wall:,.0f} events/s) | {mt_wall:.2f} s ({a.events / mt_wall:,.0f} events/s) |
| catch-up: CPU | {lk_cpu:.2f} s ({lk_cpu / a.events * 1e6:.1f} µs/event) | {mt_cpu:.2f} s ({mt_cpu / a.events * 1e6:.1f} µs/event) |
| steady follow at {rate:,.0f} events/s: CPU per 1,000 events/s | {s_lk:.1f}% of a core | {s_mt:.1f}% of a core |

Both counted every event in every round (checked). The exporter spends its time in JSON parsing
(orjson) and one pass over the metric plan per event; mtail in RE2 matching of five patterns per line.
"""
        print(text)
        if a.write_docs:
            write_section(text)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def write_section(text: str) -> None:
    p = os.path.join(ROOT, "docs", "performance.md")
    doc = open(p, encoding="utf-8").read()
    m = re.search(r"^## Metrics\n.*?(?=^## |\Z)", doc, re.M | re.S)
    if m:
        doc = doc[:m.start()] + text.rstrip("\n") + "\n" + ("\n" if doc[m.end():] else "") + doc[m.end():]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    with open(p, "w", encoding="utf-8") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
