"""Alert lifecycle and its state file.

One alert per group: its labels (``alertname`` = the rule, the rule's labels, the group's labels,
e.g. ``domain``) identify it, and their fingerprint keys the state. At each evaluation:

- condition true, no alert (or a resolved one): the alert becomes **pending** (``active_at`` = now,
  or earlier when ``for:`` history was reconstructed, see engine.py); with ``for: 0`` it fires at once;
- pending and true for at least ``for:`` → **firing**, notified;
- firing and still true → notified again only every ``repeat_interval``;
- pending and false → dropped, never notified (as in Prometheus);
- firing and false (or its group is gone) → **resolved**, notified once.

The state file (JSON, written atomically: a temporary file renamed over it, under an exclusive
``flock`` of ``PATH.lock`` so two runs of cron cannot interleave) keeps the alerts, when each rule
was last evaluated, the new-pattern memory, and the **outbox**: notifications a sink could not
deliver, retried at the next run and never dropped. It holds labels and annotations (log content)
but never a URL or a token.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping

from .evaluate import Sample
from .rules import Rule

STATE_VERSION = 1
#: Resolved alerts stay in the state this long (shown by explain), then are forgotten.
RESOLVED_RETENTION = timedelta(hours=24)


class StateError(Exception):
    """The state file cannot be read or written."""


def iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def fingerprint(labels: Mapping[str, str]) -> str:
    blob = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass
class AlertRecord:
    fingerprint: str
    rule: str
    labels: dict[str, str]
    annotations: dict[str, str]
    status: str                      # pending | firing | resolved
    active_at: str
    fired_at: str | None = None
    resolved_at: str | None = None
    last_notified_at: str | None = None
    last_eval_at: str | None = None
    value: float | None = None
    reason: str = ""


@dataclass
class Notification:
    """What a sink sends: one alert's transition (or a repeat)."""
    status: str                      # firing | resolved
    rule: str
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str | None
    value: float | None
    repeat: bool = False
    at: str = ""                     # evaluation time that produced it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Notification":
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__ if k in d})

    @classmethod
    def of(cls, rec: AlertRecord, status: str, at: datetime, repeat: bool = False) -> "Notification":
        return cls(status, rec.rule, rec.fingerprint, dict(rec.labels), dict(rec.annotations), rec.active_at,
                   rec.resolved_at if status == "resolved" else None, _finite(rec.value), repeat, iso(at) or "")


def _finite(v: float | None) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def render(rule: Rule, sample: Sample) -> tuple[dict[str, str], dict[str, str]]:
    """The alert's labels and annotations for one sample."""
    labels = {"alertname": rule.name}
    base = dict(sample.vars)
    for k, t in rule.labels.items():
        labels[k] = t.render(base)
    labels.update(sample.group)
    vars_ = {**base, **labels}
    ann = {k: t.render(vars_) for k, t in rule.annotations.items()}
    return labels, ann


@dataclass
class State:
    path: str | None = None
    alerts: dict[str, AlertRecord] = field(default_factory=dict)
    rules: dict[str, dict] = field(default_factory=dict)
    patterns: dict[str, dict] = field(default_factory=dict)
    outbox: list[dict] = field(default_factory=list)

    # --- persistence -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | None) -> "State":
        st = cls(path)
        if not path or not os.path.exists(path):
            return st
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise StateError(f"cannot read the alert state {path}: {e} (move it away to start afresh)") from None
        if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
            raise StateError(f"{path} is not a logkit alert state (version {STATE_VERSION})")
        try:
            st.alerts = {fp: AlertRecord(**a) for fp, a in doc.get("alerts", {}).items()}
        except TypeError as e:
            raise StateError(f"{path}: bad alert record: {e}") from None
        st.rules = dict(doc.get("rules", {}))
        st.patterns = dict(doc.get("patterns", {}))
        st.outbox = list(doc.get("outbox", []))
        return st

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "alerts": {fp: asdict(a) for fp, a in sorted(self.alerts.items())},
                "rules": self.rules, "patterns": self.patterns, "outbox": self.outbox}

    def save(self) -> None:
        if not self.path:
            return
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".logkit-alerts-", dir=d)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, ensure_ascii=False, indent=1, default=str)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def locked(self) -> Iterator["State"]:
        """Hold an exclusive lock on ``PATH.lock`` (blocking) while a run reads, updates and saves."""
        if not self.path:
            yield self
            return
        import fcntl
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path + ".lock", "a") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(lk, fcntl.LOCK_UN)

    # --- lifecycle ---------------------------------------------------------------------------
    def seen(self, rule: str) -> bool:
        return rule in self.rules

    def apply(self, rule: Rule, samples: list[Sample], now: datetime,
              active_since: Mapping[str, datetime] | None = None) -> list[Notification]:
        """Advance the alerts of ``rule`` to ``now``; the notifications this causes."""
        out: list[Notification] = []
        current = set()
        for s in samples:
            if not s.active:
                continue
            labels, ann = render(rule, s)
            fp = fingerprint(labels)
            if fp in current:
                continue
            current.add(fp)
            rec = self.alerts.get(fp)
            if rec is None or rec.status == "resolved":
                start = (active_since or {}).get(fp, now)
                rec = AlertRecord(fp, rule.name, labels, ann, "pending", iso(start) or "")
                self.alerts[fp] = rec
            rec.annotations, rec.value, rec.last_eval_at, rec.reason = ann, s.value, iso(now), s.reason
            if rec.status == "pending" and now - parse_iso(rec.active_at) >= rule.for_:
                rec.status, rec.fired_at, rec.last_notified_at = "firing", iso(now), iso(now)
                out.append(Notification.of(rec, "firing", now))
            elif rec.status == "firing":
                last = parse_iso(rec.last_notified_at) or parse_iso(rec.fired_at)
                if last is None or now - last >= rule.repeat_interval:
                    rec.last_notified_at = iso(now)
                    out.append(Notification.of(rec, "firing", now, repeat=True))
        for fp, rec in list(self.alerts.items()):
            if rec.rule != rule.name or fp in current:
                continue
            if rec.status == "pending":
                del self.alerts[fp]
            elif rec.status == "firing":
                rec.status, rec.resolved_at, rec.last_eval_at = "resolved", iso(now), iso(now)
                rec.last_notified_at = iso(now)
                out.append(Notification.of(rec, "resolved", now))
        self.rules[rule.name] = {"last_eval": iso(now)}
        return out

    def prune(self, now: datetime, rule_names: set[str] | None = None) -> None:
        for fp, rec in list(self.alerts.items()):
            if rec.status == "resolved" and now - (parse_iso(rec.resolved_at) or now) > RESOLVED_RETENTION:
                del self.alerts[fp]

    def by_status(self, status: str, rule: str | None = None) -> list[AlertRecord]:
        return sorted((a for a in self.alerts.values() if a.status == status and (rule is None or a.rule == rule)),
                      key=lambda a: (a.rule, sorted(a.labels.items())))
