"""Shipping throughput, side by side in one run: `logkit ship --once`, the client's ceiling, Filebeat.

    python -m benchmarks.ship_bench [--events 500000] [--repeats 3] [--es URL]
                                    [--filebeat BIN ...] [--markdown OUT.md] [--json OUT.json]

Every contender ships the same NDJSON file (N logkit events from benchmarks/gen_events.py, each
with an `event.id`) into the same node, each run into a fresh index created with the same settings
(1 shard, 0 replicas, `refresh_interval: -1` during the load, dynamic mappings) and with the same
`_id`s (the event's `event.id`, op `create`):

- **logkit ship**: `python -m logkit ship FILE --once` with a fresh registry, default batching;
  timed from process start to exit (it exits once every document is acknowledged).
- **ceiling (parallel_bulk)**: `elasticsearch.helpers.parallel_bulk` of documents parsed into
  dicts before the clock starts (`_op_type: create`, `_id` = event.id), with the client's default
  JSON serializer and with its orjson serializer; chunk size and threads as printed.
- **Filebeat** (each binary given): filestream + ndjson parser (`document_id: event.id`,
  `overwrite_keys`), Elasticsearch output into the index, tuned as printed; timed from process
  start until the index's `indexing.index_total` reaches N (polled every 0.1 s, no refresh).

Reported: median events/s over the repeats (runs interleaved: each repeat runs every contender
once), and each run's figure. ``LOGKIT_TEST_ES_URL``, ``LOGKIT_TEST_FILEBEAT_9`` and
``LOGKIT_TEST_FILEBEAT_7`` are the defaults (scripts/components/20-elasticsearch.sh, 30-filebeat.sh).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

INDEX_SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"}
CEILING = {"chunk": 2000, "threads": 3}
FB_BULK = 2048
FB_WORKERS = 2


def fresh_index(client, name: str) -> None:
    client.options(ignore_status=404).indices.delete(index=name)
    client.indices.create(index=name, settings=INDEX_SETTINGS)


def indexed(client, name: str) -> int:
    st = client.indices.stats(index=name, metric="indexing")
    p = st["_all"]["primaries"]["indexing"]
    return p["index_total"] - p.get("index_failed", 0)


def finish(client, name: str, n: int) -> None:
    """Checks the index holds N documents, then drops it."""
    client.indices.refresh(index=name)
    got = client.count(index=name)["count"]
    if got != n:
        raise SystemExit(f"{name}: {got} documents, expected {n}")
    client.indices.delete(index=name)


def run_logkit(url: str, data: Path, name: str, work: Path, n: int, extra: list[str]) -> float:
    reg, dl = work / f"{name}.registry.json", work / f"{name}.dead.ndjson"
    for p in (reg, dl):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "logkit", "ship", str(data), "--es", url, "--index", name,
                        "--registry", str(reg), "--dead-letter", str(dl), "--once",
                        "--progress-interval", "0", "--summary", *extra],
                       capture_output=True, cwd=str(ROOT), timeout=3600)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"logkit ship failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    s = json.loads(r.stdout)
    if s["shipped"] != n:
        raise SystemExit(f"logkit ship shipped {s['shipped']} of {n}: {s}")
    return dt


def run_ceiling(client, docs: list, name: str, n: int, raw: bool = False) -> float:
    """parallel_bulk of pre-built documents: dicts, or (raw) pre-serialized action and source bytes."""
    from elasticsearch import helpers

    kw = {}
    if raw:
        def actions():
            for header, body in docs:
                yield header, body
        kw = {"expand_action_callback": lambda x: x, "index": name}
    else:
        def actions():
            for d in docs:
                yield {"_op_type": "create", "_index": name, "_id": d["event"]["id"], "_source": d}

    t0 = time.perf_counter()
    ok = 0
    for success, info in helpers.parallel_bulk(client, actions(), thread_count=CEILING["threads"],
                                               chunk_size=CEILING["chunk"], raise_on_error=False, **kw):
        ok += success
    dt = time.perf_counter() - t0
    if ok != n:
        raise SystemExit(f"parallel_bulk indexed {ok} of {n}")
    return dt


FB_CONFIG = """\
filebeat.inputs:
  - type: filestream
    id: logkit-ship-bench
    paths: [{path}]
    prospector.scanner.check_interval: 0.2s
    parsers:
      - ndjson:
          target: ""
          overwrite_keys: true
          document_id: "event.id"
