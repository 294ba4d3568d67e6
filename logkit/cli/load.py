"""``logkit load``: append log files to a DuckDB store, incrementally."""
from __future__ import annotations

import sys

import click

from ..analyze.cli_common import fail, progress_wanted


@click.command("load")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--db", required=True, help="DuckDB database file (created when missing).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
def load(inputs, db, progress):
    """Load INPUTS (files, globs, directories, .gz/.zst, - for stdin) into --db.

    Files already loaded add nothing; grown files add their new lines only.
    Exit codes: 0 loaded (or nothing new); 2 nothing could be read.
    """
    from ..analyze import load as run
    res = run(inputs, db, progress=progress_wanted(progress))
    for f in res.files:
        bad = sum(f.bad.counts.values())
        extra = f", {bad} bad line(s)" if bad else ""
        click.echo(f"{f.status:9} {f.events:>10,} events  {f.path}{extra}")
    for k, v in res.errors.items():
        click.echo(f"logkit load: {k}: {v}", err=True)
    if not any(f.status in ("loaded", "unchanged") for f in res.files):
        fail("nothing could be read")
    sys.exit(0)
