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
    from .escape import terminal  # messages name files: no control character of a name reaches the terminal
    click.echo(f"logkit: {terminal(msg)}", err=True)
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


_WINDOW = (
    click.option("--since", help="Start of the window: relative (30m, 2h, 1d) or ISO 8601 (UTC when naive)."),
    click.option("--until", help="End of the window (exclusive), same forms as --since."),
    click.option("--service", multiple=True, help="Only these services (service.name); repeatable."),
    click.option("--domain", multiple=True, help="Only these domains (url.domain); repeatable."),
)


def window_options(f):
    """--since, --until, --service and --domain: the filters every command over events takes."""
    for opt in reversed(_WINDOW):
        f = opt(f)
    return f
