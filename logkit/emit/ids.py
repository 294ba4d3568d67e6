"""Event ids: UUIDv7 (RFC 9562), time-sortable and unique without coordination.

Python 3.11 has no uuid7. Layout: 48-bit Unix ms | version 7 | 12-bit counter | variant | 62 random
bits. The counter (RFC 9562 §6.2, method 1) keeps ids made in the same millisecond by one process
in order; the random bits keep processes apart. ``random`` is reseeded after fork by CPython, so
prefork Celery workers do not share sequences.
"""
from __future__ import annotations

import os
import random
import time

_last_ms = 0
_seq = 0
_prefix = ""
_getrandbits = random.getrandbits
_POOL_CHARS = 16 * 512
_pool = ""
_pos = _POOL_CHARS
_HEX3 = ["%03x" % i for i in range(4096)]
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _reset_pool() -> None:
    # A forked child must not reuse the random bytes its parent already holds.
    global _pos
    _pos = _POOL_CHARS


os.register_at_fork(after_in_child=_reset_pool)


def uuid7(unix_ms: int | None = None) -> str:
    # No lock: under the GIL two threads can at worst read the same counter in the same ms, and
    # the 62 random bits still keep their ids apart; a lock would cost every log call.
    global _last_ms, _seq, _prefix
    if unix_ms is None:
        ms = time.time_ns() // 1_000_000
    else:
        ms = unix_ms
        # An event stamped in the past or future (replays, tests) gets an id carrying that
        # time, with random bits for uniqueness, and leaves the live ordering state alone. Only
        # a time far from the last live one needs the clock to tell which it is.
        if not -1000 < ms - _last_ms < 1000 and not -1000 < ms - time.time_ns() // 1_000_000 < 1000:
            r = _getrandbits(62)
            return "%08x-%04x-7%03x-%04x-%012x" % (ms >> 16, ms & 0xFFFF, _getrandbits(12),
                                                    0x8000 | (r >> 48), r & 0xFFFFFFFFFFFF)
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
    # 64 random bits as hex from a pooled os.urandom() read: slicing is cheaper than formatting
    # integers, which matters on every log call. The top two bits become the RFC variant.
    global _pool, _pos
    pos = _pos
    if pos >= _POOL_CHARS:
        _pool, pos = os.urandom(_POOL_CHARS // 2).hex(), 0
    _pos = pos + 16
    r = _pool[pos:pos + 16]
    return f"{prefix}-7{_HEX3[seq]}-{_VARIANT[r[0]]}{r[1:4]}-{r[4:16]}"


def uuid7_time_ms(event_id: str) -> int:
    """The Unix ms an id was made at (its first 48 bits)."""
    return int(event_id.replace("-", "")[:12], 16)
