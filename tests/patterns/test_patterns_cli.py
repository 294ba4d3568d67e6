"""`logkit patterns` over logkit logs and the DuckDB store: stable ids, new patterns, exceptions."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import orjson
from click.testing import CliRunner

from logkit.cli import main
from logkit.emit import Renderer

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "analyze")
R = Renderer("workers", "celery")


def at(day: int, hour: int) -> float:
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc).timestamp()


def write(path, events) -> str:
    with open(path, "wb") as f:
        for created, msg, etype in events:
            f.write(R.render(msg, "error", "app", created, {"error.type": etype, "error.message": msg}) + b"\n")
    return str(path)


def run(*args) -> list[dict]:
    r = CliRunner().invoke(main, ["patterns", "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return orjson.loads(r.output)


def test_patterns_of_logkit_logs():
    rows = run(FIX, "--top", "0")
    by = {(r["kind"], r["template"]): r for r in rows}
    assert by[("page.fetched", "Crawled (<*>) <GET <*>>")]["count"] == 3
    # exceptions are grouped by their type plus the message template
    assert by[("twisted.internet.error.TimeoutError", "User timeout caused connection failure: took <*> s.")][
        "count"] == 2
    assert sum(r["count"] for r in rows) == 17
    assert len({r["id"] for r in rows}) == len(rows)
    again = run(FIX, "--top", "0")
    assert [r["id"] for r in again] == [r["id"] for r in rows]  # ids are a function of the template


def test_ids_survive_a_widening_template_through_the_store(tmp_path):
    day1 = write(tmp_path / "day1.log", [(at(24, h), "cache miss for users", "CacheError") for h in range(1, 4)])
    day2 = write(tmp_path / "day2.log", [(at(25, h), f"cache miss for {t}", "CacheError")
                                         for h, t in enumerate(["orders", "items", "carts", "users", "baskets"], 1)])
    db = str(tmp_path / "store.duckdb")
    first = run(day1, "--db", db)
    assert [r["template"] for r in first] == ["cache miss for users"]
    widened = run(day2, "--db", db, "--since", "2026-11-25T00:00:00Z")
    assert [r["template"] for r in widened] == ["cache miss for <*>"]
    assert widened[0]["id"] == first[0]["id"], "the store keeps a pattern's id when its template widens"
    # without the store's memory, the widened template gets an id of its own
    fresh = run(day1, day2, "--since", "2026-11-25T00:00:00Z")
    assert fresh[0]["template"] == "cache miss for <*>" and fresh[0]["id"] != first[0]["id"]


def test_new_since_lists_only_patterns_that_did_not_exist_before(tmp_path):
    day1 = write(tmp_path / "day1.log", [(at(24, h), f"timeout after {h} s", "TimeoutError") for h in range(1, 6)])
    day2 = write(tmp_path / "day2.log", [(at(25, 3), "timeout after 9 s", "TimeoutError"),
                                         (at(25, 4), "disk quota exceeded on /srv/a", "OSError"),
                                         (at(25, 5), "disk quota exceeded on /srv/b", "OSError")])
    db = str(tmp_path / "s.duckdb")
    run(day1, day2, "--db", db)
    new = run("--db", db, "--new-since", "2026-11-25T00:00:00Z")
    assert [(r["kind"], r["template"], r["count"]) for r in new] == [("OSError", "disk quota exceeded on <*>", 2)]
    assert new[0]["new"] is True
    everything = run("--db", db, "--since", "2026-11-25T00:00:00Z")
    assert {r["kind"] for r in everything} == {"OSError", "TimeoutError"}


def test_text_mode_and_errors(tmp_path):
    f = tmp_path / "plain.txt"
    f.write_text("user 1 logged in\nuser 2 logged in\ndisk full\n")
    r = CliRunner().invoke(main, ["patterns", "--text", "--format", "json", str(f)])
    rows = orjson.loads(r.output)
    assert {(x["template"], x["count"]) for x in rows} == {("user <*> logged in", 2), ("disk full", 1)}
    empty = tmp_path / "empty.log"
    empty.write_text("")
    r = CliRunner().invoke(main, ["patterns", str(empty)])
    assert r.exit_code == 2 and "no event could be read" in r.output
