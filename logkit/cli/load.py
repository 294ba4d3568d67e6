"""``logkit load``: append log files to a DuckDB store, incrementally."""
from __future__ import annotations

import sys

import click

from .options import fail, progress_wanted
from ..analyze.store import DUPLICATE


@click.command("load")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--db", required=True, help="DuckDB database file (created when missing).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
def load(inputs, db, progress):
    """Load INPUTS (files, globs, directories, .gz/.zst, - for stdin) into --db.

    Files already loaded add nothing; grown files add their new lines only; events another file
    already gave (same event.id, or same content: a copy, a compressed rotation) are not added again.
    Each file is loaded in one transaction: a load killed at any point can simply be run again.
    Exit codes: 0 loaded (or nothing new); 2 nothing could be read, or another process holds the store.
    """
    from ..analyze import NothingToRead, load as run
    from ..analyze.escape import terminal
    try:
        res = run(inputs, db, progress=progress_wanted(progress))
    except NothingToRead as e:  # StoreLocked: another load, or a report, holds the store
        fail(str(e))
    for f in res.files:
        bad = sum(n for r, n in f.bad.counts.items() if r != DUPLICATE)
        extra = f", {bad} bad line(s)" if bad else ""
        extra += f", {f.duplicates:,} already stored" if f.duplicates else ""
        click.echo(f"{f.status:9} {f.events:>10,} events  {terminal(f.path)}{extra}")
    for k, v in res.errors.items():
        click.echo(f"logkit load: {terminal(k)}: {terminal(v)}", err=True)
    if not any(f.status in ("loaded", "unchanged") for f in res.files):
        fail("nothing could be read")
    sys.exit(0)
