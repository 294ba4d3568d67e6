"""Stage 6, metrics: the events as Prometheus metrics. See docs/metrics.md.

- :data:`METRICS` — every metric, named once (definitions.py);
- :class:`Aggregator` — events in, metric families out (a ``prometheus_client`` collector);
- :func:`write_textfile` / :func:`render` — the metrics once, from files or a DuckDB store;
- :class:`Exporter` — follow files and serve ``/metrics`` (``logkit metrics serve``);
- :func:`docs` — docs/metrics.md, generated from the definitions.
"""
from __future__ import annotations

from .aggregate import Aggregator, Folder
from .definitions import FOLD_GROUPS, METRICS, OTHER, Metric

__all__ = ["METRICS", "FOLD_GROUPS", "OTHER", "Metric", "Aggregator", "Folder", "write_textfile", "render", "docs",
           "Exporter"]


def write_textfile(out: str, inputs=(), **kw):
    """Write the metrics of ``inputs`` and/or ``db=`` to ``out`` atomically (node_exporter textfile)."""
    from .textfile import write
    return write(out, inputs, **kw)


def render(inputs=(), **kw) -> bytes:
    """The exposition text of ``inputs`` and/or ``db=``."""
    from .textfile import render as _render
    return _render(inputs, **kw)


def docs() -> str:
    from .docs import render as _render
    return _render()


def __getattr__(name):
    if name == "Exporter":
        from .serve import Exporter
        return Exporter
    raise AttributeError(name)
