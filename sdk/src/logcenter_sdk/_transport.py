"""One HTTP POST per report, with the standard library only, and the server's 429 back-off."""

from __future__ import annotations

import email.utils
import enum
import http.client
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC
from email.message import Message

from ._version import __version__

log = logging.getLogger("logcenter_sdk")

# Used when a 429 carries no usable Retry-After: long enough to relieve the server, short enough to recover.
DEFAULT_RETRY_AFTER = 60.0
# The longest pause a server can ask for: a wrong or hostile value must not silence a process for good.
MAX_RETRY_AFTER = 3600.0
# A connection the server closed before answering (reset, or closed mid-answer) may have delivered the report:
# it is sent again after these pauses, with the same Idempotency-Key, so that the server counts it once.
# Refused connections and timeouts are not retried: the server is down or hung, and the worker must move on.
RESET_RETRY_DELAYS = (0.2, 0.5)
_RESET_ERRORS = (
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    http.client.RemoteDisconnected,
)


class Outcome(enum.Enum):
    SENT = "sent"
    RATE_LIMITED = "rate_limited"  # 429 (or 503 with Retry-After): nothing is sent until the window ends
    REJECTED = "rejected"  # 4xx: this report or the configuration is wrong; retrying would not help
    FAILED = "failed"  # server down, timeout, 5xx


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302 by turning the POST into a bodiless GET and lose the report without
    # saying so; a redirect is refused instead and reported as a configuration problem.
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: object,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float:
    """Retry-After as seconds: delta-seconds or an HTTP date, at most MAX_RETRY_AFTER; the default when
    missing or unreadable (including "inf", "nan" and dates past what datetime holds)."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            current = now if now is not None else time.time()
            seconds = when.timestamp() - current
        except (TypeError, ValueError, OverflowError):
            return DEFAULT_RETRY_AFTER
    if not math.isfinite(seconds):
        return DEFAULT_RETRY_AFTER
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


class HttpTransport:
    """Posts encoded reports to the report endpoint; remembers until when the server asked us to stop."""

    def __init__(self, endpoint: str, *, ingest_key: str | None, timeout: float) -> None:
        self.endpoint = endpoint
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"logcenter-client/{__version__}",
        }
        if ingest_key:
            self._headers["X-Logcenter-Key"] = ingest_key
        self._blocked_until = 0.0  # time.monotonic(); a float store is atomic, the lock only orders updates
        self._lock = threading.Lock()
        self._warned: set[int] = set()

    def is_rate_limited(self) -> bool:
        return time.monotonic() < self._blocked_until

    def send(self, body: bytes, *, idempotency_key: str | None = None) -> Outcome:
        """Never raises: every failure becomes an Outcome (and a log line on the ``logcenter_sdk`` logger).
        A connection reset is retried (RESET_RETRY_DELAYS) with the same `idempotency_key`."""
        headers = (
            self._headers
            if idempotency_key is None
            else {**self._headers, "Idempotency-Key": idempotency_key}
        )
        for delay in (*RESET_RETRY_DELAYS, None):
            outcome = self._send_once(body, headers)
            if outcome is not None:
                return outcome
            if delay is None:
                break
            time.sleep(delay)
        return Outcome.FAILED

    def _send_once(self, body: bytes, headers: dict[str, str]) -> Outcome | None:
        """One attempt; None if the server closed the connection without an answer (worth retrying)."""
        if self.is_rate_limited():
            return Outcome.RATE_LIMITED
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read()
            return Outcome.SENT
        except urllib.error.HTTPError as error:
            with error:  # the error owns the response's socket; closing it avoids a ResourceWarning
                detail = error.read(2_000).decode("utf-8", errors="replace")
                return self._on_error_status(error.code, error.headers, detail)
        except _RESET_ERRORS as error:
            log.debug("logcenter_sdk: %s closed the connection: %r", self.endpoint, error)
            return None
        except urllib.error.URLError as error:
            if isinstance(error.reason, _RESET_ERRORS):
                log.debug("logcenter_sdk: %s closed the connection: %r", self.endpoint, error)
                return None
            log.debug("logcenter_sdk: could not reach %s: %r", self.endpoint, error)
            return Outcome.FAILED
        except (OSError, http.client.HTTPException) as error:  # refused, reset, timeout, DNS, TLS...
            log.debug("logcenter_sdk: could not reach %s: %r", self.endpoint, error)
            return Outcome.FAILED
        except ValueError as error:  # a request http.client refuses to write (init checks the header values)
            self._warn_once(0, f"the request could not be sent: {error}")
            return Outcome.REJECTED

    def _on_error_status(self, status: int, headers: Message, detail: str) -> Outcome:
        retry_after = headers.get("Retry-After")
        # 503 with Retry-After is the same request as a 429 in HTTP terms (RFC 9110, section 10.2.3).
        if status == 429 or (status == 503 and retry_after):
            seconds = retry_after_seconds(retry_after)
            with self._lock:
                self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)
            log.info("logcenter_sdk: server answered %d, pausing reports for %.0f s", status, seconds)
            return Outcome.RATE_LIMITED
        if 300 <= status < 400:
            self._warn_once(status, f"redirected to {headers.get('Location')}; configure that URL instead")
            return Outcome.REJECTED
        if 400 <= status < 500:
            # 401/403: wrong or missing ingest key; 413/422: a report the server refuses. Said once per
            # status, since every later report would say the same.
            self._warn_once(status, detail)
            return Outcome.REJECTED
        log.debug("logcenter_sdk: server error %d: %s", status, detail)
        return Outcome.FAILED

    def _warn_once(self, status: int, detail: str) -> None:
        """Log detail once per status (0: the request was never sent)."""
        if status not in self._warned:
            self._warned.add(status)
            answered = f"answered {status}" if status else "was not reached"
            log.warning("logcenter_sdk: %s %s: %s", self.endpoint, answered, detail)
