"""Emission: the dictConfig, both logger paths, context, ids, errors, masking, handlers."""
from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import enum
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest
import structlog

import logkit
from logkit import schema
from logkit.emit import JSONFormatter, Renderer, flatten, nest
from logkit.emit.console import escape_terminal
from logkit.emit.handlers import AsyncHandler
from logkit.emit.ids import uuid7, uuid7_time_ms
from logkit.validate import check_event
from support.emit_support import configure, read_events


def test_stdlib_and_structlog_write_the_same_event_shape(tmp_path):
    f = tmp_path / "app.log"
    configure(f, service="shop", service_type="django", environment="staging")
    fields = {"url.domain": "example.com", "http.response.status_code": 503, "event.action": "page.fetched",
              "url.full": "https://example.com/a", "order_id": 7}
    logging.getLogger("shop.views").warning("fetched %s", "page", extra=fields)
    logkit.get_logger("shop.views").warning("fetched page", **fields)
    a, b = read_events(f)
    assert list(a)[:3] == ["@timestamp", "log.level", "message"]
    for ev in (a, b):
        errors, _ = check_event(ev)
        assert errors == []
    strip = lambda e: {k: v for k, v in flatten(e).items() if k not in ("event.id", "@timestamp")}  # noqa: E731
    assert strip(a) == strip(b)
    flat = flatten(a)
    assert flat["service.name"] == "shop" and flat["service.type"] == "django"
    assert flat["service.environment"] == "staging"
    assert flat["url.domain"] == "example.com" and a["url"]["domain"] == "example.com"
    assert flat["http.response.status_code"] == 503
    assert flat["extra"] == {"order_id": 7}
    assert flat["log.level"] == "warning" and a["log.level"] == "warning"
    assert flat["ecs.version"] == schema.ECS_VERSION and a["ecs.version"] == schema.ECS_VERSION
    assert flat["logkit.schema_version"] == schema.SCHEMA_VERSION
    assert flat["event.dataset"] == "logkit.django"
    assert flat["process.pid"] == os.getpid()
    assert flat["log.logger"] == "shop.views"


