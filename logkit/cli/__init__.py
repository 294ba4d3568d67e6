"""The `logkit` command line: one thin click wrapper per library function.

Subcommands are imported lazily (only the one that runs), so `logkit --help` and the
quick commands do not pay for importing duckdb, elasticsearch or the frameworks.
"""
from __future__ import annotations

import importlib

import click

__all__ = ["main", "COMMANDS"]

# name -> "module:attribute" of a click command or group. One line per command.
COMMANDS: dict[str, str] = {
    "schema": "logkit.cli.schema:schema",
    "validate": "logkit.cli.validate:validate",
    "patterns": "logkit.cli.patterns:patterns",
    "ship": "logkit.cli.ship:ship",
    "es": "logkit.cli.es:es",
    "kibana": "logkit.cli.kibana:kibana",
    "analyze": "logkit.cli.analyze:analyze",
    "load": "logkit.cli.load:load",
    "query": "logkit.cli.query:query",
    "demo": "logkit.cli.demo:demo",
    "alerts": "logkit.cli.alerts:alerts",
    "metrics": "logkit.cli.metrics:metrics",
}


class LazyGroup(click.Group):
    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._lazy))

    def get_command(self, ctx, name):
        if name in self._lazy:
            module, attr = self._lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="logkit")
def main() -> None:
    """logkit: uniform JSON logs for Django, Celery and Scrapy — ship, analyze, alert.

    Exit codes: 0 success, 1 the check found something (invalid lines, firing alerts),
    2 usage or input error.
    """
