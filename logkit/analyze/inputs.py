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
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Iterator

import orjson

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
TRUNCATED = "truncated compressed stream (rest of file lost)"
TOO_LONG = "line too long"
UNREADABLE = "cannot read"


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


def expand(inputs: list[str] | tuple[str, ...], *, stdin: BinaryIO | None = None,
           tmpdir: str | None = None) -> tuple[list[Source], dict[str, str]]:
    """Sources for the inputs, and the inputs that name nothing readable (input -> reason)."""
    out: list[Source] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()

    def add(p: str) -> None:
        rp = os.path.realpath(p)
        if rp in seen:
            return
        seen.add(rp)
        try:
            comp = compression_of(p)
            # Kibana CSV reports and pretty-printed _search responses: rewritten as NDJSON
            # (exports.py), identified by content like stdin.
            from .exports import convert
            conv = convert(p, comp, tmpdir)
            out.append(Source(p, conv, "none", stdin=True) if conv else Source(p, p, comp))
        except OSError as e:
            errors[p] = f"{UNREADABLE}: {e.strerror or e}"

    for inp in inputs:
        if inp == "-":
            fd, tmp = tempfile.mkstemp(prefix="logkit-stdin-", suffix=".ndjson", dir=tmpdir)
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(stdin or sys.stdin.buffer, f, 2**20)
            out.append(Source("<stdin>", tmp, compression_of(tmp), stdin=True))
        elif os.path.isdir(inp):
            found = False
            for dirpath, dirnames, filenames in os.walk(inp):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for fn in sorted(filenames):
                    if fn.startswith(".") or not fn.lower().endswith(_SUFFIXES) and "." in fn[1:]:
                        continue
                    add(os.path.join(dirpath, fn))
                    found = True
            if not found:
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
class Truncated(Exception):
    pass


def _decompressed_chunks(path: str, compression: str, start: int) -> Iterator[bytes]:
    """Decompressed bytes of ``path`` from byte ``start`` of the file; raises Truncated at a cut stream.

    Concatenated gzip members and zstd frames are read one after another (what appending writers
    and ``cat a.gz b.gz`` make)."""
    with open(path, "rb") as raw:
        raw.seek(start)
        if compression == "none":
            while True:
                b = raw.read(2**20)
                if not b:
                    return
                yield b
        if compression == "gzip":
            new = lambda: zlib.decompressobj(wbits=31)  # noqa: E731
        else:
            import zstandard
            dctx = zstandard.ZstdDecompressor()
            new = dctx.decompressobj
        d = new()
        fed = False  # the current decompressor has seen bytes of a member it has not finished
        while True:
            b = raw.read(2**20)
            if not b:
                break
            while b:
                fed = True
                out = d.decompress(b)
                if out:
                    yield out
                if d.eof:
                    b = d.unused_data
                    d = new()
                    fed = False
                    if compression == "gzip" and b and not b.strip(b"\x00"):
                        b = b""  # zero padding after the last member
                else:
                    b = b""
        if fed and not d.eof:
            raise Truncated()


def decompress_to(path: str, compression: str, start: int, out: BinaryIO) -> tuple[int, bool]:
    """Write the decompressed bytes to ``out``; (bytes written, whether the stream was cut short)."""
    n = 0
    try:
        for chunk in _decompressed_chunks(path, compression, start):
            out.write(chunk)
            n += len(chunk)
    except Exception as e:
        if _is_cut(e):
            return n, True
        raise
    return n, False


def _is_cut(e: BaseException) -> bool:
    return isinstance(e, (Truncated, EOFError, zlib.error, gzip.BadGzipFile)) or type(e).__name__ == "ZstdError"


LINE, TOO_LONG_LINE, CUT = 0, 1, 2


def iter_lines(path: str, compression: str, start: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """(line number from 1, kind, line bytes without newline) of a file.

    kind is LINE, TOO_LONG_LINE (bytes dropped) or CUT (the stream ends early; no bytes)."""
    buf = b""
    n = 0
    skipping = False  # inside a line that is too long
    try:
        for chunk in _decompressed_chunks(path, compression, start):
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
        yield n + 1, CUT, b""
        return
    if buf and not skipping:
        n += 1
        yield n, LINE, buf


def timestamp_of(obj: dict) -> object:
    src = obj.get("_source")
    if isinstance(src, dict):
        obj = src
    return obj.get("@timestamp")


def valid_timestamp(v: object) -> bool:
    if not isinstance(v, str) or len(v) < 10:
        return False
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
        return True
    except ValueError:
        return False


@dataclass
class ScanResult:
    bad: BadLines
    good: int
    lines: int
    truncated: bool
    no_ts_lines: list[int]


def scan(path: str, compression: str, *, start: int = 0, clean: BinaryIO | None = None,
         line_base: int = 0, ts_only: bool = False) -> ScanResult:
    """The slow path: read every line in Python, count the bad ones, write the good ones to ``clean``.

    ``ts_only``: only look for lines without a valid timestamp, and stop after the first few
    (used to find line numbers for a file DuckDB read without error).
    Missing timestamps are not counted here (the store counts them from the loaded rows); only
    their first line numbers are kept.
    """
    bad = BadLines()
    good = 0
    n = 0
    truncated = False
    no_ts: list[int] = []
    loads = orjson.loads
    for n, kind, line in iter_lines(path, compression, start):
        ln = n + line_base
        if kind == CUT:
            truncated = True
            bad.add(TRUNCATED, ln)
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
            if isinstance(obj, dict) and not valid_timestamp(timestamp_of(obj)):
                no_ts.append(ln)
                if len(no_ts) >= FIRST_LINES:
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
        if len(no_ts) < FIRST_LINES and not valid_timestamp(timestamp_of(obj)):
            no_ts.append(ln)
        good += 1
        if clean is not None:
            clean.write(s)
            clean.write(b"\n")
    return ScanResult(bad, good, n, truncated, no_ts)


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