def test_documented_one_liner_in_a_fresh_interpreter(tmp_path):
    out = tmp_path / "x.log"
    code = (
        "import logging, logging.config, logkit\n"
        f"logging.config.dictConfig(logkit.logging_config('svc', 'script', stream=None, filename={str(out)!r}))\n"
        "logging.getLogger('a').info('from stdlib', extra={'event.action': 'log'})\n"
        "logkit.get_logger('b').info('from structlog')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    r = subprocess.run([sys.executable, "-m", "logkit", "validate", str(out)], capture_output=True, text=True)
    evs = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [e["message"] for e in evs] == ["from stdlib", "from structlog"]
    assert r.returncode == 0, r.stdout + r.stderr


def test_levels_and_default_outcomes(tmp_path):
    f = tmp_path / "a.log"
    configure(f, level="DEBUG")
    log = logkit.get_logger("lv")
    log.debug("d")
    log.info("i", **{"event.action": "task.succeeded", "celery.task.name": "t", "celery.task.id": "1",
                     "celery.task.runtime": 0.5})
    log.warning("w")
    log.error("e")
    log.critical("c")
    logging.getLogger("lv").log(15, "custom level between debug and info")
    evs = read_events(f)
    assert [e["log.level"] for e in evs] == ["debug", "info", "warning", "error", "critical", "debug"]
    assert [e["event"]["outcome"] for e in evs][:5] == ["unknown", "success", "unknown", "failure", "failure"]


def test_level_filtering_follows_stdlib_config(tmp_path):
    f = tmp_path / "a.log"
    configure(f, level="WARNING", loggers={"noisy": "ERROR"})
    logkit.get_logger("app").info("dropped")
    logkit.get_logger("app").warning("kept")
    logkit.get_logger("noisy").warning("dropped too")
    logging.getLogger("noisy").error("kept too")
    assert [e["message"] for e in read_events(f)] == ["kept", "kept too"]


def test_context_binding_reaches_every_later_event_and_threads(tmp_path):
    f = tmp_path / "a.log"
    configure(f)
    log = logkit.get_logger("ctx")
    token = logkit.bind(**{"trace.id": "req-1"}, tenant="acme")
    log.info("one")
    logging.getLogger("ctx").info("two")
    seen = []

    def worker():
        # contextvars are not inherited by plain threads: a copied context carries them
        logging.getLogger("ctx").info("in thread")
        seen.append(True)

    import contextvars
    t = threading.Thread(target=contextvars.copy_context().run, args=(worker,))
    t.start()
    t.join()
    logkit.reset(token)
    log.info("after reset")
    with logkit.bound(**{"trace.id": "req-2"}):
        log.info("in block")
    structlog.contextvars.bind_contextvars(via_structlog="yes")
    log.info("structlog contextvars")
    structlog.contextvars.clear_contextvars()
    evs = [flatten(e) for e in read_events(f)]
    assert [e.get("trace.id") for e in evs] == ["req-1", "req-1", "req-1", None, "req-2", None]
    assert evs[0]["extra"]["tenant"] == "acme" and evs[2]["extra"]["tenant"] == "acme"
    assert evs[5]["extra"]["via_structlog"] == "yes"


def test_context_is_isolated_between_asyncio_tasks(tmp_path):
    f = tmp_path / "a.log"
    configure(f)
    log = logkit.get_logger("aio")

    async def handle(rid: str):
        logkit.bind(**{"trace.id": rid})
        await asyncio.sleep(0.01)
        log.info("handled")

    async def main():
        await asyncio.gather(*(handle(f"r{i}") for i in range(5)))

    asyncio.run(main())
    assert sorted(flatten(e)["trace.id"] for e in read_events(f)) == [f"r{i}" for i in range(5)]


def test_event_ids_are_uuid7_unique_and_time_sortable():
    ids = [uuid7() for _ in range(20000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    u = uuid.UUID(ids[0])
    assert u.version == 7 and u.variant == uuid.RFC_4122
    now = int(time.time() * 1000)
    assert abs(uuid7_time_ms(ids[-1]) - now) < 5000
    # an id for an explicit time carries that time
    assert uuid7_time_ms(uuid7(1_700_000_000_123)) == 1_700_000_000_123


def test_event_ids_differ_across_forked_processes(tmp_path):
    code = "from logkit.emit.ids import uuid7; print(uuid7(1_700_000_000_000))"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout for _ in range(3)}
    assert len(outs) == 3


def test_timestamp_format_is_utc_milliseconds(tmp_path):
    r = Renderer("s")
    ev = r.event("m", "info", "l", 1_764_000_000.5)
    assert ev["@timestamp"] == "2025-11-24T16:00:00.500Z"


def test_chained_exceptions_become_error_fields(tmp_path):
    f = tmp_path / "a.log"
    configure(f)
    try:
        try:
            {}["missing"]
        except KeyError as e:
            raise RuntimeError("lookup failed") from e
    except RuntimeError:
        logging.getLogger("x").exception("stdlib")
        logkit.get_logger("x").exception("structlog")
    for e in read_events(f):
        err = e["error"]
        assert err["type"] == "RuntimeError" and err["message"] == "lookup failed"
        assert "KeyError" in err["stack_trace"] and "direct cause" in err["stack_trace"]
        assert e["event"]["outcome"] == "failure"


def test_exception_from_a_library_names_its_module(tmp_path):
    r = Renderer("s")
    ev = r.event("m", "error", "l", time.time(), exc=subprocess.TimeoutExpired("cmd", 3))
    assert ev["error.type"] == "subprocess.TimeoutExpired"


class Color(enum.Enum):
    RED = "red"


class Hostile:
    def __str__(self):
        raise RuntimeError("no str for you")

    def __repr__(self):
        raise RuntimeError("no repr either")


def test_awkward_values_never_raise_and_stay_json(tmp_path):
    f = tmp_path / "a.log"
    configure(f)
    circular: dict = {}
    circular["self"] = circular
    lst: list = []
    lst.append(lst)
    values = dict(dec=decimal.Decimal("1.10"), when=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
                  day=dt.date(2026, 1, 2), uid=uuid.UUID(int=1), color=Color.RED, raw=b"\xff\xfeok",
                  circ=circular, lst=lst, big=2**80, neg=-(2**70), st={3, 1, 2}, hostile=Hostile(),
                  nan=float("nan"), tup=(1, "a"), path=Path("/tmp/x"), exc=ValueError("v"),
                  nonstr_keys={1: "a", (1, 2): "b", None: "c"})
    logkit.get_logger("x").info("awkward", **values)
    logging.getLogger("x").info("awkward %s %d", "too-few-args")  # bad %-args
    logging.getLogger("x").info(Hostile())
    evs = read_events(f)
    assert len(evs) == 3
    x = evs[0]["extra"]
    assert x["dec"] == "1.10" and x["when"] == "2026-01-02T03:04:05+00:00" and x["day"] == "2026-01-02"
    assert x["uid"] == str(uuid.UUID(int=1)) and x["color"] == "red" and x["raw"] == "\\xff\\xfeok"
    assert x["big"] == str(2**80) and x["neg"] == str(-(2**70)) and x["st"] == [1, 2, 3]
    assert x["hostile"].startswith("[unprintable") or x["hostile"].startswith("[unloggable")
    assert x["nan"] is None and x["tup"] == [1, "a"] and x["path"] == "/tmp/x"
    assert x["exc"] == "ValueError: v"
    assert x["nonstr_keys"]["1"] == "a"
    depth, node = 0, x["circ"]
    while isinstance(node, dict):
        node, depth = node["self"], depth + 1
    assert node == "[max depth]" and depth < 20
    assert "message formatting failed" in evs[1]["message"]
    assert "[unprintable Hostile]" in evs[2]["message"]


def test_oversized_values_are_truncated_with_a_marker(tmp_path):
    f = tmp_path / "a.log"
    configure(f, max_length=100)
    logkit.get_logger("x").info("m" * 1000, payload="p" * 5000, **{"url.full": "http://e.com/" + "a" * 500})
    ev = read_events(f)[0]
    assert ev["message"].startswith("m" * 100) and ev["message"].endswith("…[truncated 900 chars]")
    assert ev["extra"]["payload"].endswith("…[truncated 4900 chars]")
    assert len(ev["url"]["full"]) < 150


@pytest.mark.parametrize("key", ["password", "PASSWORD", "api_key", "X-Api-Key", "apiKey", "Authorization",
                                 "cookie", "Set-Cookie", "sessionid", "client_secret", "access_token", "csrftoken"])
def test_secret_keys_are_masked_nested_and_in_lists(tmp_path, key):
    f = tmp_path / "a.log"
    configure(f)
    logkit.get_logger("x").info("m", **{key: "s3cr3t-value"}, headers={key: "s3cr3t-value", "accept": "x"},
                                 items=[{"deep": {key: "s3cr3t-value"}}])
    line = f.read_text()
    assert "s3cr3t-value" not in line
    ev = read_events(f)[0]
    assert ev["extra"]["headers"]["accept"] == "x"


@pytest.mark.parametrize("text", [
    "calling https://bob:s3cr3t-value@db.example.com/x",
    "Authorization: Bearer s3cr3t-value",
    "GET /api?user=1&api_key=s3cr3t-value&page=2",
    "redirect to https://e.com/cb?code=s3cr3t-value&state=1",
    "password=s3cr3t-value retrying",
    "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.s3cr3t-value_sig",
])
def test_secret_values_are_masked_in_messages_and_fields(tmp_path, text):
    f = tmp_path / "a.log"
    configure(f)
    logging.getLogger("x").info(text, extra={"url.full": text, "note": text})
    assert "s3cr3t-value" not in f.read_text()


def test_masking_keeps_what_helps_debugging():
    r = Renderer("s")
    ev = r.event("https://bob:pw123456@db.example.com/x?token=abcdef&page=2", "info", "l", time.time())
    assert ev["message"] == "https://bob:[MASKED]@db.example.com/x?token=[MASKED]&page=2"


def test_secret_list_is_configurable(tmp_path):
    f = tmp_path / "a.log"
    configure(f, extra_secret_keys=["ssn_hash"])
    logkit.get_logger("x").info("m", ssn_hash="abc", author="Ann")
    ev = read_events(f)[0]["extra"]
    assert ev["ssn_hash"] == "[MASKED]" and ev["author"] == "Ann"
    g = tmp_path / "b.log"
    configure(g, mask=False)
    logkit.get_logger("x").info("m", password="visible")
    assert read_events(g)[0]["extra"]["password"] == "visible"


def test_dictconfig_names_the_formatter_by_dotted_path(tmp_path):
    import logging.config
    f = tmp_path / "own.log"
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"j": {"()": "logkit.JSONFormatter", "service": "own", "service_type": "celery"}},
        "handlers": {"h": {"class": "logging.FileHandler", "filename": str(f), "formatter": "j"}},
        "root": {"level": "INFO", "handlers": ["h"]},
    })
    logging.getLogger("x").info("mine")
    ev = read_events(f)[0]
    assert ev["service"] == {"name": "own", "type": "celery", "environment": "development"}


