"""OpenTelemetry: with the real SDK tracer, events logged inside an active span carry its trace and
span ids; the integrations use the span's trace id as the correlation id they hand on."""
from __future__ import annotations

import subprocess
import sys

import pytest

from support.integrations_support import ROOT, capture, django_setup, of

django_setup()

from django.test import Client  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

import logkit  # noqa: E402
from logkit.integrations import current_trace_id, trace_env  # noqa: E402
from logkit.integrations.celery import HEADER_TRACE_ID, _before_publish  # noqa: E402


@pytest.fixture(scope="module")
def tracer():
    return TracerProvider().get_tracer("logkit-tests")


def ids(span):
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def test_events_inside_a_span_carry_its_ids(tracer):
    log = logkit.get_logger("otel.test")
    with capture() as h:
        log.info("before")
        with tracer.start_as_current_span("outer") as outer:
            log.info("in outer")
            with tracer.start_as_current_span("inner") as inner:
                import logging
                logging.getLogger("otel.std").warning("in inner (stdlib)")
        log.info("after")
    before, in_outer, in_inner, after = h.events
    assert "trace.id" not in before and "span.id" not in before
    assert (in_outer["trace.id"], in_outer["span.id"]) == ids(outer)
    assert (in_inner["trace.id"], in_inner["span.id"]) == ids(inner)
    assert in_inner["trace.id"] == in_outer["trace.id"] and in_inner["span.id"] != in_outer["span.id"]
    assert "span.id" not in after


def test_span_wins_over_a_bound_correlation_id(tracer):
    with capture() as h, logkit.bound(**{"trace.id": "bound-id"}):
        logkit.get_logger("x").info("no span")
        with tracer.start_as_current_span("s") as span:
            logkit.get_logger("x").info("span")
            assert current_trace_id() == ids(span)[0]
            assert trace_env({})["LOGKIT_TRACE_ID"] == ids(span)[0]
    a, b = h.events
    assert a["trace.id"] == "bound-id" and b["trace.id"] == ids(span)[0]


def test_django_request_inside_a_span_uses_the_span_trace_id(tracer):
    with capture("shop-web", "django") as h, tracer.start_as_current_span("http") as span:
        r = Client().get("/ok/", HTTP_X_REQUEST_ID="client-given-1")
    tid, sid = ids(span)
    assert r["X-Request-ID"] == tid
    [req] = of(h.events, "http.request")
    assert req["trace.id"] == tid and req["span.id"] == sid
    assert req["http.request.id"] == "client-given-1"  # the client's id is kept, as the request id
    view = [e for e in h.events if e.get("message") == "inside the ok view"][0]
    assert view["trace.id"] == tid


def test_celery_publish_inside_a_span_sends_the_span_trace_id(tracer):
    headers = {}
    with tracer.start_as_current_span("publish") as span:
        _before_publish(sender="t", headers=headers)
    assert headers[HEADER_TRACE_ID] == ids(span)[0]


def test_logkit_never_imports_opentelemetry_itself():
    code = ("import sys, logging, logkit, logkit.integrations, logkit.integrations.celery;"
            "logging.basicConfig(); logkit.get_logger('x').warning('hi');"
            "logkit.integrations.current_trace_id();"
            "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
