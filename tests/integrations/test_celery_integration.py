"""Celery integration: a REAL worker process (prefork, 2 children: time limits need prefork) on the
REAL Redis broker started by scripts/test.sh, running tests/celery_app.py."""
from __future__ import annotations

import re
import time

import pytest

from support.integrations_support import SESSION_QUEUE, capture, of, running_worker, schema_problems, wait_events

import logkit
from logkit.integrations.celery import CeleryDuplicateFilter, HEADER_SENT_AT, HEADER_TRACE_ID

pytestmark = pytest.mark.slow
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def worker(redis_url, tmp_path_factory):
    with running_worker(redis_url, tmp_path_factory.mktemp("celery-worker")) as (proc, log_file, err_file):
        yield log_file, err_file


@pytest.fixture(scope="module")
def tasks(worker):
    from tests import celery_app
    assert celery_app.app.conf.task_default_queue == SESSION_QUEUE
    return celery_app


def by_task(events, task_id):
    return [e for e in events if e.get("celery.task.id") == task_id]


def actions(events, task_id):
    return [e["event.action"] for e in by_task(events, task_id) if e["event.action"].startswith("task.")]


def test_worker_writes_celery_records_through_logkit_and_not_its_own_format(worker, tasks):
    log_file, err_file = worker
    evs = wait_events(log_file, lambda evs: any("ready." in e["message"] for e in evs), what="ready")
    ready = [e for e in evs if e["message"].endswith(" ready.")][0]
    assert ready["service.name"] == "shop-worker" and ready["service.type"] == "celery"
    assert ready["log.logger"].startswith("celery") and ready["event.id"]
    err = err_file.read_text(errors="replace")
    assert "[INFO/" not in err and "[WARNING/" not in err and "[ERROR/" not in err, err[-2000:]


def test_task_succeeds_with_sent_received_started_succeeded(worker, tasks):
    log_file, _ = worker
    with capture("shop-web", "django") as pub, logkit.bound(**{"trace.id": "cel-ok-1"}):
        res = tasks.add.delay(2, 3)
    [sent] = of(pub.events, "task.sent")
    assert sent["celery.task.id"] == res.id and sent["celery.task.name"] == "tests.celery_app.add"
    assert sent["celery.task.queue"] == SESSION_QUEUE and sent["trace.id"] == "cel-ok-1"
    assert sent["celery.task.root_id"] == res.id and sent["celery.task.state"] == "SENT"
    evs = wait_events(log_file, lambda evs: of(evs, "task.succeeded", celery__task__id=res.id), what="add succeeded")
    assert actions(evs, res.id) == ["task.received", "task.started", "task.succeeded"]
    received, started, succeeded = [e for e in by_task(evs, res.id) if e["event.action"].startswith("task.")]
    for e in (received, started, succeeded):
        assert e["trace.id"] == "cel-ok-1"
        assert e["celery.worker.hostname"].startswith("logkit-test-")
        assert e["celery.task.queue"] == SESSION_QUEUE and e["celery.task.retries"] == 0
        assert schema_problems(e) == [], e
    assert 0 <= started["celery.task.queue_wait"] < 60
    assert succeeded["celery.task.runtime"] > 0 and succeeded["event.duration"] > 0
    assert succeeded["event.outcome"] == "success"
    # an event the task logs carries the correlation id and the task's fields
    [inside] = [e for e in by_task(evs, res.id) if e.get("message") == "adding"]
    assert inside["trace.id"] == "cel-ok-1" and inside["celery.task.name"] == "tests.celery_app.add"
    # Celery's own "received"/"succeeded in" lines are not repeated
    assert not [e for e in evs if f"[{res.id}] succeeded in" in e["message"] and e["event.action"] == "log"]
    assert not [e for e in evs if f"[{res.id}] received" in e["message"] and e["event.action"] == "log"]


def test_task_failure_is_one_error_event_with_stack(worker, tasks):
    log_file, _ = worker
    with logkit.bound(**{"trace.id": "cel-fail-1"}):
        res = tasks.fail.delay()
    evs = wait_events(log_file, lambda evs: of(evs, "task.failed", celery__task__id=res.id), what="fail failed")
    [failed] = of(evs, "task.failed", celery__task__id=res.id)
    assert failed["error.type"] == "ValueError" and failed["error.message"] == "task failed on purpose"
    assert "Traceback" in failed["error.stack_trace"] and "celery_app.py" in failed["error.stack_trace"]
    assert failed["log.level"] == "error" and failed["event.outcome"] == "failure"
    assert failed["trace.id"] == "cel-fail-1" and failed["celery.task.runtime"] > 0
    assert "celery.task.timed_out" not in failed
    assert schema_problems(failed) == []
    # one error event for the failure (Celery's "raised unexpected" record is dropped)
    assert [e["event.action"] for e in by_task(evs, res.id) if e["log.level"] == "error"] == ["task.failed"]


