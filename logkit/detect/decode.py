"""Bounded decoding of HTTP bodies for the challenge detector.

A detector that reads compressed bytes sees nothing, so bodies are decoded
first -- but a response is attacker-controlled, and a few KiB of gzip or
brotli can expand to gigabytes.  Every decoder here stops after ``limit``
output bytes, so one call never holds more than ``limit`` bytes of decoded
data whatever the input.

Written by hand rather than with ``gzip.decompress``/``brotli.decompress``
because those have no output bound; ``zlib.decompressobj(...).decompress(data,
max_length)``, ``brotli.Decompressor.process(..., output_buffer_limit=...)``
and zstandard's ``stream_reader(...).read(n)`` have one, and each is used for
exactly that.  The same encodings Scrapy's HttpCompressionMiddleware decodes
are supported: gzip/x-gzip, deflate (zlib-wrapped or raw), br (with
``brotli`` or ``brotlicffi`` installed) and zstd (with ``zstandard``).
"""

from __future__ import annotations

import io
import zlib

__all__ = ["DecodeError", "decode_body", "split_encodings", "supported_encodings"]


class DecodeError(ValueError):
    """The body does not decode with the encoding it claims (or that encoding is unsupported)."""


def _brotli_module():  # type: ignore[no-untyped-def]
    try:
        import brotli  # type: ignore[import-not-found]
        return brotli
    except ImportError:
        pass
    try:
        import brotlicffi as brotli  # type: ignore[import-not-found,no-redef]
        return brotli
    except ImportError:
        return None


def _zstd_module():  # type: ignore[no-untyped-def]
    try:
        import zstandard  # type: ignore[import-not-found]
        return zstandard
    except ImportError:
        return None


def supported_encodings() -> frozenset[str]:
    """The content codings this process can decode (br and zstd depend on optional packages)."""
    out = {"gzip", "x-gzip", "deflate", "identity"}
    if _brotli_module() is not None:
        out.add("br")
    if _zstd_module() is not None:
        out.add("zstd")
    return frozenset(out)


def split_encodings(value: object) -> list[str]:
    """``"gzip, br"`` (str, bytes or a list of either) -> ``["gzip", "br"]``, lowercased."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, (bytes, bytearray, memoryview)):
            item = bytes(item).decode("latin-1")
        for part in str(item).split(","):
            part = part.strip().lower()
            if part:
                out.append(part)
    return out


_CHUNK = 64 * 1024


def _zlib(data: bytes, wbits: int, limit: int) -> tuple[bytes, bool]:
    d = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    while True:
        room = limit + 1 - len(out)
        if room <= 0:
            return bytes(out[:limit]), True
        chunk = d.decompress(pending, room)
        out += chunk
        pending = d.unconsumed_tail
        if d.eof:
            if d.unused_data and wbits >= 16 + zlib.MAX_WBITS and len(out) < limit:
                # A gzip file may hold several members back to back (RFC 1952 2.2).
                rest, cut = _zlib(d.unused_data, wbits, limit - len(out))
                out += rest
                return bytes(out[:limit]), cut or len(out) > limit
            break
        if not pending and not chunk:
            break
    return bytes(out[:limit]), len(out) > limit


def _gzip(data: bytes, limit: int) -> tuple[bytes, bool]:
    try:
        return _zlib(data, 16 + zlib.MAX_WBITS, limit)
    except zlib.error as exc:
        raise DecodeError(f"gzip: {exc}") from None


def _deflate(data: bytes, limit: int) -> tuple[bytes, bool]:
    # "deflate" is meant to be zlib-wrapped (RFC 9110 8.4.1.2); some servers send raw deflate.
    try:
        return _zlib(data, zlib.MAX_WBITS, limit)
    except zlib.error:
        try:
            return _zlib(data, -zlib.MAX_WBITS, limit)
        except zlib.error as exc:
            raise DecodeError(f"deflate: {exc}") from None


def _br(data: bytes, limit: int) -> tuple[bytes, bool]:
    brotli = _brotli_module()
    if brotli is None:
        raise DecodeError("br: neither brotli nor brotlicffi is installed")
    try:
        d = brotli.Decompressor()
        out = bytearray()
        try:
            # brotli >= 1.2 bounds each call's output; the input is then fed again as b"".
            chunk = d.process(data, output_buffer_limit=limit + 1)
            out += chunk
            while len(out) <= limit and not d.is_finished() and chunk:
                chunk = d.process(b"", output_buffer_limit=limit + 1 - len(out))
                out += chunk
        except TypeError:
            # Older brotli / brotlicffi have no output bound: feed the input in small
            # pieces and stop as soon as the output passes the limit. Measured with brotli
            # 1.1.0 on a 64 MiB bomb: 1 KiB pieces overshot by 148 MB, so pieces are 16 bytes
            # (about 2 MB of overshoot at worst there; a slower decode, on old brotli only).
            for i in range(0, len(data), 16):
                out += d.process(data[i:i + 16])
                if len(out) > limit:
                    break
        return bytes(out[:limit]), len(out) > limit
    except DecodeError:
        raise
    except Exception as exc:  # brotli.error, brotlicffi.Error
        raise DecodeError(f"br: {exc}") from None


def _zstd(data: bytes, limit: int) -> tuple[bytes, bool]:
    zstandard = _zstd_module()
    if zstandard is None:
        raise DecodeError("zstd: zstandard is not installed")
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
        out = bytearray()
        while len(out) <= limit:
            chunk = reader.read(min(_CHUNK, limit + 1 - len(out)))
            if not chunk:
                break
            out += chunk
        return bytes(out[:limit]), len(out) > limit
    except Exception as exc:  # zstandard.ZstdError
        raise DecodeError(f"zstd: {exc}") from None


_DECODERS = {"gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _br, "zstd": _zstd}


def decode_body(body: bytes, content_encoding: object, limit: int) -> tuple[bytes, bool]:
    """Undo ``content_encoding`` (the header value: codings in the order they were applied).

    Returns ``(decoded, truncated)``: at most ``limit`` bytes, and whether more
    output was left.  Raises :class:`DecodeError` when a coding is unknown,
    unsupported here, or the data is corrupt.
    """
    data = bytes(body)
    truncated = False
    for coding in reversed(split_encodings(content_encoding)):
        if coding == "identity":
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise DecodeError(f"unsupported content coding {coding!r}")
        data, cut = decoder(data, limit)
        # An inner layer cut at the limit yields a truncated stream for the outer one;
        # what was decoded before the cut is still good.
        truncated = truncated or cut
    return data, truncated
