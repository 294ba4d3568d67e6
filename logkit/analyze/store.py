"""The DuckDB store: an ``events`` table with typed, flat columns named like the schema fields,
loaded incrementally from files.

Tables (``logkit query`` sees them all):

- ``events`` — one row per event: ``"@timestamp"`` (TIMESTAMPTZ), then one typed column per field
  (``"url.domain"``, ``"http.response.status_code"``...; see columns.py), and ``_file_id``.
- ``files`` — what has been loaded from which file: identity (device, inode and a hash of the first
  bytes, up to 4 KiB), the byte offset loaded so far, its line shape and compression. Loading the
  same file twice adds nothing; a grown file adds only its new bytes; a file replaced at the same
  path (rotation) is a new file.
- ``bad_input`` — per file and reason, how many lines could not be used and the first line numbers.

Each file's events, its ``files`` row and its ``bad_input`` counts are written in one transaction
(a load killed at any point leaves the store as before that file). An event another file already
gave — same ``event.id`` at the same ``@timestamp``, or for lines without an id the same content
hash (``_hash``) at the same time — is removed by an anti-join before the commit: renames, copies
and compressed rotations (``app.log.1`` → ``app.log.1.gz``) store nothing twice.
Times outside 1970..2099 (inputs.TS_MIN/TS_MAX) are counted as bad input, never stored.

Loading one file: DuckDB reads it (``read_ndjson`` with explicit column types: the fast path).
Only when DuckDB refuses the file (malformed JSON, non-UTF-8 bytes, a cut gzip stream, a value of
the wrong type) does the slow path run: Python reads the lines, counts the bad ones by reason, and
DuckDB loads the good ones from a clean copy. So the common case pays nothing for bad-line
accounting, and no bad line is lost silently. Events without a usable ``@timestamp`` are counted from
the loaded rows and then removed (a figure needs a time).

``.zst`` files are always decompressed by Python first: DuckDB reads a cut zstd stream as if it
were complete, which would lose data silently.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import duckdb

from . import inputs as inp
from .queries import REPORT_FIELDS
from .columns import ALL_FIELDS, col, columns_sql, duck_type, field_expr, select_list

TS = col("@timestamp")
EVENT_ID = "event.id"


@dataclass
class FileResult:
    path: str
    status: str            # loaded | unchanged | error
    events: int = 0
    format: str = ""
    compression: str = ""
    bad: inp.BadLines = field(default_factory=inp.BadLines)
    error: str = ""
    #: Events not stored because another file already gave them (same ``event.id``, or the same
    #: content for events without one); also counted in ``bad`` under :data:`DUPLICATE`.
    duplicates: int = 0


#: Reason (in ``bad_input``) for events another loaded file already holds.
DUPLICATE = "already read from another file (same event.id and @timestamp, or same content)"


@dataclass
class LoadResult:
    files: list[FileResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)   # inputs that named nothing readable

    @property
    def events(self) -> int:
        return sum(f.events for f in self.files)

    @property
    def bad_lines(self) -> int:
        return sum(sum(f.bad.counts.values()) for f in self.files)


class NothingToRead(Exception):
    """No input could be read (and the store holds no events): exit code 2."""


class StoreLocked(NothingToRead):
    """Another process holds the store (DuckDB allows one writer process, or readers only).

    A subclass of :class:`NothingToRead`, so every command that reports an unreadable input with
    exit code 2 reports this the same way, in one line."""


_PID = re.compile(r"\(PID (\d+)\)")


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.Error as e:
        msg = str(e)
        if "lock" in msg.lower() or "different configuration" in msg:
            m = _PID.search(msg)
            who = f"process {m.group(1)}" if m else "another process"
            raise StoreLocked(f"the store {path} is in use by {who} (a load or another command); "
                              "try again when it is done") from None
        raise


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class Store:
    """A DuckDB database holding events. ``path=None``: in memory (compressed), for one analysis.

    ``fields``: the columns of the events table; a file store keeps every schema field (``logkit
    query`` over it sees them all), an in-memory one only what the report reads (faster to load).
    """

    def __init__(self, path: str | None = None, *, fields: Sequence[str] | None = None,
                 memory_limit: str | None = None, threads: int | None = None, read_only: bool = False,
                 slim: bool | None = None):
        self.path = path
        #: Keep ``message`` only on failures and critical events (default: for in-memory report stores).
        self.slim = (path is None and fields is None) if slim is None else slim
        self._tmp = tempfile.mkdtemp(prefix="logkit-analyze-")
        if path:
            try:
                self.con = _connect(path, read_only)
            except BaseException:
                shutil.rmtree(self._tmp, ignore_errors=True)
                raise
        else:
            self.con = duckdb.connect()
            # Compressed in-memory tables: 10M events in a few hundred MB instead of several GB.
            try:
                self.con.execute("ATTACH ':memory:' AS lk (COMPRESS)")
                self.con.execute("USE lk")
            except duckdb.Error:  # DuckDB < 1.2 has no COMPRESS option: uncompressed, same results
                pass
        c = self.con
        c.execute("SET TimeZone = 'UTC'")
        c.execute("SET preserve_insertion_order = false")
        c.execute(f"SET temp_directory = {_quote(self._tmp)}")
        if memory_limit:
            c.execute(f"SET memory_limit = {_quote(memory_limit)}")
        if threads:
            c.execute(f"SET threads = {int(threads)}")
        try:
            self._open(fields, read_only)
        except BaseException:
            self.close()
            raise

    def _open(self, fields, read_only: bool) -> None:
        c = self.con
        existing = self._columns("events")
        if existing:
            self.fields = tuple(n for n in (fields or ALL_FIELDS) if n in existing) \
                if fields else tuple(n for n in ALL_FIELDS if n in existing)
            if not read_only:
                missing = [n for n in (fields or ()) if n not in existing]
                for n in missing:  # a store made by an older logkit: add the new columns
                    c.execute(f"ALTER TABLE events ADD COLUMN {col(n)} {duck_type(n)}")
                self.fields = self.fields + tuple(missing)
                if "_hash" not in existing:  # made before loads were deduplicated
                    c.execute("ALTER TABLE events ADD COLUMN _hash VARCHAR")
            self._guard_range(read_only)
        else:
            self.fields = tuple(fields or (ALL_FIELDS if self.path else REPORT_FIELDS))
            if EVENT_ID not in self.fields:
                self.fields += (EVENT_ID,)  # duplicates across files are found by event.id
            if TS.strip('"') not in self.fields:
                raise ValueError("the events table needs @timestamp")
            if not read_only:
                self._create()

    def _guard_range(self, read_only: bool) -> None:
        """A store loaded by an older logkit may hold times outside the sane range (year 10000,
        negative years), which Python cannot represent: every report over it would fail. Writable:
        move them to ``bad_input``. Read-only: hide them behind a temporary view of the same name."""
        bad = f"({TS} < {inp.TS_MIN_SQL} OR {TS} >= {inp.TS_MAX_SQL})"
        try:
            n = self.con.execute(f"SELECT count(*) FROM events WHERE {bad}").fetchone()[0]
        except duckdb.Error:
            return
        if not n:
            return
        if read_only:
            db = self.con.execute("SELECT current_database()").fetchone()[0]
            self.con.execute(f"CREATE TEMP VIEW events AS SELECT * FROM {_ident(db)}.main.events WHERE NOT {bad}")
            return
        self.con.execute("BEGIN TRANSACTION")
        try:
            for fid, path, k in self.con.execute(
                    f"SELECT e._file_id, any_value(f.path), count(*) FROM events e LEFT JOIN files f "
                    f"ON f.file_id = e._file_id WHERE {bad} GROUP BY 1").fetchall():
                self._add_bad(fid, path or "", inp.OUT_OF_RANGE, k, [])
                self.con.execute('UPDATE files SET events = events - ? WHERE file_id = ?', [k, fid])
            self.con.execute(f"DELETE FROM events WHERE {bad}")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    # --- schema ----------------------------------------------------------------------------
    def _columns(self, table: str) -> list[str]:
        try:
            return [r[0] for r in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND table_catalog = current_database() ORDER BY ordinal_position", [table]).fetchall()]
        except duckdb.Error:
            return []

    def _create(self) -> None:
        cols = ", ".join(f"{col(n)} {duck_type(n)}" for n in self.fields)
        # _hash: a content hash, only for events without an event.id (finds the same line read
        # from two files: a copy, a compressed rotation).
        self.con.execute(f"CREATE TABLE IF NOT EXISTS events ({cols}, _file_id INTEGER, _hash VARCHAR)")
        self.con.execute("""CREATE TABLE IF NOT EXISTS files (
            file_id INTEGER PRIMARY KEY, path VARCHAR, dev UBIGINT, ino UBIGINT, head_len INTEGER,
            head_hash VARCHAR, compression VARCHAR, format VARCHAR, size BIGINT, "offset" BIGINT,
            events BIGINT, first_loaded TIMESTAMPTZ, last_loaded TIMESTAMPTZ)""")
        self.con.execute("""CREATE TABLE IF NOT EXISTS bad_input (
            file_id INTEGER, path VARCHAR, reason VARCHAR, count BIGINT, first_lines INTEGER[])""")

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def event_count(self) -> int:
        return self.con.execute("SELECT count(*) FROM events").fetchone()[0]

    # --- loading ---------------------------------------------------------------------------
    def load(self, paths: Sequence[str], *, progress: bool = False, stdin=None) -> LoadResult:
        """Append the events of ``paths`` (files, globs, directories, ``-``) not loaded before."""
        sources, errors = inp.expand(list(paths), stdin=stdin, tmpdir=self._tmp)
        result = LoadResult(errors=dict(errors))
        bar = _Progress(self.con, sources) if progress else None
        try:
            for src in sources:
                if bar:
                    bar.start(src)
                try:
                    fr = self._load_source(src)
                except OSError as e:
                    fr = FileResult(src.path, "error", error=f"{inp.UNREADABLE}: {e.strerror or e}")
                except duckdb.Error as e:  # should not happen: the slow path absorbs bad input
                    fr = FileResult(src.path, "error", error=f"could not load: {str(e).splitlines()[0]}")
                result.files.append(fr)
                if fr.status == "error":
                    result.errors[src.path] = fr.error
                if bar:
                    bar.done(src)
                if src.stdin:
                    try:
                        os.unlink(src.real)
                    except OSError:
                        pass
        finally:
            if bar:
                bar.close()
                #: the largest within-file fraction the bar showed (a single big file moves it)
                self.progress_within_file = bar.partial
        if self.path:
            self.con.execute("CHECKPOINT")
        return result

    def _find_prior(self, src: inp.Source, ident: inp.Identity):
        rows = self.con.execute(
            'SELECT file_id, head_len, head_hash, "offset", size FROM files WHERE dev = ? AND ino = ? '
            "ORDER BY file_id DESC", [ident.dev, ident.ino]).fetchall()
        for fid, head_len, head_hash, offset, size in rows:
            if src.stdin:
                if head_hash == ident.head_hash:
                    return fid, offset
                continue
            if head_len == ident.head_len and head_hash == ident.head_hash or \
                    inp.head_hash(src.real, head_len) == head_hash:
                return fid, offset
        return None

    def _load_source(self, src: inp.Source) -> FileResult:
        ident = inp.identity(src.real)
        if src.stdin:  # a spooled copy: its identity is its content
            import hashlib
            h = hashlib.sha256()
            with open(src.real, "rb") as f:
                for b in iter(lambda: f.read(2**20), b""):
                    h.update(b)
            ident = inp.Identity(0, 0, ident.size, -1, h.hexdigest())
        prior = self._find_prior(src, ident)
        start = 0
        if prior is not None:
            fid, offset = prior
            if ident.size == offset:
                return FileResult(src.path, "unchanged", compression=src.compression)
            if ident.size > offset:
                start = offset
            else:  # shrank: truncated and rewritten in place; a new file for us
                prior = None
        if prior is None:
            fid = self.con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchone()[0]
        fmt = inp.sniff(src.real, src.compression, start if src.compression == "none" else 0)
        fr = FileResult(src.path, "loaded", format=fmt, compression=src.compression)
        end = ident.size
        line_base = 0 if start == 0 else None  # computed only when a line number is needed

        def base() -> int:
            nonlocal line_base
            if line_base is None:
                line_base = inp.count_newlines(src.real, start) if src.compression == "none" else 0
            return line_base

        direct = start == 0 and src.compression in ("none", "gzip") and not src.stdin \
            and _ends_with_newline(src.real, src.compression, ident.size)
        if direct:
            target, comp = _safe_path(src.real, self._tmp), src.compression
        else:
            # A byte range (new bytes of a grown file, a file cut mid-line, a zstd stream):
            # materialise it first, so DuckDB reads exactly that.
            target, comp = os.path.join(self._tmp, f"part-{fid}.ndjson"), "none"
            with open(target, "wb") as out:
                if src.compression == "none":
                    end = _copy_complete_lines(src.real, start, ident.size, out)
                else:
                    n, cut = inp.decompress_to(src.real, src.compression, start, out)
                    if cut:
                        fr.bad.add(cut, None)
        # Everything a file adds — its events, its row in `files`, its bad-input counts — is one
        # transaction: a load killed at any point leaves the store as it was before this file, so
        # the next load neither misses nor doubles anything.
        self.con.execute("BEGIN TRANSACTION")
        try:
            try:
                n = self._insert(target, comp, fid, fmt, strict=True)
                if direct and os.stat(src.real).st_size != ident.size:
                    # The file grew while DuckDB read it: we cannot tell where it stopped. Redo from
                    # a snapshot of the bytes we measured.
                    raise _Redo()
            except (duckdb.Error, _Redo):
                self.con.execute("ROLLBACK")
                self.con.execute("BEGIN TRANSACTION")
                clean = os.path.join(self._tmp, f"clean-{fid}.ndjson")
                with open(clean, "wb") as out:
                    if direct and src.compression == "none":
                        snap = os.path.join(self._tmp, f"snap-{fid}.ndjson")
                        with open(snap, "wb") as so:
                            end = _copy_complete_lines(src.real, 0, ident.size, so)
                        res = inp.scan(snap, "none", clean=out)
                        os.unlink(snap)
                    elif direct:
                        res = inp.scan(src.real, src.compression, clean=out)
                    else:
                        res = inp.scan(target, "none", clean=out, line_base=base())
                fr.bad.merge(res.bad)
                n = self._insert(clean, "none", fid, fmt, strict=False) if res.good else 0
                os.unlink(clean)
                ts_lines = res.ts_lines
            else:
                ts_lines = None
            dropped, lo, hi = self._drop_bad_times(src, fid, fr, ts_lines, direct)
            n -= dropped
            fr.duplicates = self._drop_duplicates(fid, lo, hi)
            if fr.duplicates:
                fr.bad.add(DUPLICATE, None, fr.duplicates)
            n -= fr.duplicates
            fr.events = n
            offset = ident.size if src.compression != "none" else end
            now = "now()"
            if prior is None:
                self.con.execute(
                    f"INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {now}, {now})",
                    [fid, src.path, ident.dev, ident.ino, ident.head_len, ident.head_hash, src.compression,
                     fmt, ident.size, offset, n])
            else:
                self.con.execute(
                    f'UPDATE files SET path = ?, size = ?, "offset" = ?, events = events + ?, '
                    f"head_len = ?, head_hash = ?, last_loaded = {now} WHERE file_id = ?",
                    [src.path, ident.size, offset, n, ident.head_len, ident.head_hash, fid])
            for reason, count in fr.bad.counts.items():
                self._add_bad(fid, src.path, reason, count, fr.bad.first.get(reason, []))
            self.con.execute("COMMIT")
        except BaseException:
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        finally:
            if not direct:
                try:
                    os.unlink(target)
                except OSError:
                    pass
        return fr

    def _drop_bad_times(self, src: inp.Source, fid: int, fr: FileResult, ts_lines, direct: bool):
        """Count and remove this file's events without a usable time: missing or unparsable
        (NULL), or outside the sane range (:data:`inputs.TS_MIN`, :data:`inputs.TS_MAX`).
        Returns (events removed, first and last time of the events kept)."""
        bad = f"({TS} < {inp.TS_MIN_SQL} OR {TS} >= {inp.TS_MAX_SQL})"
        missing, out, lo, hi = self.con.execute(
            f"SELECT count(*) FILTER (WHERE {TS} IS NULL), count(*) FILTER (WHERE {bad}), "
            f"min({TS}) FILTER (WHERE NOT {bad}), max({TS}) FILTER (WHERE NOT {bad}) "
            f"FROM events WHERE _file_id = ?", [fid]).fetchone()
        if not (missing or out):
            return 0, lo, hi
        self.con.execute(f"DELETE FROM events WHERE _file_id = ? AND ({TS} IS NULL OR {bad})", [fid])
        if ts_lines is None:
            ts_lines = inp.scan(src.real, src.compression, ts_only=True,
                                ts_want={inp.NO_TIMESTAMP: missing, inp.OUT_OF_RANGE: out}).ts_lines \
                if direct else {}
        for reason, k in ((inp.NO_TIMESTAMP, missing), (inp.OUT_OF_RANGE, out)):
            if k:
                fr.bad.add(reason, None, k)
                fr.bad.first[reason] = list(ts_lines.get(reason, []))[:inp.FIRST_LINES]
        return missing + out, lo, hi

    def _drop_duplicates(self, fid: int, lo, hi) -> int:
        """Remove this file's events another file already gave: same ``event.id`` at the same time
        (or, without an id, the same content hash at the same time). Within one file nothing is
        removed: two identical lines there are two events.

        An anti-join in SQL, restricted to this file's time range [lo, hi], so the zone maps of the
        ``@timestamp`` column skip every row group of other times: no per-row Python."""
        if lo is None:
            return 0

        def key(t: str) -> str:
            return f"coalesce({t}.{col(EVENT_ID)}, {t}._hash)" if EVENT_ID in self.fields else f"{t}._hash"
        return self.con.execute(
            f"DELETE FROM events AS e WHERE e._file_id = ? AND e.{TS} BETWEEN ? AND ? AND EXISTS ("
            f"SELECT 1 FROM events AS o WHERE o._file_id <> ? AND o.{TS} BETWEEN ? AND ? "
            f"AND o.{TS} = e.{TS} AND {key('o')} = {key('e')})",
            [fid, lo, hi, fid, lo, hi]).fetchone()[0]

    def _add_bad(self, fid: int, path: str, reason: str, count: int, lines: list[int]) -> None:
        row = self.con.execute("SELECT count, first_lines FROM bad_input WHERE file_id = ? AND reason = ?",
                               [fid, reason]).fetchone()
        if row is None:
            self.con.execute("INSERT INTO bad_input VALUES (?, ?, ?, ?, ?)", [fid, path, reason, count, lines])
        else:
            merged = (list(row[1] or []) + lines)[:inp.FIRST_LINES]
            self.con.execute("UPDATE bad_input SET count = count + ?, first_lines = ? "
                             "WHERE file_id = ? AND reason = ?", [count, merged, fid, reason])

    def _insert(self, path: str, compression: str, fid: int, fmt: str, *, strict: bool) -> int:
        root = "_source" if fmt == "es" else None
        sel = select_list(self.fields, root=root)
        if self.slim:
            # One analysis in memory: the message is kept only where a report section shows it
            # (failures, critical events); storing every message costs a third of the load time.
            msg = f"{field_expr('message', root=root)} AS {col('message')}"
            keep = (f"({field_expr('event.outcome', root=root)} = 'failure' OR "
                    f"{field_expr('log.level', root=root)} IN ('error', 'critical'))")
            sel = sel.replace(msg, f"CASE WHEN {keep} THEN {field_expr('message', root=root)} END AS {col('message')}")
        # The content hash of an event without an id: every stored field, as read (before slimming).
        parts = ", ".join(f"coalesce(CAST({field_expr(n, root=root)} AS VARCHAR), '\\N')" for n in self.fields)
        h = f"md5(concat_ws(chr(31), {parts}))"
        if EVENT_ID in self.fields:
            h = f"CASE WHEN {field_expr(EVENT_ID, root=root)} IS NULL THEN {h} END"
        sql = (f"INSERT INTO events ({', '.join(col(n) for n in self.fields)}, _file_id, _hash) "
               f"SELECT {sel}, {int(fid)}, {h} "
               f"FROM read_ndjson({_quote(path)}, columns={columns_sql(self.fields, root=root)}, "
               # 'uncompressed', not 'none': some DuckDB releases (1.1.0 at least) reject 'none'.
               f"compression={_quote('uncompressed' if compression == 'none' else compression)}, "
               f"ignore_errors={'false' if strict else 'true'}, "
               f"maximum_object_size={inp.MAX_LINE + 1024})")
        return self.con.execute(sql).fetchone()[0]


class _Redo(Exception):
    pass


def _ends_with_newline(path: str, compression: str, size: int) -> bool:
    if compression != "none":
        return True  # DuckDB handles the last line of a compressed file; growth is rare there
    if size == 0:
        return False
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"


def _copy_complete_lines(path: str, start: int, size: int, out) -> int:
    """Copy bytes [start, size) up to the last newline (and a final unterminated line when it is a
    complete JSON value). Returns the offset after the last byte copied."""
    import orjson
    with open(path, "rb") as f:
        f.seek(start)
        left = size - start
        last = b""
        while left > 0:
            b = f.read(min(2**20, left))
            if not b:
                break
            left -= len(b)
            b = last + b
            i = b.rfind(b"\n")
            if i < 0:
                last = b
                continue
            out.write(b[:i + 1])
            last = b[i + 1:]
        if last:
            try:
                orjson.loads(last)
                out.write(last + b"\n")
                return size
            except orjson.JSONDecodeError:
                return size - len(last)
        return size


def _safe_path(path: str, tmpdir: str) -> str:
    """DuckDB expands glob characters in file names: hand it a symlink without them."""
    if not any(ch in path for ch in "*?[]{}'"):
        return path
    link = os.path.join(tmpdir, f"link-{abs(hash(path))}-{time.monotonic_ns()}")
    os.symlink(os.path.abspath(path), link)
    return link


class _Progress:
    """A rich progress bar on stderr: files done, and DuckDB's progress within the current file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sources: list[inp.Source]):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        self.con = con
        # DuckDB tracks a query's progress (query_progress) only with its progress bar enabled;
        # without it a single big file stays at 0% until it is loaded. Its own printing stays off.
        try:
            con.execute("SET enable_progress_bar = true")
            con.execute("SET enable_progress_bar_print = false")
        except duckdb.Error:
            pass
        #: the largest within-file fraction seen (0..1), for tests and for the bar
        self.partial = 0.0
        self.sizes = {id(s): _size(s.real) for s in sources}
        total = sum(self.sizes.values()) or 1
        self.progress = Progress(TextColumn("loading {task.fields[name]}"), BarColumn(),
                                 TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=True)
        self.task = self.progress.add_task("load", total=total, name="")
        self.done_bytes = 0
        self._cur = 0
        self._stop = threading.Event()
        self.progress.start()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            try:
                p = self.con.query_progress()
            except Exception:
                p = -1
            if p is not None and p >= 0:
                if 0 < p < 100:
                    self.partial = max(self.partial, p / 100)
                self.progress.update(self.task, completed=self.done_bytes + self._cur * min(p, 100) / 100)

    def start(self, src: inp.Source) -> None:
        self._cur = self.sizes.get(id(src), 0)
        name = os.path.basename(src.path)
        self.progress.update(self.task, name=name[:40])

    def done(self, src: inp.Source) -> None:
        self.done_bytes += self.sizes.get(id(src), 0)
        self._cur = 0
        self.progress.update(self.task, completed=self.done_bytes)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.progress.stop()
        try:
            self.con.execute("SET enable_progress_bar = false")
        except duckdb.Error:
            pass


