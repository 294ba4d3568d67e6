"""`logkit patterns`: group log messages into templates."""
from __future__ import annotations

import io
import sys

import click


def _stdin():
    # Bytes in, decoded here: a non-UTF-8 byte becomes U+FFFD instead of stopping the run.
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:
        return sys.stdin
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def _clean(text: str, width: int) -> str:
    # Log content is attacker-controlled: no control characters (ANSI escapes) reach the
    # terminal, and a long message is cut.
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


@click.command("patterns")
@click.argument("files", nargs=-1, type=click.File("r", encoding="utf-8", errors="replace"))
@click.option("--pipe", "pipe_mode", is_flag=True,
              help="Read one message per line on stdin, print one template id per line.")
@click.option("--final", is_flag=True,
              help="With --pipe: read all input first, print each message's final id.")
@click.option("--top", type=int, default=50, show_default=True,
              help="Table mode: how many templates to print (0 = all).")
def patterns(files, pipe_mode: bool, final: bool, top: int) -> None:
    """Mine log templates (`<*>` marks a variable part).

    Without --pipe: read plain text lines from FILES (or stdin) and print the template
    table: id, count, template, example.
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
    miner = TemplateMiner()
    sources = files or (_stdin(),)
    for fh in sources:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.strip():
                miner.add(line)
    rows = miner.templates()
    if top > 0:
        rows = rows[:top]
    click.echo(f"{'id':<12}  {'count':>7}  template  |  example")
    for t in rows:
        click.echo(f"{t.id:<12}  {t.count:>7}  {_clean(t.template, 100)}  |  {_clean(t.example, 80)}")
