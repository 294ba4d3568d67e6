"""Feeding an :class:`~logkit.metrics.aggregate.Aggregator` once: from files, or from the
analyzer's DuckDB store (the ``events`` table streamed through the same aggregator, so the
figures are computed by one piece of code whatever the source)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from . import definitions as D
from .aggregate import OVERSIZED, Aggregator


@dataclass
class FeedResult:
    files: int = 0
    lines: int = 0
    events: int = 0
    errors: dict[str, str] = field(default_factory=dict)   # input -> why nothing was read


def feed_files(agg: Aggregator, inputs: Sequence[str], *, stdin=None) -> FeedResult:
    """Every line of ``inputs`` (files, globs, directories, ``-``; plain, .gz, .zst) into ``agg``.

    A truncated compressed stream ends the file's lines there (counted as a ``partial`` line)."""
    from ..analyze import inputs as inp
    sources, errors = inp.expand(list(inputs), stdin=stdin)
    res = FeedResult(errors=dict(errors))
    before = agg.events_read
    batch: list[bytes] = []
    for src in sources:
        res.files += 1
        try:
            for _n, kind, line in inp.iter_lines(src.real, src.compression):
                res.lines += 1
                if kind == inp.LINE:
                    batch.append(line)
                    if len(batch) >= 4096:
                        agg.feed_lines(batch)
                        batch.clear()
                elif kind == inp.TOO_LONG_LINE:
                    agg.feed_line(b"", kind=OVERSIZED)
                else:
                    agg.bad("partial")
        except OSError as e:
            res.errors[src.path] = f"cannot read: {e.strerror or e}"
        finally:
            if src.stdin:
                import os
                try:
                    os.unlink(src.real)
                except OSError:
                    pass
    if batch:
        agg.feed_lines(batch)
    res.events = agg.events_read - before
    return res


def metric_fields() -> tuple[str, ...]:
    """Every schema field some metric reads (what the store must provide)."""
    out: list[str] = ["@timestamp"]
    for m in D.METRICS:
        for f in m.fields:
            if f not in out:
                out.append(f)
    out += [f for f in ("celery.task.queue",) if f not in out]
    return tuple(out)


def feed_store(agg: Aggregator, db: str, *, batch: int = 50_000) -> FeedResult:
    """The ``events`` table of the DuckDB store ``db`` (opened read-only) into ``agg``."""
    from ..analyze.columns import col
    from ..analyze.store import event_source
    res = FeedResult()
    with event_source(None, db, require_events=False) as (store, _):
        have = set(store.fields)
        wanted = [f for f in metric_fields() if f in have]
        if "@timestamp" not in have:
            raise ValueError(f"{db}: no events table")
        sel = ", ".join(f"epoch({col(f)}) AS {col(f)}" if f == "@timestamp" else col(f) for f in wanted)
        cur = store.con.execute(f"SELECT {sel} FROM events")
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                break
            with agg.lock:
                for r in rows:
                    agg._feed({k: v for k, v in zip(wanted, r) if v is not None})
            res.events += len(rows)
    return res
