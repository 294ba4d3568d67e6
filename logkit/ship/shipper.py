"""``ship()``: lines from files and stdin into an Elasticsearch index or data stream.

At least once, never twice:

- every line becomes a ``create`` whose ``_id`` is the event's ``event.id`` (dotted or nested),
  or, for a JSON object without one, :func:`logkit.ship.tail.line_id` of the file's identity and
  the line's offset. Retries, restarts and a second shipper (or Filebeat with logkit's configs)
  therefore write the same ids, and a ``create`` of an id that exists answers 409: counted as
  "already shipped", never as a failure;
- the registry advances only past lines that are indexed (201/409) or dead-lettered, and only
  after the dead-letter file is fsynced, in the order the lines were read;
- 429, 5xx, timeouts, connection errors (cluster down) and cluster-wide blocks are retried with
  exponential backoff and jitter, without giving up; while batches wait, reading stops
  (``max_inflight`` batches in memory at most);
- a document the cluster rejects (mapping and parsing errors: 400 and the other 4xx) goes to the
  dead-letter file with the reason, as do lines that are not JSON objects, not UTF-8, or longer
  than ``max_line_bytes``; the rest go on;
- SIGTERM/SIGINT: stop reading, send the batch being built, wait (``shutdown_timeout``) for the
  batches in flight, save the registry, return. A second signal stops waiting.

Documents are the lines as written (no field is added), so ``_source`` is byte-identical to the
log file. docs/ship.md has the formats and the behaviour on each failure.
"""
from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable

import orjson

from .tail import LINE, OVERSIZED, PARTIAL, Line, Tailer, line_id

log = logging.getLogger("logkit.ship")

# error types that say "the cluster cannot take it now", not "this document is wrong"
_RETRY_TYPES = frozenset({
    "cluster_block_exception", "index_not_found_exception", "unavailable_shards_exception",
    "es_rejected_execution_exception", "circuit_breaking_exception", "no_shard_available_action_exception",
    "node_not_connected_exception", "node_closed_exception", "primary_missing_action_exception",
    "shard_not_in_primary_mode_exception", "process_cluster_event_timeout_exception",
    "timeout_exception", "receive_timeout_transport_exception", "connect_transport_exception",
    "node_disconnected_exception", "index_closed_exception", "no_node_available_exception",
})
MAX_ID_BYTES = 512  # Elasticsearch's limit on _id


class ShipConfigError(ValueError):
    """Bad options, or a cluster that cannot be used (exit code 2)."""


@dataclass
class ShipResult:
    lines: int = 0            # lines read (empty lines included)
    shipped: int = 0          # documents created
    duplicates: int = 0       # already there (409): shipped before, by us or another path
    dead_lettered: int = 0    # written to the dead-letter file
    empty: int = 0            # blank lines (nothing to ship)
    retries: int = 0          # bulk attempts retried
    bytes: int = 0
    elapsed: float = 0.0
    interrupted: bool = False  # stopped by a signal (or stop event)
    unacked: int = 0          # lines read but not durable when we stopped (read again next time)

    @property
    def exit_code(self) -> int:
        return 1 if self.dead_lettered else 0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class DeadLetter:
    """Append-only NDJSON file of what could not be indexed; thread-safe."""

    def __init__(self, path: str | None, target: str):
        self.path = os.path.abspath(path) if path else None
        self.target = target
        self._lock = threading.Lock()
        self._f = None
        self._dirty = False
        if self.path:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._f = open(self.path, "ab")

    def write(self, *, kind: str, reason: str, path: str, source: str, offset: int, data: bytes,
              length: int, doc_id: str | None = None, error: Any = None, status: int | None = None) -> None:
        rec: dict[str, Any] = {
            "@timestamp": _now_iso(), "kind": kind, "reason": reason, "index": self.target,
            "file": {"path": path, "identity": source}, "offset": offset, "length": length,
        }
        if doc_id is not None:
            rec["_id"] = doc_id
        if status is not None:
            rec["status"] = status
        if error is not None:
            rec["error"] = error
        try:
            rec["original"] = data.decode("utf-8")
        except UnicodeDecodeError:
            rec["original"] = data.decode("utf-8", "backslashreplace")
            import base64
            rec["original_base64"] = base64.b64encode(data).decode()
        if length > len(data):
            rec["truncated"] = True
        line = orjson.dumps(rec) + b"\n"
        with self._lock:
            if self._f is None:
                raise RuntimeError("no dead-letter file configured (--dead-letter) and a line "
                                   "must go to it")
            self._f.write(line)
            self._dirty = True

    def sync(self) -> None:
        with self._lock:
            if self._f is not None and self._dirty:
                self._f.flush()
                os.fsync(self._f.fileno())
                self._dirty = False

    def close(self) -> None:
        self.sync()
        with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None


