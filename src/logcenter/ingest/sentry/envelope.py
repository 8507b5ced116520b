"""Incremental parser for Sentry envelopes (develop-docs `envelopes.mdx`).

    Envelope = Headers { "\\n" Item } [ "\\n" ] ;   Item = Headers "\\n" Payload ;

Bytes are fed as they arrive from the decoder, so the envelope never has to sit in memory whole: only the
item types we keep (`event`) are buffered, under their own cap; attachments, sessions, transactions and
anything unknown are skipped as they stream past. Items carry a `length` (sentry-python) or end at the next
newline or EOF (the JS SDKs write no `length` for JSON items).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from logcenter.errors import BadRequest, PayloadTooLarge

# One header line (envelope or item). Real ones are well under 4 KiB, the trace context included.
MAX_HEADER_BYTES = 64 * 1024
# Items of any type in one envelope. The SDKs send one to a few (an event and its attachments, a session
# aggregate, a client report); a hostile envelope of 100,000 tiny items would cost a header parse each.
MAX_ITEMS = 1000
# Blank lines (and stray whitespace) between items carry nothing. A run of them is skipped in one C-level
# match: looked at a line at a time in Python, 95 MiB of newlines (97 KB of gzip) took a minute of CPU.
_BLANK = re.compile(rb"[ \t\r\n]+")


@dataclass(slots=True, frozen=True)
class Envelope:
    headers: dict[str, Any]
    event: bytes | None  # the payload of its `event` item, the only one kept


class _State:
    """The parser's states. Plain ints rather than an Enum: reading an Enum member costs ~60 ns on Python
    3.11, and `_advance` reads a few dozen per envelope (a quarter of the parser's time)."""

    ENVELOPE_HEADERS = 1
    ITEM_HEADERS = 2
    PAYLOAD_SIZED = 3  # `length` bytes
    PAYLOAD_LINE = 4  # up to the next newline or EOF
    PAYLOAD_END = 5  # the optional newline after a sized payload


class EnvelopeParser:
    """Feed decoded bytes with `feed`, then call `finish`. `headers` is set as soon as the first line is in,
    so that the caller can authenticate from the envelope's `dsn` before reading any further."""

    def __init__(self, *, max_item_bytes: int) -> None:
        self._max_item = max_item_bytes
        self._buf = bytearray()
        self._state = _State.ENVELOPE_HEADERS
        self.headers: dict[str, Any] | None = None
        self._event: bytes | None = None
        # The item being read: its type, whether it is kept, its payload so far, bytes still to come.
        self._item_type = ""
        self._keeping = False
        self._payload = bytearray()
        self._remaining = 0
        self._count = 0

    def feed(self, data: bytes) -> None:
        self._buf += data
        self._advance(eof=False)

    def finish(self) -> Envelope:
        self._advance(eof=True)
        if self.headers is None:
            raise BadRequest("Empty envelope: expected a JSON header line")
        return Envelope(self.headers, self._event)

    def _advance(self, *, eof: bool) -> None:
        # Each branch either consumes input and moves on, or returns to wait for more.
        while True:
            state = self._state
            if eof and not self._buf and state in (_State.ENVELOPE_HEADERS, _State.ITEM_HEADERS):
                return
            if state is _State.ITEM_HEADERS and (blank := _BLANK.match(self._buf)):
                del self._buf[: blank.end()]  # deleting from the front of a bytearray is O(1)
                continue
            if state is _State.ENVELOPE_HEADERS or state is _State.ITEM_HEADERS:
                line = self._take_line(eof=eof, limit=MAX_HEADER_BYTES, what="header line")
                if line is None:
                    return
                if state is _State.ENVELOPE_HEADERS:
                    self.headers = _json_object(line, "envelope header")
                    self._state = _State.ITEM_HEADERS
                else:
                    self._start_item(_json_object(line, "item header"))
            elif state is _State.PAYLOAD_SIZED:
                taken = min(self._remaining, len(self._buf))
                if self._keeping:
                    self._payload += self._buf[:taken]
                del self._buf[:taken]
                self._remaining -= taken
                if self._remaining:
                    if eof:
                        raise BadRequest(
                            f"Truncated envelope: {self._item_type!r} item is {self._remaining} bytes short"
                        )
                    return
                self._end_item()
                self._state = _State.PAYLOAD_END
            elif state is _State.PAYLOAD_LINE:
                if self._keeping:
                    line = self._take_line(eof=eof, limit=self._max_item, what=f"{self._item_type!r} item")
                else:
                    line = self._skip_line(eof=eof)
                if line is None:
                    return
                self._payload += line
                self._end_item()
                self._state = _State.ITEM_HEADERS
            else:  # PAYLOAD_END: "Length-prefixed payloads must terminate with \n or EOF"
                if not self._buf and not eof:
                    return
                if self._buf[:1] == b"\n":
                    del self._buf[:1]
                self._state = _State.ITEM_HEADERS

    def _take_line(self, *, eof: bool, limit: int, what: str) -> bytes | None:
        """The next line without its newline; at EOF the rest of the input; None if more input is needed."""
        end = self._buf.find(b"\n")
        if end < 0:
            if len(self._buf) > limit:
                raise PayloadTooLarge(f"Envelope {what} exceeds {limit} bytes")
            if not eof:
                return None
            end = len(self._buf)
        if end > limit:
            raise PayloadTooLarge(f"Envelope {what} exceeds {limit} bytes")
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        return line

    def _skip_line(self, *, eof: bool) -> bytes | None:
        """Like `_take_line` for a skipped item: what was scanned is dropped, not buffered."""
        end = self._buf.find(b"\n")
        if end < 0:
            self._buf.clear()
            return b"" if eof else None
        del self._buf[: end + 1]
        return b""

    def _start_item(self, headers: dict[str, Any]) -> None:
        item_type = headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise BadRequest("Envelope item header has no 'type'")
        self._count += 1
        if self._count > MAX_ITEMS:
            raise PayloadTooLarge(f"Envelope has more than {MAX_ITEMS} items")
        length = headers.get("length")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 0):
            raise BadRequest(f"Envelope item {item_type!r} has an invalid 'length': {length!r}")
        self._item_type = item_type
        self._keeping = item_type == "event"
        if self._keeping:
            if self._event is not None:
                raise BadRequest(f"Envelope has more than one {item_type!r} item")
            if length is not None and length > self._max_item:
                raise PayloadTooLarge(
                    f"Envelope {item_type!r} item is {length} bytes; the limit is {self._max_item}"
                )
        self._payload = bytearray()
        if length is None:
            self._state = _State.PAYLOAD_LINE
        else:
            self._remaining = length
            self._state = _State.PAYLOAD_SIZED

    def _end_item(self) -> None:
        if self._keeping:
            self._event = bytes(self._payload)
        self._payload = bytearray()


def _json_object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Invalid {what}: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid {what}: expected a JSON object")
    return value
