"""Property tests: whatever an application logs, a valid JSON line comes out and no planted
secret survives."""
from __future__ import annotations

import datetime as dt
import decimal
import logging
import time

import orjson
from hypothesis import HealthCheck, given, settings, strategies as st

from logkit import schema
from logkit.emit import JSONFormatter, Renderer, flatten
from logkit.validate import check_event

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(), st.binary(max_size=64), st.decimals(allow_nan=True), st.datetimes(), st.dates(),
    st.uuids(), st.complex_numbers(),
)
values = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=5), st.tuples(kids, kids), st.frozensets(st.integers(), max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), kids, max_size=5),
), max_leaves=20)
keys = st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(sorted(schema.FIELDS)),
                 st.sampled_from(["url", "event", "error", "http.response", "extra", "labels"]))

RENDERER = Renderer("prop", "script", max_length=2000)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=st.one_of(st.text(), values), fields=st.dictionaries(keys, values, max_size=8),
       level=st.sampled_from(schema.LEVELS))
def test_any_value_gives_one_valid_json_line(message, fields, level):
    line = RENDERER.render(message, level, "prop", time.time(), fields)
    assert b"\n" not in line
    ev = orjson.loads(line)
    assert list(ev)[:3] == ["@timestamp", "log.level", "message"]
    flat = flatten(ev)
    for name in schema.CORE_FIELDS:
        assert flat.get(name) is not None, name
    # values of the wrong type for a schema field are moved aside, never written into it
    errors, _ = check_event(ev)
    assert not [e for e in errors if " should be " in e or "is not" in e], errors


@settings(max_examples=200, deadline=None)
@given(fields=st.dictionaries(st.text(max_size=10), values, max_size=6), msg=st.text())
def test_stdlib_formatter_never_raises(fields, msg):
    fmt = JSONFormatter("prop")
    rec = logging.LogRecord("p", logging.INFO, __file__, 1, msg, None, None)
    for k, v in fields.items():
        if k not in rec.__dict__ and not k.startswith("__"):
            setattr(rec, k, v)
    orjson.loads(fmt.format(rec))


secret = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=12, max_size=32)
secret_keys = st.sampled_from(["password", "Passwd", "api_key", "X-API-KEY", "apiKey", "token", "access_token",
                               "Authorization", "cookie", "Set-Cookie", "session", "sessionid", "client_secret",
                               "refresh_token", "private_key", "db_password"])


@settings(max_examples=300, deadline=None)
@given(s=secret, key=secret_keys, where=st.sampled_from(["key", "nested", "list", "bearer", "url", "query",
                                                          "kv", "message-url"]),
       noise=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3))
def test_no_planted_secret_survives(s, key, where, noise):
    fields: dict = dict(noise)
    msg = "request done"
    if where == "key":
        fields[key] = s
    elif where == "nested":
        fields["ctx"] = {"headers": {key: s, "accept": "text/html"}}
    elif where == "list":
        fields["items"] = [{"a": 1}, {key: s}]
    elif where == "bearer":
        fields["url.full"] = "https://e.com/x"
        msg = f"sending Authorization: Bearer {s}"
    elif where == "url":
        fields["url.full"] = f"https://user:{s}@db.example.com:5432/app"
    elif where == "query":
        fields["url.full"] = f"https://e.com/cb?page=2&{key.lower().replace('-', '_')}={s}&x=1"
    elif where == "kv":
        msg = f"login failed password={s} user=bob"
    else:
        msg = f"GET https://e.com/api?access_token={s} 200"
    line = RENDERER.render(msg, "info", "sec", time.time(), fields)
    assert s.encode() not in line, line


def test_timestamps_from_any_time_are_rfc3339():
    for t in (0.0, 1.5, 1_764_000_000.999, time.time(), 4_102_444_800.0):
        ev = RENDERER.event("m", "info", "l", t)
        assert dt.datetime.strptime(ev["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert RENDERER.event("m", "info", "l", 1.5)["@timestamp"] == "1970-01-01T00:00:01.500Z"
    assert decimal  # imported for the strategies above


class _NoShapes(Renderer):
    def _compile_shape(self, keys):
        return None


@settings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(st.one_of(st.sampled_from(sorted(schema.FIELDS)), st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                                        st.sampled_from(["extra.note", "labels.team", "url", "event"])),
                              st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=False), st.booleans(),
                                        st.none(), st.just("https://u:pw123456@h/x?token=abcdef"), st.text(min_size=3000, max_size=3001)),
                              max_size=10),
       ctx=st.dictionaries(st.sampled_from(["trace.id", "url.domain", "user.id", "tenant"]), st.text(max_size=10), max_size=2),
       level=st.sampled_from(schema.LEVELS))
def test_call_site_shortcut_gives_the_same_event_as_the_general_path(fields, ctx, level):
    from logkit.emit import context
    fast, slow = Renderer("p", "scrapy", max_length=2000), _NoShapes("p", "scrapy", max_length=2000)
    token = context.bind(**ctx)
    try:
        for _ in range(2):  # the second call runs the compiled shape
            a = fast.build("m", level, "l", 1_764_000_000.0, dict(fields))
            b = slow.build("m", level, "l", 1_764_000_000.0, dict(fields))
            a["event"].pop("id"), b["event"].pop("id")
            assert a == b
    finally:
        context.reset(token)