def _now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


@dataclass(eq=False)
class _Batch:
    seq: int
    t0: float
    headers: list = field(default_factory=list)   # bulk action lines (bytes)
    bodies: list = field(default_factory=list)    # documents (bytes, the original lines)
    metas: list = field(default_factory=list)     # (source, path, offset, length, doc_id)
    acks: dict = field(default_factory=dict)      # source -> end offset
    nbytes: int = 0
    lines: int = 0
    done: bool = False
    shipped: int = 0
    duplicates: int = 0
    dead: int = 0
    dead_samples: list = field(default_factory=list)


def event_id(doc: dict) -> str | None:
    """``event.id`` of a parsed event, dotted or nested, if it is usable as a document id."""
    ev = doc.get("event")
    eid = ev.get("id") if type(ev) is dict else None
    if eid is None:
        eid = doc.get("event.id")
    if type(eid) is str and eid and (len(eid) <= MAX_ID_BYTES // 4 or len(eid.encode()) <= MAX_ID_BYTES):
        return eid
    return None


def _passthrough(action):
    return action


class Shipper:
    def __init__(self, tailer: Tailer, client, *, target: str, dead_letter: DeadLetter,
                 batch_size: int = 2000, batch_bytes: int = 8 << 20, flush_interval: float = 1.0,
                 workers: int = 3, max_inflight: int | None = None, pipeline: str | None = None,
                 once: bool = False, progress_interval: float = 30.0, registry_interval: float = 1.0,
                 shutdown_timeout: float = 30.0, backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 poll_interval: float = 0.2, stop: threading.Event | None = None,
                 request_timeout: float = 120.0):
        if batch_size < 1 or batch_bytes < 1024:
            raise ShipConfigError("batch size must be >= 1 and batch bytes >= 1024")
        if batch_bytes > 90 << 20:
            raise ShipConfigError("batch bytes must stay under Elasticsearch's 100 MB request limit "
                                  "(http.max_content_length): use at most 90 MiB")
        self.tailer = tailer
        self.client = client
        self.target = target
        self.dl = dead_letter
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.flush_interval = flush_interval
        self.workers = max(1, workers)
        self.max_inflight = max_inflight or 2 * self.workers
        self.pipeline = pipeline
        self.once = once
        self.progress_interval = progress_interval
        self.registry_interval = registry_interval
        self.shutdown_timeout = shutdown_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.poll_interval = poll_interval
        self.request_timeout = request_timeout
        self.stop = stop or threading.Event()       # finish what is in flight, then return
        self.abort = threading.Event()              # stop waiting for anything
        self.result = ShipResult()
        self._cond = threading.Condition()
        self._pending: deque[_Batch] = deque()
        self._seq = 0
        self._id_keys: dict[str, str] = {}
        self._last = {"shipped": 0, "dead": 0}
        self._dl_logged = 0
        self._retrying = False
        self._last_error_log = 0.0

    # -- building batches ------------------------------------------------------------------
    def _new_batch(self) -> _Batch:
        self._seq += 1
        return _Batch(self._seq, time.monotonic())

    def _id_for(self, source: str, offset: int) -> str:
        k = self._id_keys.get(source)
        if k is None:
            k = self._id_keys[source] = self.tailer.id_key(source)
        return line_id(k, offset)

    def _add(self, b: _Batch, ln: Line) -> None:
        source, offset, end, data, kind, path, length = ln
        b.lines += 1
        prev = b.acks.get(source)
        if prev is None or end > prev:
            b.acks[source] = end
        if kind == OVERSIZED:
            self._dead(b, "oversized", f"line of {length} bytes is longer than the maximum "
                       f"({self.tailer.max_line_bytes} bytes)", source, path, offset, data, length)
            return
        body = data.strip()
        if not body:
            self.result.empty += 1
            return
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            doc = self._slow_parse(body)
            if doc is None:
                try:
                    body.decode("utf-8")
                    self._dead(b, "malformed", f"not JSON: {e}", source, path, offset, data, length)
                except UnicodeDecodeError as u:
                    self._dead(b, "invalid_utf8", f"not UTF-8: {u}", source, path, offset, data, length)
                return
        if type(doc) is not dict:
            self._dead(b, "not_object", f"a JSON {type(doc).__name__}, not an object", source, path,
                       offset, data, length)
            return
        eid = event_id(doc)
        if eid is None:
            eid = self._id_for(source, offset)
            header = b'{"create":{"_id":"%s"}}' % eid.encode()
        else:
            header = b'{"create":{"_id":%s}}' % orjson.dumps(eid)
        b.headers.append(header)
        b.bodies.append(body)
        b.metas.append((source, path, offset, length, eid))
        b.nbytes += len(header) + len(body) + 2

    @staticmethod
    def _slow_parse(body: bytes):
        """JSON that orjson refuses but is JSON (integers beyond 64 bits); NaN stays refused."""
        import json

        def no_constant(name):
            raise ValueError(f"{name} is not JSON")
        try:
            return json.loads(body.decode("utf-8"), parse_constant=no_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None

    def _dead(self, b: _Batch, kind: str, reason: str, source: str, path: str, offset: int,
              data: bytes, length: int, **kw) -> None:
        self.dl.write(kind=kind, reason=reason, path=path, source=source, offset=offset, data=data,
                      length=length, **kw)
        b.dead += 1
        if len(b.dead_samples) < 3:
            b.dead_samples.append((kind, reason, path, offset))

    # -- sending ---------------------------------------------------------------------------
    def _send(self, b: _Batch) -> bool:
        """True once every document of the batch is answered (created, there, dead-lettered)."""
        try:
            return self._send_inner(b)
        except BaseException as e:  # noqa: BLE001 - a worker must never die silently
            log.error("shipper worker failed: %r", e, exc_info=True)
            self.abort.set()
            self.stop.set()
            return False

    def _send_inner(self, b: _Batch) -> bool:
        from elasticsearch import ApiError, TransportError, helpers

        idx = list(range(len(b.headers)))
        attempt = 0
        kwargs: dict[str, Any] = {"index": self.target,
                                  "filter_path": "items.*.status,items.*.error"}
        if self.pipeline:
            kwargs["pipeline"] = self.pipeline
        while idx:
            if attempt:
                self.result.retries += 1
                delay = min(self.backoff_max, self.backoff_initial * 2 ** min(attempt - 1, 20))
                delay = delay / 2 + random.uniform(0, delay / 2)
                if self.abort.wait(delay):
                    return False  # not done: not acked, read again next time
            attempt += 1
            actions = [(b.headers[i], b.bodies[i]) for i in idx]
            retry: list[int] = []
            try:
                gen = helpers.streaming_bulk(
                    self.client, actions, chunk_size=len(actions) + 1, max_chunk_bytes=1 << 40,
                    raise_on_error=False, raise_on_exception=True, max_retries=0,
                    expand_action_callback=_passthrough, yield_ok=True, **kwargs)
                n = 0
                for i, (ok, item) in zip(idx, gen):
                    n += 1
                    info = next(iter(item.values()))
                    status = info.get("status", 500)
                    if 200 <= status < 300:
                        b.shipped += 1
                    elif status == 409:
                        b.duplicates += 1
                    else:
                        err = info.get("error") or {}
                        etype = err.get("type", "") if isinstance(err, dict) else str(err)
                        if status in (408, 429) or status >= 500 or etype in _RETRY_TYPES:
                            retry.append(i)
                        else:
                            source, path, offset, length, eid = b.metas[i]
                            reason = (f"{etype}: {err.get('reason', '')}" if isinstance(err, dict)
                                      else str(err))
                            caused = err.get("caused_by") if isinstance(err, dict) else None
                            if caused:
                                reason += f" (caused by {caused.get('type')}: {caused.get('reason')})"
                            self._dead(b, "rejected", reason, source, path, offset, b.bodies[i],
                                       length, doc_id=eid, error=err, status=status)
                if n != len(idx):  # never seen; do not lose anything if it happens
                    retry.extend(idx[n:])
                if retry:
                    self._warn(f"{len(retry)} of {len(idx)} documents to retry "
                               f"(cluster busy or unavailable)")
                else:
                    self._recovered()
            except ApiError as e:
                retry = idx
                status = getattr(e, "status_code", None) or getattr(e, "meta", None) and e.meta.status
                self._warn(f"bulk request failed with HTTP {status}: {str(e)[:300]} — retrying "
                           f"(check credentials and privileges)" if status in (401, 403) else
                           f"bulk request failed with HTTP {status}: {str(e)[:300]} — retrying")
            except TransportError as e:
                retry = idx
                self._warn(f"cannot reach Elasticsearch ({type(e).__name__}: {str(e)[:200]}); "
                           f"waiting for it")
            idx = retry
        return True

    def _warn(self, msg: str) -> None:
        self._retrying = True
        now = time.monotonic()
        if now - self._last_error_log >= 5.0:
            self._last_error_log = now
            log.warning(msg, extra={"event.action": "log", "event.outcome": "failure"})

    def _recovered(self) -> None:
        if self._retrying:
            self._retrying = False
            log.info("Elasticsearch accepts documents again", extra={"event.outcome": "success"})

    # -- the loop --------------------------------------------------------------------------
    def _submit(self, pool: ThreadPoolExecutor, b: _Batch) -> None:
        self._pending.append(b)
        if not b.headers:
            b.done = True
            return
        pool.submit(self._run_batch, b)

    def _run_batch(self, b: _Batch) -> None:
        ok = self._send(b)
        with self._cond:
            b.done = ok          # not done (aborted while retrying): never acked, read again
            self._cond.notify_all()

    def _commit(self) -> int:
        """Acks, in reading order, the batches that are done. Returns how many."""
        n = 0
        with self._cond:
            ready = []
            while self._pending and self._pending[0].done:
                ready.append(self._pending.popleft())
        for b in ready:
            for source, end in b.acks.items():
                self.tailer.ack(source, end)
            r = self.result
            r.shipped += b.shipped
            r.duplicates += b.duplicates
            r.dead_lettered += b.dead
            for kind, reason, path, offset in b.dead_samples:
                if self._dl_logged < 20:
                    self._dl_logged += 1
                    log.warning("line %s:%d went to the dead-letter file: %s", path, offset,
                                reason[:500], extra={"event.action": "ship.dead_letter",
                                                     "event.reason": f"{kind}: {reason[:200]}"})
            n += 1
        return n

    def _save(self) -> None:
        self.dl.sync()           # dead letters are durable before the offsets that skip them
        self.tailer.save()

    def _progress(self, final: bool = False) -> None:
        r = self.result
        shipped = r.shipped + r.duplicates - self._last["shipped"]
        dead = r.dead_lettered - self._last["dead"]
        self._last = {"shipped": r.shipped + r.duplicates, "dead": r.dead_lettered}
        self._dl_logged = 0
        lag = self.tailer.lag()
        log.info("%s %d events, %d dead-lettered, lag %d bytes%s",
                 "shipped" if final else "shipping:", shipped, dead, lag,
                 f" (total {r.shipped} new, {r.duplicates} already there, {r.dead_lettered} "
                 f"dead-lettered in {r.elapsed:.1f}s)" if final else "",
                 extra={"event.action": "ship.progress", "logkit.ship.shipped": shipped,
                        "logkit.ship.failed": dead, "logkit.ship.lag": lag})

    def run(self) -> ShipResult:
        t_start = time.monotonic()
        r = self.result
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="logkit-ship")
        cur = self._new_batch()
        last_save = last_progress = time.monotonic()
        finishing = False
        try:
            while not self.stop.is_set():
                self._commit()
                now = time.monotonic()
                if now - last_save >= self.registry_interval:
                    self._save()
                    last_save = now
                if self.progress_interval and now - last_progress >= self.progress_interval:
                    r.elapsed = now - t_start
                    self._progress()
                    last_progress = now
                with self._cond:
                    inflight = sum(1 for b in self._pending if not b.done)
                    if inflight >= self.max_inflight:     # backpressure: stop reading
                        self._cond.wait(0.2)
                        continue
                lines = self.tailer.poll(max_bytes=self.batch_bytes)
                for ln in lines:
                    r.bytes += ln.end - ln.offset
                    if cur.lines and (len(cur.headers) >= self.batch_size
                                      or cur.nbytes + ln.length >= self.batch_bytes):
                        self._submit(pool, cur)
                        cur = self._new_batch()
                    self._add(cur, ln)
                r.lines += len(lines)
                if cur.lines and (len(cur.headers) >= self.batch_size or cur.nbytes >= self.batch_bytes
                                  or time.monotonic() - cur.t0 >= self.flush_interval
                                  or (not lines and self.once)):
                    self._submit(pool, cur)
                    cur = self._new_batch()
                if lines:
                    continue
                if self.once and self.tailer.idle():
                    if not finishing:
                        finishing = True
                        rest = self.tailer.finish()
                        if rest:
                            for ln in rest:
                                r.bytes += ln.end - ln.offset
                                self._add(cur, ln)
                            r.lines += len(rest)
                            continue
                    with self._cond:
                        if not self._pending and not cur.lines:
                            break
                        self._cond.wait(0.1)
                    continue
                finishing = False
                self.stop.wait(self.poll_interval)
        finally:
            r.interrupted = self.stop.is_set()
            # shutdown: send what was being built, wait for what is in flight
            if cur.lines and not self.abort.is_set():
                self._submit(pool, cur)
            deadline = time.monotonic() + self.shutdown_timeout
            with self._cond:
                while any(not b.done for b in self._pending) and not self.abort.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        log.warning("shutdown: gave up waiting for %d batches; their lines will be "
                                    "read again next time", sum(1 for b in self._pending if not b.done))
                        break
                    self._cond.wait(min(left, 0.2))
            self.abort.set()                 # workers in backoff return now
            self._commit()
            r.unacked = sum(b.lines for b in self._pending)
            pool.shutdown(wait=True, cancel_futures=True)
            self._save()
            r.elapsed = time.monotonic() - t_start
            self._progress(final=True)
        return r


# --------------------------------------------------------------------------------------------
def wait_for_cluster(client, timeout: float | None, stop: threading.Event) -> None:
    """Waits until the cluster answers; ShipConfigError on bad credentials or after ``timeout``."""
    from elasticsearch import ApiError, TransportError

    t0 = time.monotonic()
    delay = 0.5
    tries = 0
    first_err = None
    while True:
        tries += 1
        try:
            # one attempt per probe (the client's own retries would log and sleep inside it)
            client.options(request_timeout=10, max_retries=0, retry_on_timeout=False).cluster.health()
            return
        except ApiError as e:
            status = e.meta.status if getattr(e, "meta", None) else None
            if status == 401:
                raise ShipConfigError("Elasticsearch refused the credentials (HTTP 401): set "
                                      "LOGKIT_ES_API_KEY, or LOGKIT_ES_USERNAME and LOGKIT_ES_PASSWORD") from None
            if status == 403:
                return  # authenticated, just not allowed to read cluster health: fine for shipping
            err = f"HTTP {status}: {str(e)[:200]}"
        except TransportError as e:
            err = _cause(e)
        waited = time.monotonic() - t0
        if timeout is not None and waited >= timeout:
            # the cause was said by the first warning when it has not changed since
            same = first_err == err and tries > 1
            raise ShipConfigError(f"Elasticsearch did not answer within {timeout:.0f}s ({tries} attempt(s))"
                                  + ("" if same else f": {err}") + "; gave up")
        if timeout is not None:
            delay = min(delay, max(0.05, timeout - waited))
        if first_err is None:
            first_err = err
            log.warning("waiting for Elasticsearch: %s; retrying in %.1fs", err, delay)
        else:
            log.warning("Elasticsearch still not answering (attempt %d); retrying in %.1fs%s", tries, delay,
                        "" if err == first_err else f": {err}")
        if stop.wait(delay):
            return
        delay = min(delay * 2, 10.0)


def _cause(e: BaseException) -> str:
    """The innermost reason of a transport error, in one short line ("[Errno 111] Connection
    refused" rather than three nested reprs)."""
    import re
    chain, seen = [], set()
    x: BaseException | None = e
    while x is not None and id(x) not in seen:
        seen.add(id(x))
        chain.append(str(x))
        x = x.__cause__ or x.__context__
    for text in reversed(chain):
        m = re.search(r"\[Errno -?\d+\][^)'\"]*", text)
        if m:
            return m.group(0).strip()
    text = chain[-1] if chain else ""
    return f"{type(e).__name__}: {text.splitlines()[0][:200] if text else ''}"


def ship(paths: Iterable[str] = (), *, es: str | None = None, client=None, index: str | None = None,
         data_stream: str | None = None, registry: str | None = None, dead_letter: str | None = None,
         stdin: bool = False, batch_size: int = 2000, batch_bytes: int = 8 << 20,
         flush_interval: float = 1.0, once: bool = False, workers: int = 3,
         max_inflight: int | None = None, pipeline: str | None = None,
         max_line_bytes: int = 1 << 20, partial_timeout: float = 5.0, rescan_interval: float = 1.0,
         progress_interval: float = 30.0, connect_timeout: float | None = 30.0,
         shutdown_timeout: float = 30.0, ca_certs: str | None = None, verify: bool = True,
         sniff: bool = False, handle_signals: bool = True, stop: threading.Event | None = None,
         exclude: Iterable[str] = (), request_timeout: float = 120.0,
         backoff_max: float = 30.0, fingerprint_bytes: int = 1024) -> ShipResult:
    """Ships ``paths`` (files or globs) and/or stdin into ``index`` or ``data_stream``.

    ``once``: ship what is there and return (partial last lines older than ``partial_timeout``
    are taken as lines); otherwise follow until SIGTERM/SIGINT (or ``stop`` is set).
    ``connect_timeout`` applies to ``once`` only: a cluster that does not answer in that time
    is a :class:`ShipConfigError`; a following shipper waits for it without limit.
    Raises ShipConfigError for bad options; returns a :class:`ShipResult`.
    """
    paths = list(paths)
    if (index is None) == (data_stream is None):
        raise ShipConfigError("give exactly one of --index and --data-stream")
    target = index or data_stream
    if target != target.lower() or not target or target.startswith(("_", "-", "+")) or \
            any(c in target for c in ' "*\\<|,>/?#:'):
        raise ShipConfigError(f"{target!r} is not a valid index or data stream name")
    if not paths and not stdin:
        raise ShipConfigError("nothing to ship: give FILES (paths or globs) or --stdin")
    if paths and not registry:
        raise ShipConfigError("--registry is required to follow files (it keeps the offsets)")
    if not dead_letter:
        raise ShipConfigError("--dead-letter is required (where rejected lines go)")
    stop = stop or threading.Event()
    own_client = client is None
    if client is None:
        from ..es.client import es_client
        kw: dict[str, Any] = {}
        if sniff:
            kw.update(sniff_on_start=True, sniff_on_node_failure=True, min_delay_between_sniffing=5)
        try:
            client = es_client(es, ca_certs=ca_certs, verify=verify, request_timeout=request_timeout,
                               retry_on_timeout=True, **kw)
        except Exception as e:  # noqa: BLE001 - e.g. a sniff on start against a dead node
            raise ShipConfigError(f"cannot use Elasticsearch at {es}: {e}") from None
    excl = [p for p in (registry, dead_letter) if p]
    excl += [p + sfx for p in excl for sfx in (".lock",)]
    try:
        tailer = Tailer(paths, registry, stdin=stdin, max_line_bytes=max_line_bytes,
                        partial_timeout=partial_timeout, rescan_interval=rescan_interval,
                        exclude=list(exclude) + excl, fingerprint_bytes=fingerprint_bytes,
                        on_event=_tail_event)
    except ValueError as e:
        raise ShipConfigError(str(e)) from None
    dl = DeadLetter(dead_letter, target)
    old_handlers: dict[int, Any] = {}
    shipper = Shipper(tailer, client, target=target, dead_letter=dl, batch_size=batch_size,
                      batch_bytes=batch_bytes, flush_interval=flush_interval, workers=workers,
                      max_inflight=max_inflight, pipeline=pipeline, once=once,
                      progress_interval=progress_interval, shutdown_timeout=shutdown_timeout,
                      stop=stop, request_timeout=request_timeout, backoff_max=backoff_max,
                      poll_interval=min(0.2, max(0.01, flush_interval / 5)))

    def on_signal(signum, frame):
        if stop.is_set():
            log.warning("second signal: not waiting for batches in flight")
            shipper.abort.set()
        stop.set()

    try:
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                old_handlers[sig] = signal.signal(sig, on_signal)
        wait_for_cluster(client, connect_timeout if once else None, stop)
        return shipper.run()
    finally:
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
        tailer.close()
        dl.close()
        if own_client:
            with contextlib.suppress(Exception):
                client.close()


def _tail_event(kind: str, info: dict) -> None:
    if kind == "open_failed":
        log.warning("cannot open %s: %s", info["path"], info["error"])
    elif kind in ("rotated", "truncated", "copy_detected"):
        log.info("%s: %s", kind.replace("_", " "), ", ".join(f"{k}={v}" for k, v in info.items()))
