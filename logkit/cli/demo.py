"""``logkit demo``: a day of logs of a made-up deployment through logkit's emitters, and its report."""
from __future__ import annotations

import sys

import click


def _day(ctx, param, value):
    from datetime import date
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a day (YYYY-MM-DD)") from None


@click.command("demo")
@click.option("--out", "out", default="logkit-demo", show_default=True, type=click.Path(file_okay=False),
              help="Directory for logs/ and report.html.")
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same events.")
@click.option("--events", default=60_000, show_default=True, type=click.IntRange(min=100),
              help="About how many events.")
@click.option("--day", default="2026-11-24", show_default=True, callback=_day, help="The UTC day the logs cover.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=0), help="Rows per ranked section.")
def demo(out, seed, events, day, top):
    """Write OUT/logs/*.ndjson (Django, Celery, Scrapy services), then OUT/report.html and a summary."""
    from ..look.demo import demo as run
    from ..look.render import render
    res = run(out, seed=seed, events=events, day=day, top=top)
    render(res.report, "table", sys.stdout, section=None)
    click.echo(f"\n{res.events:,} events in {len(res.files)} files under {res.log_dir}", err=True)
    click.echo(f"report: {res.report_path}", err=True)
    # The demo's day is fixed, so a relative --since (6h before now) would select nothing: name
    # the last six hours of that day instead.
    click.echo(f"next: {next_command(res.log_dir, day)}", err=True)


def next_command(log_dir: str, day: str) -> str:
    """The command the demo suggests next: the evening of the demo's day, as Markdown."""
    return f"logkit analyze {log_dir} --since {day}T18:00:00Z --format markdown"
