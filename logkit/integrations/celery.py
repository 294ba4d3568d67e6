"""Celery: task events from signals, one correlation id through task headers, logkit's logging kept.

One call, in the module that makes the app::

    app = Celery("shop")
    from logkit.integrations.celery import setup_celery_logging
    setup_celery_logging(app, service="shop-worker")          # options go to logkit.logging_config

What it does:

- connects Celery's ``setup_logging`` signal, so the worker applies logkit's dictConfig instead of
  configuring (and hijacking) the root logger itself; Celery's own records, and task loggers',
  then go through logkit's formatter like every other record. ``worker_hijack_root_logger`` is
  set to False as well.
- connects the task signals (:func:`instrument`), which emit ``task.sent`` (publisher side),
  ``task.received``, ``task.started`` (with ``celery.task.queue_wait``: sent → started, or ETA →
  started), ``task.succeeded`` (``celery.task.runtime``), ``task.failed`` (error fields;
  ``celery.task.timed_out`` for soft and hard time limits), ``task.retried``, ``task.revoked``
  and ``task.rejected`` (unknown or malformed messages).
- puts the publisher's correlation id (the bound ``trace.id``, or the active OpenTelemetry trace
  id, or a new one) and the send time into each task's message headers (``logkit_trace_id``,
  ``logkit_sent_at``), and binds ``trace.id`` and the task's name, id, root and parent ids and
  the worker hostname while the task runs — so every event the task logs carries them, and the
  tasks it sends (retries, chain links, group members, chord callbacks) carry the same id on.

Signals are process-wide in Celery: instrumenting once covers every app of the process, and
calling it again changes nothing. See docs/celery.md.
"""
from __future__ import annotations

import logging
import logging.config
import os
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

from .. import logging_config
from ..emit.context import bind, reset
from ..emit.context import get_context
from ._common import (ACTION, DURATION, ERROR_STACK, OUTCOME, REASON, TRACE_ID, action, emit, error_fields,
                      name, new_trace_id, otel_trace_id, valid_trace_id)

__all__ = ["setup_celery_logging", "instrument", "CeleryDuplicateFilter", "HEADER_TRACE_ID", "HEADER_SENT_AT"]

logger = logging.getLogger("logkit.celery")

#: Message headers logkit adds to every task it sees published.
HEADER_TRACE_ID = "logkit_trace_id"
HEADER_SENT_AT = "logkit_sent_at"

SENT = action("task.sent")
RECEIVED = action("task.received")
STARTED = action("task.started")
SUCCEEDED = action("task.succeeded")
FAILED = action("task.failed")
RETRIED = action("task.retried")
REVOKED = action("task.revoked")
REJECTED = action("task.rejected")

T_NAME = name("celery.task.name")
T_ID = name("celery.task.id")
T_PARENT = name("celery.task.parent_id")
T_ROOT = name("celery.task.root_id")
T_QUEUE = name("celery.task.queue")
T_RETRIES = name("celery.task.retries")
T_STATE = name("celery.task.state")
T_RUNTIME = name("celery.task.runtime")
T_WAIT = name("celery.task.queue_wait")
T_TIMED_OUT = name("celery.task.timed_out")
T_ETA = name("celery.task.eta")
WORKER = name("celery.worker.hostname")

_UID = "logkit.integrations.celery"

# Per process: what prerun set up for each running task (start time, context token).
_running: dict[str, tuple[float, Any]] = {}
# Worker main process: what the message said about each received task, for the events the main
# process emits (revoked, hard time limit) outside the task's own context. Bounded.
_received: "OrderedDict[str, dict]" = OrderedDict()
_RECEIVED_MAX = 10_000
_failed_in_main: "OrderedDict[str, None]" = OrderedDict()


# --- helpers ----------------------------------------------------------------------------------
def _get(obj: Any, key: str) -> Any:
    """A field of a Celery request, Context or dict; custom headers may sit under ``headers``."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        v = obj.get(key)
        if v is None and isinstance(obj.get("headers"), dict):
            v = obj["headers"].get(key)
        return v
    try:
        v = getattr(obj, key, None)
    except Exception:
        v = None
    if v is None:
        h = getattr(obj, "headers", None)
        if isinstance(h, dict):
            v = h.get(key)
    return v


def _ts(value: Any) -> float | None:
    """Unix seconds for an ISO string, a datetime or a number."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)
            return value.timestamp()
    except (TypeError, ValueError):
        pass
    return None


