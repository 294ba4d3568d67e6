"""Logs as people export them from Kibana and Elasticsearch, turned into lines the loader reads.

- **Kibana Discover CSV report** (Share → CSV): a header row of field names, then one record per
  document, written by Kibana's ``@kbn/generate-csv``: values with any non-alphanumeric character
  are double-quoted with inner quotes doubled (``csv:quoteValues``, on by default), values that
  start with ``=``, ``+``, ``-`` or ``@`` are prefixed with ``'``
  (``xpack.reporting.csv.escapeFormulaValues``), dates use the ``dateFormat`` advanced setting
  (default ``MMM D, YYYY @ HH:mm:ss.SSS``, e.g. ``Dec 2, 2026 @ 05:53:17.431``) in the
  ``dateFormat:tz`` time zone, which reports write in UTC when it is ``Browser`` (the default),
  and numbers go through the field's formatter (default ``0,0.[000]``: ``1,143``).
- **A pretty-printed ``_search`` response or scroll pages saved from the console**: one or several
  JSON documents per file, each spanning many lines (``{"took": ..., "hits": {"hits": [...]}}``,
  or a list of hits).

Each is rewritten to a temporary NDJSON file, one output line per CSV record (the header is an
empty line, so a bad record's line number is its line in a one-line-per-record export) or per hit,
and then loaded like any other file: a record whose date cannot be read keeps it as written and is
counted under "missing or invalid @timestamp", a record with the wrong number of cells is written
as a non-object and counted as such, a JSON document that cannot be parsed is one "malformed JSON"
line. Nothing is dropped silently.

Python's csv module reads the quoting (it is RFC 4180 quoting); what is written by hand here is
only what is Kibana's own: the formula prefix, the date and number formats.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from datetime import datetime, timezone

import orjson

from .. import schema
from .compressed import decompressed_chunks

#: Kibana's default dateFormat, MMM D, YYYY @ HH:mm:ss.SSS (moment.js), in strptime terms.
KIBANA_DATE = "%b %d, %Y @ %H:%M:%S.%f"
_FORMULA_START = ("=", "+", "-", "@")  # Kibana's CSV_FORMULA_CHARS
_NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float",
            "unsigned_long"}
_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")
#: Bytes read to recognise a file.
HEAD = 65536


def _head(path: str, compression: str) -> bytes:
    out = b""
    try:
        for chunk in decompressed_chunks(path, compression, 0):
            out += chunk
            if len(out) >= HEAD:
                break
    except Exception:  # a cut stream: what came before is enough to decide
        pass
    return out[:HEAD]


def kind_of(path: str, compression: str) -> str | None:
    """``kibana-csv``, ``pretty-json`` or None (a line-per-event file the loader reads itself)."""
    head = _head(path, compression)
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        return None
    if stripped[0] in "{[":
        first = stripped.split("\n", 1)[0].strip()
        if first in ("{", "["):
            return "pretty-json"
        # NDJSON whose first line is damaged stays NDJSON (its bad lines are counted); a document
        # that parses and spans lines is pretty-printed.
        try:
            _, end = json.JSONDecoder().raw_decode(stripped)
        except ValueError:
            return None
        return "pretty-json" if "\n" in stripped[:end] else None
    try:
        header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])))
    except (csv.Error, StopIteration):
        return None
    if len(header) >= 2 and ("@timestamp" in header or path.lower().endswith((".csv", ".csv.gz", ".csv.zst"))):
        return "kibana-csv"
    return None


def _read_text(path: str, compression: str) -> str:
    buf = bytearray()
    try:
        for chunk in decompressed_chunks(path, compression, 0):
            buf += chunk
    except Exception:  # a cut stream: the rest is lost; the loader counts what is malformed
        pass
    return buf.decode("utf-8", "replace").lstrip("\ufeff")


def kibana_time(s: str) -> str | None:
    """``Dec 2, 2026 @ 05:53:17.431`` (UTC) or an ISO 8601 time -> ``2026-12-02T05:53:17.431Z``."""
    s = s.strip()
    for fmt in (KIBANA_DATE, "%b %d, %Y @ %H:%M:%S"):
        try:
            t = datetime.strptime(s, fmt).replace(tzinfo=timezone.utc)
            return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        except ValueError:
            pass
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell(name: str, raw: str):
    """A CSV cell as the event's value, or None to leave the field out (Kibana writes an empty
    cell, or ``-``, for a field the document lacks)."""
    v = raw
    if len(v) > 1 and v[0] == "'" and v[1] in _FORMULA_START:
        v = v[1:]  # Kibana's formula escape
    if v == "" or v == "-" and name != "message":
        return None
    f = schema.FIELDS.get(name)
    if name == "@timestamp":
        return kibana_time(v) or v  # kept as written: the loader counts it as invalid
    if f is None:
        return v
    if f.type in _NUMERIC:
        if not _NUMBER.match(v.strip()):
            return None
        n = v.strip().replace(",", "")
        return float(n) if "." in n or f.type in ("double", "float", "half_float", "scaled_float") else int(n)
    if f.type == "boolean":
        return {"true": True, "false": False}.get(v.lower())
    if f.type in ("object", "flattened") and v.startswith("{"):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def csv_to_ndjson(text: str, out) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h[1:] if len(h) > 1 and h[0] == "'" and h[1] in _FORMULA_START else h for h in header]
    out.write(b"\n")  # the header's line
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error:
            out.write(b'"unreadable CSV record"\n')
            continue
        if not rec:
            out.write(b"\n")
            continue
        if len(rec) != len(header):
            out.write(orjson.dumps(f"CSV record with {len(rec)} cells, header has {len(header)}") + b"\n")
            continue
        ev = {}
        for name, raw in zip(header, rec):
            if name in ("_id", "_index", "_score", "_type"):
                continue
            v = _cell(name, raw)
            if v is not None:
                ev[name] = v
        out.write(orjson.dumps(ev) + b"\n")


def _docs(text: str):
    """The JSON values of a file holding one or several pretty-printed documents (concatenated,
    as successive saves of console output are), and at most one error for a cut or broken rest."""
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return
        try:
            v, i = dec.raw_decode(text, i)
        except ValueError:
            yield None
            return
        yield v


def pretty_to_ndjson(text: str, out) -> None:
    for doc in _docs(text):
        if doc is None:
            out.write(b"{malformed JSON document\n")
            continue
        hits = doc.get("hits", {}).get("hits") if isinstance(doc, dict) and isinstance(doc.get("hits"), dict) \
            else doc if isinstance(doc, list) else [doc]
        if not isinstance(hits, list):
            hits = [hits]
        for h in hits:
            out.write(orjson.dumps(h) + b"\n")


def convert(path: str, compression: str, tmpdir: str | None = None) -> str | None:
    """The path of a temporary NDJSON file holding ``path``'s events when it is a Kibana CSV
    report or pretty-printed JSON; None when the loader reads it as it is."""
    kind = kind_of(path, compression)
    if kind is None:
        return None
    fd, tmp = tempfile.mkstemp(prefix="logkit-export-", suffix=".ndjson", dir=tmpdir)
    with os.fdopen(fd, "wb") as out:
        text = _read_text(path, compression)
        (csv_to_ndjson if kind == "kibana-csv" else pretty_to_ndjson)(text, out)
    return tmp
