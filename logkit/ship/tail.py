"""A file follower with a durable registry of offsets: the reading half of the shipper.

It knows nothing about Elasticsearch (the metrics exporter reuses it). It follows files and glob
patterns (re-globbed every ``rescan_interval`` so new files are found) and, optionally, stdin, and
hands out complete lines as :class:`Line` ``(source, offset, end, data, kind, path, length)``. The
consumer calls :meth:`Tailer.ack` with ``(source, end)`` once a line is durable downstream; only
acked offsets reach the registry, so after a crash what was not acked is read again (at least
once).

**File identity** is ``dev:inode:fingerprint``. The fingerprint is a BLAKE2b hash of the first
``min(fingerprint_bytes, end of the first line)`` bytes: it is fixed as soon as the first line is
complete (files only grow), so it is the same whoever computes it and whenever, and a reused inode
with other content is a new file. A file whose first line is not complete yet has no identity and
is not read (it has no complete line either).

**Rotation.**
- rename (logrotate ``create``): the old file stays open and is read to its end; the new file at
  the path is a new identity, read from 0. If the shipper was down, the registry finds the old
  file (same dev:inode:fingerprint) under its new name when the patterns include it.
- copytruncate: the size drops below the read offset, or the first bytes change: the file is a new
  identity read from 0 (if its first bytes are unchanged, a new generation ``key#N`` of it). The
  copy (``app.log.1``: a new inode with the old fingerprint) inherits the old file's offset when
  the 64 bytes before that offset match (the "tail check" kept with every acked offset), and also
  its *id key* (what ids of lines without ``event.id`` derive from), so lines read again from the
  copy get the ids they had.

**Partial last line.** Bytes after the last newline wait for their newline. They are taken as a
line (kind ``PARTIAL``) only when the file has been rotated away, or at shutdown
(:meth:`Tailer.finish`), and only after ``partial_timeout`` seconds without growth.

**Oversized lines** (longer than ``max_line_bytes``) are never buffered whole: the first
``keep_bytes`` are kept, the rest is skipped up to the newline, and the line is handed out with
kind ``OVERSIZED`` and its full ``length``.

**Registry file** (JSON, written atomically: temp file, fsync, rename, fsync of the directory;
guarded by an exclusive ``flock`` on ``<registry>.lock`` so two processes never share one)::

    {"version": 1, "written": "<UTC time>", "files": [
      {"key": "dev:ino:fp", "dev": 2049, "ino": 1234, "fp": "<32 hex>", "fp_len": 412,
       "offset": 98304, "id_key": "dev:ino:fp", "path": "/var/log/app.log", "mtime_ns": ...,
       "tail": {"at": 98304, "len": 64, "hash": "<32 hex>"}}]}
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import glob as _glob
import hashlib
import json
import os
import select
import stat as _stat
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple

LINE = 0        # a complete line (without its newline)
PARTIAL = 1     # the last line of a file that never got its newline (rotated away, or at shutdown)
OVERSIZED = 2   # longer than max_line_bytes: data holds the first keep_bytes, length the full size

TAIL_CHECK_BYTES = 64
REGISTRY_VERSION = 1


class Line(NamedTuple):
    source: str   # the file's identity key (or "stdin:<run id>")
    offset: int   # byte offset of the line's first byte
    end: int      # offset just past the line and its newline: what to ack
    data: bytes   # the line without "\n" (a prefix for OVERSIZED)
    kind: int     # LINE, PARTIAL or OVERSIZED
    path: str     # the path the file had when the line was read
    length: int   # length of the whole line (without "\n")


class RegistryLocked(RuntimeError):
    """Another process holds the registry."""


def fingerprint(head: bytes, fingerprint_bytes: int, *, force: bool = False) -> tuple[str, int] | None:
    """``(hex, length)`` of a file's fingerprint from its first bytes, or None while it has none.

    ``head`` is the file's first ``fingerprint_bytes`` bytes (or all of it when shorter). The
    fingerprint covers up to the end of the first line, at most ``fingerprint_bytes``; with
    ``force`` a file whose only line is still partial is fingerprinted on what it has.
    """
    head = head[:fingerprint_bytes]
    nl = head.find(b"\n")
    if nl >= 0:
        n = nl + 1
    elif len(head) >= fingerprint_bytes or (force and head):
        n = len(head)
    else:
        return None
    return _hash(head[:n]), n


def _hash(b: bytes) -> str:
    return hashlib.blake2b(b, digest_size=16).hexdigest()


def _pread_exact(fd: int, n: int, offset: int) -> bytes:
    if offset < 0:
        return b""
    out = bytearray()
    while len(out) < n:
        chunk = os.pread(fd, n - len(out), offset + len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def line_id(id_key: str, offset: int) -> str:
    """The document id of a line that carries no ``event.id``: stable for a file and offset."""
    return hashlib.blake2b(f"{id_key}@{offset}".encode(), digest_size=16).hexdigest()


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------
class Registry:
    """Offsets by file identity, persisted atomically. Not thread-safe: one owner thread."""

    def __init__(self, path: str | None, *, lock: bool = True):
        self.path = os.path.abspath(path) if path else None
        self.entries: dict[str, dict] = {}
        self.dirty = False
        self._lock_fd: int | None = None
        if self.path:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            if lock:
                self._lock()
            try:
                self._load()
            except BaseException:
                self.close()
                raise

    def _lock(self) -> None:
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RegistryLocked(f"registry {self.path} is in use by another process") from None
            raise
        self._lock_fd = fd

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return
        try:
            doc = json.loads(raw or b"{}")
        except ValueError as e:
            # it is written atomically, so this is not a half-written file of ours: refuse rather
            # than silently read everything again
            raise ValueError(f"registry {self.path} is not valid JSON ({e}); move it away to "
                             f"start over (every file would then be read again)") from None
        if doc.get("version", REGISTRY_VERSION) != REGISTRY_VERSION:
            raise ValueError(f"registry {self.path} has version {doc.get('version')}, "
                             f"expected {REGISTRY_VERSION}")
        for e in doc.get("files", []):
            if isinstance(e, dict) and "key" in e and isinstance(e.get("offset"), int):
                self.entries[e["key"]] = e

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, entry: dict) -> None:
        self.entries[entry["key"]] = entry
        self.dirty = True

    def set_offset(self, key: str, offset: int) -> bool:
        e = self.entries.get(key)
        if e is None or offset <= e["offset"]:
            return False
        e["offset"] = offset
        self.dirty = True
        return True

    def remove(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self.dirty = True

    def by_fingerprint(self, fp: str) -> list[dict]:
        return [e for e in self.entries.values() if e.get("fp") == fp]

    def by_inode(self, dev: int, ino: int) -> list[dict]:
        return [e for e in self.entries.values() if e.get("dev") == dev and e.get("ino") == ino]

    def save(self, force: bool = False) -> bool:
        """Writes the registry if it changed: temp file, fsync, rename, fsync of the directory."""
        if not self.path or not (self.dirty or force):
            return False
        doc = {"version": REGISTRY_VERSION,
               "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "files": sorted(self.entries.values(), key=lambda e: (e.get("path", ""), e["key"]))}
        data = json.dumps(doc, indent=1, sort_keys=True).encode()
        d = os.path.dirname(self.path) or "."
        tmp = f"{self.path}.tmp.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self.dirty = False
        return True

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


# --------------------------------------------------------------------------------------------
# the follower
# --------------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Source:
    path: str
    fd: int
    dev: int
    ino: int
    key: str | None = None        # identity, once the fingerprint is known
    fp: str | None = None
    fp_len: int = 0
    read_offset: int = 0          # everything before this was read (into lines, or into buf)
    partial_start: int = 0        # file offset of buf[0] (or of the oversized line being skipped)
    buf: bytes = b""
    skipping: bool = False        # inside an oversized line: drop bytes up to its newline
    skip_head: bytes = b""
    size: int = 0
    last_growth: float = 0.0
    rotated: bool = False         # the path no longer leads here (renamed or deleted)
    stdin: bool = False
    eof: bool = False             # stdin closed


class Tailer:
    """Follows ``patterns`` (paths or globs) and optionally stdin; see the module docstring.

    Single-threaded: call :meth:`poll`, :meth:`ack`, :meth:`save` from one thread.
    """

    def __init__(self, patterns: Iterable[str] = (), registry: str | Registry | None = None, *,
                 stdin: bool = False, fingerprint_bytes: int = 1024, max_line_bytes: int = 1 << 20,
                 keep_bytes: int = 64 * 1024, partial_timeout: float = 5.0,
                 rescan_interval: float = 1.0, close_inactive: float = 60.0,
                 clean_removed: float = 300.0, read_chunk: int = 1 << 20,
                 exclude: Iterable[str] = (), clock: Callable[[], float] = time.monotonic,
                 on_event: Callable[[str, dict], None] | None = None):
        if fingerprint_bytes < 16:
            raise ValueError("fingerprint_bytes must be at least 16")
        self.patterns = [os.path.abspath(os.path.expanduser(p)) for p in patterns]
        self.registry = registry if isinstance(registry, Registry) else Registry(registry)
        self.fingerprint_bytes = fingerprint_bytes
        self.max_line_bytes = max_line_bytes
        self.keep_bytes = min(keep_bytes, max_line_bytes)
        self.partial_timeout = partial_timeout
        self.rescan_interval = rescan_interval
        self.close_inactive = close_inactive
        self.clean_removed = clean_removed
        self.read_chunk = read_chunk
        self.exclude = {os.path.abspath(p) for p in exclude}
        self.clock = clock
        self.on_event = on_event or (lambda kind, info: None)
        self.sources: list[_Source] = []
        self._by_key: dict[str, _Source] = {}
        self._by_inode: dict[tuple[int, int], _Source] = {}
        self._last_scan = float("-inf")
        self._seen: dict[str, float] = {}           # registry key -> last time found on disk
        self._warned: set[str] = set()
        self.stdin_key = f"stdin:{uuid.uuid4().hex}"
        if stdin:
            fd = os.dup(0)
            with contextlib.suppress(OSError):
                os.set_blocking(fd, False)
            self.sources.append(_Source(path="<stdin>", fd=fd, dev=0, ino=0, key=self.stdin_key,
                                        stdin=True, last_growth=clock()))

    # -- discovery -------------------------------------------------------------------------
    def scan(self) -> None:
        """Globs the patterns, opens new files, notices renamed and deleted ones."""
        now = self.clock()
        self._last_scan = now
        found: dict[tuple[int, int], tuple[str, os.stat_result]] = {}
        for pat in self.patterns:
            paths = sorted(_glob.glob(pat)) if _glob.has_magic(pat) else [pat]
            for p in paths:
                if p in self.exclude:
                    continue
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                if _stat.S_ISREG(st.st_mode):
                    found.setdefault((st.st_dev, st.st_ino), (p, st))
        for s in self.sources:
            if s.stdin:
                continue
            if not s.rotated:
                try:
                    st = os.stat(s.path)
                    here = (st.st_dev, st.st_ino) == (s.dev, s.ino)
                except OSError:
                    here = False
                if not here:
                    s.rotated = True
                    newp = found.get((s.dev, s.ino))
                    self.on_event("rotated", {"path": s.path, "now": newp[0] if newp else None})
            newp = found.get((s.dev, s.ino))
            if newp and newp[0] != s.path:
                s.path = newp[0]
                if s.key and (e := self.registry.get(s.key)) is not None:
                    e["path"] = s.path
                    self.registry.dirty = True
            if s.key:
                self._seen[s.key] = now
        by_inode: dict[tuple[int, int], list[dict]] = {}
        for e in self.registry.entries.values():
            by_inode.setdefault((e.get("dev"), e.get("ino")), []).append(e)
        for (dev, ino), (p, st) in found.items():
            if (dev, ino) not in self._by_inode:
                self._maybe_open(p, st, now, by_inode.get((dev, ino), ()))
        # forget registry entries whose files have not been found for a while
        for key in list(self.registry.entries):
            seen = self._seen.setdefault(key, now)
            if now - seen > self.clean_removed and key not in self._by_key:
                self.registry.remove(key)
                del self._seen[key]

    def _maybe_open(self, path: str, st: os.stat_result, now: float, known: Iterable[dict]) -> None:
        # a closed file that was read to its end: skip it while its size and mtime say so
        for e in known:
            if e["offset"] == st.st_size and e.get("mtime_ns") == st.st_mtime_ns:
                self._seen[e["key"]] = now
                return
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            if path not in self._warned:
                self._warned.add(path)
                self.on_event("open_failed", {"path": path, "error": str(e)})
            return
        fst = os.fstat(fd)
        if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):  # replaced between stat and open
            os.close(fd)
            return
        s = _Source(path=path, fd=fd, dev=fst.st_dev, ino=fst.st_ino, last_growth=now,
                    size=fst.st_size)
        self.sources.append(s)
        self._by_inode[(s.dev, s.ino)] = s
        self._identify(s)

    def _lookup(self, base: str) -> dict | None:
        """The newest generation of an identity (``base``, ``base#2``, ...)."""
        best, gen = self.registry.get(base), 1
        for k, e in self.registry.entries.items():
            if k.startswith(base + "#"):
                with contextlib.suppress(ValueError):
                    g = int(k[len(base) + 1:])
                    if g > gen:
                        best, gen = e, g
        return best

    def _set_key(self, s: _Source, key: str | None) -> None:
        if s.key and self._by_key.get(s.key) is s:
            del self._by_key[s.key]
        s.key = key
        if key:
            self._by_key[key] = s

    def _identify(self, s: _Source, force: bool = False, truncated_from: str | None = None) -> bool:
        """Sets the source's identity and start offset once its fingerprint is known.

        ``truncated_from``: the key the file had before it was truncated; if its new content
        starts with the same bytes, the identity gets a new generation (``key#N``) so that the old
        one's offsets and ids are not reused.
        """
        head = _pread_exact(s.fd, self.fingerprint_bytes, 0)
        fp = fingerprint(head, self.fingerprint_bytes, force=force)
        if fp is None:
            return False
        s.fp, s.fp_len = fp
        base = f"{s.dev}:{s.ino}:{s.fp}"
        e = self._lookup(base)
        if e is not None and truncated_from is not None and e["key"] == truncated_from:
            gen = int(e["key"].rsplit("#", 1)[1]) + 1 if "#" in e["key"] else 2
            key = f"{base}#{gen}"
            e = {"key": key, "dev": s.dev, "ino": s.ino, "fp": s.fp, "fp_len": s.fp_len,
                 "offset": 0, "id_key": key, "path": s.path}
            self.registry.put(e)
        elif e is None:
            offset, id_key = 0, base
            inherited = self._inherit(s, base)
            if inherited:
                offset, id_key = inherited
                self.on_event("copy_detected", {"path": s.path, "offset": offset, "id_key": id_key})
            e = {"key": base, "dev": s.dev, "ino": s.ino, "fp": s.fp, "fp_len": s.fp_len,
                 "offset": offset, "id_key": id_key, "path": s.path}
            self.registry.put(e)
        elif e.get("path") != s.path:
            e["path"] = s.path
            self.registry.dirty = True
        self._set_key(s, e["key"])
        self._seen[s.key] = self.clock()
        size = os.fstat(s.fd).st_size
        start = e["offset"]
        if start > size:  # truncated while we were away: what is there now is new
            self.on_event("truncated", {"path": s.path, "offset": start, "size": size})
            return self._identify(s, force, truncated_from=e["key"])
        s.read_offset = s.partial_start = start
        s.buf, s.skipping, s.skip_head = b"", False, b""
        return True

    def _inherit(self, s: _Source, base: str) -> tuple[int, str] | None:
        """A copy of a known file (copytruncate's ``app.log.1``): resume where the original was."""
        best = None
        for e in self.registry.by_fingerprint(s.fp):
            if e["key"].split("#")[0] == base:
                continue
            t = e.get("tail")
            if not t or t["at"] > e["offset"]:
                continue
            at, n = t["at"], t["len"]
            if _hash(_pread_exact(s.fd, n, at - n)) != t["hash"]:
                continue
            if best is None or at > best[0]:
                best = (at, e.get("id_key") or e["key"])
        return best

    # -- reading ---------------------------------------------------------------------------
    def poll(self, max_bytes: int = 4 << 20) -> list[Line]:
        """Reads what is new (about ``max_bytes`` at most); never blocks."""
        now = self.clock()
        if now - self._last_scan >= self.rescan_interval:
            self.scan()
        out: list[Line] = []
        budget = max_bytes
        for s in list(self.sources):
            if budget <= 0:
                break
            if s.stdin:
                budget -= self._read_stdin(s, out, budget, now)
            else:
                budget -= self._read_file(s, out, budget, now)
        return out

    def _read_file(self, s: _Source, out: list[Line], budget: int, now: float) -> int:
        try:
            size = os.fstat(s.fd).st_size
        except OSError:
            self._close(s)
            return 0
        if size != s.size:
            s.size = size
            s.last_growth = now
        if s.key is None:
            force = s.rotated and now - s.last_growth >= self.partial_timeout
            if not self._identify(s, force=force):
                return 0
        if size < s.read_offset or (size > s.read_offset and not self._same_head(s)):
            self.on_event("truncated", {"path": s.path, "offset": s.read_offset, "size": size})
            old = s.key
            self._set_key(s, None)
            s.read_offset = s.partial_start = 0
            s.buf, s.skipping, s.skip_head = b"", False, b""
            if not self._identify(s, truncated_from=old):
                return 0
        if size == s.read_offset:
            self._maybe_finish(s, out, now)
            return 0
        n = min(size - s.read_offset, max(budget, 1), self.read_chunk)
        data = os.pread(s.fd, n, s.read_offset)
        if not data:
            return 0
        s.read_offset += len(data)
        self._split(s, data, out)
        return len(data)

    def _same_head(self, s: _Source) -> bool:
        return _hash(_pread_exact(s.fd, s.fp_len, 0)) == s.fp

    def _split(self, s: _Source, data: bytes, out: list[Line]) -> None:
        """Cuts newly read ``data`` (which ends at ``s.read_offset``) into lines."""
        key, path, maxb = s.key, s.path, self.max_line_bytes
        if s.skipping:
            nl = data.find(b"\n")
            if nl < 0:
                return
            end = s.read_offset - len(data) + nl + 1
            out.append(Line(key, s.partial_start, end, s.skip_head, OVERSIZED, path,
                            end - 1 - s.partial_start))
            s.skipping, s.skip_head = False, b""
            s.partial_start = end
            data = data[nl + 1:]
        if s.buf:
            data = s.buf + data
        parts = data.split(b"\n")
        rest = parts.pop()
        off = s.partial_start
        append = out.append
        keep = self.keep_bytes
        for p in parts:
            n = len(p)
            end = off + n + 1
            if n > maxb:
                append(Line(key, off, end, p[:keep], OVERSIZED, path, n))
            else:
                append(Line(key, off, end, p, LINE, path, n))
            off = end
        s.partial_start = off
        if len(rest) > maxb:
            s.skipping, s.skip_head, s.buf = True, rest[:keep], b""
        else:
            s.buf = rest

    def _maybe_finish(self, s: _Source, out: list[Line], now: float) -> None:
        """At the end of a file: hand out an old partial of a rotated file; close finished files."""
        idle = now - s.last_growth
        if s.rotated and (s.buf or s.skipping) and idle >= self.partial_timeout:
            self._take_partial(s, out)
            return  # close on a later poll, once the partial is acked
        if s.buf or s.skipping:
            return
        e = self.registry.get(s.key)
        if e is None or e["offset"] < s.read_offset:
            return  # lines still in flight: keep it open until they are acked
        if (s.rotated and idle >= max(self.partial_timeout, 1.0)) or \
                (self.close_inactive and idle >= self.close_inactive):
            self._close(s)

    def _take_partial(self, s: _Source, out: list[Line]) -> None:
        if s.skipping:
            end = s.read_offset
            out.append(Line(s.key, s.partial_start, end, s.skip_head, OVERSIZED, s.path,
                            end - s.partial_start))
        elif s.buf:
            end = s.partial_start + len(s.buf)
            out.append(Line(s.key, s.partial_start, end, s.buf, PARTIAL, s.path, len(s.buf)))
        else:
            return
        s.partial_start = s.read_offset
        s.buf, s.skipping, s.skip_head = b"", False, b""

    def _read_stdin(self, s: _Source, out: list[Line], budget: int, now: float) -> int:
        if s.eof:
            return 0
        try:
            r, _, _ = select.select([s.fd], [], [], 0)
            if not r:
                return 0
            data = os.read(s.fd, min(max(budget, 1), self.read_chunk))
        except BlockingIOError:
            return 0
        except OSError:
            data = b""
        if not data:
            s.eof = True
            self._take_partial(s, out)
            return 0
        s.read_offset += len(data)
        s.last_growth = now
        self._split(s, data, out)
        return len(data)

    def _close(self, s: _Source) -> None:
        if s.key and not s.stdin and (e := self.registry.get(s.key)) is not None:
            with contextlib.suppress(OSError):
                m = os.fstat(s.fd).st_mtime_ns
                if e.get("mtime_ns") != m:
                    e["mtime_ns"] = m
                    self.registry.dirty = True
        with contextlib.suppress(OSError):
            os.close(s.fd)
        if s in self.sources:
            self.sources.remove(s)
        if self._by_inode.get((s.dev, s.ino)) is s:
            del self._by_inode[(s.dev, s.ino)]
        self._set_key(s, None)

    # -- acks and state --------------------------------------------------------------------
    def ack(self, source: str, end: int) -> None:
        """Everything of ``source`` before ``end`` is durable downstream."""
        if source.startswith("stdin:") or not self.registry.set_offset(source, end):
            return
        s = self._by_key.get(source)
        if s is not None and end >= TAIL_CHECK_BYTES:
            with contextlib.suppress(OSError):
                tail = os.pread(s.fd, TAIL_CHECK_BYTES, end - TAIL_CHECK_BYTES)
                if len(tail) == TAIL_CHECK_BYTES:
                    self.registry.entries[source]["tail"] = {"at": end, "len": TAIL_CHECK_BYTES,
                                                             "hash": _hash(tail)}

    def id_key(self, source: str) -> str:
        """The identity that ids of ``source``'s lines without event.id derive from."""
        e = self.registry.get(source)
        return (e.get("id_key") or source) if e else source

    def save(self, force: bool = False) -> bool:
        """Persists the registry (if changed); call it after the acked lines are durable."""
        for s in self.sources:
            if s.key and not s.stdin and (e := self.registry.get(s.key)) is not None \
                    and e["offset"] >= s.size:
                with contextlib.suppress(OSError):
                    m = os.fstat(s.fd).st_mtime_ns
                    if e.get("mtime_ns") != m:
                        e["mtime_ns"] = m
                        self.registry.dirty = True
        return self.registry.save(force)

    def lag(self) -> int:
        """Bytes present in the followed files but not yet acked."""
        total = 0
        for s in self.sources:
            if s.stdin:
                continue
            with contextlib.suppress(OSError):
                size = os.fstat(s.fd).st_size
                e = self.registry.get(s.key) if s.key else None
                total += max(0, size - (e["offset"] if e else 0))
        return total

    def idle(self) -> bool:
        """Every source read to its end (stdin: closed); partial lines may remain."""
        for s in self.sources:
            if s.stdin:
                if not s.eof:
                    return False
            elif s.key is not None:
                try:
                    if os.fstat(s.fd).st_size != s.read_offset:
                        return False
                except OSError:
                    continue
        return True

    def finish(self, force: bool = False) -> list[Line]:
        """At shutdown: partial last lines that waited ``partial_timeout`` (any, with force)."""
        out: list[Line] = []
        now = self.clock()
        for s in list(self.sources):
            if s.stdin:
                if force or s.eof:
                    self._take_partial(s, out)
                continue
            if not (force or now - s.last_growth >= self.partial_timeout):
                continue
            if s.key is None:
                if not self._identify(s, force=True):
                    continue
                self._read_file(s, out, self.read_chunk, now)
            with contextlib.suppress(OSError):
                if os.fstat(s.fd).st_size == s.read_offset:
                    self._take_partial(s, out)
        return out

    def close(self) -> None:
        for s in list(self.sources):
            with contextlib.suppress(OSError):
                os.close(s.fd)
        self.sources.clear()
        self._by_inode.clear()
        self._by_key.clear()
        self.registry.close()

    def __enter__(self) -> "Tailer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
