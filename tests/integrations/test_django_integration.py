"""Django integration: a real project (tests/django_project) driven by Django's test Client (WSGI
handler) and AsyncClient (ASGI handler)."""
from __future__ import annotations

import asyncio
import logging
import logging.config
import re

import pytest

from support.integrations_support import capture, django_setup, of, schema_problems

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

from logkit import get_context  # noqa: E402
from logkit.integrations.django import (DjangoRequestFilter, client_ip,  # noqa: E402
                                        logging_settings)

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def user():
    call_command("migrate", verbosity=0, interactive=False)
    return get_user_model().objects.create_user("alice", password="pw-not-logged")


@pytest.fixture
def events():
    with capture("shop-web", "django") as h:
        yield h


def client(**kw) -> Client:
    return Client(raise_request_exception=False, **kw)


def requests_of(h):
    return of(h.events, "http.request")


def test_one_request_event_with_route_view_status_duration(events):
    r = client().get("/articles/7/", HTTP_USER_AGENT="pytest-agent")
    assert r.status_code == 200
    [ev] = requests_of(events)
    assert ev["django.route"] == "articles/<int:pk>/"  # the pattern, not /articles/7/
    assert ev["django.view"] == "tests.django_project.views.article"
    assert ev["http.request.method"] == "GET"
    assert ev["http.response.status_code"] == 200
    assert isinstance(ev["event.duration"], int) and ev["event.duration"] > 0
    assert ev["event.outcome"] == "success"
    assert ev["url.path"] == "/articles/7/"
    assert ev["client.ip"] == "127.0.0.1"
    assert ev["user_agent.original"] == "pytest-agent"
    assert ev["service.type"] == "django" and ev["log.level"] == "info"
    assert HEX32.fullmatch(ev["trace.id"]) and r["X-Request-ID"] == ev["trace.id"]
    assert ev["http.request.id"] == ev["trace.id"]
    assert ev["http.response.body.bytes"] == len(r.content)
    assert schema_problems(ev) == []
    assert get_context() == {}, "the request's binding must not leak past it"


def test_route_of_an_included_pattern_is_the_full_pattern(events):
    client().get("/api/items/red-shoe/")
    [ev] = requests_of(events)
    assert ev["django.route"] == "api/items/<slug:slug>/"


def test_every_event_inside_the_request_carries_its_correlation_id(events):
    r = client().get("/ok/", HTTP_X_REQUEST_ID="req-abc.123")
    assert r["X-Request-ID"] == "req-abc.123"
    evs = [e for e in events.events if e.get("log.logger") == "tests.django_project.views"]
    assert len(evs) == 2  # one structlog event, one stdlib record
    assert {e["trace.id"] for e in evs} == {"req-abc.123"}
    assert all(e["client.ip"] == "127.0.0.1" for e in evs)
    [req] = requests_of(events)
    assert req["trace.id"] == "req-abc.123" and req["http.request.id"] == "req-abc.123"


def test_correlation_id_header_is_accepted_too(events):
    r = client().get("/ok/", HTTP_X_CORRELATION_ID="corr-42")
    assert r["X-Request-ID"] == "corr-42"
    assert requests_of(events)[0]["trace.id"] == "corr-42"


@pytest.mark.parametrize("bad", ["x" * 129, "<script>alert(1)</script>", "a b", "id\r\nSet-Cookie: x=1",
                                 "", "-starts-with-dash", "ünïcode"])
def test_malformed_incoming_ids_are_replaced(events, bad):
    from logkit.integrations._common import valid_trace_id
    assert valid_trace_id(bad) is None  # the check itself, for values no client would send
    r = client().get("/ok/", HTTP_X_REQUEST_ID=bad)
    [ev] = requests_of(events)
    assert HEX32.fullmatch(ev["trace.id"]), ev["trace.id"]
    assert r["X-Request-ID"] == ev["trace.id"]


def test_unresolved_404_has_no_route_and_django_request_adds_no_duplicate(events):
    r = client().get("/nope/")
    assert r.status_code == 404
    [ev] = requests_of(events)
    assert "django.route" not in ev and ev["url.path"] == "/nope/"
    assert ev["event.outcome"] == "success"
    assert not [e for e in events.events if e["log.logger"] == "django.request"]


def test_http404_raised_by_a_view_is_not_an_unhandled_exception(events):
    r = client().get("/missing/")
    assert r.status_code == 404
    assert not of(events.events, "http.exception")
    [ev] = requests_of(events)
    assert ev["django.route"] == "missing/" and ev["http.response.status_code"] == 404
    assert not [e for e in events.events if e["log.logger"] == "django.request"]