def test_retries_then_success_share_one_correlation_id(worker, tasks):
    log_file, _ = worker
    with logkit.bound(**{"trace.id": "cel-retry-1"}):
        res = tasks.flaky.delay()
    evs = wait_events(log_file, lambda evs: of(evs, "task.succeeded", celery__task__id=res.id),
                      what="flaky succeeded")
    mine = by_task(evs, res.id)
    retried = of(mine, "task.retried")
    assert [e["celery.task.retries"] for e in retried] == [0, 1]
    assert all(e["error.type"] == "ConnectionError" for e in retried)
    assert "flaky attempt 0" in retried[0]["event.reason"]
    assert [e["celery.task.retries"] for e in of(mine, "task.started")] == [0, 1, 2]
    [ok] = of(mine, "task.succeeded")
    assert ok["celery.task.retries"] == 2
    # the worker re-sent the task twice; those sends are task.sent events from the worker
    assert [e["celery.task.retries"] for e in of(mine, "task.sent")] == [1, 2]
    assert {e["trace.id"] for e in mine} == {"cel-retry-1"}
    assert all(e["celery.task.queue_wait"] >= 0 for e in of(mine, "task.started"))
    assert all(schema_problems(e) == [] for e in mine)


def test_soft_and_hard_time_limits_are_failures_marked_timed_out(worker, tasks):
    log_file, _ = worker
    with logkit.bound(**{"trace.id": "cel-limit-1"}):
        soft = tasks.soft_limited.delay()
        hard = tasks.hard_limited.delay()

    def both(evs):
        return of(evs, "task.failed", celery__task__id=soft.id) and of(evs, "task.failed", celery__task__id=hard.id)
    wait_events(log_file, both, timeout=120, what="both time-limited tasks to fail")
    time.sleep(1.0)  # give a (wrong) duplicate report of the hard limit the chance to appear
    evs = wait_events(log_file, both, what="events")
    [s] = of(evs, "task.failed", celery__task__id=soft.id)
    assert s["celery.task.timed_out"] is True and s["error.type"].endswith("SoftTimeLimitExceeded")
    assert 0.9 <= s["celery.task.runtime"] < 30
    [h] = of(evs, "task.failed", celery__task__id=hard.id)  # exactly once, though Celery signals it twice
    assert h["celery.task.timed_out"] is True and h["error.type"].endswith("TimeLimitExceeded")
    assert h["celery.task.runtime"] == 2.0
    assert h["trace.id"] == "cel-limit-1" and h["celery.task.name"] == "tests.celery_app.hard_limited"
    assert schema_problems(s) == [] and schema_problems(h) == []
    assert not [e for e in evs if "time limit" in e["message"].lower() and e["event.action"] == "log"]


def test_chain_links_share_the_correlation_id_and_root(worker, tasks):
    from celery import chain
    log_file, _ = worker
    with logkit.bound(**{"trace.id": "cel-chain-1"}):
        res = chain(tasks.add.s(1, 2), tasks.add.s(3), tasks.add.s(4)).apply_async()
    evs = wait_events(log_file, lambda evs: of(evs, "task.succeeded", celery__task__id=res.id),
                      what="the chain's last link")
    last = of(evs, "task.started", celery__task__id=res.id)[0]
    root = last["celery.task.root_id"]
    links = [e for e in of(evs, "task.succeeded") if e.get("celery.task.root_id") == root]
    assert len(links) == 3
    assert {e["trace.id"] for e in links} == {"cel-chain-1"}
    # links 2 and 3 were sent by the worker, from inside the previous link
    sent_by_worker = [e for e in of(evs, "task.sent") if e.get("celery.task.root_id") == root]
    assert len(sent_by_worker) == 2 and {e["trace.id"] for e in sent_by_worker} == {"cel-chain-1"}
    parents = {e["celery.task.id"]: e.get("celery.task.parent_id") for e in of(evs, "task.started")
               if e.get("celery.task.root_id") == root}
    assert sum(1 for p in parents.values() if p is None) == 1 and len(parents) == 3


