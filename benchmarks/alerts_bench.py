"""``logkit alerts check`` with the whole default pack, side by side with the analyzer report on the
same data, in one run.

    python -m benchmarks.alerts_bench [--events 1000000 ...] [--repeat 3] [--dir /tmp/logkit-bench]
                                      [--write-docs]

For each size N (events from benchmarks/gen_events.py: deterministic, one day, cached in --dir and
shared with benchmarks/analyze_bench.py):

- ``report``     the full ``logkit analyze`` report (every section, as JSON) over the raw file;
- ``alerts``     ``logkit alerts check pack:default FILE --now latest`` (every rule and kind: loading
                 the file into an in-memory store, then each rule's queries, ``for:`` history included,
                 no state, nothing delivered) over the raw file;
- ``load``       ``logkit load`` of the file into a fresh DuckDB store (what both of the next share);
- ``report-db``  the full report over that store;
- ``alerts-db``  the same check over that store (what a cron job over a store pays per run); this one
                 also records each rule's evaluation time.

Each contender runs in its own fresh process (peak memory is its own: ``ru_maxrss`` from ``wait4``),
round-robin over --repeat rounds so a noisy neighbour hits all alike; figures are medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KINDS = ("report", "alerts", "load", "report-db", "alerts-db")


def _child(kind: str, path: str, db: str) -> None:
    t0 = time.perf_counter()
    extra: dict = {}
    if kind in ("report", "report-db"):
        from logkit.analyze import analyze
        from logkit.look.render import render
        rep = analyze([path], top=20) if kind == "report" else analyze(None, db=db, top=20)
        with open(os.devnull, "w") as f:
            render(rep, "json", f)
    elif kind == "load":
        from logkit.analyze import load
        if os.path.exists(db):
            os.unlink(db)
        load([path], db)
    elif kind in ("alerts", "alerts-db"):
        from logkit.alert import Source, State, load_rules, resolve_now
        from logkit.alert.engine import run_once
        rs = load_rules("pack:default")
        with Source([path] if kind == "alerts" else None, db if kind == "alerts-db" else None,
                    fields=rs.fields_needed()) as src:
            t_loaded = time.perf_counter()
            now = resolve_now("latest", src)
            per_rule = {}
            if kind == "alerts-db":
                from logkit.alert.rules import RuleSet
                for r in rs.rules:  # each rule alone, fresh state: its own cost, for: history included
                    t = time.perf_counter()
                    run_once(RuleSet([r], []), src, now, State(), deliver_to=False)
                    per_rule[r.name] = round(time.perf_counter() - t, 3)
                t_loaded = time.perf_counter()
            res = run_once(rs, src, now, State(), deliver_to=False)
            extra = {"firing": len(res.firing), "pending": len(res.pending), "errors": res.errors,
                     "load_s": round(t_loaded - t0, 2) if kind == "alerts" else None, "per_rule": per_rule}
            if kind == "alerts-db":
                t0 = t_loaded  # the whole pack, once (the per-rule runs above are not counted)
    print(json.dumps({"seconds": time.perf_counter() - t0, **extra}))


def run_child(kind: str, path: str, db: str) -> tuple[float, float, dict]:
    p = subprocess.Popen([sys.executable, __file__, "--child", kind, path, db], stdout=subprocess.PIPE, cwd=ROOT)
    _, status, ru = os.wait4(p.pid, 0)
    out = p.stdout.read().decode()
    p.stdout.close()
    if status != 0:
        raise RuntimeError(f"{kind} failed with status {status}")
    d = json.loads(out.strip().splitlines()[-1])
    return d.pop("seconds"), ru.ru_maxrss / 1024, d


def ensure_events(n: int, d: str) -> str:
    from benchmarks.gen_events import ensure_events as ensure
    return ensure(n, d)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "DB"))
    ap.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "logkit-bench"))
    ap.add_argument("--write-docs", action="store_true", help="write the table into docs/performance.md (## Alerts)")
    a = ap.parse_args(argv)
    if a.child:
        _child(*a.child)
        return
    os.makedirs(a.dir, exist_ok=True)
    results: list[dict] = []
    for n in a.events:
        path = ensure_events(n, a.dir)
        db = os.path.join(a.dir, f"alerts-store-{n}.duckdb")
        runs: dict[str, list] = {k: [] for k in KINDS}
        rounds = a.repeat if n <= 2_000_000 else max(1, a.repeat - 2)
        try:
            for _ in range(rounds):
                for k in KINDS:
                    runs[k].append(run_child(k, path, db))
                    s, m, x = runs[k][-1]
                    print(f"  n={n:,} {k}: {s:.2f}s {m:.0f}MB {x if k.startswith('alerts') else ''}",
                          file=sys.stderr)
        finally:
            if os.path.exists(db):
                os.unlink(db)
        size_mb = os.path.getsize(path) / 2**20
        for k, v in runs.items():
            sec = statistics.median(s for s, _, _ in v)
            last = v[-1][2]
            results.append({"events": n, "file_mb": round(size_mb), "contender": k, "seconds": round(sec, 2),
                            "peak_mb": round(max(m for _, m, _ in v)), "runs": len(v), **last})
    table = _table(results)
    print(table)
    print(_per_rule(results))
    if a.write_docs:
        _write_docs(table, results, a)


def _table(results: list[dict]) -> str:
    by = {(r["events"], r["contender"]): r for r in results}
    lines = ["| events | file | contender | median s | vs the report | peak RSS | runs |",
             "| ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for r in results:
        ref = by.get((r["events"], "report-db" if r["contender"].endswith("-db") else "report"))
        rel = f"{r['seconds'] / ref['seconds']:.2f}×" if ref and r["contender"].startswith("alerts") else ""
        lines.append(f"| {r['events']:,} | {r['file_mb']:,} MB | {r['contender']} | {r['seconds']:.2f} | {rel} | "
                     f"{r['peak_mb']:,} MB | {r['runs']} |")
    return "\n".join(lines)


def _per_rule(results: list[dict]) -> str:
    out = []
    for r in results:
        if r["contender"] == "alerts-db" and r.get("per_rule"):
            items = sorted(r["per_rule"].items(), key=lambda kv: -kv[1])
            out.append(f"Per rule over the {r['events']:,}-event store (seconds, each rule alone, last round): "
                       + ", ".join(f"{k} {v:.2f}" for k, v in items) + ".")
    return "\n\n".join(out)


def _pack_size() -> int:
    from logkit.alert import default_pack
    return len(default_pack().rules)


def _write_docs(table: str, results: list[dict], a) -> None:
    path = os.path.join(ROOT, "docs", "performance.md")
    text = open(path).read() if os.path.exists(path) else "# Performance\n"
    cmd = (f"python -m benchmarks.alerts_bench --events {' '.join(map(str, a.events))} --repeat {a.repeat} "
           f"--write-docs")
    notes = []
    for r in results:
        if r["contender"] == "alerts":
            notes.append(f"- {r['events']:,} events, raw file: {r['load_s']} s of the {r['seconds']:.2f} s go to "
                         f"loading the file into the in-memory store; the pack then fires {r['firing']} alert(s).")
    section = (f"## Alerts\n\nMeasured {time.strftime('%Y-%m-%d')} on this repository's 2-core machine (shared "
               f"with other jobs: figures are noisy; medians, each contender in a fresh process, round-robin) "
               f"with\n\n    {cmd}\n\n{table}\n\n" + "\n".join(notes) + "\n\n" + _per_rule(results) + "\n\n"
               f"`alerts` evaluates the {_pack_size()} rules of the pack, each over its own window (15 minutes to 24 hours before the last "
               "event) and, for rules with `for:`, up to a few more evaluations to reconstruct the pending "
               "history (no state file); every threshold is one of the analyzer's named queries, so a rule "
               "costs about one report section over its window. Over raw files most of the time is loading them "
               "into the in-memory store (a cron job should `logkit load` into a store and check that); over a "
               "store, `NewFailurePattern` dominates: it mines the failures of its window and baseline with "
               "`logkit.patterns.TemplateMiner` in Python at each run.\n")
    start = text.find("## Alerts")
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + 5)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
