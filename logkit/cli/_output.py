"""Shared output helpers for the CLI: formats, and escaping for the terminal."""
from __future__ import annotations

import click

FORMATS = ("table", "json", "csv", "markdown", "html")


def format_option(choices=FORMATS, default="table"):
    return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                        help="Output format.")
