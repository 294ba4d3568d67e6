"""Stage 2, ship: files and stdin to Elasticsearch, at least once and never twice.

- :mod:`logkit.ship.tail`: the file follower and its registry of offsets (no Elasticsearch).
- :mod:`logkit.ship.shipper`: batching, bulk requests, retries, the dead-letter file.

docs/ship.md describes the guarantees and the file formats.
"""
from .tail import Line, Registry, RegistryLocked, Tailer, line_id

__all__ = ["Tailer", "Registry", "RegistryLocked", "Line", "line_id", "ship", "ShipResult"]


def __getattr__(name):  # the shipper imports elasticsearch: only when asked for
    if name in ("ship", "ShipResult", "Shipper"):
        from . import shipper
        return getattr(shipper, name)
    raise AttributeError(name)
