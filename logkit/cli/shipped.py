"""`logkit filebeat`, `logkit prometheus`, `logkit grafana`, `logkit notebooks`: write out the
configs that ship inside the package (a pip install has no repository folders to copy from)."""
from __future__ import annotations

import sys

import click

from ..data import export as ex


def _write(contents: dict[str, str], out: str, force: bool) -> None:
    try:
        written = ex.write_files(contents, out, overwrite=force)
    except ex.ExportError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    for p in written:
        click.echo(str(p))


_FORCE = click.option("--force", is_flag=True, help="Overwrite files that exist with other content.")


@click.group()
def filebeat() -> None:
    """Filebeat: configs that send logkit's JSON log files to Elasticsearch data streams
    (filestream input, ndjson parser, at-least-once with event.id as the document id)."""


@filebeat.command("config")
@click.argument("service", type=click.Choice(ex.FILEBEAT_SERVICES))
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="File to write ('-': standard output).")
@_FORCE
def filebeat_config(service, out, force):
    """Print (or write) the Filebeat config for a SERVICE of this kind.

    Settings come from environment variables named in the file's header (log glob,
    Elasticsearch URL, namespace). Run `logkit es setup` first, then
    `filebeat -e -c FILE`.
    """
    text = ex.filebeat_config(service)
    if out == "-":
        sys.stdout.write(text)
        return
    from pathlib import Path
    p = Path(out)
    _write({p.name: text}, p.parent, force)


@click.group()
def prometheus() -> None:
    """Prometheus: the alerting/recording rule pack for `logkit metrics serve`."""


@prometheus.command("rules")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder to write logkit.rules.yml and its promtool tests (logkit.tests.yml) into; "
                   "without it the rules are printed.")
@_FORCE
def prometheus_rules(out, force):
    """Print the rule pack, or write it and its unit tests to --out.

    Load it with `rule_files:` in prometheus.yml; `promtool check rules` and
    `promtool test rules logkit.tests.yml` check it.
    """
    files = ex.prometheus_rules()
    if out is None:
        sys.stdout.write(files["logkit.rules.yml"])
        return
    _write(files, out, force)


@click.group()
def grafana() -> None:
    """Grafana: dashboards over logkit's Prometheus metrics."""


@grafana.command("dashboards")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder to write dashboards/*.json and provisioning/dashboards.yml into.")
@_FORCE
def grafana_dashboards(out, force):
    """Write the dashboards (Celery workers, Celery tasks, Scrapy domains, errors) and a
    provisioning file.

    Copy provisioning/dashboards.yml to <grafana>/provisioning/dashboards/ and the JSON files to
    the path it names (/var/lib/grafana/dashboards/logkit). Each dashboard asks for its
    Prometheus data source through a `datasource` variable.
    """
    _write(ex.grafana_dashboards(), out, force)


@click.command("notebooks")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Folder to write the notebooks into.")
@_FORCE
def notebooks(out, force):
    """Write the Jupyter notebooks (a day of demo logs explored with the report functions, the
    named report queries and plain SQL on DuckDB). They run with logkit[analyze], pandas and Jupyter."""
    _write(ex.notebooks(), out, force)
