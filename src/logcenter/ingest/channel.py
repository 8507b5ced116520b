"""The socket between HTTP workers and the ingest writer: its frames, and the HTTP worker's `RemoteWriter`.

SQLite lets one connection write at a time, and a writer thread would share the HTTP process's GIL with the
event loop, so one writer (ingest/writer.py) owns all report writes and every HTTP worker forwards its
reports to it over a Unix socket: frames of [[seq, report fields], ...] one way, [[seq, outcome], ...] back.
A request is answered only when the outcome of its committed batch has come back. If the writer is gone,
requests get a 503 with Retry-After and the worker reconnects on the next report; a report in flight when
the writer died may still have been stored (clients retry; a retried Sentry event is recognised by its id).

A frame is a 4-byte big-endian length and a JSON array (orjson: cheaper than pickle, and nothing on the
socket can run code). The socket lives in a fresh directory only the server's user can open (mode 0700).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import fields
from datetime import datetime
from typing import Any

import orjson
import structlog

from logcenter.errors import LogCenterError, RateLimited, Unavailable
from logcenter.ingest.report import IngestResult, Outcome, Report

log = structlog.get_logger(__name__)

_HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 30  # a frame holds at most a batch of reports, each already capped by the HTTP body limits


def frame(parts: list[bytes]) -> bytes:
    """One frame holding a JSON array of already-encoded elements."""
    body = b"[" + b",".join(parts) + b"]"
    return _HEADER.pack(len(body)) + body


class FrameReader:
    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        frames = []
        start = 0
        size = len(self._buffer)
        while size - start >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._buffer, start)
            if length > MAX_FRAME:
                raise ValueError(f"frame of {length} bytes")
            end = start + _HEADER.size + length
            if end > size:
                break
            frames.append(orjson.loads(memoryview(self._buffer)[start + _HEADER.size : end]))
            start = end
        del self._buffer[:start]
        return frames


_REPORT_FIELDS = tuple(f.name for f in fields(Report))
_TIMESTAMP = _REPORT_FIELDS.index("timestamp")


def encode_report(seq: int, report: Report) -> bytes:
    return orjson.dumps(
        [seq, [getattr(report, name) for name in _REPORT_FIELDS]], option=orjson.OPT_NON_STR_KEYS
    )


def decode_report(values: list[Any]) -> Report:
    values[_TIMESTAMP] = datetime.fromisoformat(values[_TIMESTAMP])
    return Report(*values)


def encode_outcome(seq: int, outcome: Outcome) -> bytes:
    if isinstance(outcome, LogCenterError):
        return orjson.dumps([seq, None, outcome.message, outcome.headers, outcome.status_code])
    return orjson.dumps([seq, outcome.bug_id, outcome.created, outcome.status, outcome.duplicate])


def decode_outcome(item: list[Any]) -> Outcome:
    if item[1] is None:  # not stored: over the project's quota (429), or the writer could not (503)
        refusal = RateLimited if item[4] == RateLimited.status_code else Unavailable
        return refusal(item[2], headers=item[3])
    return IngestResult(item[1], created=item[2], status=item[3], duplicate=item[4])


# --- the HTTP worker's side: `submit(report)` ----------------------------------------------------------


def _unreachable() -> Unavailable:
    return Unavailable("Ingest writer is not reachable, retry later", headers={"Retry-After": "5"})


class RemoteWriter:
    """`submit(report)` for an HTTP worker: forwards to the writer process and waits for its commit."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._protocol: _WriterLink | None = None
        self._connecting: asyncio.Lock | None = None

    async def start(self) -> None:
        await self.alive()

    async def stop(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def submit(self, report: Report) -> IngestResult:
        link = await self._link()
        return await link.submit(report)

    async def alive(self) -> bool:
        """Whether the writer process takes reports (for /api/health): connected, or connects now."""
        try:
            await self._link()
        except Unavailable:
            return False
        return True

    async def _link(self) -> _WriterLink:
        link = self._protocol
        if link is not None and link.open:
            return link
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None and self._protocol.open:
                return self._protocol
            loop = asyncio.get_running_loop()
            try:
                _, protocol = await loop.create_unix_connection(_WriterLink, self._path)
            except OSError:
                log.warning("writer.unreachable", path=self._path)
                raise _unreachable() from None
            self._protocol = protocol
            return protocol


class _WriterLink(asyncio.Protocol):
    def __init__(self) -> None:
        self._reader = FrameReader()
        self._transport: asyncio.Transport | None = None
        self._waiting: dict[int, asyncio.Future[IngestResult]] = {}
        self._outbox: list[bytes] = []
        self._seq = 0
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self.open = True

    def submit(self, report: Report) -> asyncio.Future[IngestResult]:
        if not self.open:
            raise _unreachable()
        self._seq += 1
        encoded = encode_report(self._seq, report)  # raises here, for this request only, if it cannot
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._waiting[self._seq] = future
        if not self._outbox:
            loop.call_soon(self._flush)  # one frame for all the reports of this loop iteration
        self._outbox.append(encoded)
        return future

    def _flush(self) -> None:
        parts, self._outbox = self._outbox, []
        if parts and self._transport is not None and self.open:
            self._transport.write(frame(parts))

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except Exception:
            log.error("writer.bad_reply", exc_info=True)
            self.close()
            return
        for items in frames:
            for item in items:
                future = self._waiting.pop(item[0], None)
                if future is None or future.done():  # cancelled: the client went away
                    continue
                outcome = decode_outcome(item)
                if isinstance(outcome, LogCenterError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._transport = None
        if self._waiting:
            # The writer process died or restarted: these reports may or may not have been committed, but
            # none was acknowledged; clients retry (a retried Sentry event is deduplicated by its event_id).
            log.error("writer.connection_lost", waiting=len(self._waiting))
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(_unreachable())

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
