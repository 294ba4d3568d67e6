"""`logkit query`: SQL over the events table, from files or a store, in every format."""
from __future__ import annotations

import json
import os

from click.testing import CliRunner

from logkit.analyze import load, query
from logkit.cli import main

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "analyze")


def test_query_files():
    cols, rows = query('SELECT "url.domain" AS d, count(*) AS n FROM events WHERE "url.domain" IS NOT NULL '
                       "GROUP BY 1 ORDER BY 2 DESC, 1", [FIX])
    assert cols == ["d", "n"] and rows == [("a.example", 13), ("b.example", 7), ("c.example", 5)]
    # every schema field is a column, not only the report's
    cols, rows = query('SELECT count(*) FROM events WHERE "django.route" = \'articles/<int:pk>/\'', [FIX])
    assert rows == [(2,)]


def test_query_db_read_only(tmp_path):
    db = str(tmp_path / "s.duckdb")
    load([FIX], db)
    _, rows = query('SELECT count(*) FROM events WHERE "celery.task.name" = \'crawl.fetch\'', db=db)
    assert rows == [(8,)]
    _, rows = query("SELECT reason, count FROM bad_input WHERE path LIKE '%bad.ndjson' ORDER BY reason", db=db)
    assert ("malformed JSON", 2) in rows


def test_query_cli_formats(tmp_path):
    r = CliRunner().invoke(main, ["query", 'SELECT "service.name" s, count(*) n FROM events GROUP BY 1 ORDER BY 1',
                                  FIX, "--format", "json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout) == [{"s": "spiders", "n": 26}, {"s": "web", "n": 4}, {"s": "workers", "n": 11}]
    for fmt in ("table", "csv", "markdown", "html"):
        r = CliRunner().invoke(main, ["query", "SELECT 1 AS x", FIX, "--format", fmt])
        assert r.exit_code == 0 and "x" in r.stdout
    r = CliRunner().invoke(main, ["query", "SELECT nope FROM events", FIX])
    assert r.exit_code == 2 and "query failed" in r.output
