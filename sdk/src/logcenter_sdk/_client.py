"""The client: builds reports on the caller's thread, sends them from the worker's, never raises."""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from dataclasses import dataclass
from types import FrameType
from typing import Any

from . import _frames, _payload
from ._options import Options, level_name
from ._payload import Report
from ._transport import HttpTransport, Outcome
from ._worker import BackgroundWorker

log = logging.getLogger("logcenter_sdk")

# Set on an exception once it is reported, so that the framework integration, a logging handler and an
# explicit capture_exception in the same request report it once between them.
_CAPTURED = "__logcenter_captured__"


def _first_capture(exc: BaseException) -> bool:
    """Mark exc as reported; False if it already was."""
    try:
        if getattr(exc, _CAPTURED, False):
            return False
        setattr(exc, _CAPTURED, True)
    except Exception:  # a read-only or odd __setattr__/__getattr__: report it, unmarked
        pass
    return True


@dataclass(frozen=True, slots=True)
class Stats:
    """What became of the reports given to a client, for health checks and tests."""

    sent: int = 0
    failed: int = 0  # server unreachable, timed out or 5xx
    rejected: int = 0  # 4xx: wrong ingest key, invalid report, ...
    dropped_queue_full: int = 0
    dropped_rate_limited: int = 0
    dropped_before_send: int = 0
    dropped_too_large: int = 0
    dropped_at_close: int = 0


class Client:
    """Reports errors to one Log Center project. Usually made by ``logcenter_sdk.init``."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._transport = (
            HttpTransport(options.endpoint, ingest_key=options.ingest_key, timeout=options.timeout)
            if options.endpoint
            else None
        )
        self._worker = BackgroundWorker(options.queue_size)
        self._counts_lock = threading.Lock()
        self._counts: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self._transport is not None

    def capture_exception(
        self,
        exc: BaseException,
        *,
        context: dict[str, Any] | None = None,
        level: str | int | None = None,
        at: FrameType | None = None,
    ) -> bool:
        """Queue a report of exc; False if it was not queued (already reported, dropped, disabled). An
        exception that was never raised points at the frame `at` (the logging handler passes the line that
        logged it), else at the line that called this method."""
        if self._transport is None or not _first_capture(exc):
            return False
        try:
            report = _payload.exception_report(
                exc, self.options, level=self._level(level), context=context, at=at
            )
        except Exception:
            log.debug("logcenter_sdk: could not build a report", exc_info=True)
            return False
        return self.capture_report(report)

    def capture_message(
        self,
        message: str,
        *,
        context: dict[str, Any] | None = None,
        level: str | int | None = None,
    ) -> bool:
        """Queue a report of a message, grouped by the line that called this method."""
        if self._transport is None:
            return False
        try:
            frame = _frames.caller_frame()
            report = _payload.message_report(
                str(message),
                self.options,
                level=self._level(level),
                context=context,
                filename=frame.f_code.co_filename if frame is not None else "unknown",
                line_number=(frame.f_lineno or 0) if frame is not None else 0,
                stack_trace="".join(traceback.format_stack(frame)).splitlines() if frame is not None else [],
            )
        except Exception:
            log.debug("logcenter_sdk: could not build a report", exc_info=True)
            return False
        return self.capture_report(report)

    def capture_report(self, report: Report) -> bool:
        """Queue a report built by the caller (integrations use this); applies before_send first."""
        transport = self._transport
        if transport is None:
            return False
        try:
            if self.options.before_send is not None:
                filtered = self.options.before_send(report)
                if filtered is None:
                    self._count("dropped_before_send")
                    return False
                report = filtered
            body = _payload.encode(report)
        except Exception:
            # A failing before_send drops the report: sending it unfiltered could leak what it meant to scrub.
            log.warning("logcenter_sdk: before_send or encoding failed; report dropped", exc_info=True)
            self._count("dropped_before_send")
            return False
        if body is None:
            self._count("dropped_too_large")
            return False
        if transport.is_rate_limited():
            self._count("dropped_rate_limited")
            return False
        # One key per report, reused by the transport's retries: the server counts the report once.
        key = uuid.uuid4().hex
        if not self._worker.submit(lambda: self._send(transport, body, key)):
            self._count("dropped_queue_full")
            return False
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait up to timeout seconds (default shutdown_timeout) for the queue; True if it emptied in time."""
        return self._worker.flush(self.options.shutdown_timeout if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the worker thread; later captures are no-ops."""
        discarded = self._worker.close(self.options.shutdown_timeout if timeout is None else timeout)
        self._transport = None
        if discarded:
            self._count("dropped_at_close", discarded)
            log.warning("logcenter_sdk: %d reports not sent before shutdown", discarded)

    def stats(self) -> Stats:
        with self._counts_lock:
            return Stats(**self._counts)

    def _send(self, transport: HttpTransport, body: bytes, idempotency_key: str) -> None:
        outcome = transport.send(body, idempotency_key=idempotency_key)
        self._count("dropped_rate_limited" if outcome is Outcome.RATE_LIMITED else outcome.value)

    def _level(self, level: str | int | None) -> str:
        if level is None:
            return self.options.level
        try:
            return level_name(level)
        except ValueError:
            return self.options.level

    def _count(self, key: str, n: int = 1) -> None:
        with self._counts_lock:
            self._counts[key] = self._counts.get(key, 0) + n
