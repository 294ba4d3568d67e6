"""`logkit ship` against real Elasticsearch nodes, under the failures it promises to survive.

Each test ends with the same check: the index holds exactly the events that were written — the
same count and the same set of `_id`s (each `_id` equal to the line's `event.id`) — and the
shipper, stopped with SIGTERM, exits 0.

The writer is a separate process that logs through logkit's own emitter (`logging_config` with a
watched file handler) at a steady rate; run this module as a script to get it:
    python tests/ship/test_ship_reliability.py writer FILE N RATE [PAUSE_FILE]
The shipper runs as `python -m logkit ship ...` in its own process group.

Hard limits: every wait polls with a deadline, and faulthandler ends the whole run (with
tracebacks) if a test exceeds HARD_TIMEOUT.
"""
from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent
ROOT = HERE.parent
HARD_TIMEOUT = 420  # seconds per test; the machine is small and shared

pytestmark = [pytest.mark.es, pytest.mark.slow]


# --------------------------------------------------------------------------------------------
# the writer (this module run as a script)
# --------------------------------------------------------------------------------------------
def _writer_main(path: str, n: int, rate: float, pause_file: str | None) -> None:
    import logging
    import logging.config

    import logkit

    logging.config.dictConfig(logkit.logging_config("shipper-test", "script", stream=None,
                                                    filename=path, rotation="watch"))
    log = logging.getLogger("writer")
    t0 = time.monotonic()
    for i in range(n):
        if pause_file and os.path.exists(pause_file):
            Path(pause_file + ".ack").touch()           # "I am not writing now"
            while os.path.exists(pause_file):
                time.sleep(0.005)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pause_file + ".ack")
        log.info("event %d of the writer", i, extra={"event.action": "log", "labels": {"seq": str(i)}})
        ahead = t0 + (i + 1) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    logging.shutdown()


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _hard_timeout():
    faulthandler.dump_traceback_later(HARD_TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


class Procs:
    """Child processes of a test, each in its own process group; all killed at the end."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.n = 0

    def start(self, args: list[str], name: str) -> subprocess.Popen:
        self.n += 1
        err = open(self.tmp / f"{name}-{self.n}.stderr", "wb")
        out = open(self.tmp / f"{name}-{self.n}.stdout", "wb")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        p = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                             cwd=str(ROOT), start_new_session=True)
        p.stderr_path = err.name  # type: ignore[attr-defined]
        p.stdout_path = out.name  # type: ignore[attr-defined]
        err.close()
        out.close()
        self.procs.append(p)
        return p

    def writer(self, path: Path, n: int, rate: float, pause: Path | None = None):
        args = [sys.executable, str(Path(__file__)), "writer", str(path), str(n), str(rate)]
        if pause:
            args.append(str(pause))
        return self.start(args, "writer")

    def shipper(self, files, url: str, index: str, *extra: str, data_stream: bool = False):
        args = [sys.executable, "-m", "logkit", "ship", *map(str, files), "--es", url,
                "--data-stream" if data_stream else "--index", index,
                "--registry", str(self.tmp / "registry.json"),
                "--dead-letter", str(self.tmp / "dead.ndjson"),
                "--batch-size", "250", "--flush-interval", "0.2", "--progress-interval", "1",
                "--partial-timeout", "1", "--log-file", str(self.tmp / "ship.log"), "--summary", *extra]
        return self.start(args, "shipper")

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=10)


@pytest.fixture
def procs(tmp_path):
    p = Procs(tmp_path)
    yield p
    p.close()


def stderr_of(p) -> str:
    with contextlib.suppress(OSError):
        return Path(p.stderr_path).read_text(errors="replace")[-4000:]
    return ""


def wait_for(pred, timeout: float, what: str, interval: float = 0.25, on_fail=lambda: ""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - the cluster may be down on purpose
            last = repr(e)
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{on_fail()}")


def count(client, index: str) -> int:
    client.indices.refresh(index=index)
    return client.count(index=index)["count"]


def ids_in_es(client, index: str) -> dict[str, str | None]:
    """_id -> event.id of every document."""
    from elasticsearch import helpers

    client.indices.refresh(index=index)
    out = {}
    for hit in helpers.scan(client, index=index, query={"query": {"match_all": {}}},
                            _source=["event.id", "event"], size=2000, scroll="2m"):
        src = hit.get("_source") or {}
        ev = src.get("event") or {}
        out[hit["_id"]] = ev.get("id") if isinstance(ev, dict) else src.get("event.id")
    return out


def ids_written(paths) -> tuple[set[str], int]:
    """event.ids of every line of the files (rotated copies included), and the distinct seqs."""
    ids, seqs = set(), set()
    for p in paths:
        for line in Path(p).read_bytes().splitlines():
            if line.strip():
                d = json.loads(line)
                ids.add(d["event"]["id"])
                seqs.add(d["labels"]["seq"])
    return ids, len(seqs)


def assert_exact(client, index: str, files, n: int) -> None:
    written, seqs = ids_written(files)
    assert seqs == n and len(written) == n, "the writer itself lost or repeated lines"
    stored = ids_in_es(client, index)
    assert len(stored) == n, f"{len(stored)} documents for {n} lines written"
    assert set(stored) == written
    assert all(k == v for k, v in stored.items()), "a document's _id is not its event.id"


def stop_shipper(p, timeout: float = 60) -> int:
    os.killpg(p.pid, signal.SIGTERM)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the shipper did not stop within {timeout}s of SIGTERM\n{stderr_of(p)}")


def make_index(client, index: str, shards: int = 1, replicas: int = 0, mappings=None) -> None:
    client.indices.create(index=index, settings={"number_of_shards": shards,
                                                 "number_of_replicas": replicas},
                          mappings=mappings or {"properties": {
                              "event": {"properties": {"id": {"type": "keyword"}}},
                              "labels": {"properties": {"seq": {"type": "keyword"}}}}})


def registry_offsets(tmp: Path) -> dict[str, int]:
    doc = json.loads((tmp / "registry.json").read_text())
    return {e["path"]: e["offset"] for e in doc["files"]}


# --------------------------------------------------------------------------------------------
# (a) kill -9 the shipper mid-stream, restart it
# --------------------------------------------------------------------------------------------
def test_kill_9_mid_stream_and_restart_loses_and_duplicates_nothing(es_client, es_url, es_index,
                                                                    procs, tmp_path):
    n, log = 6000, tmp_path / "app.log"
    make_index(es_client, es_index)
    w = procs.writer(log, n, rate=1000)
    wait_for(lambda: log.exists() and log.stat().st_size > 0, 60, "the writer's first line")
    kills = 0
    s = procs.shipper([log], es_url, es_index)
    for target in (800, 2500):
        wait_for(lambda: count(es_client, es_index) >= target, 120, f"{target} documents",
                 interval=0.1, on_fail=lambda: stderr_of(s))
        os.killpg(s.pid, signal.SIGKILL)       # mid-stream: batches in flight, registry behind
        s.wait(timeout=30)
        kills += 1
        s = procs.shipper([log], es_url, es_index)
    assert w.wait(timeout=120) == 0
    wait_for(lambda: count(es_client, es_index) >= n, 180, f"{n} documents",
             on_fail=lambda: stderr_of(s))
    time.sleep(1.0)  # anything extra would show up now
    assert stop_shipper(s) == 0, stderr_of(s)
    assert kills == 2
    assert_exact(es_client, es_index, [log], n)
    assert registry_offsets(tmp_path)[str(log)] == log.stat().st_size   # SIGTERM saved it
    assert not (tmp_path / "dead.ndjson").read_bytes()
    # at least once: the last shipper re-sent what was in flight at the kill; stored once
    summary = json.loads(Path(s.stdout_path).read_text())
    assert summary["duplicates"] > 0 and summary["interrupted"] and summary["unacked"] == 0


# --------------------------------------------------------------------------------------------
# (b) stop Elasticsearch mid-stream, start it again
# --------------------------------------------------------------------------------------------
def test_elasticsearch_stopped_mid_stream_shipper_waits_and_resumes(procs, tmp_path):
    from elasticsearch import Elasticsearch
    from support.es_cluster import ESCluster
    from support.es_fixtures import RUN_HINT

    home = os.environ.get("LOGKIT_TEST_ES_HOME") or pytest.fail(f"LOGKIT_TEST_ES_HOME unset: {RUN_HINT}")
    n, log, index = 5000, tmp_path / "app.log", "ship-outage"
    with ESCluster(home, size=1) as cluster:
        url = cluster.url()
        client = Elasticsearch(url, request_timeout=30)
        make_index(client, index)
        w = procs.writer(log, n, rate=600)
        s = procs.shipper([log], url, index)
        wait_for(lambda: count(client, index) >= 1000, 120, "1000 documents",
                 on_fail=lambda: stderr_of(s))
        t_down = time.monotonic()
        cluster.stop_node(0)                        # SIGTERM to the node
        time.sleep(4)                               # the shipper retries meanwhile
        assert s.poll() is None, "the shipper gave up while the cluster was down\n" + stderr_of(s)
        cluster.start_node(0)
        cluster.wait(status="green", nodes=1, timeout=180)
        outage = time.monotonic() - t_down
        assert w.wait(timeout=120) == 0
        wait_for(lambda: count(client, index) >= n, 180, f"{n} documents",
                 on_fail=lambda: stderr_of(s))
        time.sleep(1.0)
        assert stop_shipper(s) == 0, stderr_of(s)
        assert_exact(client, index, [log], n)
        shiplog = (tmp_path / "ship.log").read_text()
        assert "waiting for it" in shiplog or "retrying" in shiplog  # it did see the outage
        print(f"outage {outage:.1f}s")
        client.close()


# --------------------------------------------------------------------------------------------
# (c) rotation while shipping: rename, and copytruncate
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["rename", "copytruncate"])
def test_rotation_while_shipping_loses_and_duplicates_nothing(es_client, es_url, es_index, procs,
                                                              tmp_path, how):
    n, log, pause = 6000, tmp_path / "app.log", tmp_path / "pause"
    make_index(es_client, es_index)
    w = procs.writer(log, n, rate=1200, pause=pause if how == "copytruncate" else None)
    s = procs.shipper([tmp_path / "app.log*"], es_url, es_index)
    wait_for(lambda: log.exists() and log.stat().st_size > 0, 60, "the writer's first line")
    rotations = 0
    while w.poll() is None and rotations < 4:
        time.sleep(0.9)
        for i in range(rotations, 0, -1):           # app.log.1 -> app.log.2, ...
            os.rename(tmp_path / f"app.log.{i}", tmp_path / f"app.log.{i + 1}")
        if how == "rename":
            os.rename(log, tmp_path / "app.log.1")   # the handler reopens app.log on its next line
        else:
            pause.touch()
            wait_for(lambda: (tmp_path / "pause.ack").exists() or w.poll() is not None, 30,
                     "the writer to pause", interval=0.01)
            shutil.copyfile(log, tmp_path / "app.log.1")
            os.truncate(log, 0)
            pause.unlink()
        rotations += 1
    assert w.wait(timeout=120) == 0
    assert rotations >= 3
    files = sorted(tmp_path.glob("app.log*"))
    wait_for(lambda: count(es_client, es_index) >= n, 180, f"{n} documents",
             on_fail=lambda: stderr_of(s))
    time.sleep(1.5)
    assert stop_shipper(s) == 0, stderr_of(s)
    assert_exact(es_client, es_index, files, n)
    assert not (tmp_path / "dead.ndjson").read_bytes()
    shiplog = (tmp_path / "ship.log").read_text()
    if how == "copytruncate":
        assert "copy detected" in shiplog and "truncated" in shiplog
    else:
        assert "rotated" in shiplog


# --------------------------------------------------------------------------------------------
# (d) bad lines go to the dead-letter file with reasons; the rest is indexed
# --------------------------------------------------------------------------------------------
def test_bad_lines_go_to_the_dead_letter_file_and_the_rest_is_indexed(es_client, es_url, es_index,
                                                                      procs, tmp_path):
    make_index(es_client, es_index, mappings={"properties": {
        "http": {"properties": {"response": {"properties": {"status_code": {"type": "long"}}}}}}})
    good = [json.dumps({"@timestamp": "2026-11-25T10:00:00.000Z", "message": f"ok {i}",
                        "event": {"id": f"good-{i}"}}).encode() for i in range(20)]
    bad = {
        "malformed": b'{"message": "no closing brace"',
        "invalid_utf8": b'{"message": "caf\xe9 \xff"}',
        "oversized": json.dumps({"message": "x" * 5000, "event": {"id": "too-big"}}).encode(),
        "not_object": b'["a", "list"]',
        "rejected": json.dumps({"message": "status is text", "event": {"id": "bad-mapping"},
                                "http": {"response": {"status_code": "two hundred"}}}).encode(),
    }
    no_id = b'{"message": "a JSON line without event.id"}'
    lines = good[:10] + list(bad.values()) + [no_id] + good[10:] + [b"", b"   "]
    log = tmp_path / "mixed.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    offsets, off = {}, 0
    for ln in lines:
        offsets[ln] = off
        off += len(ln) + 1
    p = subprocess.run([sys.executable, "-m", "logkit", "ship", str(log), "--es", es_url, "--index",
                        es_index, "--registry", str(tmp_path / "reg.json"), "--dead-letter",
                        str(tmp_path / "dead.ndjson"), "--max-line-bytes", "2000", "--once",
                        "--summary"], capture_output=True, timeout=180, cwd=str(ROOT))
    assert p.returncode == 1, p.stderr.decode()[-3000:]        # 1: some lines were dead-lettered
    summary = json.loads(p.stdout)
    assert summary["shipped"] == 21 and summary["dead_lettered"] == 5 and summary["empty"] == 2
    stored = ids_in_es(es_client, es_index)
    assert len(stored) == 21
    assert {f"good-{i}" for i in range(20)} <= set(stored)
    [hashed] = [k for k in stored if not k.startswith("good-")]
    assert stored[hashed] is None and len(hashed) == 32
    dead = [json.loads(x) for x in (tmp_path / "dead.ndjson").read_bytes().splitlines()]
    by_kind = {d["kind"]: d for d in dead}
    assert set(by_kind) == set(bad)
    for kind, raw in bad.items():
        d = by_kind[kind]
        assert d["reason"] and d["file"]["path"] == str(log) and d["offset"] == offsets[raw]
        assert d["length"] == len(raw)
        # the original line can be recovered from the record
        if "original_base64" in d:
            import base64
            assert base64.b64decode(d["original_base64"]) == raw
        elif kind == "oversized":
            assert d["truncated"] and raw.startswith(d["original"].encode())
        else:
            assert d["original"].encode() == raw
    assert "document_parsing_exception" in by_kind["rejected"]["reason"] or \
        "mapper_parsing_exception" in by_kind["rejected"]["reason"]
    assert by_kind["rejected"]["status"] == 400 and by_kind["rejected"]["_id"] == "bad-mapping"
    assert "UTF-8" in by_kind["invalid_utf8"]["reason"]
    assert "5" in by_kind["oversized"]["reason"] and "2000" in by_kind["oversized"]["reason"]
    # the registry moved past everything (indexed or dead-lettered): a rerun sends nothing
    reg = json.loads((tmp_path / "reg.json").read_text())
    assert reg["files"][0]["offset"] == log.stat().st_size
    events = [json.loads(x) for x in p.stderr.splitlines() if x.startswith(b"{")]
    assert any(e["event"]["action"] == "ship.dead_letter" for e in events)
    final = [e for e in events if e["event"]["action"] == "ship.progress"][-1]
    assert final["logkit"]["ship"]["failed"] == 5 and final["logkit"]["ship"]["lag"] == 0


# --------------------------------------------------------------------------------------------
# (e) three nodes, one replica: stop a node mid-stream and go on
# --------------------------------------------------------------------------------------------
def test_three_nodes_stop_one_mid_stream_nothing_lost(es_cluster3, procs, tmp_path):
    from elasticsearch import Elasticsearch

    n, log, index = 6000, tmp_path / "app.log", "ship-three-nodes"
    seed = es_cluster3.nodes[0].url
    client = Elasticsearch(es_cluster3.urls, request_timeout=30)
    make_index(client, index, shards=3, replicas=1)
    client.cluster.health(index=index, wait_for_status="green", timeout="60s")
    # stop the node that holds the most primaries of the index, other than the seed
    shards = client.cat.shards(index=index, format="json")
    prim = {}
    for sh in shards:
        if sh["prirep"] == "p":
            prim[sh["node"]] = prim.get(sh["node"], 0) + 1
    names = [nd.name for nd in es_cluster3.nodes]
    victim = max((nm for nm in names[1:]), key=lambda nm: prim.get(nm, 0))
    w = procs.writer(log, n, rate=800)
    s = procs.shipper([log], seed, index, "--sniff")
    wait_for(lambda: count(client, index) >= 1500, 120, "1500 documents", on_fail=lambda: stderr_of(s))
    es_cluster3.stop_node(es_cluster3.node_index(victim))
    es_cluster3.wait(status="yellow", nodes=2, timeout=120)
    assert w.wait(timeout=120) == 0
    wait_for(lambda: count(client, index) >= n, 180, f"{n} documents", on_fail=lambda: stderr_of(s))
    time.sleep(1.0)
    assert stop_shipper(s) == 0, stderr_of(s)
    assert_exact(client, index, [log], n)
    # bring it back for the other tests of the module
    es_cluster3.start_node(es_cluster3.node_index(victim))
    es_cluster3.wait(status="green", nodes=3, timeout=180)
    client.close()


# --------------------------------------------------------------------------------------------
# (f) a partial last line waits for its newline
# --------------------------------------------------------------------------------------------
def test_partial_last_line_waits_for_its_newline(es_client, es_url, es_index, procs, tmp_path):
    make_index(es_client, es_index)
    log = tmp_path / "app.log"
    full = [json.dumps({"message": f"line {i}", "event": {"id": f"p-{i}"}}).encode() for i in range(5)]
    last = json.dumps({"message": "the last one, written in two parts", "event": {"id": "p-last"}}).encode()
    log.write_bytes(b"\n".join(full) + b"\n" + last[:20])
    s = procs.shipper([log], es_url, es_index)      # --partial-timeout 1
    wait_for(lambda: count(es_client, es_index) >= 5, 120, "5 documents", on_fail=lambda: stderr_of(s))
    time.sleep(3.0)                                 # well past the partial timeout
    assert count(es_client, es_index) == 5          # not rotated, not shutting down: it waits
    with open(log, "ab") as f:
        f.write(last[20:] + b"\n")
    wait_for(lambda: count(es_client, es_index) >= 6, 60, "the completed line", on_fail=lambda: stderr_of(s))
    doc = es_client.get(index=es_index, id="p-last")["_source"]
    assert doc["message"] == "the last one, written in two parts"
    assert stop_shipper(s) == 0
    assert count(es_client, es_index) == 6
    assert not (tmp_path / "dead.ndjson").read_bytes()


def test_once_takes_an_old_partial_last_line_as_a_line(es_client, es_url, es_index, tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b'{"message": "a", "event": {"id": "o-1"}}\n{"message": "no newline", "event": {"id": "o-2"}}')
    base = [sys.executable, "-m", "logkit", "ship", str(log), "--es", es_url, "--index", es_index,
            "--registry", str(tmp_path / "reg.json"), "--dead-letter", str(tmp_path / "dl"), "--once"]
    p = subprocess.run(base + ["--partial-timeout", "60"], capture_output=True, timeout=120, cwd=str(ROOT))
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert count(es_client, es_index) == 1          # written just now: it may still get its newline
    p = subprocess.run(base + ["--partial-timeout", "0"], capture_output=True, timeout=120, cwd=str(ROOT))
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert count(es_client, es_index) == 2
    assert json.loads((tmp_path / "reg.json").read_text())["files"][0]["offset"] == log.stat().st_size


# --------------------------------------------------------------------------------------------
# (g) the same file shipped twice (two registries) yields no duplicates
# --------------------------------------------------------------------------------------------
def test_same_file_shipped_twice_with_two_registries_stores_each_event_once(es_client, es_url,
                                                                           es_index, tmp_path):
    ds = f"{es_index}-ds"
    es_client.indices.put_index_template(name=f"{es_index}-tpl", index_patterns=[f"{es_index}-ds*"],
                                         data_stream={}, priority=500,
                                         template={"settings": {"number_of_replicas": 0}})
    log = tmp_path / "app.log"
    lines = [json.dumps({"@timestamp": "2026-11-25T10:00:%02d.000Z" % (i % 60), "message": f"e{i}",
                         "event": {"id": f"twice-{i}"}}) for i in range(3000)]
    lines += [json.dumps({"@timestamp": "2026-11-25T11:00:00.000Z", "message": f"no id {i}"})
              for i in range(50)]
    log.write_text("\n".join(lines) + "\n")
    out = []
    for reg in ("reg-a.json", "reg-b.json"):
        p = subprocess.run([sys.executable, "-m", "logkit", "ship", str(log), "--es", es_url,
                            "--data-stream", ds, "--registry", str(tmp_path / reg), "--dead-letter",
                            str(tmp_path / "dl.ndjson"), "--once", "--summary", "--batch-size", "700"],
                           capture_output=True, timeout=180, cwd=str(ROOT))
        assert p.returncode == 0, p.stderr.decode()[-3000:]
        out.append(json.loads(p.stdout))
    assert out[0]["shipped"] == 3050 and out[0]["duplicates"] == 0
    # the second path writes the same ids: 409 on create, counted as already shipped
    assert out[1]["shipped"] == 0 and out[1]["duplicates"] == 3050 and out[1]["dead_lettered"] == 0
    es_client.indices.refresh(index=ds)
    assert es_client.count(index=ds)["count"] == 3050
    stored = ids_in_es(es_client, ds)
    assert {f"twice-{i}" for i in range(3000)} <= set(stored)


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "writer":
        _writer_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                     sys.argv[5] if len(sys.argv) > 5 else None)
    else:
        sys.exit("usage: test_ship_reliability.py writer FILE N RATE [PAUSE_FILE]")
