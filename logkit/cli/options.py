"""Options and helpers shared by analyze, load, query and demo."""
from __future__ import annotations

import contextlib
import os
import sys

import click

from ..look import FORMATS
#: -o FILE without --format: the format its extension names (anything else: table).
EXTENSIONS = {".html": "html", ".htm": "html", ".json": "json", ".csv": "csv", ".md": "markdown",
              ".markdown": "markdown", ".txt": "table"}


def format_for(path: str | None) -> str:
    """The output format a file name implies (``report.html`` -> html); table otherwise."""
    if not path or path == "-":
        return "table"
    return EXTENSIONS.get(os.path.splitext(path)[1].lower(), "table")


def _resolve_format(ctx: click.Context) -> None:
    # click processes options in command-line order, so whichever of --format/--output comes
    # second settles the format: an explicit --format wins, else the extension of --output.
    if "fmt" in ctx.params and "output" in ctx.params and ctx.params["fmt"] is None:
        ctx.params["fmt"] = format_for(ctx.params["output"])


def _format_cb(ctx, param, value):
    ctx.params["fmt"] = value
    _resolve_format(ctx)
    return ctx.params["fmt"]


def _output_cb(ctx, param, value):
    if value and value != "-":
        parent = os.path.dirname(os.path.abspath(value))
        if not os.path.isdir(parent):
            raise click.BadParameter(f"{value}: directory {parent} does not exist", ctx, param)
        if not os.access(parent, os.W_OK) or (os.path.exists(value) and not os.access(value, os.W_OK)):
            raise click.BadParameter(f"{value}: not writable", ctx, param)
    ctx.params["output"] = value
    _resolve_format(ctx)
    return value


FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, callback=_format_cb,
                             help="Output format [default: from the extension of --output (.html, .json, "
                                  ".csv, .md), else table].")
OUTPUT_OPTION = click.option("--output", "-o", type=click.Path(dir_okay=False), callback=_output_cb,
                             help="Write to this file instead of stdout (its extension sets the format "
                                  "when --format is not given).")


def fail(msg: str, code: int = 2) -> None:
    from ..analyze.escape import terminal  # messages name files: no control character of a name reaches the terminal
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
    try:
        f = open(path, "w", encoding="utf-8", newline="")
    except OSError as e:  # checked at parse time too; a race or a full disk still ends in one line
        fail(f"cannot write {path}: {e.strerror or e}")
    with f:
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
