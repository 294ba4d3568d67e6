"""`logkit ship`: a thin wrapper over :func:`logkit.ship.shipper.ship`."""
from __future__ import annotations

import logging
import logging.config
import sys

import click
import orjson

from ._output import OutFile


def _size(value: str) -> int:
    v = value.strip().lower()
    for suffix, mult in (("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("kb", 1000),
                         ("mb", 1000 ** 2), ("k", 1 << 10), ("m", 1 << 20), ("b", 1)):
        if v.endswith(suffix):
            return int(float(v[: -len(suffix)]) * mult)
    return int(v)


class _Size(click.ParamType):
    name = "BYTES"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return _size(value)
        except ValueError:
            self.fail(f"{value!r} is not a size (e.g. 8MiB, 512k, 1000000)", param, ctx)


@click.command()
@click.argument("files", nargs=-1, type=str)
@click.option("--stdin", "use_stdin", is_flag=True, help="Also read lines from standard input.")
@click.option("--es", "es_url", metavar="URL", help="Elasticsearch URL (default LOGKIT_ES_URL, then "
              "http://127.0.0.1:9200). Credentials come from the environment only: LOGKIT_ES_API_KEY, "
              "or LOGKIT_ES_USERNAME and LOGKIT_ES_PASSWORD.")
@click.option("--index", metavar="NAME", help="Target index.")
@click.option("--data-stream", metavar="NAME", help="Target data stream (its index template must exist: "
              "`logkit es setup`).")
@click.option("--registry", type=OutFile(), help="Registry of offsets (JSON). "
              "Required with FILES.")
@click.option("--dead-letter", type=OutFile(), required=True,
              help="NDJSON file for lines that cannot be indexed, with the reason.")
@click.option("--batch-size", type=click.IntRange(1), default=2000, show_default=True,
              help="Documents per bulk request at most.")
@click.option("--batch-bytes", type=_Size(), default="8MiB", show_default=True,
              help="Bytes per bulk request at most.")
@click.option("--flush-interval", type=click.FloatRange(0.01), default=1.0, show_default=True,
              help="Seconds a started batch waits for more lines before it is sent.")
@click.option("--workers", type=click.IntRange(1, 32), default=3, show_default=True,
              help="Bulk requests in parallel.")
@click.option("--once", is_flag=True, help="Ship what is there and exit (for scripts and tests).")
@click.option("--pipeline", metavar="NAME", help="Ingest pipeline to run on the documents.")
@click.option("--max-line-bytes", type=_Size(), default="1MiB", show_default=True,
              help="Longer lines go to the dead-letter file (first 64 KiB kept).")
@click.option("--partial-timeout", type=click.FloatRange(0), default=5.0, show_default=True,
              help="Seconds a last line without newline waits before it is taken as a line — only "
              "when its file was rotated away, or at exit.")
@click.option("--progress-interval", type=click.FloatRange(0), default=30.0, show_default=True,
              help="Seconds between ship.progress events (0: only at exit).")
@click.option("--connect-timeout", type=click.FloatRange(0), default=10.0, show_default=True,
              help="With --once: give up (exit 2) when the cluster does not answer in this time.")
@click.option("--shutdown-timeout", type=click.FloatRange(0), default=30.0, show_default=True,
              help="On SIGTERM/SIGINT, seconds to wait for batches in flight.")
@click.option("--sniff", is_flag=True, help="Discover the cluster's other nodes and fail over to them.")
@click.option("--ca-certs", type=click.Path(exists=True, dir_okay=False), help="CA bundle for https.")
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
@click.option("--log-file", type=OutFile(), help="Also write the shipper's own "
              "events (JSON) to this file.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.option("--summary", is_flag=True, help="Print a JSON summary on stdout at exit.")
def ship(files, use_stdin, es_url, index, data_stream, registry, dead_letter, batch_size, batch_bytes,
         flush_interval, workers, once, pipeline, max_line_bytes, partial_timeout, progress_interval,
         connect_timeout, shutdown_timeout, sniff, ca_certs, insecure, log_file, log_level, summary):
    """Ship FILES (paths or globs, re-globbed every second) and/or stdin into Elasticsearch.

    At least once, never twice: each document's _id is its event.id (a hash of file identity
    and offset for lines without one); the registry advances only past indexed or dead-lettered
    lines. Follows files until SIGTERM/SIGINT (flushes, saves the registry, exits 0).

    Exit codes: 0 ok; 1 some lines went to the dead-letter file (--once); 2 bad options, a
    registry in use or unreadable, or (--once) a cluster that does not answer or refuses the
    credentials.
    """
    from .. import logging_config
    from ..ship.shipper import ShipConfigError
    from ..ship.shipper import ship as ship_files
    from ..ship.tail import RegistryLocked

    logging.config.dictConfig(logging_config("logkit-ship", "script", stream="stderr", filename=log_file,
                                             level=log_level.upper(),
                                             # the transport's own retry warnings carry a stack
                                             # trace each; the shipper says what matters once
                                             loggers={"elastic_transport": "ERROR",
                                                      "elasticsearch": "ERROR"}))
    exclude = [log_file] if log_file else []
    try:
        result = ship_files(files, es=es_url, index=index, data_stream=data_stream, registry=registry,
                            dead_letter=dead_letter, stdin=use_stdin, batch_size=batch_size,
                            batch_bytes=batch_bytes, flush_interval=flush_interval, once=once,
                            workers=workers, pipeline=pipeline, max_line_bytes=max_line_bytes,
                            partial_timeout=partial_timeout, progress_interval=progress_interval,
                            connect_timeout=connect_timeout, shutdown_timeout=shutdown_timeout,
                            ca_certs=ca_certs, verify=not insecure, sniff=sniff, exclude=exclude)
    except (ShipConfigError, RegistryLocked) as e:
        click.echo(f"logkit ship: {e}", err=True)
        sys.exit(2)
    if summary:
        click.echo(orjson.dumps(result.as_dict()).decode())
    code = result.exit_code if once else 0
    import threading
    if threading.active_count() > 1:
        # a worker may still sit in a request to a hung cluster (after a second signal); the
        # registry and the dead-letter file are durable already, so do not wait for it
        import os
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