output.elasticsearch:
  hosts: [{url}]
  index: {index}
  bulk_max_size: {bulk}
  worker: {workers}
setup.ilm.enabled: false
setup.template.enabled: false
queue.mem:
  events: 32768
  flush.min_events: {bulk}
  flush.timeout: 0.2s
logging.level: warning
"""


def run_filebeat(binary: str, client, url: str, data: Path, name: str, work: Path, n: int) -> float:
    d = Path(tempfile.mkdtemp(prefix="fb-", dir=work))
    for sub in ("home", "data", "logs"):
        (d / sub).mkdir()
    cfg = d / "filebeat.yml"
    cfg.write_text(FB_CONFIG.format(path=json.dumps(str(data)), url=json.dumps(url),
                                    index=json.dumps(name), bulk=FB_BULK, workers=FB_WORKERS))
    cfg.chmod(0o600)
    out = open(d / "filebeat.out", "wb")
    t0 = time.perf_counter()
    p = subprocess.Popen(["timeout", "-k", "5", "1800", binary, "-e", "-c", str(cfg),
                          f"--path.home={d / 'home'}", f"--path.data={d / 'data'}",
                          f"--path.logs={d / 'logs'}"],
                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        while True:
            if p.poll() is not None:
                raise SystemExit(f"filebeat exited ({p.returncode}):\n"
                                 + (d / "filebeat.out").read_text(errors="replace")[-3000:])
            if indexed(client, name) >= n:
                break
            if time.perf_counter() - t0 > 1800:
                raise SystemExit("filebeat: timed out")
            time.sleep(0.1)
        dt = time.perf_counter() - t0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        out.close()
    return dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--es", default=os.environ.get("LOGKIT_TEST_ES_URL"))
    ap.add_argument("--filebeat", action="append", default=None,
                    help="Filebeat binary (repeatable); default $LOGKIT_TEST_FILEBEAT_9 and _7")
    ap.add_argument("--no-filebeat", action="store_true")
    ap.add_argument("--ship-arg", action="append", default=[],
                    help="extra argument for logkit ship (repeatable), e.g. --ship-arg=--workers=3")
    ap.add_argument("--ceiling-chunk", type=int, default=CEILING["chunk"])
    ap.add_argument("--ceiling-threads", type=int, default=CEILING["threads"])
    ap.add_argument("--only", default=None, help="run only contenders whose label contains one of these (comma-separated)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--markdown", default=None, help="write the table here too")
    ap.add_argument("--json", default=None, help="write the raw figures here")
    a = ap.parse_args(argv)
    if not a.es:
        ap.error("give --es or set LOGKIT_TEST_ES_URL (scripts/components/20-elasticsearch.sh start)")
    fbs = [] if a.no_filebeat else (a.filebeat or [b for b in (os.environ.get("LOGKIT_TEST_FILEBEAT_9"),
                                                              os.environ.get("LOGKIT_TEST_FILEBEAT_7")) if b])

    from elasticsearch import Elasticsearch
    from elasticsearch.serializer import OrjsonSerializer
    from benchmarks.gen_events import generate

    client = Elasticsearch(a.es, request_timeout=300)
    client_orjson = Elasticsearch(a.es, request_timeout=300, serializer=OrjsonSerializer())
    work = Path(a.workdir or tempfile.mkdtemp(prefix="ship-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"events-{a.events}.ndjson"
    if not data.exists():
        generate(a.events, [str(data)])
    size = data.stat().st_size
    raw_lines = data.read_bytes().splitlines()
    docs = [orjson.loads(line) for line in raw_lines]
    assert len(docs) == a.events and all(d["event"]["id"] for d in docs)
    raw_docs = [(b'{"create":{"_id":%s}}' % orjson.dumps(d["event"]["id"]), line)
                for d, line in zip(docs, raw_lines)]
    del raw_lines
    print(f"{a.events} events, {size / 1e6:.0f} MB ({size / a.events:.0f} B/event) in {data}", file=sys.stderr)

    CEILING["chunk"], CEILING["threads"] = a.ceiling_chunk, a.ceiling_threads
    contenders = [("logkit ship --once", None), ("ceiling: parallel_bulk of dicts, default serializer", None),
                  ("ceiling: parallel_bulk of dicts, orjson serializer", None),
                  ("ceiling: parallel_bulk of pre-serialized bytes", None)]
    versions = {}
    for fb in fbs:
        v = subprocess.run([fb, "version"], capture_output=True, text=True, timeout=60).stdout.split()
        label = f"Filebeat {v[2] if len(v) > 2 else fb}"
        versions[label] = fb
        contenders.append((label, fb))
    if a.only:
        contenders = [(c, fb) for c, fb in contenders if any(o in c for o in a.only.split(","))]
    times: dict[str, list[float]] = {c: [] for c, _ in contenders}
    for rep in range(a.repeats):
        for label, fb in contenders:
            name = f"ship-bench-{len(times[label])}-{abs(hash(label)) % 10**6}"
            fresh_index(client, name)
            if label.startswith("logkit"):
                dt = run_logkit(a.es, data, name, work, a.events, a.ship_arg)
            elif "default serializer" in label:
                dt = run_ceiling(client, docs, name, a.events)
            elif "orjson" in label:
                dt = run_ceiling(client_orjson, docs, name, a.events)
            elif "pre-serialized" in label:
                dt = run_ceiling(client, raw_docs, name, a.events, raw=True)
            else:
                dt = run_filebeat(fb, client, a.es, data, name, work, a.events)
            finish(client, name, a.events)
            times[label].append(dt)
            print(f"repeat {rep + 1}: {label}: {dt:.2f}s = {a.events / dt:,.0f} events/s", file=sys.stderr)

    best_ceiling = max([a.events / statistics.median(t) for c, t in times.items() if c.startswith("ceiling")]
                       or [float("nan")])
    ceilings = [c for c in times if c.startswith("ceiling")]
    rows = []
    for label, t in times.items():
        med = statistics.median(t)
        rate = a.events / med
        # noise-robust: in each repeat, this contender against the best ceiling of that repeat
        paired = [min(times[c][i] for c in ceilings) / t[i] for i in range(len(t))] if ceilings else []
        rows.append((label, med, rate, rate / best_ceiling,
                     statistics.median(paired) if paired else float("nan"), [a.events / x for x in t]))
    cpu = platform.processor() or platform.machine()
    lines = [f"{a.events:,} logkit events ({size / a.events:.0f} B each, {size / 1e6:.0f} MB), one "
             f"Elasticsearch 8.19 node (512 MB heap) on the same machine ({os.cpu_count()} cores, {cpu}); "
             f"median of {a.repeats} interleaved repeats. Ceiling: parallel_bulk, chunk_size "
             f"{CEILING['chunk']}, thread_count {CEILING['threads']}; Filebeat: bulk_max_size {FB_BULK}, "
             f"worker {FB_WORKERS}, queue.mem.events 32768.", "",
             "| contender | median time | events/s | vs best ceiling (medians) | vs best ceiling "
             "(median of per-repeat ratios) | runs (events/s) |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for label, med, rate, rel, paired, runs in rows:
        lines.append(f"| {label} | {med:.1f} s | {rate:,.0f} | {rel:.0%} | {paired:.0%} | "
                     + ", ".join(f"{r:,.0f}" for r in runs) + " |")
    table = "\n".join(lines)
    print(table)
    if a.markdown:
        Path(a.markdown).write_text(table + "\n")
    if a.json:
        Path(a.json).write_text(json.dumps({"events": a.events, "bytes": size, "times": times}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
