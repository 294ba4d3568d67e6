"""The `logkit` command line: one thin click wrapper per library function.

Subcommands are imported lazily (only the one that runs), so `logkit --help` and the
quick commands do not pay for importing duckdb, elasticsearch or the frameworks.
"""
from __future__ import annotations

import importlib
import sys

from ._extras import extra_for, missing_extra, missing_extra_message

try:
    import click
except ModuleNotFoundError as _e:  # the core install: emission only, no command line
    if _e.name != "click":
        raise
    click = None

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
    "filebeat": "logkit.cli.shipped:filebeat",
    "prometheus": "logkit.cli.shipped:prometheus",
    "grafana": "logkit.cli.shipped:grafana",
    "notebooks": "logkit.cli.shipped:notebooks",
}


if click is None:
    def main(*args, **kwargs) -> None:
        print(missing_extra_message(None, "cli"), file=sys.stderr)
        sys.exit(2)
else:
    def _needs_extra(name: str, extra: str) -> click.Command:
        """Stands in for a command whose extra is not installed: listed in --help, and running it
        prints one line naming the extra (exit 2) whatever the arguments."""
        def run():
            click.echo(missing_extra_message(name, extra), err=True)
            sys.exit(2)
        return click.Command(name, callback=run, add_help_option=False,
                             short_help=f"(needs the '{extra}' extra: pip install 'logkit[{extra}]')",
                             context_settings={"ignore_unknown_options": True, "allow_extra_args": True})

    class LazyGroup(click.Group):
        def __init__(self, *args, lazy: dict[str, str], **kwargs):
            super().__init__(*args, **kwargs)
            self._lazy = lazy

        def list_commands(self, ctx):
            return sorted(set(super().list_commands(ctx)) | set(self._lazy))

        def get_command(self, ctx, name):
            if name in self._lazy:
                extra = missing_extra(name)
                if extra is not None:
                    return _needs_extra(name, extra)
                module, attr = self._lazy[name].split(":")
                try:
                    return getattr(importlib.import_module(module), attr)
                except ModuleNotFoundError as e:
                    extra = extra_for(name, e.name)
                    if extra is None:
                        raise
                    return _needs_extra(name, extra)
            return super().get_command(ctx, name)

        def invoke(self, ctx):
            # Commands import their heavy dependencies when they run (`analyze --es` needs the
            # Elasticsearch client only then): a missing one is an install problem, said in one line.
            try:
                return super().invoke(ctx)
            except ModuleNotFoundError as e:
                name = ctx.invoked_subcommand
                extra = extra_for(name, e.name)
                if extra is None:
                    raise
                click.echo(missing_extra_message(name, extra), err=True)
                ctx.exit(2)

    @click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="logkit")
    def main() -> None:
        """logkit: uniform JSON logs for Django, Celery and Scrapy — ship, analyze, alert.

        Exit codes: 0 success, 1 the check found something (invalid lines, firing alerts),
        2 usage or input error.

        Commands marked "needs the ... extra" are not installed: pip install 'logkit[all]'
        installs every command.
        """