def test_group_from_the_publisher_and_from_inside_a_task(worker, tasks):
    from celery import group
    log_file, _ = worker
    with logkit.bound(**{"trace.id": "cel-group-1"}):
        g = group(tasks.add.s(i, 1) for i in range(3)).apply_async()
        fan = tasks.fan_out.delay(3)
    ids = [r.id for r in g.results]
    evs = wait_events(log_file, lambda evs: all(of(evs, "task.succeeded", celery__task__id=i) for i in ids)
                      and len([e for e in of(evs, "task.succeeded") if e.get("celery.task.parent_id") == fan.id]) == 3,
                      what="group members and fan-out children")
    assert {of(evs, "task.succeeded", celery__task__id=i)[0]["trace.id"] for i in ids} == {"cel-group-1"}
    children = [e for e in of(evs, "task.succeeded") if e.get("celery.task.parent_id") == fan.id]
    assert {e["trace.id"] for e in children} == {"cel-group-1"}
    assert {e["celery.task.root_id"] for e in children} == {fan.id}


def test_a_task_sent_outside_any_context_gets_its_own_id(worker, tasks):
    log_file, _ = worker
    with capture() as pub:
        res = tasks.add.delay(1, 1)
    [sent] = of(pub.events, "task.sent")
    assert HEX32.fullmatch(sent["trace.id"])
    evs = wait_events(log_file, lambda evs: of(evs, "task.succeeded", celery__task__id=res.id), what="add")
    assert {e["trace.id"] for e in by_task(evs, res.id)} == {sent["trace.id"]}


def test_expired_task_is_revoked_and_unknown_task_is_rejected(worker, tasks):
    log_file, _ = worker
    with logkit.bound(**{"trace.id": "cel-rev-1"}):
        res = tasks.add.apply_async((1, 1), expires=-5)
        tasks.app.send_task("tests.celery_app.does_not_exist", queue=SESSION_QUEUE)
    evs = wait_events(log_file, lambda evs: of(evs, "task.revoked", celery__task__id=res.id)
                      and of(evs, "task.rejected", celery__task__name="tests.celery_app.does_not_exist"),
                      what="revoked and rejected")
    [rev] = of(evs, "task.revoked", celery__task__id=res.id)
    assert rev["event.reason"] == "expired" and rev["trace.id"] == "cel-rev-1"
    [rej] = of(evs, "task.rejected", celery__task__name="tests.celery_app.does_not_exist")
    assert rej["trace.id"] == "cel-rev-1" and "unknown task" in rej["event.reason"]
    assert schema_problems(rev) == [] and schema_problems(rej) == []


def test_otel_span_trace_id_travels_to_the_worker(worker, tasks):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    log_file, _ = worker
    tracer = TracerProvider().get_tracer("logkit-test")
    with tracer.start_as_current_span("publish") as span:
        res = tasks.add.delay(5, 5)
        want = format(span.get_span_context().trace_id, "032x")
    assert trace.get_current_span().get_span_context().is_valid is False
    evs = wait_events(log_file, lambda evs: of(evs, "task.succeeded", celery__task__id=res.id), what="add")
    assert {e["trace.id"] for e in by_task(evs, res.id)} == {want}


def test_every_worker_event_is_schema_valid(worker, tasks):
    log_file, _ = worker
    evs = wait_events(log_file, lambda evs: len(evs) > 10, what="some events")
    bad = [(e.get("event.action"), schema_problems(e)) for e in evs if schema_problems(e)]
    assert bad == []


def test_headers_and_duplicate_filter_units():
    from logkit.integrations.celery import _before_publish
    h = {}
    with logkit.bound(**{"trace.id": "unit-1"}):
        _before_publish(sender="x", headers=h)
    assert h[HEADER_TRACE_ID] == "unit-1" and isinstance(h[HEADER_SENT_AT], float)
    h2 = {HEADER_TRACE_ID: "explicit-1"}
    _before_publish(sender="x", headers=h2)
    assert h2[HEADER_TRACE_ID] == "explicit-1"
    h3 = {HEADER_TRACE_ID: "bad id with spaces"}
    _before_publish(sender="x", headers=h3)
    assert HEX32.fullmatch(h3[HEADER_TRACE_ID])
    import logging
    f = CeleryDuplicateFilter()
    rec = logging.LogRecord("celery.app.trace", 20, "", 0, "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s", None, None)
    assert f.filter(rec) is False
    rec2 = logging.LogRecord("celery.app.trace", 20, "", 0, "something else", None, None)
    assert f.filter(rec2) is True
