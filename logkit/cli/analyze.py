"""``logkit analyze``: the report over log files and/or a DuckDB store (see docs/analyze.md)."""
from __future__ import annotations

import sys

import click

from .options import FORMAT_OPTION, OUTPUT_OPTION, fail, open_output, progress_wanted, window_options


@click.command("analyze")
@click.argument("inputs", nargs=-1)
@click.option("--db", help="DuckDB store: report on it (after loading INPUTS into it, if given).")
@click.option("--es", "es_url", metavar="URL",
              help="Report on an Elasticsearch cluster with aggregations (credentials from LOGKIT_ES_*).")
@click.option("--index", metavar="PATTERN", help="With --es: indices/data streams [default: logs-logkit.*-*].")
@window_options
@click.option("--by", default="auto", show_default=True, help="Timeline interval (5m, 1h, 1d) or auto.")
@click.option("--top", default=20, show_default=True, type=click.IntRange(min=0),
              help="Rows per ranked section (0: all).")
@click.option("--section", help="Only this section (e.g. domains), mostly for --format csv.")
@FORMAT_OPTION
@OUTPUT_OPTION
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
def analyze(inputs, db, es_url, index, since, until, service, domain, by, top, section, fmt, output, progress):
    """Report on INPUTS (files, globs, directories, .gz/.zst, - for stdin), on --db, or on a
    cluster with --es URL --index PATTERN (computed there with aggregations).

    -o FILE without --format writes the format FILE's extension names (.html, .json, .csv, .md).

    Exit codes: 0 report written (also when no event falls in the window: a line on stderr then
    says how many events were read and the span the data covers); 2 nothing could be read, bad
    arguments, or --since not before --until.
    """
    from ..analyze import NothingToRead, analyze as run
    from ..look.render import render
    from ..analyze.escape import terminal
    from ..analyze.report import SECTIONS, empty_window_message
    if section and section not in SECTIONS:
        fail(f"--section must be one of: {', '.join(SECTIONS)}")
    if es_url or index:
        _analyze_es(inputs, db, es_url, index, since, until, service, domain, by, top, section, fmt, output)
    if not inputs and not db:
        if sys.stdin.isatty():
            fail("give INPUTS (files, globs, directories, - for stdin) or --db")
        inputs = ("-",)
    try:
        report = run(inputs, db=db, since=since, until=until, service=service, domain=domain, by=by,
                     top=top or None, progress=progress_wanted(progress))
    except NothingToRead as e:
        fail(str(e))
    except ValueError as e:
        fail(str(e))
    empty = empty_window_message(report.meta)
    m = report.meta
    if empty and m.get("since") and m.get("until") and m["since"] >= m["until"]:
        fail(empty)
    with open_output(output) as out:
        render(report, fmt, out, section=section)
    if empty:
        click.echo(f"logkit analyze: {empty}", err=True)
    if report.input_errors:
        for k, v in report.input_errors.items():
            click.echo(f"logkit analyze: {terminal(k)}: {terminal(v)}", err=True)
    from ..analyze.store import DUPLICATE
    rows = report.sections["bad_input"].rows if "bad_input" in report.sections else []
    bad = sum(r[2] for r in rows if r[1] != DUPLICATE)
    dup = sum(r[2] for r in rows if r[1] == DUPLICATE)
    if dup:
        click.echo(f"logkit analyze: {dup} event(s) read twice (same event.id or content in another file) "
                   "counted once", err=True)
    if bad:
        click.echo(f"logkit analyze: {bad} bad line(s) skipped or repaired: see the bad input section", err=True)
    sys.exit(0)


def _analyze_es(inputs, db, es_url, index, since, until, service, domain, by, top, section, fmt, output):
    """``--es URL --index PATTERN``: the report computed by the cluster (logkit.analyze.es_report)."""
    from elasticsearch import ApiError

    from ..analyze import NothingToRead
    from ..analyze.es_report import NotSupportedOnES, analyze_es, error_reason
    from ..look.render import render
    from ..es.client import es_client, redact_url
    from ..es.setup import index_pattern
    if not es_url:
        fail("--index needs --es URL")
    if inputs or db:
        fail("--es reports on the cluster: give no INPUTS nor --db with it")
    client = es_client(es_url)
    try:
        report = analyze_es(client, index or index_pattern(), since=since, until=until, service=service,
                            domain=domain, by=by, top=top or None, sections=[section] if section else None)
    except (NotSupportedOnES, NothingToRead, ValueError) as e:
        fail(str(e))
    except ApiError as e:  # the cluster refused a request: its reason
        fail(f"{redact_url(es_url)} refused the report: {error_reason(e)}")
    except Exception as e:  # connection refused, TLS, auth: one clear line, no traceback
        fail(f"cannot report on {redact_url(es_url)}: {type(e).__name__}: {e}")
    finally:
        client.close()
    from ..analyze.report import empty_window_message
    empty = empty_window_message(report.meta)
    m = report.meta
    if empty and m.get("since") and m.get("until") and m["since"] >= m["until"]:
        fail(empty)
    with open_output(output) as out:
        render(report, fmt, out, section=section)
    if empty:
        click.echo(f"logkit analyze: {empty}", err=True)
    sys.exit(0)