def _routing_key(delivery_info: Any) -> str | None:
    if isinstance(delivery_info, dict):
        return delivery_info.get("routing_key") or None
    return None


def _clean(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def _task_fields(req: Any, task_name: str | None = None, task_id: str | None = None) -> dict:
    """The common task fields from a request (Context, worker Request or headers dict)."""
    retries = _get(req, "retries")
    return _clean({
        T_NAME: task_name or _get(req, "task") or _get(req, "name") or _get(req, "task_name"),
        T_ID: task_id or _get(req, "id"),
        T_ROOT: _get(req, "root_id"),
        T_PARENT: _get(req, "parent_id"),
        T_QUEUE: _routing_key(_get(req, "delivery_info")),
        T_RETRIES: int(retries) if isinstance(retries, int) else None,
        WORKER: _get(req, "hostname"),
        TRACE_ID: valid_trace_id(_get(req, HEADER_TRACE_ID)),
    })


def _remember(task_id: str | None, fields: dict) -> None:
    if not task_id:
        return
    _received[task_id] = fields
    _received.move_to_end(task_id)
    while len(_received) > _RECEIVED_MAX:
        _received.popitem(last=False)


def _is_time_limit(exc: BaseException | None) -> bool:
    try:
        from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (SoftTimeLimitExceeded, TimeLimitExceeded))


# --- publisher side ------------------------------------------------------------------------------
def _before_publish(sender=None, headers=None, **kw) -> None:
    try:
        if not isinstance(headers, dict):
            return
        tid = valid_trace_id(headers.get(HEADER_TRACE_ID)) or otel_trace_id() \
            or valid_trace_id(get_context().get(TRACE_ID)) or new_trace_id()
        headers[HEADER_TRACE_ID] = tid
        headers[HEADER_SENT_AT] = time.time()
    except Exception:
        pass


def _after_publish(sender=None, body=None, exchange=None, routing_key=None, headers=None, **kw) -> None:
    try:
        h = headers if isinstance(headers, dict) else {}
        task_name = h.get("task") or sender
        fields = {
            ACTION: SENT, T_STATE: "SENT", OUTCOME: "success",
            T_NAME: task_name, T_ID: h.get("id"), T_ROOT: h.get("root_id"), T_PARENT: h.get("parent_id"),
            T_QUEUE: routing_key or None,
            T_RETRIES: h.get("retries") if isinstance(h.get("retries"), int) else None,
            T_ETA: h.get("eta") or None,
            TRACE_ID: valid_trace_id(h.get(HEADER_TRACE_ID)),
        }
        emit(logger, logging.INFO, f"Task {task_name}[{h.get('id')}] sent to {routing_key or exchange!s}",
             _clean(fields))
    except Exception:
        pass


# --- worker main process -----------------------------------------------------------------------
def _received_handler(sender=None, request=None, **kw) -> None:
    try:
        fields = _task_fields(request.request_dict if hasattr(request, "request_dict") else request,
                              getattr(request, "name", None), getattr(request, "id", None))
        fields[T_QUEUE] = _routing_key(getattr(request, "delivery_info", None)) or fields.get(T_QUEUE)
        host = getattr(request, "hostname", None) or getattr(sender, "hostname", None)
        if host:
            fields[WORKER] = host
        _remember(fields.get(T_ID), dict(fields))
        emit(logger, logging.INFO, f"Task {fields.get(T_NAME)}[{fields.get(T_ID)}] received",
             _clean({**fields, ACTION: RECEIVED, T_STATE: "RECEIVED", OUTCOME: "success"}))
    except Exception:
        pass


def _revoked_handler(sender=None, request=None, terminated=None, signum=None, expired=None, **kw) -> None:
    try:
        task_id = _get(request, "id")
        fields = {**_received.pop(task_id, {}), **_task_fields(request, getattr(sender, "name", None), task_id)}
        if expired:
            reason, outcome = "expired", "failure"
        elif terminated:
            reason, outcome = f"terminated (signal {signum})" if signum else "terminated", "failure"
        else:
            reason, outcome = "revoked", "unknown"
        fields.update({ACTION: REVOKED, T_STATE: "REVOKED", OUTCOME: outcome, REASON: reason})
        emit(logger, logging.WARNING, f"Task {fields.get(T_NAME)}[{task_id}] revoked: {reason}", _clean(fields))
    except Exception:
        pass