def test_console_renderer_is_readable_and_escapes_control_characters(tmp_path, capsys):
    import logging.config
    logging.config.dictConfig(logkit.logging_config("svc", console=True, stream="stderr"))
    logging.getLogger("x").info("evil \x1b[31mred\x1b[0m title", extra={"url.domain": "e.com"})
    err = capsys.readouterr().err
    assert "\x1b[31m" not in err and "\\x1b[31m" in err and "url.domain" in err
    assert escape_terminal("a\x07b\nc") == "a\\x07b\nc"


def test_watched_file_follows_logrotate_move_and_copytruncate(tmp_path):
    f = tmp_path / "app.log"
    configure(f, rotation="watch")
    log = logging.getLogger("rot")
    log.info("before")
    f.rename(tmp_path / "app.log.1")  # logrotate "create" mode
    log.info("after move")
    assert [e["message"] for e in read_events(tmp_path / "app.log.1")] == ["before"]
    assert [e["message"] for e in read_events(f)] == ["after move"]
    with open(f, "r+") as fh:  # logrotate "copytruncate"
        fh.truncate(0)
    log.info("after truncate")
    data = f.read_bytes()
    assert not data.startswith(b"\0"), "append mode must write at the new end, not leave a hole"
    assert [e["message"] for e in read_events(f)] == ["after truncate"]


