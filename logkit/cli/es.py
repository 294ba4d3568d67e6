"""`logkit es`: set a cluster up for logkit (templates, data streams, pipelines, lifecycle)."""
from __future__ import annotations

import sys

import click
import orjson

from ._output import format_option

_URL_HELP = ("Elasticsearch URL (default $LOGKIT_ES_URL or http://127.0.0.1:9200). Credentials come "
             "from the environment: LOGKIT_ES_API_KEY, or LOGKIT_ES_USERNAME and LOGKIT_ES_PASSWORD.")


def _client(url, ca_certs, insecure):
    from ..es.client import es_client
    return es_client(url, ca_certs=ca_certs, verify=not insecure)


def _clean(text: str) -> str:
    from ..emit.console import escape_terminal
    return escape_terminal(text)


@click.group()
def es() -> None:
    """Elasticsearch: install logkit's templates, data streams, pipelines and lifecycle policy."""


@es.command()
@click.option("--url", help=_URL_HELP)
@click.option("--namespace", default="default", show_default=True,
              help="Data stream namespace: logs-<dataset>-<namespace> (lowercase, no '-').")
@click.option("--dataset", "datasets", multiple=True,
              help="Dataset whose data stream to create (repeatable; default: logkit.<each service type>).")
@click.option("--replicas", type=click.IntRange(min=0), help="index.number_of_replicas of the data streams (default: the cluster's).")
@click.option("--force", is_flag=True, help="PUT every body even when the cluster's copy is logkit's current one.")
@click.option("--ca-certs", type=click.Path(exists=True, dir_okay=False), help="CA bundle for https.")
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
@format_option(("table", "json"))
def setup(url, namespace, datasets, replicas, force, ca_certs, insecure, fmt):
    """Install logkit's index templates (generated from the schema), data streams, ingest
    pipelines and lifecycle policy, idempotently.

    Detects what the cluster offers and skips, with the reason, what it cannot take (ingest
    pipelines without ingest processors, the lifecycle policy without ILM). Exit code 0 on
    success (also when something was skipped), 1 when the cluster refused something, 2 on a
    usage error.
    """
    from ..es import setup as les
    try:
        les.validate_namespace(namespace)
        for d in datasets:
            les.validate_dataset(d)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    client = _client(url, ca_certs, insecure)
    try:
        report = les.setup(client, namespace, datasets=datasets or None, replicas=replicas, force=force)
    except les.SetupError as e:
        click.echo(f"logkit es setup: {_clean(str(e))}", err=True)
        sys.exit(1)
    except Exception as e:  # connection refused, TLS, auth: one clear line, no traceback
        from ..es.client import redact_url
        click.echo(f"logkit es setup: cannot talk to {redact_url(url or '') or 'the cluster'}: "
                   f"{_clean(type(e).__name__ + ': ' + str(e))}", err=True)
        sys.exit(1)
    finally:
        client.close()
    if fmt == "json":
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        for line in report.lines():
            click.echo(_clean(line))
        click.echo("changed" if report.changed else "nothing changed")


@es.command()
@click.option("--url", help="Detect what this cluster offers and print what setup would send to it "
                            "(default: the bodies for a cluster that has everything). " + _URL_HELP)
@click.option("--ca-certs", type=click.Path(exists=True, dir_okay=False), help="CA bundle for https.")
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
def templates(url, ca_certs, insecure):
    """Print every JSON body `logkit es setup` sends, keyed by request path (PUT <path>)."""
    from ..es import setup as les
    caps = None
    if url:
        client = _client(url, ca_certs, insecure)
        try:
            caps = les.detect(client)
        finally:
            client.close()
    click.echo(orjson.dumps(les.templates(caps), option=orjson.OPT_INDENT_2).decode())