def _rejected(message: Any, exc: Any, name_: str | None = None, id_: str | None = None, why: str = "") -> None:
    try:
        h = getattr(message, "headers", None) or {}
        fields = _clean({
            ACTION: REJECTED, T_STATE: "REJECTED", OUTCOME: "failure",
            T_NAME: name_ or (h.get("task") if isinstance(h, dict) else None),
            T_ID: id_ or (h.get("id") if isinstance(h, dict) else None),
            TRACE_ID: valid_trace_id(h.get(HEADER_TRACE_ID)) if isinstance(h, dict) else None,
            T_QUEUE: _routing_key(getattr(message, "delivery_info", None)),
            REASON: why or (f"{type(exc).__name__}: {exc}" if exc is not None else "rejected"),
        })
        if exc is not None:
            fields.update(error_fields(exc))
        emit(logger, logging.ERROR, f"Task message rejected: {fields[REASON]}", fields)
    except Exception:
        pass


def _rejected_handler(sender=None, message=None, exc=None, **kw) -> None:
    _rejected(message, exc)


def _unknown_handler(sender=None, name=None, id=None, message=None, exc=None, **kw) -> None:
    _rejected(message, exc, name, id, why=f"unknown task {name!r}" if name else "")


# --- inside the task (worker child, or the caller for eager tasks) -------------------------------
def _prerun(sender=None, task_id=None, task=None, **kw) -> None:
    try:
        task = task or sender
        req = getattr(task, "request", None)
        fields = _task_fields(req, getattr(task, "name", None), task_id)
        tid = fields.get(TRACE_ID) or valid_trace_id(get_context().get(TRACE_ID)) or new_trace_id()
        bound = _clean({TRACE_ID: tid, T_NAME: fields.get(T_NAME), T_ID: task_id,
                        T_ROOT: fields.get(T_ROOT), T_PARENT: fields.get(T_PARENT),
                        WORKER: fields.get(WORKER)})
        token = bind(**bound)
        _running[task_id] = (time.perf_counter(), token)
        now = time.time()
        sent = _ts(_get(req, HEADER_SENT_AT))
        eta = _ts(_get(req, "eta"))
        start_from = max(x for x in (sent, eta) if x is not None) if (sent or eta) else None
        ev = {**fields, TRACE_ID: tid, ACTION: STARTED, T_STATE: "STARTED", OUTCOME: "success"}
        if start_from is not None:
            # Clocks of publisher and worker may differ: a negative wait is skew, reported as 0.
            ev[T_WAIT] = round(max(0.0, now - start_from), 6)
        emit(logger, logging.INFO, f"Task {fields.get(T_NAME)}[{task_id}] started", _clean(ev))
    except Exception:
        pass


def _runtime(task_id: str | None) -> float | None:
    entry = _running.get(task_id) if task_id else None
    return time.perf_counter() - entry[0] if entry else None


def _success(sender=None, result=None, runtime=None, **kw) -> None:
    try:
        req = getattr(sender, "request", None)
        task_id = _get(req, "id")
        fields = _task_fields(req, getattr(sender, "name", None), task_id)
        rt = runtime if isinstance(runtime, (int, float)) else _runtime(task_id)
        ev = {**fields, ACTION: SUCCEEDED, T_STATE: "SUCCESS", OUTCOME: "success"}
        if rt is not None:
            ev[T_RUNTIME] = round(float(rt), 6)
            ev[DURATION] = int(rt * 1e9)
        emit(logger, logging.INFO, f"Task {fields.get(T_NAME)}[{task_id}] succeeded in {rt or 0:.3f}s",
             _clean(ev))
    except Exception:
        pass


