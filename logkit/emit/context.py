"""Context bound once and carried onto every later event of a request or task.

One ContextVar holding an immutable mapping: a lookup per event, and asyncio tasks and threads
started from a context inherit it (copy-on-write), which is what a request or a task needs.
"""
from __future__ import annotations

import contextlib
import contextvars
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("logkit_context", default=_EMPTY)


def bind(**fields: Any) -> contextvars.Token:
    """Add fields to every later event in this context; returns a token for :func:`reset`.

    Field names may be dotted schema names passed as ``**{"trace.id": ...}`` or aliases.
    """
    return _context.set(MappingProxyType({**_context.get(), **fields}))


def unbind(*names: str) -> None:
    cur = _context.get()
    _context.set(MappingProxyType({k: v for k, v in cur.items() if k not in names}))


def reset(token: contextvars.Token) -> None:
    _context.reset(token)


def clear() -> None:
    _context.set(_EMPTY)


#: The bound fields (a read-only mapping). The ContextVar's own ``get``: the renderer calls it on
#: every event, so no Python frame in between.
get_context: Callable[[], Mapping[str, Any]] = _context.get


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """``with logkit.bound(**{"trace.id": rid}): ...`` binds for the block, then restores."""
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)