def test_size_rotation(tmp_path):
    f = tmp_path / "app.log"
    configure(f, rotation="size", max_bytes=2000, backup_count=2)
    for i in range(40):
        logging.getLogger("rot").info("line %d", i)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["app.log", "app.log.1", "app.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())


def test_queue_handler_never_blocks_and_counts_drops(tmp_path):
    f = tmp_path / "q.log"
    h = AsyncHandler({"kind": "file", "filename": str(f), "rotation": "none"}, maxsize=10)
    h.setFormatter(JSONFormatter("q"))
    gate = threading.Event()
    real_write = h._write

    def slow_write(line):  # a sink that stalls until released
        gate.wait(10)
        real_write(line)

    h._write = slow_write
    lg = logging.getLogger("queue-test")
    lg.propagate = False
    lg.addHandler(h)
    t0 = time.monotonic()
    for i in range(200):
        lg.warning("event %d", i)
    elapsed = time.monotonic() - t0
    gate.set()
    h.close()
    lg.removeHandler(h)
    assert elapsed < 2.0, "the caller must not wait for the sink"
    evs = [orjson.loads(x) for x in f.read_bytes().splitlines()]
    msgs = [e["message"] for e in evs]
    dropped = [e for e in evs if e["event"]["action"] == "log.dropped"]
    assert dropped, "a log.dropped event must say how many were lost"
    n_dropped = sum(e["logkit"]["dropped"] for e in dropped)
    assert len(msgs) - len(dropped) + n_dropped == 200
    assert h.dropped == n_dropped


def test_queue_config_formats_in_the_caller_context(tmp_path):
    f = tmp_path / "q.log"
    configure(f, queue=True)
    with logkit.bound(**{"trace.id": "in-caller"}):
        logkit.get_logger("q").info("queued")
    for h in logging.getLogger().handlers:
        h.flush()
    ev = read_events(f)[0]
    assert ev["trace"]["id"] == "in-caller"


def test_nest_and_flatten_are_inverse():
    flat = {"@timestamp": "t", "log.level": "info", "message": "m", "ecs.version": "1",
            "url.domain": "d", "url.full": "f", "http.response.status_code": 200, "extra": {"a.b": 1}}
    nested = nest(flat)
    assert list(nested)[:4] == ["@timestamp", "log.level", "message", "ecs.version"]
    assert nested["url"] == {"domain": "d", "full": "f"}
    assert flatten(nested) == flat


def test_scalar_at_a_namespace_name_goes_to_extra(tmp_path):
    r = Renderer("s")
    ev = r.event("m", "info", "l", time.time(), {"url": "https://e.com", "error": "boom"})
    assert ev["extra"] == {"url": "https://e.com", "error": "boom"}


def test_invalid_options_fail_at_configuration_time():
    with pytest.raises(ValueError, match="service_type"):
        Renderer("s", "lambda")
    with pytest.raises(ValueError, match="rotation"):
        logkit.logging_config("s", filename="x", rotation="daily")
    with pytest.raises(ValueError):
        logkit.logging_config("s", stream=None)


def test_lnav_format_ships_with_the_package():
    from logkit.data import lnav_format_path
    fmt = orjson.loads(lnav_format_path().read_bytes())
    assert fmt["logkit_log"]["json"] is True
