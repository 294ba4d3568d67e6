"""``logkit query``: ad-hoc SQL over the events (what the report does not answer)."""
from __future__ import annotations

import sys

import click

from .options import FORMAT_OPTION, OUTPUT_OPTION, fail, open_output, progress_wanted


@click.command("query")
@click.argument("sql")
@click.argument("inputs", nargs=-1)
@click.option("--db", help="DuckDB store to query (read-only unless INPUTS are given too).")
@FORMAT_OPTION
@OUTPUT_OPTION
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
def query(sql, inputs, db, fmt, output, progress):
    """Run SQL over the `events` table of INPUTS or --db.

    Columns are the schema's dotted field names, double-quoted:
    logkit query 'SELECT "url.domain", count(*) FROM events GROUP BY 1 ORDER BY 2 DESC' logs/

    Exit codes: 0 ok; 2 nothing could be read, or the SQL failed.
    """
    import duckdb

    from ..analyze import NothingToRead, query as run
    from ..look.render import render_rows
    if not inputs and not db:
        if sys.stdin.isatty():
            fail("give INPUTS (files, globs, directories, - for stdin) or --db")
        inputs = ("-",)
    try:
        cols, rows = run(sql, inputs, db=db, progress=progress_wanted(progress))
    except NothingToRead as e:
        fail(str(e))
    except duckdb.Error as e:
        fail(f"query failed: {e}")
    with open_output(output) as out:
        render_rows(cols, rows, fmt, out)
    sys.exit(0)