def test_unhandled_view_exception_is_logged_once_with_its_stack(events):
    r = client().get("/raises/", HTTP_X_REQUEST_ID="boom-1")
    assert r.status_code == 500
    [exc] = of(events.events, "http.exception")
    assert exc["error.type"] == "ValueError" and exc["error.message"] == "boom in view"
    assert "Traceback" in exc["error.stack_trace"] and "def raises" not in exc["error.stack_trace"]
    assert "boom in view" in exc["error.stack_trace"] and "views.py" in exc["error.stack_trace"]
    assert exc["trace.id"] == "boom-1" and exc["django.route"] == "raises/"
    assert exc["event.outcome"] == "failure" and exc["log.level"] == "error"
    [req] = requests_of(events)
    assert req["http.response.status_code"] == 500 and req["event.outcome"] == "failure"
    # Django's own "Internal Server Error" record is not a second copy
    assert not [e for e in events.events if e["log.logger"] == "django.request"]
    errors = [e for e in events.events if e.get("error.stack_trace")]
    assert len(errors) == 1
    assert schema_problems(exc) == [] and schema_problems(req) == []


def test_exception_raised_by_another_middleware_is_logged_once_too(events):
    r = client().get("/mw-boom/", HTTP_X_REQUEST_ID="mw-1")
    assert r.status_code == 500
    [exc] = of(events.events, "http.exception")
    assert exc["error.type"] == "KeyError" and "exploded in a middleware" in exc["error.stack_trace"]
    assert exc["trace.id"] == "mw-1"
    assert schema_problems(exc) == []
    [req] = requests_of(events)
    assert req["http.response.status_code"] == 500


def test_slow_view_duration_is_in_nanoseconds(events):
    client().get("/slow/?s=0.2")
    [ev] = requests_of(events)
    assert ev["event.duration"] >= 200_000_000
    assert ev["django.route"] == "slow/"


def test_user_id_is_bound_for_the_view_and_on_the_request_event(events, user):
    c = client()
    c.force_login(user)
    r = c.get("/whoami/")
    assert r.json() == {"user": user.pk}
    [view_ev] = [e for e in events.events if e.get("message") == "whoami"]
    assert view_ev["user.id"] == str(user.pk)
    [req] = requests_of(events)
    assert req["user.id"] == str(user.pk)
    assert "pw-not-logged" not in str(events.lines)


def test_anonymous_request_has_no_user_id(events, user):
    client().get("/whoami/")
    assert "user.id" not in requests_of(events)[0]


