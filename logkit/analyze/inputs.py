"""Inputs of the analyzer: which files, how they are compressed, what shape their lines have, who
they are (for incremental loads), and the slow path that counts bad lines.

Accepted: files, globs, directories (recursively), ``-`` for stdin; plain, ``.gz`` and ``.zst``;
lines that are logkit events (dotted or nested), Elasticsearch hits (``{"_source": {...}}`` one per
line, as search/scroll exports write them) or Filebeat output (the event's fields at the top level
beside ``@metadata``, nested by ``expand_keys``).

The fast path is DuckDB reading the file itself (see store.py). This module's :func:`scan` is the
slow path, taken only for a file DuckDB refused (malformed JSON, non-UTF-8 bytes, a truncated
stream) or one that has events without a timestamp: it reads the lines in Python, counts each bad
line by reason with its line number, and writes the good ones to a clean temporary file.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Iterator

import orjson

from .compressed import DAMAGED, TRUNCATED, Truncated, decompressed_chunks  # noqa: F401 (re-exported reasons)
from .exports import convert

HEAD_BYTES = 4096
#: On the slow path, lines longer than this are counted as bad ("line too long") rather than loaded
#: (DuckDB's reader on the fast path takes lines of any size it can hold).
MAX_LINE = 64 * 2**20
#: How many line numbers are kept per file and reason.
FIRST_LINES = 5
_SUFFIXES = (".ndjson", ".jsonl", ".json", ".log", ".gz", ".zst", ".zstd", ".txt", ".csv")

# Reasons, as they appear in the report.
MALFORMED = "malformed JSON"
NOT_OBJECT = "not a JSON object"
NON_UTF8 = "non-UTF-8 bytes (replaced, line kept)"
NO_TIMESTAMP = "missing or invalid @timestamp"
TOO_LONG = "line too long"
UNREADABLE = "cannot read"
OUT_OF_RANGE = "@timestamp out of range (before 1970 or from 2100 on)"
SKIPPED = "skipped"

#: The sane range of event times. A log line dated year 1 or year 10000 is a clock or parser bug,
#: not an event: it would stretch the timeline over centuries, and DuckDB holds times Python cannot
#: (year 10000, negative years), which would break every later read of the store.
TS_MIN = datetime(1970, 1, 1, tzinfo=timezone.utc)
TS_MAX = datetime(2100, 1, 1, tzinfo=timezone.utc)
TS_MIN_SQL = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
TS_MAX_SQL = "TIMESTAMPTZ '2100-01-01 00:00:00+00'"


@dataclass
class Source:
    """One input: a file on disk (stdin is spooled to a temporary file first)."""
    path: str               # what the report shows
    real: str               # what is read
    compression: str        # none | gzip | zstd
    stdin: bool = False


@dataclass
class BadLines:
    """Bad input of one file: count and first line numbers per reason."""
    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, list[int]] = field(default_factory=dict)

    def add(self, reason: str, line: int | None, n: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + n
        lst = self.first.setdefault(reason, [])
        if line is not None and len(lst) < FIRST_LINES:
            lst.append(line)

    def merge(self, other: "BadLines") -> None:
        for r, n in other.counts.items():
            self.counts[r] = self.counts.get(r, 0) + n
            lst = self.first.setdefault(r, [])
            lst.extend(other.first.get(r, [])[:FIRST_LINES - len(lst)])

    def __bool__(self) -> bool:
        return bool(self.counts)


def compression_of(path: str) -> str:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "none"


# Rotation suffixes, as logrotate (``app.log.1``, ``dateext``: ``app.log-20261123``), Python's
# RotatingFileHandler (``app.log.1``) and TimedRotatingFileHandler (``app.log.2026-11-23``,
# ``app.log.2026-11-23_10-00-00``) name rotated files. They are stripped before the name is judged.
_ROTATION = re.compile(r"([.-](\d{1,4}|\d{4}-?\d{2}-?\d{2}([T_-]?\d{2}([-:]?\d{2}){0,2})?))+$")
_COMPRESSED = (".gz", ".zst", ".zstd")


def is_log_name(fn: str) -> bool:
    """Whether a file found in a directory is read: its name, without a compression suffix and
    rotation suffixes, has a log suffix (``.log``, ``.ndjson``, ``.jsonl``, ``.json``, ``.txt``) or
    no suffix at all (``messages``, ``app``). So ``app.log.1``, ``app.log.2026-11-23``,
    ``app.log.1.gz`` and ``app.ndjson-20261123.zst`` are read; ``notes.md``, ``image.png`` are not
    (and are reported as skipped)."""
    name = fn.lower()
    for c in _COMPRESSED:
        if name.endswith(c):
            name = name[:-len(c)]
            break
    name = _ROTATION.sub("", name) or name
    return "." not in name[1:] or name.endswith(_SUFFIXES)


def _walk(top: str, add, errors: dict[str, str]) -> bool:
    """Add the log files under directory ``top``; name every path not read, with the reason."""
    found = False

    def onerror(e: OSError) -> None:
        errors[e.filename or top] = f"{UNREADABLE} directory: {e.strerror or e}"

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror):
        keep = []
        for d in sorted(dirnames):
            p = os.path.join(dirpath, d)
            if d.startswith("."):
                errors[p] = f"{SKIPPED}: hidden directory"
            elif os.path.islink(p):
                # Not followed: a link can point outside the tree or back into it (a loop).
                errors[p] = f"{SKIPPED}: symbolic link to a directory (not followed; name it to read it)"
            else:
                keep.append(d)
        dirnames[:] = keep
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            if fn.startswith("."):
                errors[p] = f"{SKIPPED}: hidden file"
                continue
            if not is_log_name(fn):
                errors[p] = f"{SKIPPED}: not a log file name (.log, .ndjson, .jsonl, .json, .txt, none; "\
                    "rotated and .gz/.zst forms of these)"
                continue
            try:
                st = os.stat(p)
            except OSError as e:
                errors[p] = f"{UNREADABLE}: {e.strerror or e}"
                continue
            if not stat.S_ISREG(st.st_mode):
                # A FIFO or device would block or never end.
                errors[p] = f"{SKIPPED}: not a regular file"
                continue
            if add(p):
                found = True
    return found


def expand(inputs: list[str] | tuple[str, ...], *, stdin: BinaryIO | None = None,
           tmpdir: str | None = None) -> tuple[list[Source], dict[str, str]]:
    """Sources for the inputs, and the inputs that name nothing readable (input -> reason)."""
    out: list[Source] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()

    def add(p: str) -> bool:
        rp = os.path.realpath(p)
        if rp in seen:
            return True
        seen.add(rp)
        try:
            comp = compression_of(p)
            # Kibana CSV reports and pretty-printed _search responses: rewritten as NDJSON
            # (exports.py), identified by content like stdin.
            conv = convert(p, comp, tmpdir)
            out.append(Source(p, conv, "none", stdin=True) if conv else Source(p, p, comp))
            return True
        except OSError as e:
            errors[p] = f"{UNREADABLE}: {e.strerror or e}"
            return False

    for inp in inputs:
        if inp == "-":
            fd, tmp = tempfile.mkstemp(prefix="logkit-stdin-", suffix=".ndjson", dir=tmpdir)
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(stdin or sys.stdin.buffer, f, 2**20)
            out.append(Source("<stdin>", tmp, compression_of(tmp), stdin=True))
        elif os.path.isdir(inp):
            found = _walk(inp, add, errors)
            if not found and inp not in errors:
                errors[inp] = "directory holds no log files"
        elif os.path.exists(inp):
            add(inp)
        elif glob.has_magic(inp):
            matches = sorted(p for p in glob.glob(inp, recursive=True) if os.path.isfile(p))
            if not matches:
                errors[inp] = "pattern matches no file"
            for p in matches:
                add(p)
        else:
            errors[inp] = "no such file or directory"
    return out, errors


@dataclass(frozen=True)
class Identity:
    """Who a file is: device and inode, and a hash of its first bytes (up to 4 KiB)."""
    dev: int
    ino: int
    size: int
    head_len: int
    head_hash: str


def identity(path: str) -> Identity:
    st = os.stat(path)
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    return Identity(st.st_dev, st.st_ino, st.st_size, len(head), hashlib.sha256(head).hexdigest())


def head_hash(path: str, n: int) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(n)
    except OSError:
        return None
    return hashlib.sha256(head).hexdigest() if len(head) == n else None


# --- reading ---------------------------------------------------------------------------------
def decompress_to(path: str, compression: str, start: int, out: BinaryIO) -> tuple[int, str | None]:
    """Write the decompressed bytes to ``out``: (bytes written, the reason the stream was cut
    short or damaged, or None)."""
    n = 0
    try:
        for chunk in decompressed_chunks(path, compression, start):
            out.write(chunk)
            n += len(chunk)
    except Exception as e:
        if _is_cut(e):
            return n, _cut_reason(e)
        raise
    return n, None


def _is_cut(e: BaseException) -> bool:
    return isinstance(e, (Truncated, EOFError, zlib.error, gzip.BadGzipFile)) or type(e).__name__ == "ZstdError"


def _cut_reason(e: BaseException) -> str:
    return e.reason if isinstance(e, Truncated) else TRUNCATED


LINE, TOO_LONG_LINE, CUT = 0, 1, 2


def iter_lines(path: str, compression: str, start: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """(line number from 1, kind, line bytes without newline) of a file.

    kind is LINE, TOO_LONG_LINE (bytes dropped) or CUT (the stream ends early or is damaged; the
    bytes are the reason, UTF-8)."""
    buf = b""
    n = 0
    skipping = False  # inside a line that is too long
    try:
        for chunk in decompressed_chunks(path, compression, start):
            if skipping:
                i = chunk.find(b"\n")
                if i < 0:
                    continue
                chunk = chunk[i + 1:]
                skipping = False
            buf += chunk
            lines = buf.split(b"\n")
            buf = lines.pop()
            for ln in lines:
                n += 1
                if len(ln) > MAX_LINE:
                    yield n, TOO_LONG_LINE, b""
                else:
                    yield n, LINE, ln
            if len(buf) > MAX_LINE:
                n += 1
                yield n, TOO_LONG_LINE, b""
                buf = b""
                skipping = True
    except Exception as e:
        if not _is_cut(e):
            raise
        # The partial line the stream was cut in is part of the loss the CUT marker reports.
        yield n + 1, CUT, _cut_reason(e).encode()
        return
    if buf and not skipping:
        n += 1
        yield n, LINE, buf


def timestamp_of(obj: dict) -> object:
    src = obj.get("_source")
    if isinstance(src, dict):
        obj = src
    return obj.get("@timestamp")


_BEYOND = re.compile(r"^\s*([+-]|\d{5})")  # a signed or five-digit year: outside the range by form


def timestamp_problem(v: object) -> str | None:
    """None for a usable ``@timestamp``; else the reason (:data:`NO_TIMESTAMP`, :data:`OUT_OF_RANGE`).

    The store decides with DuckDB's parser (this is for line numbers on the slow path); the two
    agree on the ISO 8601 forms logs use."""
    if not isinstance(v, str):
        return NO_TIMESTAMP
    if _BEYOND.match(v) or v.strip().lower() in ("infinity", "-infinity"):
        return OUT_OF_RANGE
    if len(v) < 10:
        return NO_TIMESTAMP
    try:
        t = datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith(("Z", "z")) else v)
    except ValueError:
        return NO_TIMESTAMP
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    try:
        return None if TS_MIN <= t < TS_MAX else OUT_OF_RANGE
    except (OverflowError, ValueError):
        return OUT_OF_RANGE


def valid_timestamp(v: object) -> bool:
    return timestamp_problem(v) is None


@dataclass
class ScanResult:
    bad: BadLines
    good: int
    lines: int
    truncated: bool
    #: First line numbers of events without a usable time, per reason (NO_TIMESTAMP, OUT_OF_RANGE).
    ts_lines: dict[str, list[int]]


def scan(path: str, compression: str, *, start: int = 0, clean: BinaryIO | None = None,
         line_base: int = 0, ts_only: bool = False, ts_want: dict[str, int] | None = None) -> ScanResult:
    """The slow path: read every line in Python, count the bad ones, write the good ones to ``clean``.

    ``ts_only``: only look for lines without a valid timestamp, and stop after the first few
    (used to find line numbers for a file DuckDB read without error); ``ts_want``: how many such
    lines the store counted per reason, so the scan stops as soon as it has found them.
    Missing timestamps are not counted here (the store counts them from the loaded rows); only
    their first line numbers are kept.
    """
    bad = BadLines()
    good = 0
    n = 0
    truncated = False
    ts_lines: dict[str, list[int]] = {}

    def note_ts(obj, ln) -> bool:
        """Record a line without a usable time; True when enough line numbers are kept."""
        r = timestamp_problem(timestamp_of(obj))
        if r is not None:
            lst = ts_lines.setdefault(r, [])
            if len(lst) < FIRST_LINES:
                lst.append(ln)
        want = ts_want or {NO_TIMESTAMP: FIRST_LINES, OUT_OF_RANGE: FIRST_LINES}
        return all(len(ts_lines.get(k, ())) >= min(v, FIRST_LINES) for k, v in want.items())

    full = False
    loads = orjson.loads
    for n, kind, line in iter_lines(path, compression, start):
        ln = n + line_base
        if kind == CUT:
            truncated = True
            bad.add(line.decode() or TRUNCATED, ln)
            n -= 1
            break
        if kind == TOO_LONG_LINE:
            bad.add(TOO_LONG, ln)
            continue
        if ts_only:
            s = line.strip()
            if not s:
                continue
            try:
                obj = loads(s)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and note_ts(obj, ln):
                break
            continue
        s = line.strip()
        if not s:
            continue
        try:
            obj = loads(s)
        except orjson.JSONDecodeError:
            try:
                s.decode("utf-8")
                bad.add(MALFORMED, ln)
                continue
            except UnicodeDecodeError:
                s = s.decode("utf-8", "replace").encode("utf-8")
                try:
                    obj = loads(s)
                except orjson.JSONDecodeError:
                    bad.add(MALFORMED, ln)
                    continue
                bad.add(NON_UTF8, ln)
        if not isinstance(obj, dict):
            bad.add(NOT_OBJECT, ln)
            continue
        if not full:
            full = note_ts(obj, ln)
        good += 1
        if clean is not None:
            clean.write(s)
            clean.write(b"\n")
    return ScanResult(bad, good, n, truncated, ts_lines)


def sniff(path: str, compression: str, start: int = 0) -> str:
    """The line shape of a file: ``es`` (hits with ``_source``), ``filebeat`` or ``ndjson``."""
    k = 0
    try:
        for _, kind, line in iter_lines(path, compression, start):
            if kind == CUT:
                break
            s = line.strip()
            if not s:
                continue
            k += 1
            try:
                obj = orjson.loads(s)
            except orjson.JSONDecodeError:
                if k > 20:
                    break
                continue
            if isinstance(obj, dict):
                if isinstance(obj.get("_source"), dict):
                    return "es"
                if "@metadata" in obj:
                    return "filebeat"
                return "ndjson"
            if k > 20:
                break
    except Exception:
        pass
    return "ndjson"


def count_newlines(path: str, end: int) -> int:
    n = 0
    with open(path, "rb") as f:
        left = end
        while left > 0:
            b = f.read(min(2**20, left))
            if not b:
                break
            n += b.count(b"\n")
            left -= len(b)
    return n
