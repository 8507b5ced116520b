"""Streaming `Content-Encoding` decoding under two caps: compressed bytes read, decompressed bytes produced.

A few kilobytes of gzip or brotli can expand to gigabytes, so the body is never decompressed in one call:
every step produces at most `_STEP` bytes and the running total is checked before the next step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]
from isal import isal_zlib as zlib  # zlib's interface, with ISA-L's inflate: half zlib's time per event

from logcenter.errors import BadRequest, LogCenterError, PayloadTooLarge

# What isal_zlib raises for a bad stream. Its type stub declares an Exception instance, not the class.
_ZlibError: type[Exception] = zlib.error  # type: ignore[assignment]

# Largest output of one decompression step, and so the most a single hostile chunk can allocate at once.
_STEP = 256 * 1024


class UnsupportedEncoding(LogCenterError):
    status_code = 415


class _Codec(Protocol):
    def decompress(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> None:
        """Raise BadRequest if the compressed stream ended early."""


class _Identity:
    def decompress(self, data: bytes) -> Iterator[bytes]:
        yield data

    def finish(self) -> None:
        return None


class _Zlib:
    def __init__(self, wbits: int, name: str) -> None:
        self._obj = zlib.decompressobj(wbits)
        self._name = name

    def decompress(self, data: bytes) -> Iterator[bytes]:
        while True:
            if data and self._obj.eof:
                raise BadRequest(f"Unexpected data after the end of the {self._name} stream")
            try:
                out = self._obj.decompress(data, _STEP)
            except _ZlibError as exc:
                raise BadRequest(f"Invalid {self._name} body: {exc}") from None
            if out:
                yield out
            # With a max_length the input that did not fit waits in unconsumed_tail; whatever ran past the
            # end of the stream lands in unused_data.
            data = self._obj.unconsumed_tail or self._obj.unused_data
            # A full step can leave output inside the decompressor after it took all of the input (ISA-L
            # does, for a small input that expands a lot): then it is asked again with no input.
            if not data and (self._obj.eof or len(out) < _STEP):
                return

    def finish(self) -> None:
        if not self._obj.eof:
            raise BadRequest(f"Truncated {self._name} body")


class _Deflate:
    """`deflate` is zlib-wrapped per RFC 9110 and the Sentry docs, but some clients send raw deflate.

    Like GlitchTip: try zlib, and if the very first bytes are rejected start over as raw deflate. The input is
    kept only until the first output appears, after which the format is settled.
    """

    def __init__(self) -> None:
        self._codec = _Zlib(zlib.MAX_WBITS, "deflate")
        self._seen: bytearray | None = bytearray()

    def decompress(self, data: bytes) -> Iterator[bytes]:
        if self._seen is None:
            yield from self._codec.decompress(data)
            return
        self._seen += data
        try:
            for out in self._codec.decompress(data):
                self._seen = None
                yield out
        except BadRequest:
            if self._seen is None:
                raise
            seen, self._seen = bytes(self._seen), None
            self._codec = _Zlib(-zlib.MAX_WBITS, "deflate")
            yield from self._codec.decompress(seen)

    def finish(self) -> None:
        self._codec.finish()


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def decompress(self, data: bytes) -> Iterator[bytes]:
        try:
            if self._obj.is_finished():
                if data:
                    raise BadRequest("Unexpected data after the end of the br stream")
                return
            out = self._obj.process(data, output_buffer_limit=_STEP)
            yield out
            # Output held back by the limit comes out of further calls with empty input: while the decoder
            # says so, and after a full step (brotli may give somewhat more than the limit), which can leave
            # output inside it although it says it takes more input.
            while not self._obj.is_finished() and (not self._obj.can_accept_more_data() or len(out) >= _STEP):
                out = self._obj.process(b"", output_buffer_limit=_STEP)
                yield out
        except brotli.error as exc:
            raise BadRequest(f"Invalid br body: {exc}") from None

    def finish(self) -> None:
        if not self._obj.is_finished():
            raise BadRequest("Truncated br body")


def _codec(content_encoding: str | None) -> _Codec:
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return _Identity()
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS, "gzip")
    if encoding == "deflate":
        return _Deflate()
    if encoding == "br":
        return _Brotli()
    raise UnsupportedEncoding(f"Unsupported Content-Encoding {encoding!r}: send gzip, deflate, br or none")


class BodyDecoder:
    """Feed raw body chunks, get decompressed chunks; PayloadTooLarge (413) as soon as a cap is passed."""

    def __init__(self, content_encoding: str | None, *, max_compressed: int, max_decompressed: int) -> None:
        self._codec = _codec(content_encoding)
        self._max_compressed = max_compressed
        self._max_decompressed = max_decompressed
        self._read = 0
        self._produced = 0

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._read += len(chunk)
        if self._read > self._max_compressed:
            raise PayloadTooLarge(f"Request body exceeds {self._max_compressed} bytes")
        for out in self._codec.decompress(chunk):
            self._produced += len(out)
            if self._produced > self._max_decompressed:
                raise PayloadTooLarge(f"Decompressed body exceeds {self._max_decompressed} bytes")
            if out:
                yield out

    def finish(self) -> None:
        """Call after the last chunk: rejects a compressed stream that was cut off."""
        self._codec.finish()