def test_client_ip_comes_from_the_forwarded_header_only_through_a_trusted_proxy(events):
    # peer 10.0.0.5 is trusted (settings): the rightmost untrusted hop is the client
    client().get("/ok/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9, 10.0.0.7")
    # peer 198.51.100.1 is not trusted: its header is ignored, whatever it says
    client().get("/ok/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    a, b = requests_of(events)
    assert a["client.ip"] == "203.0.113.9"
    assert b["client.ip"] == "198.51.100.1"


def test_client_ip_rules():
    nets = ["10.0.0.0/8", "2001:db8::/32"]
    h = "X-Forwarded-For"
    assert client_ip({"REMOTE_ADDR": "10.1.1.1", "HTTP_X_FORWARDED_FOR": "8.8.8.8"}, None, nets) == "10.1.1.1"
    assert client_ip({"REMOTE_ADDR": "10.1.1.1", "HTTP_X_FORWARDED_FOR": "8.8.8.8"}, h, ()) == "10.1.1.1"
    assert client_ip({"REMOTE_ADDR": "10.1.1.1", "HTTP_X_FORWARDED_FOR": "8.8.8.8"}, h, nets) == "8.8.8.8"
    assert client_ip({"REMOTE_ADDR": "10.1.1.1", "HTTP_X_FORWARDED_FOR": "garbage, 10.2.2.2"}, h, nets) == "10.2.2.2"
    assert client_ip({"REMOTE_ADDR": "10.1.1.1", "HTTP_X_FORWARDED_FOR": "10.3.3.3"}, h, nets) == "10.3.3.3"
    assert client_ip({"REMOTE_ADDR": "10.1.1.1", "HTTP_X_FORWARDED_FOR": "8.8.8.8:4711"}, h, nets) == "8.8.8.8"
    assert client_ip({"REMOTE_ADDR": "2001:db8::1", "HTTP_X_FORWARDED_FOR": "[2001:4860::8]:443"}, h,
                     nets) == "2001:4860::8"
    assert client_ip({"REMOTE_ADDR": "10.1.1.1", "HTTP_X_REAL_IP": "8.8.4.4"}, "X-Real-IP", nets) == "8.8.4.4"
    assert client_ip({"REMOTE_ADDR": "not-an-ip"}, h, nets) is None
    assert client_ip({}, h, nets) is None
    with pytest.raises(ValueError):
        client_ip({"REMOTE_ADDR": "10.1.1.1"}, h, ["not a network"])


def test_settings_turn_off_incoming_ids_and_the_response_header(events):
    with override_settings(LOGKIT_REQUEST_ID_HEADERS=[], LOGKIT_RESPONSE_HEADER=None):
        r = client().get("/ok/", HTTP_X_REQUEST_ID="from-client")
    assert "X-Request-ID" not in r
    assert HEX32.fullmatch(requests_of(events)[0]["trace.id"])


# --- ASGI ------------------------------------------------------------------------------------
def test_asgi_async_and_sync_views(events, user):
    async def run():
        c = AsyncClient(raise_request_exception=False)
        await c.aforce_login(user)
        r1 = await c.get("/async/ok/", headers={"X-Request-ID": "asgi-1"})
        r2 = await c.get("/ok/", headers={"X-Request-ID": "asgi-2"})
        r3 = await c.get("/async/raises/", headers={"X-Request-ID": "asgi-3"})
        r4 = await c.get("/articles/9/")
        return r1, r2, r3, r4

    r1, r2, r3, r4 = asyncio.run(run())
    assert (r1.status_code, r2.status_code, r3.status_code, r4.status_code) == (200, 200, 500, 200)
    assert r1["X-Request-ID"] == "asgi-1"
    reqs = requests_of(events)
    assert [e["trace.id"] for e in reqs[:3]] == ["asgi-1", "asgi-2", "asgi-3"]
    assert reqs[0]["django.route"] == "async/ok/" and reqs[3]["django.route"] == "articles/<int:pk>/"
    assert all(e["user.id"] == str(user.pk) for e in reqs)
    inside = [e for e in events.events if e.get("message") == "inside the async view"]
    assert inside[0]["trace.id"] == "asgi-1" and inside[0]["user.id"] == str(user.pk)
    sync_inside = [e for e in events.events if e.get("message") == "inside the ok view"]
    assert sync_inside[0]["trace.id"] == "asgi-2"
    [exc] = of(events.events, "http.exception")
    assert exc["trace.id"] == "asgi-3" and exc["error.type"] == "RuntimeError"
    assert "async boom" in exc["error.stack_trace"]
    assert not [e for e in events.events if e["log.logger"] == "django.request"]
    assert reqs[2]["event.outcome"] == "failure"
    assert get_context() == {}


def test_asgi_concurrent_requests_keep_their_own_ids(events):
    async def run():
        c = AsyncClient()
        return await asyncio.gather(*[c.get("/async/ok/", headers={"X-Request-ID": f"conc-{i}"})
                                      for i in range(8)])

    asyncio.run(run())
    inside = [e for e in events.events if e.get("message") == "inside the async view"]
    reqs = requests_of(events)
    assert sorted(e["trace.id"] for e in inside) == sorted(f"conc-{i}" for i in range(8))
    assert sorted(e["trace.id"] for e in reqs) == sorted(f"conc-{i}" for i in range(8))


# --- settings --------------------------------------------------------------------------------
def test_logging_settings_is_a_dictconfig_that_silences_django_duplicates(tmp_path):
    cfg = logging_settings("shop", filename=str(tmp_path / "x.ndjson"), stream=None, loggers={"django.db": "WARNING"})
    assert cfg["loggers"]["django"]["handlers"] == []
    assert cfg["loggers"]["django.request"]["filters"] == ["logkit_django_request"]
    assert cfg["loggers"]["django.db"] == {"level": "WARNING"}
    assert cfg["formatters"]["logkit_json"]["service_type"] == "django"
    root = logging.getLogger()
    saved = list(root.handlers)
    logging.config.dictConfig(cfg)
    try:
        assert any(isinstance(f, DjangoRequestFilter) for f in logging.getLogger("django.request").filters)
    finally:
        logging.config.dictConfig(logging_settings("shop-web", environment="test"))
        for h in saved:
            if h not in root.handlers:
                root.addHandler(h)
