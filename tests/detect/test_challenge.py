"""CAPTCHA / bot-challenge detection (logkit.detect.challenge).

Every fixture in tests/fixtures/challenges/ is a ``<case>.json`` sidecar
(status, headers as name/value pairs, body file, expected result) plus its
body file; see that folder's README for where each came from.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logkit.detect import Challenge, detect_challenge
from logkit.detect.challenge import LARGE_PAGE_BYTES, PREFIX_BYTES, SMALL_PAGE_BYTES, TAIL_BYTES

FIXTURES = Path(__file__).parent.parent / "fixtures" / "challenges"


def _load(path: Path) -> dict:
    case = json.loads(path.read_text())
    case["name"] = path.stem
    case["body_bytes"] = (FIXTURES / case["body"]).read_bytes() if case["body"] else None
    return case


CASES = [_load(p) for p in sorted(FIXTURES.glob("*.json"))]
POSITIVES = [c for c in CASES if c["expect"]["kind"] == "captcha"]


def _ids(cases):
    return [c["name"] for c in cases]


def test_fixture_set_is_complete():
    names = {c["name"] for c in CASES}
    # The negatives the detector is designed around must stay in the suite.
    for required in (
        "login_recaptcha", "contact_hcaptcha", "signup_turnstile", "nginx_403", "plain_429",
        "maintenance_503", "normal_article", "not_found_404",
    ):
        assert required in names
    # Every body file referenced exists and every body file is referenced.
    referenced = {c["body"] for c in CASES if c["body"]}
    on_disk = {p.name for p in FIXTURES.iterdir() if p.is_file() and p.suffix != ".json" and p.name != "README.md"}
    assert referenced == on_disk


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_fixture(case):
    got = detect_challenge(case["status"], case["headers"], case["body_bytes"])
    want = case["expect"]
    assert (got.kind, got.vendor) == (want["kind"], want["vendor"]), got
    if "signal" in want:
        assert got.signal == want["signal"]
    if got.kind is None:
        assert got.signal is None and not got
    else:
        assert got.signal and got


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_str_body_gives_same_answer(case):
    raw = case["body_bytes"]
    as_bytes = detect_challenge(case["status"], case["headers"], raw)
    as_str = detect_challenge(case["status"], case["headers"], raw.decode("utf-8") if raw else raw)
    assert as_str == as_bytes


WITH_BODY = [c for c in CASES if c["body_bytes"] is not None]


@pytest.mark.parametrize("case", WITH_BODY, ids=_ids(WITH_BODY))
def test_bytearray_and_memoryview_bodies(case):
    raw = case["body_bytes"]
    want = detect_challenge(case["status"], case["headers"], raw)
    assert detect_challenge(case["status"], case["headers"], bytearray(raw)) == want
    assert detect_challenge(case["status"], case["headers"], memoryview(raw)) == want


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_scrapy_style_headers(case):
    # Scrapy's Headers is a dict of bytes name -> list of bytes values.
    scrapy_like: dict[bytes, list[bytes]] = {}
    for name, value in case["headers"]:
        scrapy_like.setdefault(name.encode("latin-1"), []).append(value.encode("latin-1"))
    want = detect_challenge(case["status"], case["headers"], case["body_bytes"])
    assert detect_challenge(case["status"], scrapy_like, case["body_bytes"]) == want


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_dict_headers_and_raw_header_block(case):
    want = detect_challenge(case["status"], case["headers"], case["body_bytes"])
    raw_block = "\r\n".join(f"{n}: {v}" for n, v in case["headers"])
    assert detect_challenge(case["status"], raw_block, case["body_bytes"]) == want
    assert detect_challenge(case["status"], raw_block.encode("latin-1"), case["body_bytes"]) == want
    names = [n.lower() for n, _ in case["headers"]]
    if len(names) == len(set(names)):  # a plain dict cannot hold repeated names
        assert detect_challenge(case["status"], dict(case["headers"]), case["body_bytes"]) == want


@pytest.mark.parametrize("name", ["cf-mitigated", "CF-Mitigated", "CF-MITIGATED", "Cf-MiTiGaTeD"])
@pytest.mark.parametrize("value", ["challenge", "Challenge", " CHALLENGE "])
def test_header_lookup_is_case_insensitive(name, value):
    got = detect_challenge(200, {name: value}, b"<html><body>ok</body></html>")
    assert got == Challenge("captcha", "cloudflare", "header cf-mitigated: challenge")


def test_header_names_and_values_may_be_bytes():
    got = detect_challenge(405, [(b"X-Amzn-Waf-Action", b"CAPTCHA")], None)
    assert (got.kind, got.vendor) == ("captcha", "aws-waf")
    got = detect_challenge(403, {b"Server": [b"AkamaiGHost"]}, None)
    assert (got.kind, got.vendor) == ("block", "akamai")


def test_only_challenge_is_a_valid_cf_mitigated_value():
    assert detect_challenge(200, {"cf-mitigated": "block"}, b"<p>hi</p>").kind is None


def test_none_body_and_none_headers():
    assert detect_challenge(200, None, None) == Challenge()
    assert detect_challenge(429, None, None) == Challenge("block", None, "status 429")
    assert detect_challenge(403, {"cf-mitigated": "challenge"}, None).kind == "captcha"
    assert detect_challenge(403, {"Server": "cloudflare"}, None) == Challenge(
        "block", "cloudflare", "status 403 (cloudflare headers)"
    )


def test_status_forms():
    assert detect_challenge("429", {}, b"").kind == "block"
    assert detect_challenge("429 Too Many Requests", {}, b"").kind == "block"
    assert detect_challenge(b"403", {}, b"").kind == "block"
    assert detect_challenge(503.0, {}, b"").kind == "block"
    assert detect_challenge(None, {}, b"").kind is None
    assert detect_challenge("garbage", {}, b"").kind is None


def test_404_and_other_errors_are_not_blocks():
    for status in (200, 204, 301, 400, 401, 404, 410, 500, 502, 522):
        assert detect_challenge(status, {"Server": "nginx"}, b"<h1>error</h1>").kind is None, status


def test_challenge_result_shape():
    got = detect_challenge(403, {"cf-mitigated": "challenge"}, None)
    assert isinstance(got, Challenge)
    assert dataclasses.asdict(got) == {
        "kind": "captcha", "vendor": "cloudflare", "signal": "header cf-mitigated: challenge",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.kind = "block"  # type: ignore[misc]


def test_signal_never_echoes_page_text():
    # Titles and bodies are attacker-controlled; signals are built from our
    # own keywords only, so they are safe to drop into any log field.
    body = (b"<html><title>Access denied <script>alert(1)</script> \x1b[31m</title><body>"
            b"<p>Your IP has been blocked \x1b[31m<script>alert(2)</script></p></body></html>")
    got = detect_challenge(200, {}, body)
    assert got.kind == "block"
    assert got.signal == "body 'you have been blocked'"


@pytest.mark.parametrize("title", ["Access denied", "Blocked", "Captcha", "Just a moment", "Forbidden",
                                   "Item 42 | blocked-deals.example", "Robot check"])
def test_a_word_in_a_title_never_decides(title):
    body = f"<html><head><title>{title}</title></head><body><p>A product page.</p></body></html>".encode()
    assert detect_challenge(200, {}, body) == Challenge()
    # Under a block status the status decides, not the title.
    assert detect_challenge(403, {}, body) == Challenge("block", None, "status 403")


def test_vendor_script_on_an_ordinary_page_is_not_a_challenge():
    # Imperva injects its resource script into every page of a protected site.
    app = (b'<html><head><script src="/_Incapsula_Resource?SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3">'
           b'</script><script src="/static/app.js"></script></head><body><div id="root"></div></body></html>')
    assert detect_challenge(200, {}, app) == Challenge()
    # The JS check itself loads nothing else.
    check = (b'<html><head><META NAME="robots" CONTENT="noindex,nofollow"><script src="/_Incapsula_Resource?'
             b'SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3"></script><body></body></html>')
    assert detect_challenge(200, {}, check).vendor == "imperva"


def test_generic_words_on_a_page_with_content_are_not_a_challenge():
    para = b"<p>" + b"We explain how sites use a captcha and why a visitor may be blocked. " * 40 + b"</p>"
    page = b"<html><head><title>What is a CAPTCHA?</title></head><body><h1>Captchas</h1>" + para + b"</body></html>"
    assert detect_challenge(200, {}, page) == Challenge()


# --- the prefix bound ----------------------------------------------------

CF_MARKERS = b"<title>Just a moment...</title><script>window._cf_chl_opt={}</script>"


def test_marker_inside_prefix_is_seen():
    body = b"<html><head>" + b" " * (PREFIX_BYTES - len(CF_MARKERS) - 20) + CF_MARKERS
    assert detect_challenge(403, {}, body).kind == "captcha"


def test_marker_in_the_tail_is_seen():
    # Challenges inside a site's own (large) error-page layout carry their form
    # and script at the end: the last TAIL_BYTES bytes are read too.
    body = b"<html><head>" + b" " * (PREFIX_BYTES + TAIL_BYTES) + CF_MARKERS
    assert detect_challenge(403, {}, body).kind == "captcha"


def test_marker_between_prefix_and_tail_is_not_seen():
    # Documents the bound: the middle of a long body is never read.
    body = b"<html><head>" + b" " * PREFIX_BYTES + CF_MARKERS + b" " * (TAIL_BYTES + 10) + b"</html>"
    assert detect_challenge(403, {}, body) == Challenge("block", None, "status 403")


def test_str_prefix_is_cut_in_bytes():
    # 2-byte characters: the prefix of a str body is PREFIX_BYTES bytes of UTF-8,
    # i.e. about PREFIX_BYTES / 2 characters here.
    tail = " " * (TAIL_BYTES + 10)
    filler = "é" * (PREFIX_BYTES // 2 + 10)
    assert detect_challenge(403, {}, filler + CF_MARKERS.decode() + tail).kind == "block"
    filler = "é" * (PREFIX_BYTES // 2 - 200)
    assert detect_challenge(403, {}, filler + CF_MARKERS.decode() + tail).kind == "captcha"


def test_large_2xx_page_is_not_examined():
    body = CF_MARKERS + b"<p>" + b"x" * (LARGE_PAGE_BYTES + 1) + b"</p>"
    assert detect_challenge(200, {}, body).kind is None
    # ... but the same page under a challenge status is.
    assert detect_challenge(503, {}, body).kind == "captcha"
    assert detect_challenge(200, {}, body[: LARGE_PAGE_BYTES - 1]).kind == "captcha"


def test_widget_needs_interstitial_shape():
    widget = b'<div class="g-recaptcha" data-sitekey="k"></div><script src="https://www.google.com/recaptcha/api.js"></script>'
    # Small page that is nothing but the widget: an interstitial.
    assert detect_challenge(200, {}, b"<html><body>" + widget + b"</body></html>").vendor == "recaptcha"
    # The same widget on a mid-size 200 page with ordinary text: not flagged.
    text = b"<p>" + b"Some ordinary article text. " * (SMALL_PAGE_BYTES // 28 + 10) + b"</p>"
    assert detect_challenge(200, {}, b"<html><body>" + widget + text + b"</body></html>").kind is None
    # A page with navigation is a content page whatever its status.
    nav = b"<nav>" + b'<a href="/x">x</a> ' * 3 + b"</nav>"
    assert detect_challenge(403, {}, b"<html><body>" + nav + widget + b"</body></html>") == Challenge(
        "block", None, "status 403"
    )


def test_huge_body_is_accepted():
    body = b"<html>" + b"a" * (8 * 1024 * 1024)
    assert detect_challenge(200, {}, body).kind is None
    assert detect_challenge(429, {}, body).kind == "block"


# --- robustness ----------------------------------------------------------

_text_or_bytes = st.one_of(st.text(max_size=40), st.binary(max_size=40))
_header_value = st.one_of(
    _text_or_bytes, st.lists(_text_or_bytes, max_size=3), st.none(), st.integers()
)
_headers = st.one_of(
    st.none(),
    st.dictionaries(_text_or_bytes, _header_value, max_size=6),
    st.lists(st.tuples(_text_or_bytes, _header_value), max_size=6),
    st.lists(st.one_of(st.tuples(_text_or_bytes), st.text(max_size=5), st.integers()), max_size=4),
    _text_or_bytes,
    st.integers(),
)
_status = st.one_of(
    st.none(), st.integers(), st.text(max_size=8), st.binary(max_size=8), st.floats(), st.booleans()
)
_MARKER_SNIPPETS = [
    b"<title>Just a moment...</title>", b"_cf_chl_opt", b"captcha-delivery.com", b"'t':'bv'",
    b"px-captcha", b"Reference&#32;&#35;18&#46;5d2e1002", b"g-recaptcha", b"<nav>", b'type="password"',
    b"error code: 1020", b"<input type=text>", b"<title>", b"Are you a robot",
]
_body = st.one_of(
    st.none(),
    st.binary(max_size=2000),
    st.text(max_size=2000),
    st.lists(st.sampled_from(_MARKER_SNIPPETS) | st.binary(max_size=50), max_size=12).map(b"".join),
)


@settings(max_examples=400, deadline=None)
@given(status=_status, headers=_headers, body=_body)
def test_never_raises(status, headers, body):
    got = detect_challenge(status, headers, body)
    assert isinstance(got, Challenge)
    assert got.kind in (None, "captcha", "block")
    assert (got.kind is None) == (got.signal is None)
    assert got.vendor is None or (got.vendor.islower() and " " not in got.vendor)


class _ExplodingHeaders:
    def items(self):
        yield ("cf-mitigated", "challenge")
        raise RuntimeError("connection reset while reading headers")


def test_header_object_that_raises_midway():
    got = detect_challenge(403, _ExplodingHeaders(), None)
    assert got.kind == "captcha"  # what was read before the error still counts


@pytest.mark.parametrize("module", ["challenge.py", "decode.py"])
def test_module_imports_only_stdlib(module):
    # brotli / zstandard are imported by decode.py inside functions, when a body needs them.
    source = (Path(__file__).parents[2] / "logkit" / "detect" / module).read_text()
    imported = set()
    tree = ast.parse(source)
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in top_level:
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
