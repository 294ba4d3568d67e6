"""Helpers for the alert tests (imported by tests/test_alert_*.py): log files written through
logkit's own renderer with controlled timestamps, and a stepper that runs the alert engine at chosen
times with one persistent state.

The two tests at the bottom check the helpers themselves.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Iterable

from logkit.alert import Source, State, parse
from logkit.alert.engine import run_once
from logkit.emit import Renderer

#: Scenario time origin: every scenario's minute 0.
T0 = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Logs:
    """Events with controlled timestamps, rendered by ``logkit.emit.Renderer`` (the emit path's
    own line builder), one NDJSON file."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, bytes]] = []
        self._renderers: dict[tuple[str, str], Renderer] = {}

    def event(self, minute: float, service: str, stype: str, level: str, message: str, fields: dict) -> "Logs":
        r = self._renderers.get((service, stype))
        if r is None:
            r = self._renderers[(service, stype)] = Renderer(service, stype, environment="test")
        t = at(minute).timestamp()
        f = {"host.hostname": fields.pop("host", f"{service}-1"), **fields}
        self.lines.append((t, r.render(message, level, "test", t, f)))
        return self

    # --- Scrapy ---
    def page(self, minute: float, domain: str, status: int = 200, proxy: str | None = None) -> "Logs":
        f = {"event.action": "page.fetched", "url.domain": domain, "url.full": f"https://{domain}/p",
             "http.response.status_code": status, "event.outcome": "success" if status < 400 else "failure"}
        if proxy:
            f["scrapy.proxy"] = proxy
        return self.event(minute, "crawler", "scrapy", "info" if status < 400 else "warning",
                          f"Crawled ({status}) <GET https://{domain}/p>", f)

    def download_failed(self, minute: float, domain: str, error_type: str = "twisted.internet.error.TimeoutError",
                        message: str | None = None) -> "Logs":
        msg = message or f"User timeout caused connection failure: Getting https://{domain}/p took longer than 180.0 seconds."
        return self.event(minute, "crawler", "scrapy", "error", f"Gave up retrying <GET https://{domain}/p>",
                          {"event.action": "download.failed", "url.domain": domain, "url.full": f"https://{domain}/p",
                           "error.type": error_type, "error.message": msg})

    def captcha(self, minute: float, domain: str, vendor: str = "cloudflare") -> "Logs":
        return self.event(minute, "crawler", "scrapy", "warning", f"{vendor} challenge on {domain}",
                          {"event.action": "captcha.detected", "url.domain": domain, "url.full": f"https://{domain}/p",
                           "scrapy.challenge.vendor": vendor, "scrapy.challenge.kind": "captcha",
                           "http.response.status_code": 403})

    # --- Celery ---
    def task(self, minute: float, name: str = "crawl.fetch_site", outcome: str = "succeeded",
             runtime: float = 1.0, worker: str = "w1", queue_wait: float | None = None, service: str = "workers",
             timed_out: bool = False, queue: str = "default") -> "Logs":
        common = {"celery.task.name": name, "celery.task.id": f"id-{minute}-{worker}", "celery.task.queue": queue,
                  "celery.worker.hostname": f"celery@{worker}", "host": worker}
        if queue_wait is not None:
            self.event(minute, service, "celery", "info", f"Task {name} started",
                       {**common, "event.action": "task.started", "celery.task.queue_wait": queue_wait})
            common["host"] = worker
        f = {**common, "event.action": f"task.{outcome}"}
        level = "info"
        if outcome in ("succeeded", "failed"):
            f["celery.task.runtime"] = runtime
        if outcome == "failed":
            level = "error"
            f["error.type"] = "billiard.exceptions.TimeLimitExceeded" if timed_out else "KeyError"
            f["error.message"] = "TimeLimitExceeded(300,)" if timed_out else "'item'"
            if timed_out:
                f["celery.task.timed_out"] = True
        if outcome == "retried":
            level = "warning"
        return self.event(minute, service, "celery", level, f"Task {name} {outcome}", f)

    # --- anything ---
    def critical(self, minute: float, service: str = "web", message: str = "database connection pool exhausted"
                 ) -> "Logs":
        return self.event(minute, service, "django", "critical", message, {"event.action": "log"})

    def error(self, minute: float, message: str, error_type: str = "RuntimeError", service: str = "web") -> "Logs":
        return self.event(minute, service, "django", "error", message,
                          {"event.action": "log", "error.type": error_type, "error.message": message})

    def write(self, path) -> str:
        path = str(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as f:
            for _, line in sorted(self.lines, key=lambda x: x[0]):
                f.write(line + b"\n")
        return path


class Stepper:
    """Runs the engine over one log file at chosen minutes with one persistent in-memory state."""

    def __init__(self, rules_yaml: str, path: str, **kw):
        self.rules = parse(rules_yaml, "test-rules.yml")
        self.source = Source([path], fields=self.rules.fields_needed())
        self.state = State()
        self.kw = kw

    def step(self, minute: float):
        return run_once(self.rules, self.source, at(minute), self.state, **self.kw)

    def statuses(self, rule: str | None = None) -> dict[str, str]:
        """group text -> status, for the alerts in the state."""
        return {_gtext(a.labels): a.status for a in self.state.alerts.values() if rule is None or a.rule == rule}

    def run(self, minutes: Iterable[float]) -> list[tuple[float, str, str]]:
        """(minute, status, group) for each notification over the steps."""
        out = []
        for m in minutes:
            res = self.step(m)
            out += [(m, n.status, _gtext(n.labels)) for n in res.notifications]
        return out

    def close(self) -> None:
        self.source.close()


def _gtext(labels: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity", "team"))


# --- the helpers' own checks ------------------------------------------------------------------
def test_logs_helper_writes_emitter_lines_at_the_given_times(tmp_path):
    p = Logs().page(1.5, "a.example").task(2, queue_wait=0.5).write(tmp_path / "x.ndjson")
    lines = open(p).read().splitlines()
    assert len(lines) == 3 and lines[0].startswith('{"@timestamp":"2026-11-24T06:01:30.000Z","log.level":"info"')


def test_stepper_runs_rules_at_given_minutes(tmp_path):
    p = Logs().critical(1).write(tmp_path / "x.ndjson")
    s = Stepper("rules: [{name: C, kind: critical, window: 5m}]", p)
    try:
        assert s.run([2, 3, 7]) == [(2, "firing", "service=web"), (7, "resolved", "service=web")]
    finally:
        s.close()
