"""Time and duration arguments: the one grammar every command and rules file accepts.

Durations: a non-negative number and a unit — ``ms``, ``s``/``sec``, ``m``/``min``, ``h``, ``d``,
``w`` (case-insensitive, spaces allowed: ``90s``, ``1.5h``, ``15 min``, ``250ms``) — or a bare number
of seconds (``90``, ``0.5``; a YAML ``for: 300``). Times: a duration before ``now`` (``2h``: two hours
ago) or an absolute ISO 8601 time or date (UTC when naive; a trailing ``Z`` is accepted).
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

__all__ = ["parse_duration", "format_duration", "parse_time", "is_duration", "DURATION_HELP"]

_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)\s*$", re.I)
_BARE = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")

#: What an error message shows as the accepted forms.
DURATION_HELP = "use e.g. 250ms, 90s, 15m, 2h, 1d, 1w, or a number of seconds"


def is_duration(v: Any) -> bool:
    """True when ``v`` is a duration written with a unit (``2h``; not a bare number)."""
    return isinstance(v, str) and _DUR.match(v) is not None


def parse_duration(v: Any) -> timedelta:
    """A duration (see the module doc) -> timedelta; ValueError naming the accepted forms otherwise."""
    if isinstance(v, timedelta):
        if v < timedelta(0):
            raise ValueError(f"not a duration: {v!r} (negative)")
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if math.isfinite(v) and v >= 0:
            return timedelta(seconds=v)
    elif isinstance(v, str):
        m = _DUR.match(v)
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])
        if _BARE.match(v):
            return timedelta(seconds=float(v))
    raise ValueError(f"not a duration: {v!r} ({DURATION_HELP})")


def format_duration(td: timedelta) -> str:
    """The shortest exact form in the grammar: ``1h``, ``90s``, ``1.5s``."""
    s = td.total_seconds()
    for unit, n in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= n and s % n == 0:
            return f"{int(s // n)}{unit}"
    return f"{s:g}s"


def parse_time(s: str | datetime | None, now: datetime) -> datetime | None:
    """A duration before ``now`` (``2h``) or an absolute ISO 8601 time (UTC when naive); None for
    None or ``""``. A bare number is refused here: ``2026`` is more likely a year than seconds."""
    if s is None or s == "":
        return None
    if isinstance(s, datetime):
        return s if s.tzinfo else s.replace(tzinfo=timezone.utc)
    if isinstance(s, str) and is_duration(s):
        return now - parse_duration(s)
    txt = str(s).strip()
    if txt.endswith(("Z", "z")):
        txt = txt[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(txt)
    except ValueError:
        try:
            t = datetime.combine(date.fromisoformat(txt), datetime.min.time())
        except ValueError:
            raise ValueError(f"not a time: {s!r} (use e.g. 2h, 1d, 2026-11-24T13:00:00Z)") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
