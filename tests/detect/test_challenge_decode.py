"""Detection on compressed bodies (logkit.detect.decode and detect_challenge(content_encoding=...)).

Every page of the real corpus (tests/fixtures/challenges/real/) and of the synthetic fixtures is
compressed with each coding Scrapy decodes and must give exactly the answer of the plain body;
decompression bombs must cost a bounded amount of memory.
"""
from __future__ import annotations

import gzip
import io
import json
import tracemalloc
import zlib
from pathlib import Path

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from logkit.detect import detect_challenge
from logkit.detect.challenge import DECODE_LIMIT, LARGE_PAGE_BYTES
from logkit.detect.decode import DecodeError, decode_body, split_encodings, supported_encodings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "challenges"


def _pages():
    out = []
    for sidecar in sorted(FIXTURES.glob("*.json")) + sorted(FIXTURES.glob("real/*/*.json")):
        case = json.loads(sidecar.read_text())
        if case["body"]:
            out.append((sidecar.relative_to(FIXTURES).with_suffix("").as_posix(), case["status"] or 200,
                        case["headers"], (sidecar.parent / case["body"]).read_bytes()))
    return out


PAGES = _pages()


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate-raw": _deflate_raw,  # sent as "deflate" by some servers
    "br": brotli.compress,
    "zstd": lambda d: zstandard.ZstdCompressor().compress(d),
    "gzip, br": lambda d: brotli.compress(gzip.compress(d)),
}


@pytest.mark.parametrize("coding", list(ENCODERS))
@pytest.mark.parametrize("name,status,headers,body", PAGES, ids=[p[0] for p in PAGES])
def test_compressed_page_gives_the_plain_answer(name, status, headers, body, coding):
    want = detect_challenge(status, headers, body)
    raw = ENCODERS[coding](body)
    header_value = "deflate" if coding == "deflate-raw" else coding
    assert detect_challenge(status, headers, raw, content_encoding=header_value) == want
    # as Scrapy's Headers.getlist gives it, and as a bytes value
    assert detect_challenge(status, headers, raw, content_encoding=[header_value.encode()]) == want


def test_compressed_challenge_is_seen_only_when_decoded():
    body = (FIXTURES / "real" / "tune" / "cf_iuam_2019_04_10.html").read_bytes()
    raw = gzip.compress(body)
    assert detect_challenge(503, {"Server": "cloudflare"}, raw, content_encoding="gzip").kind == "captcha"
    # Without the coding the bytes are noise: only the status speaks.
    assert detect_challenge(503, {"Server": "cloudflare"}, raw).signal == "status 503 (cloudflare headers)"


def test_header_of_an_already_decoded_body_is_tolerated():
    body = (FIXTURES / "real" / "tune" / "cf_iuam_2019_04_10.html").read_bytes()
    # requests/httpx keep Content-Encoding after decoding; a caller may pass it by mistake.
    assert detect_challenge(503, {}, body, content_encoding="gzip").kind == "captcha"


def test_corrupt_or_unsupported_body_counts_as_absent():
    junk = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4
    assert detect_challenge(403, {"Server": "cloudflare"}, junk, content_encoding="gzip").signal == \
        "status 403 (cloudflare headers)"
    assert detect_challenge(200, {}, junk, content_encoding="compress").kind is None
    assert detect_challenge(200, {}, b"\x00\x01", content_encoding="br").kind is None
    with pytest.raises(DecodeError):
        decode_body(junk, "gzip", 1000)
    with pytest.raises(DecodeError):
        decode_body(b"abc", "lzma", 1000)


def test_split_encodings_and_support():
    assert split_encodings("gzip, br") == ["gzip", "br"]
    assert split_encodings([b"GZIP", b"identity"]) == ["gzip", "identity"]
    assert split_encodings(None) == []
    assert {"gzip", "deflate", "br", "zstd"} <= supported_encodings()


def test_multi_member_gzip_is_read_whole():
    raw = gzip.compress(b"<html><head>") + gzip.compress(b"<title>Just a moment...</title></head></html>")
    assert decode_body(raw, "gzip", 10_000)[0] == b"<html><head><title>Just a moment...</title></head></html>"


# --- decompression bombs ---------------------------------------------------------------------------
BOMB_SIZE = 512 * 1024 * 1024  # what the bomb would expand to


def _gzip_bomb() -> bytes:
    buf = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as f:
        for _ in range(BOMB_SIZE // len(chunk)):
            f.write(chunk)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bombs():
    gz = _gzip_bomb()
    zero = b"\0" * (64 * 1024 * 1024)
    br = brotli.compress(zero, quality=5)
    zs = zstandard.ZstdCompressor(level=3).compress(zero)
    return {"gzip": (gz, BOMB_SIZE), "br": (br, len(zero)), "zstd": (zs, len(zero)),
            "deflate": (zlib.compress(zero, 9), len(zero))}


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd", "deflate"])
@pytest.mark.parametrize("status", [200, 503])
def test_bomb_is_cut_at_the_decode_limit(bombs, coding, status):
    raw, expands_to = bombs[coding]
    assert len(raw) < expands_to // 100  # it really is a bomb
    tracemalloc.start()
    try:
        got = detect_challenge(status, {}, raw, content_encoding=coding)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.kind == ("block" if status == 503 else None)
    limit = DECODE_LIMIT if status == 503 else LARGE_PAGE_BYTES + 1
    # Python-level allocations stay a small multiple of the limit (decoded bytes + lowercased window),
    # nowhere near the bomb's size.
    assert peak < 4 * limit + 8 * 1024 * 1024, peak
    data, truncated = decode_body(raw, coding, limit)
    assert len(data) == limit and truncated


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.binary(max_size=3000), st.binary(max_size=300).map(gzip.compress),
                      st.binary(max_size=300).map(brotli.compress), st.binary(max_size=300).map(zlib.compress)),
       coding=st.one_of(st.sampled_from(["gzip", "deflate", "br", "zstd", "gzip, br", "identity", "x-gzip",
                                         "compress", "", ",", "GZIP"]),
                        st.binary(max_size=12), st.lists(st.binary(max_size=8), max_size=3), st.integers()),
       status=st.sampled_from([200, 403, 429, 503, None]))
def test_never_raises_on_any_body_and_coding(body, coding, status):
    got = detect_challenge(status, {}, body, content_encoding=coding)
    assert got.kind in (None, "captcha", "block")
