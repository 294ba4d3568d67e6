"""Helpers for the framework-integration tests: capture events, read event files, check them
against the schema, wait by polling, run and stop real worker/crawl processes."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from logkit import schema
from logkit.emit import JSONFormatter, flatten

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:  # `tests.django_project`, `tests.celery_app` import from the repo root
    sys.path.insert(0, str(ROOT))

PYTHON = sys.executable

#: One Celery queue per pytest session, so that workers of other runs sharing the Redis server
#: never take our tasks. Set before tests.celery_app is imported (it reads it at import).
SESSION_QUEUE = os.environ.setdefault("LOGKIT_TEST_CELERY_QUEUE", f"logkit-test-{os.getpid()}-{os.urandom(3).hex()}")


def django_setup() -> None:
    """Configure the test Django project once per process (its sqlite file lives in a temp dir)."""
    import tempfile
    os.environ.setdefault("LOGKIT_TEST_DJANGO_DB", os.path.join(tempfile.mkdtemp(prefix="logkit-django-"), "db.sqlite3"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_project.settings")
    import django
    from django.apps import apps
    if not apps.ready:
        django.setup()


# --- capturing events in this process ---------------------------------------------------------
class CaptureHandler(logging.Handler):
    """Renders each record with logkit's formatter (in the caller's context) and keeps the flat event."""

    def __init__(self, service: str = "test", service_type: str = "script"):
        super().__init__(logging.DEBUG)
        self.setFormatter(JSONFormatter(service=service, service_type=service_type))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def events(self) -> list[dict]:
        return [flatten(orjson.loads(line)) for line in self.lines]


@contextlib.contextmanager
def capture(service: str = "test", service_type: str = "script", level: int = logging.INFO,
            loggers: Iterable[str] = ()) -> Iterator[CaptureHandler]:
    """Attach a capturing handler to the root logger for the block."""
    h = CaptureHandler(service, service_type)
    root = logging.getLogger()
    old = root.level
    root.addHandler(h)
    root.setLevel(level)
    for name in ("logkit.django", "logkit.celery", "logkit.scrapy", *loggers):
        logging.getLogger(name).disabled = False  # another test's dictConfig may have disabled it
    try:
        yield h
    finally:
        root.removeHandler(h)
        root.setLevel(old)


def of(events: list[dict], action: str, **match: Any) -> list[dict]:
    """The events of one ``event.action`` whose fields (dotted names) equal ``match``."""
    return [e for e in events if e.get("event.action") == action
            and all(e.get(k.replace("__", ".")) == v for k, v in match.items())]


# --- event files --------------------------------------------------------------------------------
def read_ndjson(*paths: Path) -> list[dict]:
    """Flat events from NDJSON files (missing files read as empty; a torn last line is skipped)."""
    out = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            continue
        for line in p.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                out.append(flatten(orjson.loads(line)))
            except orjson.JSONDecodeError:
                continue  # a line still being written by a live process
    return out


def schema_problems(event: dict) -> list[str]:
    """What is wrong with one flat event by logkit.schema: core fields, the event type's required
    fields, closed value sets, and types of known fields."""
    problems = []
    for f in schema.CORE_FIELDS:
        if event.get(f) in (None, ""):
            problems.append(f"missing core field {f}")
    act = event.get("event.action")
    et = schema.EVENT_TYPES.get(act)
    if et is None:
        problems.append(f"unknown event.action {act!r}")
    else:
        for f in et.required:
            if event.get(f) in (None, ""):
                problems.append(f"{act}: missing required {f}")
        if event.get("event.outcome") not in et.outcomes:
            problems.append(f"{act}: outcome {event.get('event.outcome')!r} not in {et.outcomes}")
    pytypes = {"keyword": str, "wildcard": str, "match_only_text": str, "text": str, "date": str,
               "long": int, "double": (int, float), "boolean": bool, "ip": str,
               "object": dict, "flattened": dict}
    for k, v in event.items():
        f = schema.FIELDS.get(k)
        if f is None or v is None:
            continue
        if f.name == "tags":
            continue
        want = pytypes[f.type]
        if not isinstance(v, want) or (f.type == "long" and isinstance(v, bool)):
            problems.append(f"{k}: {type(v).__name__} is not {f.type}")
        if f.allowed and v not in f.allowed:
            problems.append(f"{k}: {v!r} not in {f.allowed}")
    return problems


def validate_file(path: Path, strict: bool = True) -> tuple[int, list[str]]:
    """(invalid count, examples) by the lead's ``logkit.validate.validate_file`` — with
    ``strict=True`` its warnings (unknown event types or top-level keys, ecs-logging key order)
    count too — or, where that module is absent, by :func:`schema_problems` on each line."""
    try:
        from logkit.validate import validate_file as lead_validate  # type: ignore
    except ImportError:
        lead_validate = None
    if lead_validate is not None:
        result = lead_validate(str(path), strict=strict)
        return int(result.invalid), [f"line {p.line}: {p.reason}" for p in result.problems]
    bad, examples = 0, []
    for line in Path(path).read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            ev = flatten(orjson.loads(line))
        except orjson.JSONDecodeError as e:
            bad += 1
            examples.append(f"not JSON: {e}")
            continue
        p = schema_problems(ev)
        if p:
            bad += 1
            if len(examples) < 10:
                examples.append(f"{ev.get('event.action')}: {p}")
    return bad, examples


# --- waiting and processes --------------------------------------------------------------------
def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1,
             what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    return free_port()


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM (warm shutdown), wait, then SIGKILL; for a process group leader, the whole group."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait(10)


def start_worker(broker_url: str, log_file: Path, queue: str, *, pool: str = "prefork",
                 concurrency: int = 2, extra_env: dict | None = None, stderr_path: Path | None = None,
                 hostname: str | None = None) -> subprocess.Popen:
    """A real ``celery worker`` on the test app, in its own process group, writing logkit JSON to
    ``log_file``. Returns once it is started (the process may still be connecting: poll with
    :func:`wait_worker_ready`)."""
    env = dict(os.environ, LOGKIT_TEST_REDIS_URL=broker_url, LOGKIT_TEST_CELERY_LOG=str(log_file),
               LOGKIT_TEST_CELERY_QUEUE=queue, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               **(extra_env or {}))
    cmd = [PYTHON, "-m", "celery", "-A", "tests.celery_app", "worker", f"--pool={pool}", "-c", str(concurrency),
           "--without-mingle", "--without-gossip", "--without-heartbeat", "-Q", queue, "--loglevel=INFO",
           "-n", hostname or f"logkit-test-{os.getpid()}@%h"]
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=err, stderr=err, start_new_session=True)
    finally:
        if stderr_path:
            err.close()


@contextlib.contextmanager
def running_worker(broker_url: str, workdir: Path, *, pool: str = "prefork", concurrency: int = 2,
                   extra_env: dict | None = None, ready_timeout: float = 90.0) -> Iterator[tuple]:
    """A real Celery worker for the block: yields (process, its event file, its stderr file).

    Waits (polling) for the worker's own "ready" event in its logkit file; at the end stops it
    with SIGTERM, waits, then SIGKILL."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_file, err_file = workdir / "worker.ndjson", workdir / "worker.stderr"
    proc = start_worker(broker_url, log_file, SESSION_QUEUE, pool=pool, concurrency=concurrency,
                        extra_env=extra_env, stderr_path=err_file)
    try:
        def ready():
            if proc.poll() is not None:
                raise AssertionError(f"worker exited {proc.returncode}: {err_file.read_text(errors='replace')[-3000:]}")
            return any(e.get("message", "").endswith(" ready.") for e in read_ndjson(log_file))
        wait_for(ready, ready_timeout, 0.2, "the Celery worker to be ready")
        yield proc, log_file, err_file
    finally:
        stop_process(proc)


def worker_events(log_file: Path) -> list[dict]:
    return read_ndjson(log_file)


def wait_events(log_file: Path, predicate: Callable[[list[dict]], Any], timeout: float = 90.0,
                what: str = "events") -> list[dict]:
    """Poll an event file until ``predicate(events)`` is truthy; returns the events."""
    box: list = []

    def check():
        evs = read_ndjson(log_file)
        if predicate(evs):
            box.append(evs)
            return True
        return False
    try:
        wait_for(check, timeout, 0.2, what)
    except AssertionError:
        evs = read_ndjson(log_file)
        summary = [(e.get("event.action"), e.get("celery.task.name"), e.get("message", "")[:80]) for e in evs[-40:]]
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last events: {summary}") from None
    return box[0]
