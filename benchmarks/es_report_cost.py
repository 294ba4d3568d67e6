"""Where `logkit analyze --es` spends its requests and time, section by section, against the
DuckDB report on the same events.

    python benchmarks/es_report_cost.py --es URL [--events 1000000] [--index PATTERN] [--keep]

Without --index, N events from benchmarks/gen_events.py are bulk-indexed into fresh data streams
(namespace `bench<random>`, deleted afterwards unless --keep). Prints, per section: HTTP requests
(a multi-search or a point-in-time page is one), searches run, seconds; then the same report from
the files on DuckDB, and whether both reports are equal (every figure, percentiles included).
Request counts are exact; seconds depend on the machine (the node's heap, the load).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def index_events(client, path: str) -> tuple[str, str]:
    import orjson
    from elasticsearch import helpers

    from logkit.es import setup as les
    ns = "bench" + uuid.uuid4().hex[:8]
    les.setup(client, ns, name=f"logkit-bench-{ns}", pattern=f"logs-logkit.*-{ns}", priority=260)

    def actions():
        with open(path, "rb") as f:
            for line in f:
                ev = orjson.loads(line)
                ds = (ev.get("event") or {}).get("dataset")
                ds = ds if ds in les.DATASETS else "logkit.script"
                yield {"_op_type": "create", "_index": les.data_stream_name(ds, ns),
                       "_id": (ev.get("event") or {}).get("id"), "_source": ev}
    for ok, item in helpers.streaming_bulk(client, actions(), chunk_size=5000, raise_on_error=True):
        pass
    pattern = f"logs-logkit.*-{ns}"
    client.indices.refresh(index=pattern)
    return pattern, ns


def _same_rows(columns, a: list, b: list) -> bool:
    """Equal, figure by figure: the percentiles bit for bit; other floats to 1e-9 relative or a
    microsecond (DuckDB's stale_seconds goes through a float epoch: 69.12000012397766 for 69.12,
    below the events' millisecond precision)."""
    import math
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        for c, x, y in zip(columns, ra, rb):
            if isinstance(x, float) and isinstance(y, float) and not c.startswith(("runtime_p", "queue_wait_p")):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6):
                    return False
            elif x != y:
                return False
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--es", required=True)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--index")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    from gen_events import ensure_events

    from logkit.analyze import analyze
    from logkit.analyze.es_report import analyze_es
    from logkit.es.client import es_client
    client = es_client(a.es, request_timeout=300)
    tmp = tempfile.mkdtemp(prefix="logkit-es-cost-")
    path = ensure_events(a.events, tmp)
    ns = None
    pattern = a.index
    if pattern is None:
        t = time.perf_counter()
        pattern, ns = index_events(client, path)
        print(f"indexed {a.events} events into {pattern} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    try:
        cost: dict = {}
        t = time.perf_counter()
        got = analyze_es(client, pattern, now=now, top=None, cost=cost)
        es_s = time.perf_counter() - t
        t = time.perf_counter()
        ref = analyze([path], now=now, top=None)
        duck_s = time.perf_counter() - t
        print(f"{'section':18} {'requests':>8} {'searches':>8} {'seconds':>8}")
        for name, (req, srch, sec) in cost.items():
            print(f"{name:18} {req:8d} {srch:8d} {sec:8.2f}")
        tot = [sum(v[i] for v in cost.values()) for i in range(3)]
        print(f"{'total':18} {tot[0]:8d} {tot[1]:8d} {es_s:8.2f}")
        print(f"DuckDB from files (load + report): {duck_s:.2f} s")
        diff = [n for n in ref.sections if n not in ("files", "bad_input")
                and not _same_rows(ref.sections[n].columns, ref.sections[n].rows, got.sections[n].rows)]
        print("equal reports" if not diff else f"sections that differ: {diff}")
        return 1 if diff else 0
    finally:
        if ns and not a.keep:
            # the test distribution has no data-streams API (no DELETE _data_stream): the backing
            # indices other than the write index go; the node's data dir is temporary anyway
            client.options(ignore_status=(400, 404)).indices.delete(index=f".ds-logs-logkit.*-{ns}-*",
                                                                   allow_no_indices=True)

if __name__ == "__main__":
    sys.exit(main())
