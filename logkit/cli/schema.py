"""``logkit schema``: the event schema as a table, JSON, JSON Schema or Markdown (docs/schema.md)."""
from __future__ import annotations

import click
import orjson

from .. import schema as s
from ._output import format_option


def schema_markdown() -> str:
    """docs/schema.md, generated from logkit/schema.py (a test keeps the two equal)."""
    out = [f"# logkit event schema {s.SCHEMA_VERSION}", "",
           "Generated from `logkit/schema.py` by `logkit schema --format markdown`; do not edit by hand.", "",
           f"Every event is one JSON object per line in the ecs-logging shape: it opens with `@timestamp`, "
           f"`log.level` and `message`; `log.level` and `ecs.version` are top-level dotted keys; every other "
           f"dotted name is a nested object. ECS names (ECS {s.ECS_VERSION}) where ECS has the field; logkit's "
           f"own fields live under {', '.join(f'`{n}.*`' for n in s.CUSTOM_NAMESPACES)}. Keys an application "
           f"logs that the schema does not name go under `extra.*`.", "",
           "## Fields", "", "| field | type | ECS | core | description |", "|---|---|---|---|---|"]
    for f in s.FIELDS.values():
        desc = f.description + (f" Unit: {f.unit}." if f.unit else "") + (
            f" One of: {', '.join(f'`{a}`' for a in f.allowed)}." if f.allowed else "")
        desc = desc.replace("|", "\\|")
        out.append(f"| `{f.name}` | {f.type} | {'yes' if f.ecs else ''} | {'yes' if f.core else ''} | {desc} |")
    out += ["", "## Event types (`event.action`)", "",
            "Every event carries the core fields. The table lists what each type adds.", "",
            "| event.action | service | outcome | required | optional | description |", "|---|---|---|---|---|---|"]
    for e in s.EVENT_TYPES.values():
        out.append(f"| `{e.action}` | {e.service_type} | {', '.join(e.outcomes)} | "
                   f"{', '.join(f'`{n}`' for n in e.required)} | {', '.join(f'`{n}`' for n in e.optional)} | "
                   f"{e.description} |")
    return "\n".join(out) + "\n"


@click.command()
@format_option(("table", "json-schema", "markdown", "json"))
@click.option("--events", "show_events", is_flag=True, help="List the event types instead of the fields (table).")
def schema(fmt, show_events):
    """Print the event schema: every field with its type, and every event type.

    --format json-schema prints a JSON Schema of an event (dotted names); markdown prints the
    schema reference as a Markdown page.
    """
    if fmt == "json-schema":
        click.echo(orjson.dumps(s.json_schema(), option=orjson.OPT_INDENT_2).decode())
    elif fmt == "json":
        click.echo(orjson.dumps({
            "schema_version": s.SCHEMA_VERSION, "ecs_version": s.ECS_VERSION,
            "fields": [f.__dict__ | {"free_text": f.free_text} for f in s.FIELDS.values()],
            "event_types": [e.__dict__ for e in s.EVENT_TYPES.values()],
        }, option=orjson.OPT_INDENT_2).decode())
    elif fmt == "markdown":
        click.echo(schema_markdown(), nl=False)
    else:
        from rich.console import Console
        from rich.table import Table
        if show_events:
            t = Table(title=f"logkit event types (schema {s.SCHEMA_VERSION})")
            for c in ("event.action", "service", "required", "description"):
                t.add_column(c)
            for e in s.EVENT_TYPES.values():
                t.add_row(e.action, e.service_type, ", ".join(e.required), e.description)
        else:
            t = Table(title=f"logkit fields (schema {s.SCHEMA_VERSION}, ECS {s.ECS_VERSION})")
            for c in ("field", "type", "ECS", "core", "description"):
                t.add_column(c)
            for f in s.FIELDS.values():
                t.add_row(f.name, f.type, "yes" if f.ecs else "", "yes" if f.core else "", f.description)
        Console().print(t)
