"""Failure patterns: log template mining (``TemplateMiner``), masking of variable parts,
exception grouping, and the ``logkit patterns --pipe`` mode. See docs/patterns.md."""
from __future__ import annotations

from typing import Iterable, TextIO

from .exceptions import exception_key, stack_fingerprint
from .masking import WILDCARD, mask
from .miner import Match, Template, TemplateMiner, template_id

__all__ = [
    "WILDCARD",
    "Match",
    "Template",
    "TemplateMiner",
    "exception_key",
    "mask",
    "pipe",
    "stack_fingerprint",
    "template_id",
]


def pipe(
    lines_in: Iterable[str],
    out: TextIO,
    *,
    streaming: bool = True,
    miner: TemplateMiner | None = None,
    flush: bool = False,
) -> TemplateMiner:
    """One template id per input line on ``out``.

    ``streaming=True``: the id each message got when it arrived (written as it goes;
    ``flush=True`` flushes each line, for ``tail -f``). ``streaming=False``: read all the
    input first, then write each message's final id, after the final regrouping.
    """
    miner = miner or TemplateMiner()
    if streaming:
        for line in lines_in:
            out.write(miner.add(line.rstrip("\r\n")).template_id + "\n")
            if flush:
                out.flush()
        return miner
    write = out.write
    for tid, _ in miner.mine(line.rstrip("\r\n") for line in lines_in):
        write(tid + "\n")
    return miner
