"""Where alerts go: stdout (JSON lines), a generic JSON webhook, Slack's incoming webhook, and
Prometheus Alertmanager's v2 API.

Delivery: each HTTP POST is retried with exponential backoff (``retries``, ``backoff``; on
connection errors, timeouts, 408, 429 — honouring ``Retry-After`` up to 30 s — and 5xx). What still
fails is reported (the error names the route by its environment variable, never the URL) and
returned, so the engine keeps it in the state's outbox for the next run: nothing is dropped.

Secrets: webhook URLs and header values (tokens) are read from the environment variables a route
names (``url_env``, ``headers_env``) at send time; they are never written to the state, to a log or to
an error message (:func:`mask` replaces them in any text that leaves this module).

Escaping: log content (domains, messages, exception text) reaches labels and annotations. The
webhook and Alertmanager bodies are JSON (the encoder escapes); the Slack text is mrkdwn, where
``<``, ``>`` and ``&`` are control characters (``<!channel>``, ``<https://x|click>``): they are sent as
``&lt;``, ``&gt;``, ``&amp;`` (Slack's own escaping rule), ``@channel``/``@here``/``@everyone`` get a
zero-width space, line breaks and tabs (``\n``, ``\r``, ``\t``, U+2028/2029, NEL) become a space (a
value cannot start a line of its own: no forged "✅ RESOLVED" line inside a firing alert), other
control and bidi characters are dropped, and text blocks are ``verbatim`` (no auto-linking of URLs or
names), unfurling off. mrkdwn has no backslash escape, so its markup characters in log content are
replaced by their full-width look-alikes (``*`` → ``＊``, ``_`` → ``＿``, ``~`` → ``～``, ```` ` ```` →
``｀``): the text reads the same and cannot open bold, italic, strike or code.
"""
from __future__ import annotations

import email.utils
import os
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence, TextIO

import orjson

from .rules import Route, Template
from .state import AlertRecord, Notification, iso

USER_AGENT = "logkit-alerts/1"
MAX_RETRY_AFTER = 30.0


@dataclass
class SendResult:
    ok: bool
    error: str = ""
    attempts: int = 0
    status: int | None = None


class DeliveryError(Exception):
    pass


