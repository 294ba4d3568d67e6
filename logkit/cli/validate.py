"""``logkit validate``: check log files line by line against the schema (a thin wrapper over logkit.validate)."""
from __future__ import annotations

import sys

import click
import orjson

from ..validate import validate as validate_files
from ._output import format_option


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--strict", is_flag=True, help="Count warnings (unknown event types, key order, ...) as errors.")
@format_option(("table", "json"))
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; only the exit code.")
def validate(files, strict, fmt, quiet):
    """Check log FILES line by line against the logkit schema.

    Reports valid and invalid lines per file with line numbers and reasons. Exit code 0 when
    every line is valid, 1 when any line is invalid, 2 when a file cannot be read.
    """
    results = validate_files(files, strict=strict)
    if not quiet:
        if fmt == "json":
            click.echo(orjson.dumps([r.to_dict() for r in results], option=orjson.OPT_INDENT_2).decode())
        else:
            _table(results)
    if any(r.error and not r.lines for r in results):
        sys.exit(2)
    sys.exit(1 if any(r.invalid or r.error for r in results) else 0)


def _table(results) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..emit.console import escape_terminal

    console = Console(soft_wrap=True)
    t = Table(title="logkit validate")
    for col in ("file", "lines", "valid", "invalid", "warnings"):
        t.add_column(col, justify="left" if col == "file" else "right")
    for r in results:
        t.add_row(escape(escape_terminal(r.path)), str(r.lines), str(r.valid),
                  f"[red]{r.invalid}[/]" if r.invalid else "0", str(r.warnings))
    console.print(t)
    for r in results:
        if r.error:
            console.print(f"[red]{escape(escape_terminal(r.path))}: {escape(escape_terminal(r.error))}[/]")
        for p in r.problems:
            style = "red" if p.severity == "error" else "yellow"
            console.print(f"[{style}]{escape(escape_terminal(r.path))}:{p.line}: {p.severity}: "
                          f"{escape(escape_terminal(p.reason))}[/]")
        shown = len(r.problems)
        total = sum(r.reasons.values())
        if total > shown:
            console.print(f"… {total - shown} more problems in {escape(escape_terminal(r.path))}; by reason:")
            for reason, n in sorted(r.reasons.items(), key=lambda kv: -kv[1]):
                console.print(f"   {n:>8}  {escape(escape_terminal(reason))}")