def _failure(sender=None, task_id=None, exception=None, einfo=None, **kw) -> None:
    try:
        in_task = task_id in _running
        if not in_task:
            # The main process reports hard time limits and lost workers — Celery 5.7 sends the
            # signal twice for a hard limit (on_timeout, then on_failure): report once.
            if task_id in _failed_in_main:
                return
            _failed_in_main[task_id] = None
            while len(_failed_in_main) > _RECEIVED_MAX:
                _failed_in_main.popitem(last=False)
        req = getattr(sender, "request", None)
        if _get(req, "id") != task_id:
            req = None
        fields = dict(_received.get(task_id, {})) if not in_task else {}
        fields.update(_task_fields(req, getattr(sender, "name", None), task_id))
        ev = {**fields, ACTION: FAILED, T_STATE: "FAILURE", OUTCOME: "failure"}
        rt = _runtime(task_id)
        if rt is None and _is_time_limit(exception) and exception is not None and exception.args:
            # A hard limit is reported by the main process after the child was killed: the
            # task ran for (about) the limit.
            try:
                rt = float(exception.args[0])
            except (TypeError, ValueError):
                rt = None
        if rt is not None:
            ev[T_RUNTIME] = round(rt, 6)
            ev[DURATION] = int(rt * 1e9)
        if exception is not None:
            ev.update(error_fields(exception))
        if _is_time_limit(exception):
            ev[T_TIMED_OUT] = True
        tb = getattr(einfo, "traceback", None)
        if isinstance(tb, str) and tb:
            ev[ERROR_STACK] = tb
        emit(logger, logging.ERROR,
             f"Task {fields.get(T_NAME)}[{task_id}] failed: {type(exception).__name__}: {exception}", _clean(ev))
        if not in_task:
            _received.pop(task_id, None)
    except Exception:
        pass


def _retry(sender=None, request=None, reason=None, einfo=None, **kw) -> None:
    try:
        task_id = _get(request, "id")
        fields = _task_fields(request, getattr(sender, "name", None), task_id)
        ev = {**fields, ACTION: RETRIED, T_STATE: "RETRY", OUTCOME: "failure"}
        exc = getattr(reason, "exc", None)
        if exc is not None:
            ev.update(error_fields(exc))
        if reason is not None:
            ev[REASON] = str(reason)
        emit(logger, logging.WARNING, f"Task {fields.get(T_NAME)}[{task_id}] retry: {reason}", _clean(ev))
    except Exception:
        pass


def _postrun(sender=None, task_id=None, **kw) -> None:
    entry = _running.pop(task_id, None)
    if entry is not None:
        try:
            reset(entry[1])
        except Exception:  # a token from another context (should not happen): unbind by hand
            pass


# --- wiring -------------------------------------------------------------------------------------
def instrument(app: Any = None) -> None:
    """Connect the task signals (idempotent; signals are process-wide, so ``app`` is optional)."""
    from celery import signals

    pairs = [
        (signals.before_task_publish, _before_publish), (signals.after_task_publish, _after_publish),
        (signals.task_received, _received_handler), (signals.task_prerun, _prerun),
        (signals.task_success, _success), (signals.task_failure, _failure),
        (signals.task_retry, _retry), (signals.task_postrun, _postrun),
        (signals.task_revoked, _revoked_handler), (signals.task_rejected, _rejected_handler),
        (signals.task_unknown, _unknown_handler),
    ]
    for sig, fn in pairs:
        sig.connect(fn, weak=False, dispatch_uid=f"{_UID}.{fn.__name__}")
    if app is not None:
        app.conf.worker_hijack_root_logger = False


class CeleryDuplicateFilter(logging.Filter):
    """Drops Celery's own per-task lines that repeat a logkit task event.

    "Task x[id] received / succeeded in / raised unexpected / retry", and the time-limit lines:
    the logkit events say the same with fields, and without the task's arguments and return
    value (Celery's lines carry their reprs, which may hold personal data). Installed on the
    ``celery.app.trace``, ``celery.worker.strategy`` and ``celery.worker.request`` loggers by
    :func:`setup_celery_logging` unless ``keep_celery_task_logs=True``.
    """

    LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.worker.request")

    def __init__(self, name: str = ""):
        super().__init__(name)
        msgs = {"Task %s[%s] retry: %s", "Hard time limit (%ss) exceeded for %s[%s]",
                "Soft time limit (%ss) exceeded for %s[%s]", "Task %s[%s] received"}
        try:
            from celery.app import trace
            msgs |= {trace.LOG_RECEIVED.strip(), trace.LOG_SUCCESS.strip(), trace.LOG_FAILURE.strip(),
                     trace.LOG_RETRY.strip()}
        except Exception:  # pragma: no cover
            pass
        self._msgs = frozenset(msgs)

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if not isinstance(msg, str):
            return True
        m = msg.strip()
        if m in self._msgs:
            return False
        if m == "Task handler raised error: %r" and isinstance(record.args, tuple) and record.args \
                and _is_time_limit(record.args[0]):
            return False
        return True