def mask(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret (and its URL-quoted form) replaced by ``***``."""
    from urllib.parse import quote
    for s in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(s, "***").replace(quote(s, safe=""), "***")
    return text


# --- HTTP ------------------------------------------------------------------------------------------
def post_json(url: str, body: bytes, headers: Mapping[str, str], *, retries: int = 3, backoff: float = 0.5,
              timeout: float = 10.0, secrets: Sequence[str] = (), sleep: Callable[[float], None] = time.sleep
              ) -> SendResult:
    """POST ``body`` with retries and exponential backoff; never raises for delivery problems."""
    hdrs = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    last = ""
    status = None
    for attempt in range(retries + 1):
        delay = backoff * (2 ** attempt)
        try:
            req = urllib.request.Request(url, data=body, headers=hdrs, method="POST")
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read(65536)
                return SendResult(True, attempts=attempt + 1, status=resp.status)
        except urllib.error.HTTPError as e:
            status = e.code
            try:
                detail = e.read(300).decode("utf-8", "replace").strip()
            except Exception:
                detail = ""
            last = f"HTTP {e.code}" + (f": {detail}" if detail else "")
            if e.code not in (408, 429) and e.code < 500:
                return SendResult(False, mask(last, secrets), attempt + 1, status)
            ra = e.headers.get("Retry-After") if e.headers else None
            if ra:
                delay = max(delay, _retry_after(ra))
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            last = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
        if attempt < retries:
            sleep(min(delay, MAX_RETRY_AFTER))
    return SendResult(False, mask(f"{last} (after {retries + 1} attempts)", secrets), retries + 1, status)


def _retry_after(v: str) -> float:
    try:
        return min(float(v), MAX_RETRY_AFTER)
    except ValueError:
        try:
            t = email.utils.parsedate_to_datetime(v)
            return min(max((t - datetime.now(timezone.utc)).total_seconds(), 0), MAX_RETRY_AFTER)
        except (TypeError, ValueError):
            return 0.0


# --- escaping --------------------------------------------------------------------------------------
_BREAK = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
                      "\ufeff\ufff9-\ufffb]")
_MENTION = re.compile(r"@(channel|here|everyone)\b", re.I)
_MARKUP = str.maketrans({"*": "\uff0a", "_": "\uff3f", "~": "\uff5e", "`": "\uff40"})


def slack_escape(s: Any, limit: int = 2900) -> str:
    """Log content as Slack mrkdwn text: one line, no control sequence, markup, mention or link can form."""
    t = _BREAK.sub(" ", str(s))
    t = _CONTROL.sub("", t)
    t = t.translate(_MARKUP)
    t = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    t = _MENTION.sub(lambda m: "@\u200b" + m.group(1), t)
    if len(t) > limit:
        t = t[:limit - 1] + "…"
    return t


# --- payloads --------------------------------------------------------------------------------------
def webhook_payload(notes: Sequence[Notification], receiver: str, now: datetime) -> dict[str, Any]:
    status = "firing" if any(n.status == "firing" for n in notes) else "resolved"
    return {"version": "logkit.alerts/1", "receiver": receiver, "status": status, "sent_at": iso(now),
            "alerts": [n.to_dict() for n in notes]}


_GROUP_SKIP = ("alertname", "severity")


def slack_payload(n: Notification) -> dict[str, Any]:
    firing = n.status == "firing"
    sev = n.labels.get("severity", "")
    head = ("🔥 FIRING" if firing else "✅ RESOLVED") + (f" ({slack_escape(sev, 40)})" if sev and firing else "")
    name = slack_escape(n.labels.get("alertname", n.rule), 200)
    ident = ", ".join(f"{slack_escape(k, 60)}={slack_escape(v, 200)}" for k, v in sorted(n.labels.items())
                      if k not in _GROUP_SKIP)
    summary = n.annotations.get("summary") or n.annotations.get("description") or ""
    lines = [f"*{head}: {name}*" + (f" — {ident}" if ident else "")]
    if summary:
        lines.append(slack_escape(summary, 1500))
    desc = n.annotations.get("description")
    if desc and desc != summary:
        lines.append(slack_escape(desc, 1200))
    text = "\n".join(lines)
    ctx = f"since {n.starts_at}" + (f" · resolved {n.ends_at}" if n.ends_at and not firing else "") \
        + (" · repeat" if n.repeat else "") + f" · fingerprint {n.fingerprint}"
    runbook = n.annotations.get("runbook_url")
    if runbook:
        ctx += f" · runbook: {slack_escape(runbook, 300)}"
    fallback = f"{'FIRING' if firing else 'RESOLVED'}: {name}" + (f" {ident}" if ident else "") + \
        (f": {slack_escape(summary, 300)}" if summary else "")
    return {
        "text": fallback,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": ctx, "verbatim": True}]},
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def alertmanager_alert(labels: Mapping[str, str], annotations: Mapping[str, str], starts_at: str | None,
                       ends_at: str | None, generator_url: str | None) -> dict[str, Any]:
    """One ``postableAlert`` of Alertmanager's v2 API (``POST /api/v2/alerts``)."""
    a: dict[str, Any] = {"labels": {k: v for k, v in labels.items() if v != ""},
                         "annotations": {k: v for k, v in annotations.items() if v != ""}}
    if starts_at:
        a["startsAt"] = starts_at
    if ends_at:
        a["endsAt"] = ends_at
    if generator_url:
        a["generatorURL"] = generator_url
    return a


# --- sinks -------------------------------------------------------------------------------------------
class Sink:
    """Base class: ``send(notes, firing, now)`` -> per notification, None (delivered) or an error."""

    def __init__(self, route: Route, env: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.route = route
        self.env = os.environ if env is None else env
        self.sleep = sleep
        #: A delivery problem not tied to a notification (Alertmanager: re-sending firing alerts).
        self.other_error: str | None = None

    @property
    def name(self) -> str:
        return self.route.name

    def secrets(self) -> list[str]:
        out = []
        if self.route.url_env:
            out.append(self.env.get(self.route.url_env, ""))
        out += [self.env.get(v, "") for v in self.route.headers_env.values()]
        return [s for s in out if s]

    def url(self) -> str:
        if self.route.url_env:
            u = self.env.get(self.route.url_env, "").strip()
            if not u:
                raise DeliveryError(f"environment variable {self.route.url_env} is not set")
            if not u.startswith(("http://", "https://")):
                raise DeliveryError(f"environment variable {self.route.url_env} does not hold an http(s) URL")
            return u
        assert self.route.url
        return self.route.url

    def headers(self) -> dict[str, str]:
        out = {}
        for h, var in self.route.headers_env.items():
            v = self.env.get(var)
            if not v:
                raise DeliveryError(f"environment variable {var} (header {h}) is not set")
            out[h] = v
        return out

    def _post(self, url: str, payload: Any) -> SendResult:
        r = self.route
        return post_json(url, orjson.dumps(payload), self.headers(), retries=r.retries, backoff=r.backoff,
                         timeout=r.timeout, secrets=self.secrets(), sleep=self.sleep)

    def send(self, notes: Sequence[Notification], firing: Sequence[AlertRecord], now: datetime,
             rule_urls: Mapping[str, str] | None = None) -> list[str | None]:
        raise NotImplementedError


class StdoutSink(Sink):
    """One JSON object per line per notification (``route``, then the notification's fields)."""

    def __init__(self, route: Route, stream: TextIO | None = None, **kw):
        super().__init__(route, **kw)
        self.stream = stream

    def send(self, notes, firing, now, rule_urls=None):
        out = self.stream or sys.stdout
        done: list[str | None] = []
        try:
            for n in notes:
                out.write(orjson.dumps({"route": self.name, **n.to_dict()}).decode() + "\n")
                done.append(None)
            out.flush()
        except (OSError, ValueError) as e:  # a closed pipe (| head): kept for the next run like any failure
            return done + [f"stdout: {type(e).__name__}: {e}"] * (len(notes) - len(done))
        return done


class WebhookSink(Sink):
    """One POST per run with every notification for this route (``webhook_payload``)."""

    def send(self, notes, firing, now, rule_urls=None):
        if not notes:
            return []
        try:
            res = self._post(self.url(), webhook_payload(notes, self.name, now))
        except DeliveryError as e:
            return [str(e)] * len(notes)
        return [None if res.ok else res.error] * len(notes)


class SlackSink(Sink):
    """One message per notification (``slack_payload``), in order; stops at the first failure."""

    def send(self, notes, firing, now, rule_urls=None):
        out: list[str | None] = []
        try:
            url = self.url()
        except DeliveryError as e:
            return [str(e)] * len(notes)
        for i, n in enumerate(notes):
            res = self._post(url, slack_payload(n))
            if not res.ok:
                return out + [res.error] * (len(notes) - i)
            out.append(None)
        return out


class AlertmanagerSink(Sink):
    """Alertmanager v2 (``POST {url}/api/v2/alerts``). Every currently firing alert is sent at each
    run (as Prometheus does: Alertmanager deduplicates, groups and repeats by its own config) with
    ``endsAt`` = now + ``ttl``, so Alertmanager resolves it by itself if logkit stops running; a
    resolved alert is sent once with ``endsAt`` = when it resolved."""

    def send(self, notes, firing, now, rule_urls=None):
        ttl_end = iso(now + self.route.ttl)
        batch: dict[str, dict] = {}
        for n in notes:
            batch[n.fingerprint] = self._alert(n.rule, n.fingerprint, n.labels, n.annotations, n.starts_at,
                                               n.ends_at if n.status == "resolved" else ttl_end, rule_urls)
        for a in firing:
            batch[a.fingerprint] = self._alert(a.rule, a.fingerprint, a.labels, a.annotations, a.active_at,
                                               ttl_end, rule_urls)
        if not batch:
            return [None] * len(notes)
        try:
            res = self._post(self.url().rstrip("/") + "/api/v2/alerts", list(batch.values()))
        except DeliveryError as e:
            return [str(e)] * len(notes)
        if not res.ok and not notes:
            # Only the re-sent firing alerts failed: nothing to keep (the next run re-sends them),
            # but the engine reports it.
            self.other_error = res.error
        return [None if res.ok else res.error] * len(notes)

    def _alert(self, rule, fp, labels, annotations, starts, ends, rule_urls):
        gen = None
        if self.route.generator_url is not None:
            gen = self.route.generator_url.render({"rule": rule, "fingerprint": fp, **labels})
        elif rule_urls:
            gen = rule_urls.get(rule)
        return alertmanager_alert(labels, annotations, starts, ends, gen)


SINKS = {"stdout": StdoutSink, "webhook": WebhookSink, "slack": SlackSink, "alertmanager": AlertmanagerSink}


def make_sink(route: Route, *, stream: TextIO | None = None, env: Mapping[str, str] | None = None,
              sleep: Callable[[float], None] = time.sleep) -> Sink:
    if route.type == "stdout":
        return StdoutSink(route, stream=stream, env=env, sleep=sleep)
    return SINKS[route.type](route, env=env, sleep=sleep)


__all__ = ["Sink", "StdoutSink", "WebhookSink", "SlackSink", "AlertmanagerSink", "make_sink", "post_json",
           "slack_payload", "slack_escape", "webhook_payload", "alertmanager_alert", "mask", "SendResult",
           "Template"]
