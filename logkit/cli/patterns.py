"""`logkit patterns`: group log messages into templates."""
from __future__ import annotations

import io
import sys

import click

from .options import FORMAT_OPTION, OUTPUT_OPTION, fail, open_output, progress_wanted, window_options
from ..look.render import render_rows


def _stdin():
    # Bytes in, decoded here: a non-UTF-8 byte becomes U+FFFD instead of stopping the run.
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:
        return sys.stdin
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


@click.command("patterns")
@click.argument("files", nargs=-1)
@click.option("--db", help="DuckDB store (from `logkit load`); pattern ids are kept there between runs.")
@window_options
@click.option("--new-since", help="Only patterns that first occur from this time on (not in the window "
                                  "of the same length before it).")
@click.option("--top", type=click.IntRange(min=0), default=50, show_default=True, help="How many patterns (0 = all).")
@click.option("--text", is_flag=True, help="FILES are plain text lines, not logkit events: mine every line.")
@click.option("--pipe", "pipe_mode", is_flag=True,
              help="Read one message per line on stdin, print one template id per line.")
@click.option("--final", is_flag=True,
              help="With --pipe: read all input first, print each message's final id.")
@click.option("--es", "es_url", help="Mine the failures of this Elasticsearch cluster's events (credentials "
                                    "and TLS from LOGKIT_ES_* as for `logkit ship`).")
@click.option("--index", help="With --es: index or data stream pattern (default logs-logkit.*-*).")
@FORMAT_OPTION
@OUTPUT_OPTION
def patterns(files, db, since, until, service, domain, new_since, top, text, pipe_mode, final, fmt, output,
             es_url=None, index=None) -> None:
    """Failure patterns: failures of logkit log FILES (or --db) grouped into templates.

    Each pattern has a stable id, its kind (error type or action), the template (`<*>` marks a
    variable part), count, first/last seen, an example, and the domains and services it touches.
    --new-since lists the patterns that did not exist before.

    --text mines plain text lines instead; --pipe is the evaluation mode (one id per input line).
    Exit codes: 0 ok, 2 nothing could be read.
    """
    from logkit.patterns import TemplateMiner, pipe

    if final and not pipe_mode:
        raise click.UsageError("--final goes with --pipe")
    if pipe_mode:
        if files:
            raise click.UsageError("--pipe reads stdin only")
        pipe(_stdin(), sys.stdout, streaming=not final, flush=not final and sys.stdout.isatty())
        sys.stdout.flush()
        return
    if text:
        miner = TemplateMiner()
        for path in files or ("-",):
            fh = _stdin() if path == "-" else open(path, encoding="utf-8", errors="replace")
            with fh:
                for line in fh:
                    line = line.rstrip("\r\n")
                    if line.strip():
                        miner.add(line)
        rows = miner.templates()
        if top > 0:
            rows = rows[:top]
        with open_output(output) as out:
            render_rows(("id", "count", "template", "example"),
                        [(t.id, t.count, t.template, t.example) for t in rows], fmt, out)
        return
    from ..analyze import NothingToRead, patterns as run
    if index and not es_url:
        fail("--index needs --es URL")
    if es_url:
        cols, rows = _patterns_es(files, db, es_url, index, since, until, service, domain, top, new_since)
        with open_output(output) as out:
            render_rows(cols, rows, fmt, out)
        return
    if not files and not db:
        if sys.stdin.isatty():
            fail("give FILES (logkit logs; - for stdin), --db, or --text/--pipe for plain lines")
        files = ("-",)
    try:
        cols, rows = run(list(files) or None, db=db, since=since, until=until, service=service, domain=domain,
                         top=top or None, new_since=new_since, progress=progress_wanted(None))
    except NothingToRead as e:
        fail(str(e))
    with open_output(output) as out:
        render_rows(cols, rows, fmt, out)


def _patterns_es(files, db, es_url, index, since, until, service, domain, top, new_since):
    """``--es URL --index PATTERN``: the failures read from the cluster (logkit.analyze.es_report)."""
    from elasticsearch import ApiError

    from ..analyze import NothingToRead
    from ..analyze.es_report import error_reason, patterns_es
    from ..es.client import es_client, redact_url
    from ..es.setup import index_pattern
    if files or db:
        fail("--es mines the cluster's events: give no FILES nor --db with it")
    client = es_client(es_url)
    try:
        return patterns_es(client, index or index_pattern(), since=since, until=until, service=service,
                           domain=domain, top=top or None, new_since=new_since)
    except (NothingToRead, ValueError) as e:
        fail(str(e))
    except ApiError as e:
        fail(f"{redact_url(es_url)} refused the request: {error_reason(e)}")
    except Exception as e:  # connection refused, TLS, auth: one clear line
        fail(f"cannot read {redact_url(es_url)}: {type(e).__name__}: {e}")
    finally:
        client.close()
