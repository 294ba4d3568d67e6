"""Shared output helpers for the CLI: formats, and escaping for the terminal."""
from __future__ import annotations

import click

from ..look import FORMATS


def format_option(choices=FORMATS, default="table"):
    return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                        help="Output format.")


class OutFile(click.Path):
    """A file the command will write: its directory must exist and be writable, checked when the
    arguments are parsed (exit 2 with a message, not a FileNotFoundError traceback later)."""

    def __init__(self, **kw):
        super().__init__(dir_okay=False, **kw)

    def convert(self, value, param, ctx):
        import os
        value = super().convert(value, param, ctx)
        if value and value != "-":
            parent = os.path.dirname(os.path.abspath(os.fsdecode(value)))
            if not os.path.isdir(parent):
                self.fail(f"{value}: directory {parent} does not exist", param, ctx)
            if not os.access(parent, os.W_OK):
                self.fail(f"{value}: directory {parent} is not writable", param, ctx)
        return value
