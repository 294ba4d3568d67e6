"""Decompressed bytes of a log file (gzip, zstd), kept up to the first damage: every decodable
line before a cut or a corrupted block is salvaged, and the damage is named by its byte offset."""
from __future__ import annotations

import zlib
from typing import Iterator

TRUNCATED = "truncated compressed stream (rest of file lost)"
#: A compressed stream that fails to decode in the middle; the full reason names the byte offset of
#: the compressed file where decoding stopped and the decoder's message. Every line decoded before
#: the damage is kept.
DAMAGED = "damaged compressed stream"


class Truncated(Exception):
    """The compressed stream ends early (``reason`` = :data:`TRUNCATED`) or cannot be decoded from
    some byte on (``reason`` starts with :data:`DAMAGED` and names the byte offset)."""

    def __init__(self, reason: str = TRUNCATED):
        super().__init__(reason)
        self.reason = reason


#: Compressed bytes fed to the decoder at a time. Small, so a decode error loses little output:
#: zstd decodes whole blocks (up to 128 KiB of text from a few KiB), and for gzip the piece that
#: fails is fed again byte by byte from a copy of the decoder state (see _feed_gzip).
_FEED = 4096


def _damaged(offset: int, e: BaseException) -> Truncated:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return Truncated(f"{DAMAGED} at byte {offset} of the file ({msg}); the rest of the file is lost")


def _feed(d, piece: bytes, pos: int, compression: str):
    """Decode ``piece`` with decoder ``d``: (output, decoder, damage or None, bytes after the end of
    the member or frame when it ended in this piece).

    gzip: on a decode error the piece is decoded again byte by byte from a copy of the state
    before it, to keep every byte of output before the damage (zstd decoders cannot be copied;
    small pieces bound the loss there)."""
    if compression != "gzip":
        try:
            out = d.decompress(piece)
        except Exception as e:  # zstandard.ZstdError
            return b"", d, _damaged(pos, e), b""
        return out, d, None, (d.unused_data if d.eof else b"")
    saved = d.copy()
    try:
        out = d.decompress(piece)
        return out, d, None, (d.unused_data if d.eof else b"")
    except zlib.error:
        pass
    d = saved
    outs = []
    for i in range(len(piece)):
        try:
            outs.append(d.decompress(piece[i:i + 1]))
        except zlib.error as e:
            return b"".join(outs), d, _damaged(pos + i, e), b""
        if d.eof:
            return b"".join(outs), d, None, d.unused_data + piece[i + 1:]
    return b"".join(outs), d, None, b""


def _zstd_salvage(path: str, new, frame_start: int, frame_out: int, piece: bytes, pos: int):
    """A zstd decoder cannot be copied: decode the frame again from its start up to the piece that
    failed, then that piece byte by byte, to keep every byte decodable before the damage.
    Returns (output not yielded yet, damage). Runs once per damaged file."""
    d = new()
    outs = []
    with open(path, "rb") as f:
        f.seek(frame_start)
        left = pos - frame_start
        while left > 0:
            b = f.read(min(_FEED * 16, left))
            if not b:
                break
            left -= len(b)
            outs.append(d.decompress(b))
    err = None
    for i in range(len(piece)):
        try:
            outs.append(d.decompress(piece[i:i + 1]))
        except Exception as e:  # zstandard.ZstdError
            err = _damaged(pos + i, e)
            break
    return b"".join(outs)[frame_out:], err or _damaged(pos, ValueError("undecodable"))


def decompressed_chunks(path: str, compression: str, start: int) -> Iterator[bytes]:
    """Decompressed bytes of ``path`` from byte ``start`` of the file; raises Truncated at a cut
    or damaged stream, after yielding every byte decoded before it.

    Concatenated gzip members and zstd frames are read one after another (what appending writers
    and ``cat a.gz b.gz`` make)."""
    with open(path, "rb") as raw:
        raw.seek(start)
        if compression == "none":
            while True:
                b = raw.read(2**20)
                if not b:
                    return
                yield b
        if compression == "gzip":
            new = lambda: zlib.decompressobj(wbits=31)  # noqa: E731
        else:
            import zstandard
            dctx = zstandard.ZstdDecompressor()
            new = dctx.decompressobj
        d = new()
        fed = False  # the current decompressor has seen bytes of a member it has not finished
        pos = start  # file offset of the next byte read
        frame_start, frame_out = start, 0  # where the current member/frame began; bytes it gave
        while True:
            block = raw.read(2**20)
            if not block:
                break
            for j in range(0, len(block), _FEED):
                b = block[j:j + _FEED]
                bpos = pos + j
                while b:
                    fed = True
                    out, d, err, rest = _feed(d, b, bpos, compression)
                    if err is not None and compression == "zstd":
                        out, err = _zstd_salvage(path, new, frame_start, frame_out, b, bpos)
                    if out:
                        frame_out += len(out)
                        yield out
                    if err is not None:
                        raise err
                    if d.eof:
                        bpos += len(b) - len(rest)
                        b = rest
                        d = new()
                        fed = False
                        frame_start, frame_out = bpos, 0
                        if compression == "gzip" and b and not b.strip(b"\x00"):
                            b = b""  # zero padding after the last member
                    else:
                        b = b""
            pos += len(block)
        if fed and not d.eof:
            raise Truncated()
