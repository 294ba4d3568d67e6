"""Celery queue depth from a Redis broker: queue depth is not in the logs.

Celery's Redis transport (kombu) keeps each queue as a Redis list named after the queue; with
message priorities, priority ``p > 0`` (rounded to one of the transport's ``priority_steps``,
default 0, 3, 6, 9) goes to the list ``<queue><sep><p>`` with ``sep`` = ``"\\x06\\x16"``. A queue's
length is the sum of ``LLEN`` over those lists (one pipelined round trip for all queues).

The queues read are the ones named with ``--queue`` plus every ``celery.task.queue`` the events
mention (bounded by the ``queue`` fold group).
"""
from __future__ import annotations

from typing import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily

from . import definitions as D

DEFAULT_SEP = "\x06\x16"
DEFAULT_PRIORITY_STEPS = (0, 3, 6, 9)


def queue_keys(queue: str, *, sep: str = DEFAULT_SEP, steps: Iterable[int] = DEFAULT_PRIORITY_STEPS) -> list[str]:
    """The Redis lists that hold ``queue``'s messages, one per priority step."""
    return [queue if p == 0 else f"{queue}{sep}{p}" for p in sorted(set(steps) | {0})]


class RedisQueues:
    """Reads queue lengths from ``url`` (``redis://host:port/db``) at each :meth:`collect`."""

    def __init__(self, url: str, queues: Iterable[str] = (), *, discovered: Callable[[], Iterable[str]] | None = None,
                 sep: str = DEFAULT_SEP, steps: Iterable[int] = DEFAULT_PRIORITY_STEPS, timeout: float = 2.0):
        import redis
        self.url = url
        self.queues = tuple(queues)
        self.discovered = discovered or (lambda: ())
        self.sep = sep
        self.steps = tuple(steps)
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.last_error: str | None = None

    def names(self) -> list[str]:
        return sorted(set(self.queues) | set(self.discovered()))

    def lengths(self) -> dict[str, int]:
        """Queue -> messages waiting (every priority). Raises redis errors."""
        names = self.names()
        pipe = self.client.pipeline(transaction=False)
        for q in names:
            for k in queue_keys(q, sep=self.sep, steps=self.steps):
                pipe.llen(k)
        res = pipe.execute()
        per = len(queue_keys("x", sep=self.sep, steps=self.steps))
        return {q: int(sum(res[i * per:(i + 1) * per])) for i, q in enumerate(names)}

    def collect(self):
        up = GaugeMetricFamily("logkit_celery_broker_up", D.BY_NAME["logkit_celery_broker_up"].help)
        qlen = GaugeMetricFamily("logkit_celery_queue_length", D.BY_NAME["logkit_celery_queue_length"].help,
                                 labels=["queue"])
        try:
            lengths = self.lengths()
        except Exception as e:   # noqa: BLE001 - any broker failure is reported as broker_up 0
            self.last_error = f"{type(e).__name__}: {e}"
            up.add_metric([], 0)
            return [up]
        self.last_error = None
        up.add_metric([], 1)
        for q, n in lengths.items():
            qlen.add_metric([q], n)
        return [up, qlen]

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass
