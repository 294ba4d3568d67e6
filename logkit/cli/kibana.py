"""`logkit kibana`: the saved-search bundle for Kibana's saved-objects import."""
from __future__ import annotations

import os
import sys

import click

from ._output import OutFile


@click.group()
def kibana() -> None:
    """Kibana: a data view, saved searches and a dashboard for logkit's data streams."""


@kibana.command()
@click.option("--out", "out", type=OutFile(allow_dash=True), default="-",
              show_default=True, help="Where to write the NDJSON ('-': standard output).")
@click.option("--data-view-pattern", default="logs-logkit.*-*", show_default=True,
              help="Index pattern of the data view (the data streams `logkit es setup` makes).")
@click.option("--slow-task-seconds", type=click.FloatRange(min=0, min_open=True), default=60,
              show_default=True, help="Threshold of the slow-tasks search.")
@click.option("--trace-id", help="Add a saved search for this one correlation id (trace.id).")
@click.option("--no-dashboard", is_flag=True, help="Leave the overview dashboard out.")
def bundle(out, data_view_pattern, slow_task_seconds, trace_id, no_dashboard):
    """Write the NDJSON that Kibana 8.x imports (Stack Management > Saved objects > Import,
    or POST /api/saved_objects/_import?overwrite=true with the file as `file`).

    Ids are the same on every run for the same options, so importing again overwrites.
    """
    from ..look.kibana import bundle_ndjson
    try:
        text = bundle_ndjson(data_view_pattern, slow_task_seconds=slow_task_seconds,
                             trace_id=trace_id, dashboard=not no_dashboard)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if out == "-":
        sys.stdout.write(text)
        return
    tmp = f"{out}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, out)
    click.echo(f"wrote {text.count(chr(10))} saved objects to {click.format_filename(out)}", err=True)
