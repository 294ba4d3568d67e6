"""``logkit validate``: check log files line by line against the schema.

An *error* makes a line invalid (not JSON, a required field missing, a value of the wrong type);
a *warning* does not (an event type or top-level key the schema does not know, another schema
major version, keys out of the ecs-logging order). ``strict=True`` counts warnings as errors.
"""
from __future__ import annotations

import gzip
import ipaddress
import re
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator

import orjson

from . import schema
from .emit.render import flatten

_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)$")
# Other date fields may be local times, as Elasticsearch's default date format allows.
_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAJOR = schema.SCHEMA_VERSION.split(".")[0]
MAX_LINE_BYTES = 1 << 20
_I64 = 2**63
#: Keyword fields whose value may be a list of strings.
_LISTS = frozenset({"tags", "logkit.replaced"})
MAX_PROBLEMS_KEPT = 20

_JSON_TYPES = {
    "keyword": str, "wildcard": str, "constant_keyword": str, "match_only_text": str, "text": str, "date": str, "ip": str,
    "long": int, "integer": int, "double": (int, float), "float": (int, float), "boolean": bool,
    "object": dict, "flattened": dict,
}


@dataclass
class Problem:
    line: int
    reason: str
    severity: str = "error"


@dataclass
class FileResult:
    path: str
    lines: int = 0
    valid: int = 0
    invalid: int = 0
    warnings: int = 0
    problems: list[Problem] = field(default_factory=list)
    #: How many lines had each reason (all of them, not just the first few kept in ``problems``).
    reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def note(self, p: Problem) -> None:
        key = re.sub(r"'[^']*'", "'…'", p.reason) if p.severity == "warning" else p.reason.split(":")[0]
        self.reasons[key] = self.reasons.get(key, 0) + 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(p)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "lines": self.lines, "valid": self.valid, "invalid": self.invalid,
                "warnings": self.warnings, "error": self.error, "reasons": self.reasons,
                "problems": [p.__dict__ for p in self.problems]}


def check_value(name: str, value: Any) -> str | None:
    """Why ``value`` is not valid for field ``name``, or None."""
    f = schema.FIELDS.get(name)
    if f is None or value is None:
        return None
    if name in _LISTS and isinstance(value, list):
        return None if all(isinstance(t, str) for t in value) else f"{name} must be strings"
    want = _JSON_TYPES.get(f.type)
    if want is not None and (not isinstance(value, want) or (want is int and isinstance(value, bool))):
        return f"{name} should be {f.type}, got {type(value).__name__}"
    if f.type == "long" and not -_I64 <= value < _I64:
        return f"{name} is outside the 64-bit long range Elasticsearch accepts"
    if f.type in ("double", "float") and isinstance(value, int) and not -_I64 <= value < _I64:
        return f"{name} is an integer outside the 64-bit range (write it as a float)"
    if f.type == "date" and not (_TS if name == "@timestamp" else _DATE).match(value):
        return f"{name} is not an RFC 3339 timestamp: {value[:40]!r}"
    if f.type == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return f"{name} is not an IP address: {value[:40]!r}"
    if f.allowed is not None and value not in f.allowed:
        return f"{name} must be one of {', '.join(f.allowed)}, got {str(value)[:40]!r}"
    return None


def check_event(obj: Any) -> tuple[list[str], list[str]]:
    """(errors, warnings) for one parsed line."""
    if not isinstance(obj, dict):
        return [f"not a JSON object but {type(obj).__name__}"], []
    errors: list[str] = []
    warnings: list[str] = []
    keys = list(obj)
    if keys[:3] != ["@timestamp", "log.level", "message"]:
        warnings.append("does not open with @timestamp, log.level, message (ecs-logging order)")
    ev = flatten(obj)
    for name in schema.CORE_FIELDS:
        if ev.get(name) is None:
            errors.append(f"missing required field {name}")
    for name, value in ev.items():
        why = check_value(name, value)
        if why:
            errors.append(why)
        top = name.split(".", 1)[0]
        if top not in schema.TOP_LEVEL:
            warnings.append(f"top-level key {top!r} is neither ECS nor a logkit namespace")
    eid = ev.get("event.id")
    if isinstance(eid, str) and not _UUID.match(eid):
        warnings.append(f"event.id is not a UUID: {eid[:40]!r}")
    action = ev.get("event.action")
    et = schema.EVENT_TYPES.get(action) if isinstance(action, str) else None
    if et is None:
        if isinstance(action, str):
            warnings.append(f"event.action {action!r} is not a logkit event type")
    else:
        for name in et.required:
            if ev.get(name) is None:
                errors.append(f"{action} requires {name}")
        outcome = ev.get("event.outcome")
        if isinstance(outcome, str) and outcome in schema.OUTCOMES and outcome not in et.outcomes:
            errors.append(f"{action} cannot have outcome {outcome}")
    version = ev.get("logkit.schema_version")
    if isinstance(version, str) and version.split(".")[0] != _MAJOR:
        warnings.append(f"schema version {version} (this logkit reads {schema.SCHEMA_VERSION})")
    return errors, warnings


def _lines(fh: IO[bytes]) -> Iterator[bytes]:
    while True:
        line = fh.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            # Skip the rest of an oversized line without holding it in memory.
            while True:
                more = fh.readline(MAX_LINE_BYTES)
                if not more or more.endswith(b"\n"):
                    break
            yield b""  # sentinel: reported as oversized
            continue
        yield line


def validate_stream(fh: IO[bytes], path: str = "-", *, strict: bool = False) -> FileResult:
    res = FileResult(path)
    n = 0
    try:
        for n, raw in enumerate(_lines(fh), 1):
            res.lines = n
            if raw == b"":
                res.invalid += 1
                res.note(Problem(n, f"line longer than {MAX_LINE_BYTES} bytes"))
                continue
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                res.lines -= 0  # blank lines count as lines but are neither valid nor invalid
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                res.invalid += 1
                res.note(Problem(n, f"not UTF-8: byte {e.start}"))
                continue
            try:
                obj = orjson.loads(text)
            except orjson.JSONDecodeError as e:
                res.invalid += 1
                res.note(Problem(n, f"malformed JSON: {e}"))
                continue
            errors, warnings = check_event(obj)
            if strict:
                errors, warnings = errors + warnings, []
            for w in warnings:
                res.note(Problem(n, w, "warning"))
            res.warnings += bool(warnings)
            if errors:
                res.invalid += 1
                res.note(Problem(n, "; ".join(errors)))
            else:
                res.valid += 1
    except (OSError, EOFError) as e:  # truncated gzip and the like: keep what was read
        res.error = f"read failed after line {n}: {e}"
    return res


def validate_file(path: str, *, strict: bool = False) -> FileResult:
    """Validate one file (``-`` for stdin; ``.gz`` is read compressed)."""
    if path == "-":
        return validate_stream(sys.stdin.buffer, "-", strict=strict)
    try:
        fh: IO[bytes] = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    except OSError as e:
        return FileResult(path, error=f"cannot open: {e.strerror or e}")
    with fh:
        return validate_stream(fh, path, strict=strict)


def validate(paths: Iterable[str], *, strict: bool = False) -> list[FileResult]:
    """Validate each file; the library function behind ``logkit validate``."""
    return [validate_file(p, strict=strict) for p in paths]
