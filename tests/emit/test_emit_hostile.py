"""Never stall, never lose the event: hostile values on both emission paths.

Each hostile value gives a line that passes ``logkit validate``, with the bad value replaced and
flagged in ``logkit.replaced`` and the rest of the event kept. The work a log call may do is
asserted by what is scanned (no scan sees more than the truncation limit plus a small overlap),
not by timing: benchmarks/mask_bench.py shows the per-call times.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import logkit
from logkit.emit import Renderer, flatten, render, sanitize
from logkit.validate import check_event, validate_file

from support.emit_support import configure, read_events

sys.path.insert(0, str(Path(__file__).parent.parent / "fixtures" / "adversarial"))
from hostile_values import OUT_OF_RANGE_LONGS, RaisingStr, field_values  # noqa: E402

LIMIT = 16_384


def _log(path: str, msg, **fields) -> None:
    if path == "stdlib":
        logging.getLogger("hostile").info(msg, extra=fields)
    else:
        logkit.get_logger("hostile").info(msg, **fields)


@pytest.mark.parametrize("path", ["stdlib", "structlog"])
def test_every_hostile_value_gives_a_valid_line_that_keeps_the_event(tmp_path, path):
    log_file = tmp_path / "h.log"
    configure(log_file)
    values = field_values(LIMIT)
    for name, v in values.items():
        _log(path, f"hostile {name}", **{"url.domain": "kept.example", "http.request.method": "GET", name: v})
    _log(path, "message \ud800 with a lone surrogate", **{"url.domain": "kept.example"})
    _log(path, RaisingStr(), **{"url.domain": "kept.example"})
    res = validate_file(str(log_file))
    assert res.lines == len(values) + 2
    assert res.invalid == 0, res.problems
    evs = read_events(log_file)
    for ev in evs:
        assert ev["url"]["domain"] == "kept.example", ev  # the rest of the event is kept
        assert len(orjson.dumps(ev)) <= 512 * 1024
    by_name = {ev["message"].split(" ", 1)[1]: ev for ev in evs[: len(values)]}
    flagged = {n for n, ev in by_name.items() if ev.get("logkit", {}).get("replaced")}
    # the values that cannot be written as they are, are flagged; the others are cut or masked
    assert {"lone_surrogate", "surrogate_key", "int_5000_digits", "datetime_tz_raises", "str_and_repr_raise",
            "nested_hostile", "many_long_strings", "many_long_keys"} <= flagged, flagged
    assert by_name["lone_surrogate"]["extra"]["lone_surrogate"] == "before \\ud800 after"
    assert by_name["magicmock"]["extra"]["magicmock"].startswith("<MagicMock")
    assert "…[" in orjson.dumps(by_name["many_long_strings"]).decode()  # a visible cut marker
    assert evs[-2]["message"] == "message \\ud800 with a lone surrogate"


@pytest.mark.parametrize("path", ["stdlib", "structlog"])
def test_out_of_range_longs_are_moved_aside_and_flagged(tmp_path, path):
    log_file = tmp_path / "l.log"
    configure(log_file)
    for name, v in OUT_OF_RANGE_LONGS.items():
        _log(path, "big", **{name: v, "url.domain": "kept.example"})
    res = validate_file(str(log_file))
    assert res.invalid == 0, res.problems
    for (name, v), ev in zip(OUT_OF_RANGE_LONGS.items(), read_events(log_file)):
        flat = flatten(ev)
        assert name not in flat or name == "process.pid" and flat[name] != v
        assert str(flat["extra"]).find(str(v)) >= 0  # kept, under extra.*
        assert any(name in n for n in ev["logkit"]["replaced"])


def test_validate_flags_out_of_range_longs(tmp_path):
    ev = orjson.loads(Renderer("v").render("m", "info", "l", 0.0, {"http.response.status_code": 200}))
    ev["http"]["response"]["status_code"] = 2**63
    errors, _ = check_event(ev)
    assert any("64-bit long range" in e for e in errors)
    ev["http"]["response"]["status_code"] = 2**63 - 1
    assert check_event(ev)[0] == []


def test_stack_info_is_kept_under_the_default_fast_records(tmp_path):
    log_file = tmp_path / "s.log"
    configure(log_file)  # logging_config(): fast_records=True
    logging.getLogger("s").info("where am I", stack_info=True)
    logkit.get_logger("s").info("and here", stack_info=True)
    evs = read_events(log_file)
    assert "test_stack_info_is_kept_under_the_default_fast_records" in evs[0]["error"]["stack_trace"]
    assert "test_stack_info_is_kept_under_the_default_fast_records" in evs[1]["error"]["stack_trace"]
    rec = logging.getLogger("s").makeRecord("s", 20, "f", 1, "m", None, None)
    assert rec.stack_info is None  # without stack_info the caller walk is still skipped


@pytest.fixture
def scanned(monkeypatch):
    seen: list[int] = []
    real = sanitize.mask_text

    def counting(s: str) -> str:
        seen.append(len(s))
        return real(s)

    monkeypatch.setattr(sanitize, "mask_text", counting)
    monkeypatch.setattr(render, "mask_text", counting)  # the renderer's own reference (message, call-site shapes)
    sanitize._cache.clear()
    return seen


@pytest.mark.parametrize("name", [n for n in field_values() if n not in ("many_long_strings", "many_long_keys")])
def test_no_scan_sees_more_than_the_limit(scanned, name):
    v = field_values(LIMIT)[name]
    r = Renderer("w", max_length=LIMIT)
    text = v if isinstance(v, str) else None
    r.render(text if text is not None else "m", "info", "l", 0.0, {"extra.v": v, "error.message": text or "e"})
    assert scanned, "the value was not scanned at all"
    assert max(scanned) <= LIMIT + 256, (name, max(scanned))
    assert sum(scanned) <= 4 * (LIMIT + 256)


def test_containers_bound_the_text_scanned(scanned):
    r = Renderer("w", max_length=LIMIT)
    r.render("m", "info", "l", 0.0, {"extra.v": ["password=" + "x" * LIMIT] * 2000})
    # cut at the container budget (64 KiB of text), not 2,000 × 16 KiB
    assert sum(scanned) <= 8 * (LIMIT + 256), sum(scanned)


def test_provider_rules_run_with_a_linear_time_engine():
    import re2

    sanitize._providers.mask("ghp_" + "a" * 36 + " sk-ant-api03- hooks.slack.com xoxb-")
    compiled = [rx for rx in sanitize._providers._compiled.values() if rx]
    assert compiled and all(isinstance(rx, re2._Regexp) for rx in compiled)


_SMALL = field_values(2000)
# values are picked by name: hypothesis cannot print an int of 5,000 digits when it reports


def _small(name):  # a function, not _SMALL.__getitem__: older hypothesis reprs the bound dict
    return _SMALL[name]


hostile = st.one_of(st.sampled_from(sorted(_SMALL)).map(_small), st.text(alphabet=st.characters(min_codepoint=0xD800,
                                                                                                     max_codepoint=0xDFFF), min_size=1, max_size=3),
                    st.integers(min_value=2**63, max_value=2**70), st.integers(max_value=-(2**63) - 1),
                    st.just(RaisingStr()))
fields = st.sampled_from(["http.response.status_code", "event.duration", "extra.note", "event.reason", "url.full",
                          "user.id", "celery.task.eta", "labels", "note", "error.message", "tags"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bad=st.dictionaries(fields, hostile, min_size=1, max_size=3), msg=st.one_of(st.text(max_size=30), hostile))
def test_any_hostile_value_keeps_the_rest_of_the_event(bad, msg):
    r = Renderer("p", "script", max_length=2000)
    line = r.render(msg, "info", "p", 0.0, {"url.domain": "kept.example", **bad})
    ev = orjson.loads(line)
    assert ev["url"]["domain"] == "kept.example"
    assert check_event(ev)[0] == []
    assert len(line) <= r.max_line_bytes


fragments = st.lists(st.sampled_from(["-eyJ", "eyJ", "x:y@", "://", "password=", "token ", "@", ":", "=", "'", '"',
                                      "ghp_", "xoxb-", "AKIA", "Bearer ", "Cookie: ", "-----BEGIN RSA PRIVATE KEY-----",
                                      "sk", "s.", "A", "\\", "?", "&key=", "%", "é", "İ"]), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=fragments, extra=st.text(max_size=20))
def test_no_scan_of_any_repetition_sees_more_than_the_limit(scanned, parts, extra):
    scanned.clear()
    sanitize._cache.clear()
    v = ("".join(parts) + extra) * (3 * LIMIT // max(1, len("".join(parts) + extra)) + 1)
    Renderer("w", max_length=LIMIT).render(v, "info", "l", 0.0, {"extra.v": v})
    assert max(scanned) <= LIMIT + 256
    assert sum(scanned) <= 3 * (LIMIT + 256)
