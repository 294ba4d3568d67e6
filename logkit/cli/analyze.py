"""``logkit analyze``: the report over log files and/or a DuckDB store (see docs/analyze.md)."""
from __future__ import annotations

import sys

import click

from ..analyze.cli_common import (FORMAT_OPTION, OUTPUT_OPTION, fail, open_output, progress_wanted,
                                  window_options)


@click.command("analyze")
@click.argument("inputs", nargs=-1)
@click.option("--db", help="DuckDB store: report on it (after loading INPUTS into it, if given).")
@window_options
@click.option("--by", default="auto", show_default=True, help="Timeline interval (5m, 1h, 1d) or auto.")
@click.option("--top", default=20, show_default=True, type=int, help="Rows per ranked section (0: all).")
@click.option("--section", help="Only this section (e.g. domains), mostly for --format csv.")
@FORMAT_OPTION
@OUTPUT_OPTION
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
def analyze(inputs, db, since, until, service, domain, by, top, section, fmt, output, progress):
    """Report on INPUTS (files, globs, directories, .gz/.zst, - for stdin) or on --db.

    Exit codes: 0 report written; 2 nothing could be read, or bad arguments.
    """
    from ..analyze import NothingToRead, analyze as run
    from ..analyze.render import render
    from ..analyze.report import SECTIONS
    if not inputs and not db:
        if sys.stdin.isatty():
            fail("give INPUTS (files, globs, directories, - for stdin) or --db")
        inputs = ("-",)
    if section and section not in SECTIONS:
        fail(f"--section must be one of: {', '.join(SECTIONS)}")
    try:
        report = run(inputs, db=db, since=since, until=until, service=service, domain=domain, by=by,
                     top=top or None, progress=progress_wanted(progress))
    except NothingToRead as e:
        fail(str(e))
    except ValueError as e:
        fail(str(e))
    with open_output(output) as out:
        render(report, fmt, out, section=section)
    if report.input_errors:
        for k, v in report.input_errors.items():
            click.echo(f"logkit analyze: {k}: {v}", err=True)
    bad = sum(r[2] for r in report.sections["bad_input"].rows) if "bad_input" in report.sections else 0
    if bad:
        click.echo(f"logkit analyze: {bad} bad line(s) skipped or repaired: see the bad input section", err=True)
    sys.exit(0)
