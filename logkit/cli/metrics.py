"""``logkit metrics``: the events as Prometheus metrics (serve, textfile, docs). See docs/metrics.md."""
from __future__ import annotations

import signal
import sys

import click

from ._output import OutFile

from ..metrics.definitions import FOLD_GROUPS


class InputError(click.ClickException):
    """An input or state problem: exit code 2 (the CLI's convention for usage and input errors)."""
    exit_code = 2


def _bounds(f):
    """One ``--top-GROUP N`` option per fold group, and ``--allow GROUP=VALUE``."""
    for g in reversed(list(FOLD_GROUPS.values())):
        f = click.option(g.option, f"limit_{g.name}", type=click.IntRange(min=0), default=g.default_limit,
                         show_default=True, help=f"Distinct values with their own series: {g.description}; "
                                                 f"the rest are folded into __other__.")(f)
    f = click.option("--allow", "allow", multiple=True, metavar="GROUP=VALUE",
                     help="A value that always gets its own series (repeatable), e.g. domain=example.com.")(f)
    f = click.option("--worker-window", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
                     help="Seconds since its last task event within which a worker counts as active.")(f)
    return f


def _broker(f):
    f = click.option("--broker", metavar="URL", help="Redis broker URL (redis://host:port/db): adds Celery "
                     "queue lengths.")(f)
    f = click.option("--queue", "queues", multiple=True, metavar="NAME",
                     help="A queue to read besides those seen in the logs (repeatable; default: celery).")(f)
    return f


def _limits(kw) -> tuple[dict, dict]:
    limits = {g: kw.pop(f"limit_{g}") for g in FOLD_GROUPS}
    allow: dict[str, list[str]] = {}
    for a in kw.pop("allow"):
        g, sep, v = a.partition("=")
        if not sep or g not in FOLD_GROUPS:
            raise click.BadParameter(f"{a!r}: use GROUP=VALUE with GROUP one of {', '.join(FOLD_GROUPS)}",
                                     param_hint="--allow")
        allow.setdefault(g, []).append(v)
    return limits, allow


@click.group("metrics")
def metrics() -> None:
    """Prometheus metrics from the events: serve /metrics, write a textfile, list the metrics."""


@metrics.command("serve")
@click.argument("files", nargs=-1, required=True)
@click.option("--addr", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9816, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port; the line printed on start says which).")
@click.option("--state", type=OutFile(),
              help="Keep read offsets and counters here across restarts (atomic writes).")
@click.option("--poll-interval", type=click.FloatRange(min=0, min_open=True), default=0.25, show_default=True, help="Seconds between reads when idle.")
@_broker
@_bounds
def serve(files, addr, port, state, poll_interval, broker, queues, worker_window, **kw):
    """Follow FILES (paths or quoted globs) and serve their metrics on http://ADDR:PORT/metrics."""
    from ..metrics.serve import Exporter, StateLocked
    limits, allow = _limits(kw)
    try:
        ex = Exporter(list(files), addr=addr, port=port, state=state, broker=broker,
                      queues=queues or (("celery",) if broker else ()), limits=limits, allow=allow,
                      worker_window=worker_window, poll_interval=poll_interval)
        ex.start()
    except (StateLocked, ValueError, OSError) as e:
        raise InputError(str(e)) from None

    def _stop(signum, frame):
        ex.stop()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"serving {ex.url}", err=False)
    sys.stdout.flush()
    ex.run()


@metrics.command("textfile")
@click.argument("files", nargs=-1)
@click.option("--db", type=click.Path(dir_okay=False), help="Read the events table of this DuckDB store.")
@click.option("--out", "out", required=True, type=OutFile(allow_dash=True), help="File to write (end it in .prom for node_exporter); - for stdout.")
@_broker
@_bounds
def textfile(files, db, out, broker, queues, worker_window, **kw):
    """Write the metrics of FILES and/or --db once (atomically), for node_exporter's textfile collector."""
    from ..metrics import textfile as tf  # the module
    limits, allow = _limits(kw)
    if not files and not db:
        raise click.UsageError("give FILES or --db")
    opts = dict(db=db, limits=limits, allow=allow, broker=broker, queues=queues or (("celery",) if broker else ()),
                worker_window=worker_window)
    try:
        if out == "-":
            sys.stdout.buffer.write(tf.render(list(files), **opts))
            return
        res = tf.write(out, list(files), **opts)
    except (tf.NothingToRead, ValueError) as e:
        raise InputError(str(e)) from None
    for k, v in res.errors.items():
        click.echo(f"warning: {k}: {v}", err=True)
    click.echo(f"{res.events:,} events -> {out}", err=True)


@metrics.command("docs")
@click.option("--out", "out", type=OutFile(), help="Write here (default: stdout).")
def docs(out):
    """Print the metrics reference (Markdown): every metric with its labels and the event fields
    it comes from."""
    from ..metrics.docs import render
    text = render()
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)
