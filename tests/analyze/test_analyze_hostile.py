"""Issue 14, reader side: hostile and broken input to the analyzer and the store.

Each class has a corpus test (tests/fixtures/adversarial/reader/, made by make_corpus.py there) and a
property-based test (hypothesis):

- @timestamp outside the sane range: counted as bad input with its reason, never stored, never a crash;
- directories: every file is read or named with the reason it was skipped;
- damaged .gz/.zst: every line decodable before the damage kept, the damage reported;
- idempotent loads: renames, compression, copies and kill -9 at any point double nothing;
- a store held by another process: a one-line exit 2.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zlib

import pytest
import zstandard
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from logkit.analyze import analyze, inputs as inp, load
from logkit.analyze.store import DUPLICATE, Store
from logkit.cli import main
from logkit import data

PACK = str(data.path("alerts"))
CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "adversarial", "reader")
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))


def ev(i: int, ts: str = "2026-11-24T10:00:00Z", eid: bool = True, **kw) -> bytes:
    o = {"@timestamp": ts, "message": f"m{i}", "event": {"action": "page.fetched"}, "service": {"name": "s"}}
    if eid:
        o["event"]["id"] = f"id-{i}"
    o.update(kw)
    return json.dumps(o).encode() + b"\n"


def bad_of(store) -> dict[tuple[str, str], tuple[int, list]]:
    return {(os.path.basename(p), r): (n, list(lines or [])) for p, r, n, lines in
            store.con.execute("SELECT path, reason, count, first_lines FROM bad_input").fetchall()}


# --- timestamps -------------------------------------------------------------------------------------
def test_timestamps_corpus_counted_never_stored(tmp_path):
    path = os.path.join(CORPUS, "timestamps.ndjson")
    expect = [json.loads(line)["expect"] for line in open(path, "rb")]
    lines_of = {k: [i + 1 for i, e in enumerate(expect) if e == k] for k in set(expect)}
    rep = analyze([path])  # in memory: no crash
    assert rep.sections["summary"].rows[0][0] == expect.count("event")
    assert len(rep.sections["timeline"].rows) <= 100  # a day of logs, not centuries of buckets
    bad = {r[1]: r[2] for r in rep.sections["bad_input"].rows}
    assert bad[inp.OUT_OF_RANGE] == expect.count("out of range")
    assert bad[inp.NO_TIMESTAMP] == expect.count("invalid")
    # through a store on disk, then a later analyze --db over it
    db = str(tmp_path / "s.duckdb")
    r = load([path], db)
    f = r.files[0]
    assert f.events == expect.count("event")
    assert f.bad.first[inp.OUT_OF_RANGE] == lines_of["out of range"][:inp.FIRST_LINES]
    r = CliRunner().invoke(main, ["analyze", "--db", db, "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["sections"]["summary"][0]["events"] == expect.count("event")
    with Store(db, read_only=True) as s:
        lo, hi = s.con.execute('SELECT min("@timestamp"), max("@timestamp") FROM events').fetchone()
        assert inp.TS_MIN <= lo and hi < inp.TS_MAX


def test_a_store_holding_out_of_range_times_still_reads(tmp_path):
    # a store loaded by an older logkit: rows dated year 10000 and 2 BC already inside
    db = str(tmp_path / "old.duckdb")
    log = tmp_path / "a.ndjson"
    log.write_bytes(ev(1) + ev(2))
    load([str(log)], db)
    import duckdb
    con = duckdb.connect(db)
    con.execute("""INSERT INTO events ("@timestamp", "message", _file_id) VALUES
                   ('10000-01-01 00:00:00+00', 'future', 1), ('0002-01-01 (BC) 00:00:00+00', 'past', 1)""")
    con.close()
    r = CliRunner().invoke(main, ["analyze", "--db", db, "--format", "json"])  # read-only: hidden
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["sections"]["summary"][0]["events"] == 2
    log2 = tmp_path / "b.ndjson"
    log2.write_bytes(ev(3))
    load([str(log2)], db)  # writable: moved to bad_input
    with Store(db, read_only=True) as s:
        assert s.event_count == 3
        assert bad_of(s)[("a.ndjson", inp.OUT_OF_RANGE)][0] == 2


_years = st.one_of(st.integers(-300000, 300000), st.integers(1960, 2110))
_ts = st.one_of(
    st.builds(lambda y, mo, da, h, off: f"{y:04d}-{mo:02d}-{da:02d}T{h:02d}:00:00{off}",
              _years, st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
              st.sampled_from(["Z", "", "+00:00", "-14:00", "+25:00", "+05:30", " Europe/Paris", "z"])),
    st.sampled_from(["infinity", "-infinity", "epoch", "now", "", "NaN"]),
    st.text(max_size=30),
    st.integers(), st.floats(allow_nan=True), st.none(),
)


@SETTINGS
@given(st.lists(_ts, min_size=1, max_size=12))
def test_property_any_timestamp_is_an_event_in_range_or_a_counted_bad_line(stamps):
    data = ev(0) + b"".join(ev(i + 1, ts) for i, ts in enumerate(stamps))
    with Store() as s:
        import tempfile
        with tempfile.NamedTemporaryFile(suffix=".ndjson") as f:
            f.write(data)
            f.flush()
            r = s.load([f.name])
        fr = r.files[0]
        assert fr.events + sum(fr.bad.counts.values()) == len(stamps) + 1
        lo, hi = s.con.execute('SELECT min("@timestamp"), max("@timestamp") FROM events').fetchone()
        assert inp.TS_MIN <= lo and hi < inp.TS_MAX  # fetchable by Python: no year 10000 inside
        from logkit.analyze.report import build
        from logkit.analyze import queries as Q
        rep = build(s, Q.Filters(None, None, (), ()))
        assert len(rep.sections["timeline"].rows) <= 130


# --- directories --------------------------------------------------------------------------------------
def test_rotated_directory_corpus(tmp_path):
    d = tmp_path / "logs"
    shutil.copytree(os.path.join(CORPUS, "rotated"), d)
    os.mkfifo(d / "pipe.log")                       # would block a reader forever
    os.symlink(d / "gone.log", d / "dangling.log")  # unreadable
    os.mkdir(d / ".git")
    os.symlink(tmp_path, d / "loop")                # a directory link (here: a loop)
    with Store() as s:
        r = s.load([str(d)])
        read = sorted(os.path.basename(f.path) for f in r.files)
        assert read == ["app.log", "app.log.1", "app.log.1.gz", "app.log.2.gz", "app.log.2026-11-23"]
        named = {os.path.basename(k): v for k, v in r.errors.items()}
        assert named["notes.md"].startswith(inp.SKIPPED) and named["chart.png"].startswith(inp.SKIPPED)
        assert named[".hidden.log"] == f"{inp.SKIPPED}: hidden file"
        assert named[".git"] == f"{inp.SKIPPED}: hidden directory"
        assert "not a regular file" in named["pipe.log"]
        assert named["dangling.log"].startswith(inp.UNREADABLE)
        assert "symbolic link to a directory" in named["loop"]
        # app.log.1.gz holds app.log.1's events: stored once
        assert s.event_count == 40
        assert sum(f.duplicates for f in r.files) == 10


def test_unreadable_directory_is_named(tmp_path):
    if os.geteuid() == 0:
        # root reads any directory; a directory that vanishes between listing and reading is the
        # same onerror path of os.walk
        d = tmp_path / "logs"
        (d / "sub").mkdir(parents=True)
        (d / "a.log").write_bytes(ev(1))
        errors: dict[str, str] = {}
        srcs = []
        real_scandir = os.scandir

        def vanish(path):  # the sub-directory disappears after the top level was listed
            if str(path).endswith("sub"):
                shutil.rmtree(path)
            return real_scandir(path)
        os.scandir = vanish
        try:
            inp._walk(str(d), lambda p: srcs.append(p) or True, errors)
        finally:
            os.scandir = real_scandir
    else:
        d = tmp_path / "logs"
        (d / "sub").mkdir(parents=True)
        (d / "a.log").write_bytes(ev(1))
        os.chmod(d / "sub", 0)
        errors, srcs = {}, []
        inp._walk(str(d), lambda p: srcs.append(p) or True, errors)
        os.chmod(d / "sub", 0o755)
    assert [os.path.basename(p) for p in srcs] == ["a.log"]
    assert any(k.endswith("sub") and v.startswith(f"{inp.UNREADABLE} directory") for k, v in errors.items()), errors


_name = st.builds(lambda base, ext, rot, comp: base + ext + rot + comp,
                  st.sampled_from(["app", "web", "x", "my.service", "-", "a b"]),
                  st.sampled_from(["", ".log", ".ndjson", ".jsonl", ".json", ".txt", ".md", ".png", ".csv", ".LOG"]),
                  st.sampled_from(["", ".1", ".12", ".2026-11-23", "-20261123", ".2026-11-23_10-00-00", ".old"]),
                  st.sampled_from(["", ".gz", ".zst", ".zstd", ".bz2"]))


@SETTINGS
@given(st.sets(_name, min_size=1, max_size=12))
def test_property_every_file_in_a_directory_is_read_or_named(names):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for n in names:
            with open(os.path.join(d, n), "wb") as f:
                f.write(ev(1))
        srcs, errors = inp.expand([d])
        read = {os.path.basename(s.path) for s in srcs}
        named = {os.path.basename(k) for k in errors}
        assert read | named >= set(names) and not (read & named)
        for n in names:  # a rotated log name is always read
            if n.startswith(("app.log", "web.ndjson")) and not n.endswith((".old", ".bz2", ".old.gz", ".old.zst")) \
                    and ".old" not in n and ".bz2" not in n:
                assert n in read, n


# --- damaged compressed streams ---------------------------------------------------------------------
def test_damaged_corpus_keeps_every_line_before_the_damage():
    expected = json.load(open(os.path.join(CORPUS, "damaged", "expected.json")))
    for fn, e in sorted(expected.items()):
        with Store() as s:
            r = s.load([os.path.join(CORPUS, "damaged", fn)])
            fr = r.files[0]
            assert fr.events >= e["lines_before_damage"], (fn, fr.events, fr.bad.counts)
            reasons = list(fr.bad.counts)
            if fn.startswith("cut"):
                assert inp.TRUNCATED in reasons, (fn, reasons)
            elif fr.events < e["total_lines"]:
                assert any(r.startswith((inp.DAMAGED, inp.TRUNCATED)) for r in reasons), (fn, reasons)
            damage = [r for r in reasons if r.startswith(inp.DAMAGED)]
            for r in damage:  # names the byte offset, at or after where the damage starts
                off = int(r.split(" at byte ")[1].split()[0])
                assert off >= e["damage_offset"] - 1, (fn, r)


def _lines(n: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    return b"".join(ev(i, f"2026-11-24T10:{i // 60 % 60:02d}:{i % 60:02d}Z", msg=str(rnd.random()) * rnd.randint(1, 9))
                    for i in range(n))


def _decodable_before(comp: str, c: bytes, pos: int) -> int:
    """Complete lines a fresh decoder gives from the first ``pos`` bytes (the reference)."""
    if comp == "gzip":
        return zlib.decompressobj(wbits=31).decompress(c[:pos]).count(b"\n")
    d = zstandard.ZstdDecompressor().decompressobj()
    out = []
    for i in range(0, pos, 1024):
        try:
            out.append(d.decompress(c[i:min(pos, i + 1024)]))
        except zstandard.ZstdError:
            break
    return b"".join(out).count(b"\n")


@pytest.mark.parametrize("comp", ["gzip", "zstd"])
def test_damage_at_several_points(tmp_path, comp):
    data = _lines(3000, 1)
    c = gzip.compress(data) if comp == "gzip" else zstandard.ZstdCompressor(level=1).compress(data)
    for frac in (0.05, 0.3, 0.6, 0.95):
        pos = int(len(c) * frac)
        for kind in ("cut", "corrupt"):
            blob = c[:pos] if kind == "cut" else c[:pos] + bytes(b ^ 0xFF for b in c[pos:pos + 16]) + c[pos + 16:]
            p = tmp_path / f"{kind}-{frac}.ndjson.{'gz' if comp == 'gzip' else 'zst'}"
            p.write_bytes(blob)
            with Store() as s:
                fr = s.load([str(p)]).files[0]
            assert fr.status == "loaded"
            assert fr.events >= _decodable_before(comp, c, pos), (kind, frac, fr.events, fr.bad.counts)
            if fr.events < 3000:
                assert fr.bad.counts, (kind, frac)


@SETTINGS
@given(st.sampled_from(["gzip", "zstd"]), st.floats(0.0, 1.0), st.integers(0, 64), st.integers(0, 2**32))
def test_property_damaged_stream_keeps_the_decodable_prefix(comp, frac, length, seed):
    import tempfile
    data = _lines(600, seed % 1000)
    c = gzip.compress(data) if comp == "gzip" else zstandard.ZstdCompressor(level=1).compress(data)
    pos = int(len(c) * frac)
    blob = c[:pos] if length == 0 else c[:pos] + bytes(b ^ 0x5A for b in c[pos:pos + length]) + c[pos + length:]
    with tempfile.NamedTemporaryFile(suffix=".gz" if comp == "gzip" else ".zst") as f:
        f.write(blob)
        f.flush()
        with Store() as s:
            r = s.load([f.name])
    if not r.files:  # an empty file of zero bytes is still a file
        pytest.fail(f"no result for {r.errors}")
    fr = r.files[0]
    if fr.status == "error":
        pytest.fail(fr.error)
    assert fr.events >= _decodable_before(comp, c, pos)
    if fr.events < 600 and pos > 0:
        assert fr.bad.counts


# --- idempotent loads ---------------------------------------------------------------------------------
def test_rotate_compress_copy_rename_never_double(tmp_path):
    db = str(tmp_path / "s.duckdb")
    d = tmp_path / "logs"
    d.mkdir()
    (d / "app.log").write_bytes(b"".join(ev(i) for i in range(300)) + b"".join(ev(i, eid=False) for i in range(300, 318)))
    assert load([str(d)], db).events == 318
    os.rename(d / "app.log", d / "app.log.1")                       # rotate
    (d / "app.log").write_bytes(ev(1000) + ev(1001))
    assert load([str(d)], db).events == 2
    (d / "app.log.1.gz").write_bytes(gzip.compress((d / "app.log.1").read_bytes()))  # compress
    os.unlink(d / "app.log.1")
    r = load([str(d)], db)
    assert r.events == 0 and sum(f.duplicates for f in r.files) == 318
    shutil.copy(d / "app.log.1.gz", tmp_path / "elsewhere.ndjson.gz")  # a plain copy
    shutil.copy(d / "app.log", tmp_path / "copy.ndjson")
    assert load([str(tmp_path / "elsewhere.ndjson.gz"), str(tmp_path / "copy.ndjson")], db).events == 0
    with Store(db, read_only=True) as s:
        assert s.event_count == 320
        assert s.con.execute('SELECT count(DISTINCT "event.id") FROM events').fetchone()[0] == 302
        assert bad_of(s)[("app.log.1.gz", DUPLICATE)][0] == 318
    # two identical lines inside one file are two events (a file is never deduplicated against itself)
    (tmp_path / "twice.ndjson").write_bytes(ev(5000, eid=False) * 2)
    assert load([str(tmp_path / "twice.ndjson")], db).events == 2


_LOADER = """
import sys
from logkit.analyze import load
load(sys.argv[2:], sys.argv[1])
"""


def test_kill_9_at_any_point_of_a_load_doubles_nothing(tmp_path):
    """A real `logkit load` process killed with SIGKILL at several points, then loaded again."""
    d = tmp_path / "logs"
    d.mkdir()
    n_id, n_plain = 40_000, 2_000
    with open(d / "app.log", "wb") as f:
        for k in range(0, n_id, 1000):
            f.write(b"".join(ev(i, f"2026-11-24T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z")
                             for i in range(k, k + 1000)))
        f.write(b'{"message": "no time"}\n')  # sends the file through the timestamp scan
        f.write(b"".join(ev(i, "2026-11-25T00:00:00Z", eid=False) for i in range(n_plain)))
    (d / "app.log.1.gz").write_bytes(gzip.compress((d / "app.log").read_bytes(), compresslevel=1))
    (d / "b.log").write_bytes(b"".join(ev(100_000 + i) for i in range(500)))
    total = n_id + n_plain + 500
    db = str(tmp_path / "s.duckdb")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    hit_running = 0
    for delay in (0.3, 0.8, 1.5, 2.5, 4.0, 6.0):
        p = subprocess.Popen([sys.executable, "-c", _LOADER, db, str(d)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(delay)
        except subprocess.TimeoutExpired:
            hit_running += 1
            p.send_signal(signal.SIGKILL)
            p.wait(30)
        if not os.path.exists(db):  # killed before the store was created
            continue
        with Store(db, read_only=True) as s:  # whatever was committed is whole
            if not s.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events'").fetchone()[0]:
                continue  # killed after the file was made, before its first table
            stored, distinct = s.con.execute(
                'SELECT count(*), count(DISTINCT coalesce("event.id", _hash)) FROM events').fetchone()
            assert stored == distinct
    assert hit_running >= 2  # the kills landed inside loads, not after them
    r = load([str(d)], db)
    assert all(f.status in ("loaded", "unchanged") for f in r.files)
    with Store(db, read_only=True) as s:
        stored, distinct = s.con.execute(
            'SELECT count(*), count(DISTINCT coalesce("event.id", _hash)) FROM events').fetchone()
        assert stored == distinct == total
    assert load([str(d)], db).events == 0


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(["new", "append", "copy", "gzip", "zstd", "rename", "load"]), min_size=2, max_size=8))
def test_property_operations_never_double(ops):
    import tempfile
    with tempfile.TemporaryDirectory() as t:
        d = os.path.join(t, "logs")
        os.mkdir(d)
        db = os.path.join(t, "s.duckdb")
        ids = iter(range(10**6))
        written: set[str] = set()
        k = 0

        def lines(n: int) -> bytes:
            out = []
            for _ in range(n):
                i = next(ids)
                eid = i % 5 != 0
                written.add(f"id-{i}" if eid else f"m{i}")
                out.append(ev(i, f"2026-11-24T10:00:{i % 60:02d}Z", eid=eid))
            return b"".join(out)

        for op in ops:
            files = sorted(f for f in os.listdir(d) if not f.endswith((".gz", ".zst")))
            k += 1
            if op == "new" or not files:
                with open(os.path.join(d, f"f{k}.log"), "wb") as f:
                    f.write(lines(7))
            elif op == "append":
                with open(os.path.join(d, files[0]), "ab") as f:
                    f.write(lines(3))
            elif op == "copy":
                shutil.copy(os.path.join(d, files[0]), os.path.join(d, f"copy{k}.log"))
            elif op in ("gzip", "zstd"):
                src = os.path.join(d, files[-1])
                data = open(src, "rb").read()
                comp = gzip.compress(data) if op == "gzip" else zstandard.ZstdCompressor().compress(data)
                open(src + (".gz" if op == "gzip" else ".zst"), "wb").write(comp)
                os.unlink(src)
            elif op == "rename":
                os.rename(os.path.join(d, files[0]), os.path.join(d, files[0] + f".{k}"))
            else:
                load([d], db)
        load([d], db)
        with Store(db, read_only=True) as s:
            keys = s.con.execute('SELECT coalesce("event.id", message) FROM events').fetchall()
        assert len(keys) == len(set(keys)) == len(written)


# --- a store held by another process ------------------------------------------------------------------
_HOLDER = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


def test_locked_store_is_a_one_line_exit_2(tmp_path):
    db = str(tmp_path / "s.duckdb")
    log = tmp_path / "a.ndjson"
    log.write_bytes(ev(1))
    load([str(log)], db)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, db], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for args in (["load", "--db", db, str(log)], ["analyze", "--db", db], ["query", "SELECT 1", "--db", db],
                     ["patterns", "--db", db],
                     ["alerts", "check", os.path.join(PACK, "default.yml"), "--db", db, "--no-deliver"]):
            r = CliRunner().invoke(main, args)
            assert r.exit_code == 2, (args, r.output)
            msg = r.output.strip()
            assert "\n" not in msg and "in use by process" in msg and str(holder.pid) in msg, (args, msg)
            assert "Traceback" not in msg
    finally:
        holder.kill()
        holder.wait()
