"""Event ids: UUIDv7 (RFC 9562), time-sortable and unique without coordination.

Python 3.11 has no uuid7. Layout: 48-bit Unix ms | version 7 | 12-bit counter | variant | 62 random
bits. The counter (RFC 9562 §6.2, method 1) keeps ids made in the same millisecond by one process
in order; the random bits keep processes apart. ``random`` is reseeded after fork by CPython, so
prefork Celery workers do not share sequences.
"""
from __future__ import annotations

import random
import time

_last_ms = 0
_seq = 0
_prefix = ""
_getrandbits = random.getrandbits


def uuid7(unix_ms: int | None = None) -> str:
    # No lock: under the GIL two threads can at worst read the same counter in the same ms, and
    # the 62 random bits still keep their ids apart; a lock would cost every log call.
    global _last_ms, _seq, _prefix
    now = time.time_ns() // 1_000_000
    ms = now if unix_ms is None else unix_ms
    if not -1000 < ms - now < 1000:
        # An event stamped in the past or future (replays, tests): the id carries that time,
        # random bits keep it unique, and the ordering state of live events is left alone.
        r = _getrandbits(62)
        return "%08x-%04x-7%03x-%04x-%012x" % (ms >> 16, ms & 0xFFFF, _getrandbits(12), 0x8000 | (r >> 48),
                                                r & 0xFFFFFFFFFFFF)
    if ms > _last_ms:
        _last_ms = ms
        _seq = _getrandbits(8)  # room for 3,800+ ids in one ms before spilling into the next
        _prefix = "%08x-%04x" % (ms >> 16, ms & 0xFFFF)
        seq, prefix = _seq, _prefix
    else:
        # Same ms (or a counter carry, or the clock stepping back a little): keep ordering by
        # advancing the counter, carrying into the ms field when it overflows.
        _seq += 1
        if _seq > 0xFFF:
            _last_ms += 1
            _seq = 0
            _prefix = "%08x-%04x" % (_last_ms >> 16, _last_ms & 0xFFFF)
        seq, prefix = _seq, _prefix
    r = _getrandbits(62)
    return "%s-7%03x-%04x-%012x" % (prefix, seq, 0x8000 | (r >> 48), r & 0xFFFFFFFFFFFF)


def uuid7_time_ms(event_id: str) -> int:
    """The Unix ms an id was made at (its first 48 bits)."""
    return int(event_id.replace("-", "")[:12], 16)
