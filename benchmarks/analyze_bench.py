"""The analyzer side by side with its floor and a pandas baseline, in one run.

    python -m benchmarks.analyze_bench [--events 1000000 ...] [--pandas-events 500000] [--repeat 3]
                                       [--dir /tmp/logkit-bench] [--write-docs]

For each size N (events from benchmarks/gen_events.py, deterministic, cached in --dir):

- ``floor``   DuckDB's bare ``SELECT count(*) FROM read_ndjson(FILE)``: reading the bytes and
              parsing the JSON, nothing else — no report can be faster;
- ``report``  the full ``logkit analyze`` report (every section, rendered as JSON) over the raw file;
- ``load``    ``logkit load`` of the file into a fresh DuckDB store;
- ``report-db`` the full report over that store;
- ``pandas``  (at --pandas-events only) ``read_json(lines=True)`` + ``json_normalize`` + a per-domain
              groupby, the way people write it — one section, not the report.

Each contender runs in its own fresh process (so peak memory is its own: ``ru_maxrss`` from
``wait4``), round-robin over --repeat rounds so a noisy neighbour hits all alike; figures are medians.
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


def _child(kind: str, path: str, db: str) -> None:
    """Runs in the child: does one contender once, prints its wall time."""
    t0 = time.perf_counter()
    if kind == "floor":
        import duckdb
        duckdb.connect().execute(f"SELECT count(*) FROM read_ndjson('{path}')").fetchall()
    elif kind == "report":
        from logkit.analyze import analyze
        from logkit.look.render import render
        rep = analyze([path], top=20)
        with open(os.devnull, "w") as f:
            render(rep, "json", f)
    elif kind == "load":
        from logkit.analyze import load
        if os.path.exists(db):
            os.unlink(db)
        load([path], db)
    elif kind == "report-db":
        from logkit.analyze import analyze
        from logkit.look.render import render
        rep = analyze(None, db=db, top=20)
        with open(os.devnull, "w") as f:
            render(rep, "json", f)
    elif kind == "pandas":
        import pandas as pd
        raw = pd.read_json(path, lines=True)
        df = pd.json_normalize(raw.to_dict("records"))
        page = df["event.action"] == "page.fetched"
        status = df["http.response.status_code"]
        g = df.assign(page=page, err=page & (status >= 400)).groupby("url.domain").agg(
            pages=("page", "sum"), errors=("err", "sum"))
        g["error_rate"] = g["errors"] / g["pages"]
        g.sort_values("pages", ascending=False).head(20)
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def run_child(kind: str, path: str, db: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one fresh process."""
    p = subprocess.Popen([sys.executable, __file__, "--child", kind, path, db], stdout=subprocess.PIPE,
                         cwd=ROOT)
    _, status, ru = os.wait4(p.pid, 0)
    out = p.stdout.read().decode()
    p.stdout.close()
    if status != 0:
        raise RuntimeError(f"{kind} failed with status {status}")
    return json.loads(out.strip().splitlines()[-1])["seconds"], ru.ru_maxrss / 1024


def ensure_events(n: int, d: str) -> str:
    from benchmarks.gen_events import ensure_events as ensure
    return ensure(n, d)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "DB"))
    ap.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--pandas-events", type=int, default=500_000, help="0: skip pandas")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "logkit-bench"))
    ap.add_argument("--write-docs", action="store_true", help="write the table into docs/performance.md")
    a = ap.parse_args(argv)
    if a.child:
        _child(*a.child)
        return
    os.makedirs(a.dir, exist_ok=True)
    results: list[dict] = []
    sizes = list(a.events)
    if a.pandas_events and a.pandas_events not in sizes:
        sizes = [a.pandas_events] + sizes
    for n in sizes:
        path = ensure_events(n, a.dir)
        db = os.path.join(a.dir, f"store-{n}.duckdb")
        kinds = ["floor", "report", "load", "report-db"] if n in a.events else []
        if n == a.pandas_events:
            kinds = ["floor", "report", "pandas"] if not kinds else kinds + ["pandas"]
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        for r in range(a.repeat):
            for k in kinds:
                if k == "pandas" and r > 0:
                    continue  # one round is plenty (tens of seconds, GBs)
                runs[k].append(run_child(k, path, db))
                print(f"  n={n:,} {k}: {runs[k][-1][0]:.2f}s {runs[k][-1][1]:.0f}MB", file=sys.stderr)
        size_mb = os.path.getsize(path) / 2**20
        floor = statistics.median(s for s, _ in runs["floor"])
        for k, v in runs.items():
            sec = statistics.median(s for s, _ in v)
            results.append({"events": n, "file_mb": round(size_mb), "contender": k, "seconds": round(sec, 2),
                            "x_floor": round(sec / floor, 2), "peak_mb": round(max(m for _, m in v)),
                            "runs": len(v)})
        if os.path.exists(db):
            os.unlink(db)
    table = _table(results)
    print(table)
    if a.write_docs:
        _write_docs(table, results, a)


def _table(results: list[dict]) -> str:
    lines = ["| events | file | contender | median s | × floor | peak RSS | runs |",
             "| ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r['events']:,} | {r['file_mb']:,} MB | {r['contender']} | {r['seconds']:.2f} | "
                     f"{r['x_floor']:.2f} | {r['peak_mb']:,} MB | {r['runs']} |")
    return "\n".join(lines)


def _write_docs(table: str, results: list[dict], a) -> None:
    path = os.path.join(ROOT, "docs", "performance.md")
    text = open(path).read() if os.path.exists(path) else "# Performance\n"
    cmd = (f"python -m benchmarks.analyze_bench --events {' '.join(map(str, a.events))} "
           f"--pandas-events {a.pandas_events} --repeat {a.repeat} --write-docs")
    section = (f"## Analyzer\n\nMeasured {time.strftime('%Y-%m-%d')} on this repository's 2-core machine "
               f"(shared with other jobs: figures are noisy; medians, each contender in a fresh process, "
               f"round-robin) with\n\n    {cmd}\n\n{table}\n\n"
               + _commentary(results, a.events) + "\n\n")
    start = text.find("## Analyzer")
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + 5)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(text)


def _commentary(results: list[dict], a_events=()) -> str:
    by = {(r["events"], r["contender"]): r for r in results}
    out = []
    for (n, k), r in sorted(by.items()):
        if k == "pandas" and (n, "report") in by:
            out.append(f"- pandas at {n:,} events: {r['seconds']:.1f} s and {r['peak_mb']:,} MB for one "
                       f"section; the full logkit report on the same file: {by[(n, 'report')]['seconds']:.2f} s "
                       f"({r['seconds'] / by[(n, 'report')]['seconds']:.0f}× faster).")
    ns = sorted(n for n in a_events if (n, "report") in by)
    if len(ns) >= 2:
        lo, hi = ns[0], ns[-1]
        ra, rb = by[(lo, "report")]["seconds"], by[(hi, "report")]["seconds"]
        out.append(f"- Growth: {hi / lo:.0f}× the events took {rb / ra:.1f}× the time "
                   f"({lo:,} → {hi:,}).")
    return "\n".join(out)


if __name__ == "__main__":
    main()
