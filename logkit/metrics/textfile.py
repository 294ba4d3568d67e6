"""``logkit metrics textfile``: the metrics once, for node_exporter's textfile collector."""
from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, generate_latest

from .aggregate import Aggregator
from .sources import FeedResult, feed_files, feed_store


class NothingToRead(Exception):
    """No input named anything readable."""


def build(inputs: Sequence[str] = (), *, db: str | None = None, limits: Mapping[str, int] | None = None,
          allow: Mapping[str, Iterable[str]] | None = None, broker: str | None = None,
          queues: Iterable[str] = (), worker_window: float = 300.0, stdin=None,
          ) -> tuple[CollectorRegistry, Aggregator, FeedResult]:
    """A registry holding the metrics of ``inputs`` and/or the store ``db`` (and the broker's queues)."""
    if not inputs and not db:
        raise ValueError("give files to read or --db")
    agg = Aggregator(limits=limits, allow=allow, worker_window=worker_window)
    res = FeedResult()
    if db:
        if not os.path.exists(db):
            raise NothingToRead(f"{db}: no such store")
        r = feed_store(agg, db)
        res.events += r.events
    if inputs:
        r = feed_files(agg, inputs, stdin=stdin)
        res.files, res.lines, res.errors = r.files, r.lines, r.errors
        res.events += r.events
        if r.files == 0 and not db:
            raise NothingToRead("nothing to read: " + "; ".join(f"{k}: {v}" for k, v in r.errors.items()))
    reg = CollectorRegistry(auto_describe=False)
    reg.register(agg)
    if broker:
        from .broker import RedisQueues
        rq = RedisQueues(broker, queues, discovered=agg.queues)
        agg.extra.append(rq.collect)
    return reg, agg, res


def write(out: str, inputs: Sequence[str] = (), **kw) -> FeedResult:
    """Write the exposition to ``out`` atomically (a temporary file in the same directory, fsync,
    rename), so node_exporter never reads half a file. ``out`` should end in ``.prom``."""
    reg, agg, res = build(inputs, **kw)
    data = generate_latest(reg)
    d = os.path.dirname(os.path.abspath(out))
    tmp = os.path.join(d, f".{os.path.basename(out)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return res


def render(inputs: Sequence[str] = (), **kw) -> bytes:
    """The exposition text (what ``write`` puts in the file)."""
    reg, _agg, _res = build(inputs, **kw)
    return generate_latest(reg)