def _size(p: str) -> int:
    try:
        return os.path.getsize(p)
    except OSError:
        return 0



# --- the event source: open a store, load the inputs, refuse when nothing could be read --------
def open_store(db: str | None = None, *, inputs: Sequence[str] | None = None, fields: Sequence[str] | None = None,
               memory_limit: str | None = None, slim: bool | None = None,
               read_only: bool | None = None) -> Store:
    """The store a command reads from: the file ``db`` (read-only when there is nothing to load
    into it, so several readers can share it; it must then exist), else an in-memory store with
    ``fields`` (default: what the report reads) and ``slim`` (messages of failures only). ``read_only=False`` opens ``db`` writable anyway
    (``logkit patterns`` remembers its pattern ids in the store)."""
    if read_only is None:
        read_only = bool(db) and not inputs
    if db and read_only:
        if not os.path.exists(db):
            raise NothingToRead(f"no such store: {db}")
        return Store(db, read_only=True, memory_limit=memory_limit)
    # fields and slim shape an in-memory store only: a file store keeps every field and message.
    return Store(db, fields=None if db else fields, memory_limit=memory_limit, slim=None if db else slim)


def nothing_read(loaded: LoadResult | None, *, inputs: Sequence[str] | None = None,
                 errors: dict[str, str] | None = None, bad_lines: int | None = None) -> NothingToRead:
    """The one message for "no event at all": why each input failed, the bad lines, or an empty store."""
    errs = errors if errors is not None else (loaded.errors if loaded else {})
    bad = bad_lines if bad_lines is not None else (loaded.bad_lines if loaded else 0)
    why = "; ".join(f"{k}: {v}" for k, v in errs.items())
    return NothingToRead("no event could be read" + (f" ({why})" if why else "")
                         + (f"; {bad} bad line(s)" if bad else "") + ("" if inputs else " (the store is empty)"))


@contextlib.contextmanager
def event_source(inputs: Sequence[str] | None = None, db: "str | Store | None" = None, *,
                 fields: Sequence[str] | None = None, memory_limit: str | None = None, slim: bool | None = None,
                 read_only: bool | None = None, progress: bool = False, stdin=None,
                 require_events: bool = True):
    """``with event_source(inputs, db) as (store, loaded):`` — the events analyze, patterns, alerts and
    metrics read: :func:`open_store`, ``inputs`` loaded into it (incrementally), and
    :class:`NothingToRead` when the store then holds no event (unless ``require_events=False``).
    A :class:`Store` passed as ``db`` is used as it is and left open."""
    own = not isinstance(db, Store)
    store = open_store(db, inputs=inputs, fields=fields, memory_limit=memory_limit, slim=slim,
                       read_only=read_only) if own else db
    try:
        loaded = store.load(list(inputs), progress=progress, stdin=stdin) if inputs else LoadResult()
        if require_events and store.event_count == 0:
            raise nothing_read(loaded, inputs=inputs)
        yield store, loaded
    finally:
        if own:
            store.close()
