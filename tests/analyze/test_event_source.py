"""The DuckDB event source written once (analyze.store.event_source), as analyze, query, patterns,
alerts and metrics use it."""
import json

import duckdb
import pytest

from logkit.analyze import query
from logkit.analyze.store import NothingToRead, Store, event_source, open_store


def _events(path, n=3):
    path.write_text("".join(json.dumps({"@timestamp": f"2026-11-24T10:00:0{i}.000Z", "log.level": "info",
                                        "message": f"m{i}", "service": {"name": "web"}}) + "\n"
                            for i in range(n)))
    return str(path)


def test_inputs_into_memory(tmp_path):
    f = _events(tmp_path / "a.ndjson")
    with event_source([f]) as (store, loaded):
        assert store.path is None and store.event_count == 3 and loaded.events == 3


def test_nothing_readable_names_every_input(tmp_path):
    bad = tmp_path / "bad.ndjson"
    bad.write_text("not json\nnor this\n")
    with pytest.raises(NothingToRead) as e:
        with event_source([str(bad), str(tmp_path / "missing.ndjson")]):
            pass
    msg = str(e.value)
    assert msg.startswith("no event could be read") and "missing.ndjson" in msg and "2 bad line(s)" in msg


def test_missing_store_is_refused_not_created(tmp_path):
    db = tmp_path / "none.duckdb"
    with pytest.raises(NothingToRead, match="no such store"):
        with event_source(None, str(db)):
            pass
    assert not db.exists()
    with pytest.raises(NothingToRead, match="no such store"):
        query("SELECT 1", db=str(db))


def test_store_file_read_only_without_inputs(tmp_path):
    db = str(tmp_path / "s.duckdb")
    with event_source([_events(tmp_path / "a.ndjson")], db) as (store, _):
        assert store.event_count == 3
    with event_source(None, db) as (store, loaded):
        assert store.event_count == 3 and loaded.events == 0
        with pytest.raises(duckdb.Error):  # read-only: other readers may share the file
            store.con.execute("CREATE TABLE x (a INT)")
    with event_source(None, db, read_only=False) as (store, _):
        store.con.execute("CREATE TABLE x (a INT)")


def test_empty_store(tmp_path):
    db = str(tmp_path / "empty.duckdb")
    Store(db).close()
    with pytest.raises(NothingToRead, match=r"\(the store is empty\)"):
        with event_source(None, db):
            pass
    with event_source(None, db, require_events=False) as (store, _):
        assert store.event_count == 0
    assert query("SELECT count(*) FROM events", db=db) == (["count_star()"], [(0,)])


def test_a_given_store_stays_open(tmp_path):
    s = open_store(None)
    try:
        with event_source([_events(tmp_path / "a.ndjson")], s) as (store, _):
            assert store is s
        assert s.con.execute("SELECT count(*) FROM events").fetchone()[0] == 3
    finally:
        s.close()


def test_a_file_store_keeps_every_message(tmp_path):
    # slim/fields shape in-memory stores only: `alerts --db` loading files must not drop messages.
    db = str(tmp_path / "s.duckdb")
    with event_source([_events(tmp_path / "a.ndjson")], db, fields=["@timestamp"], slim=True) as (store, _):
        assert not store.slim and "message" in store.fields
        assert store.con.execute("SELECT count(message) FROM events").fetchone()[0] == 3