def install_duplicate_filter() -> None:
    """Put :class:`CeleryDuplicateFilter` on Celery's per-task loggers (once)."""
    for n in CeleryDuplicateFilter.LOGGERS:
        lg = logging.getLogger(n)
        if not any(isinstance(f, CeleryDuplicateFilter) for f in lg.filters):
            lg.addFilter(CeleryDuplicateFilter())


_worker_logging: dict[str, Any] = {}


def _setup_logging(loglevel=None, logfile=None, format=None, colorize=None, **kw) -> None:
    """Celery's ``setup_logging`` signal: connecting it stops Celery configuring logging itself."""
    cfg = _worker_logging.get("config")
    if cfg is None:
        return
    if _worker_logging.get("level") is None and loglevel and isinstance(cfg.get("root"), dict):
        # The worker's --loglevel may make logging more verbose than the config (-l debug), not
        # less: Celery's default, WARNING, would otherwise hide every task event.
        want = loglevel if isinstance(loglevel, int) else logging.getLevelName(str(loglevel).upper())
        have = logging.getLevelName(str(cfg["root"].get("level", "INFO")).upper())
        if isinstance(want, int) and isinstance(have, int) and want < have:
            cfg = {**cfg, "root": {**cfg["root"], "level": logging.getLevelName(want)}}
    logging.config.dictConfig(cfg)
    route_stray_records()
    if not _worker_logging.get("keep_celery_task_logs"):
        install_duplicate_filter()


def route_stray_records() -> None:
    """Records that would bypass logkit in a worker: billiard's pool supervisor logs ("Process
    'ForkPoolWorker-1' pid:42 exited with 'signal 9 (SIGKILL)'") to its own ``multiprocessing``
    logger, created with ``propagate = 0`` and no handler (so logging's last resort printed them
    as plain text), and Celery's warnings (``SecurityWarning``, deprecations) go through
    ``warnings``. Send both to the root logger, hence through logkit's formatter."""
    logging.captureWarnings(True)
    try:
        from billiard.util import get_logger
        mp = get_logger()  # creates it now, so billiard does not reset propagate later
        mp.propagate = True
    except Exception:  # billiard missing or changed: its records stay where they were
        pass


def _celeryd_init(sender=None, instance=None, conf=None, options=None, **kw) -> None:
    """``celeryd_init`` fires before the worker checks its privileges and warns (running as
    root): apply logkit's logging already then, so those warnings are events too."""
    _setup_logging(loglevel=(options or {}).get("loglevel"))


def setup_celery_logging(app: Any = None, *, config: dict | None = None, service: str | None = None,
                         level: str | None = None, keep_celery_task_logs: bool = False,
                         **options: Any) -> dict:
    """One call: :func:`instrument` the task signals and make the worker use logkit's logging.

    ``config`` is a full dictConfig dict to apply in the worker; without it one is made with
    :func:`logkit.logging_config` for ``service`` (default: the app's main name, else
    ``$LOGKIT_SERVICE``, else ``celery``), service type ``celery``, ``level`` (default: the
    worker's ``--loglevel`` when it is more verbose, else INFO) and ``options`` (``filename``, ``stream``, ``queue``,
    ``environment``, ...). The last call's config is the one the worker applies. Returns it.

    Celery's own per-task lines that repeat logkit's events are dropped
    (:class:`CeleryDuplicateFilter`) unless ``keep_celery_task_logs=True``.
    """
    from celery import signals

    instrument(app)
    svc = service or (getattr(app, "main", None) if app is not None else None) \
        or os.environ.get("LOGKIT_SERVICE") or "celery"
    if config is None:
        config = logging_config(svc, "celery", level=level or "INFO", **options)
    _worker_logging.update(config=config, level=level, keep_celery_task_logs=keep_celery_task_logs)
    signals.setup_logging.connect(_setup_logging, weak=False, dispatch_uid=f"{_UID}.setup_logging")
    signals.celeryd_init.connect(_celeryd_init, weak=False, dispatch_uid=f"{_UID}.celeryd_init")
    return config
