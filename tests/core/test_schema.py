"""The schema module is the single source of truth: check it against ECS and against its docs."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from logkit import schema
from logkit.cli import main
from logkit.cli.schema import schema_markdown

ROOT = Path(__file__).resolve().parents[2]


def ecs_fields_csv() -> Path:
    """ECS's field list: ../shared/data/ecs/fields.csv, or LOGKIT_ECS_FIELDS."""
    p = Path(os.environ.get("LOGKIT_ECS_FIELDS", ROOT.parent / "shared" / "data" / "ecs" / "fields.csv"))
    if not p.exists():
        pytest.skip(f"ECS field list not found at {p}: set LOGKIT_ECS_FIELDS to elastic/ecs's "
                    f"generated/csv/fields.csv to run this check")
    return p


def test_every_ecs_field_has_ecs_type():
    ecs = {r["Field"]: r["Type"] for r in csv.DictReader(ecs_fields_csv().open())}
    checked = 0
    for f in schema.FIELDS.values():
        if f.ecs:
            assert f.name in ecs, f"{f.name} is marked ECS but ECS has no such field"
            assert f.type == ecs[f.name], f"{f.name}: logkit says {f.type}, ECS says {ecs[f.name]}"
            checked += 1
        else:
            assert f.name not in ecs, f"{f.name} exists in ECS: mark it ecs=True and use ECS's type"
    assert checked >= 35


def test_custom_fields_live_in_custom_namespaces():
    for f in schema.FIELDS.values():
        if not f.ecs:
            assert f.name.split(".")[0] in schema.CUSTOM_NAMESPACES, f.name


def test_event_types_name_only_known_fields():
    for e in schema.EVENT_TYPES.values():
        for n in (*e.required, *e.optional):
            assert n in schema.FIELDS, f"{e.action} names unknown field {n}"
        assert set(e.outcomes) <= set(schema.OUTCOMES)


def test_field_lookup_names_the_missing_field():
    with pytest.raises(KeyError, match="url.domian"):
        schema.field("url.domian")


def test_docs_schema_md_is_generated_from_the_module():
    assert (ROOT / "docs" / "schema.md").read_text() == schema_markdown(), \
        "docs/schema.md is stale: run `logkit schema --format markdown > docs/schema.md`"


def test_cli_prints_json_schema_and_table():
    r = CliRunner().invoke(main, ["schema", "--format", "json-schema"])
    assert r.exit_code == 0, r.output
    js = orjson.loads(r.output)
    assert js["required"] == list(schema.CORE_FIELDS)
    assert js["properties"]["event.outcome"]["enum"] == list(schema.OUTCOMES)
    assert js["properties"]["http.response.status_code"]["type"] == "integer"
    assert "page.fetched" in js["x-event-types"]
    r = CliRunner().invoke(main, ["schema"])
    assert r.exit_code == 0 and "url.domain" in r.output


def test_cli_schema_json_lists_fields_and_events():
    r = CliRunner().invoke(main, ["schema", "--format", "json"])
    data = orjson.loads(r.output)
    assert {f["name"] for f in data["fields"]} == set(schema.FIELDS)
    assert data["schema_version"] == schema.SCHEMA_VERSION
