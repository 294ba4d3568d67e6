"""Options and helpers shared by analyze, load, query and demo."""
from __future__ import annotations

import contextlib
import sys

import click

FORMATS = ("table", "json", "csv", "markdown", "html")
FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                             help="Output format.")
OUTPUT_OPTION = click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
                             help="Write to this file instead of stdout.")


def fail(msg: str, code: int = 2) -> None:
    click.echo(f"logkit: {msg}", err=True)
    sys.exit(code)


def progress_wanted(flag: bool | None) -> bool:
    if flag is not None:
        return flag
    try:
        return sys.stderr.isatty()
    except Exception:
        return False


@contextlib.contextmanager
def open_output(path: str | None):
    if not path:
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        yield f
