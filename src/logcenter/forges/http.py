"""The one HTTP client every forge module uses: timeouts, bounded retries, and errors that name the call.

Why one place: a forge that is slow, rate-limiting (429 + Retry-After) or briefly down (502/503) must not turn
a merge click into a traceback, and a token must never reach a log line or an error message. Each forge
module describes its calls (through `logcenter.forges.client`); this module decides how to send them and how
to fail.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from logcenter.forges.base import ForgeError, parse_time

__all__ = ["ForgeHTTP", "parse_time", "retry_after_seconds"]  # parse_time lived here first

log = structlog.get_logger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT = 30.0  # seconds; a longer Retry-After fails now rather than hang a request or a job
DETAIL_LIMIT = 300
sleep = time.sleep  # a module attribute so tests can record the waits instead of sleeping


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, when.timestamp() - current)


class ForgeHTTP:
    """An httpx client bound to one forge API and token. `request` returns the response of an expected status
    or raises `ForgeError` (`ForgeConflict` is raised by the caller, which knows what a 409 means)."""

    def __init__(
        self,
        forge: str,
        base_url: str,
        *,
        token: str,
        auth_headers: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        timeout: float = 15.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.forge = forge
        self._token = token
        self.max_retries = max_retries
        self.backoff = backoff
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": "logcenter-forge-client", **(headers or {}), **auth_headers},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,  # a renamed repository answers 301/307; httpx drops auth off-host
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def scrub(self, text: str) -> str:
        """The text with the token removed, in case a forge echoes it back (some proxies do)."""
        return text.replace(self._token, "[token]") if self._token else text

    def request(
        self,
        call: str,
        method: str,
        path: str,
        *,
        expect: Iterable[int] = (200,),
        json: Any = None,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        repeatable: bool = True,
    ) -> httpx.Response:
        """Send one call, retrying connection failures, 5xx and 429 at most `max_retries` times.

        `repeatable=False` is for calls that must not happen twice (a comment): those are retried only when
        the forge cannot have acted on them, a refused connection or a 429."""
        expected = set(expect)
        attempt = 0
        while True:
            try:
                response = self._client.request(method, path, json=json, params=params, headers=headers)
            except httpx.ConnectError as exc:
                failure: ForgeError = ForgeError(
                    self.forge, call, None, f"cannot reach the forge ({type(exc).__name__})"
                )
                wait = None
            except httpx.TimeoutException as exc:
                failure = ForgeError(self.forge, call, None, f"timed out ({type(exc).__name__})")
                if not repeatable:
                    raise failure from None
                wait = None
            except httpx.HTTPError as exc:
                failure = ForgeError(self.forge, call, None, f"cannot reach the forge ({type(exc).__name__})")
                if not repeatable:
                    raise failure from None
                wait = None
            else:
                if response.status_code in expected:
                    return response
                failure = self.error(call, response)
                if response.status_code not in RETRY_STATUSES or (
                    not repeatable and response.status_code != 429
                ):
                    raise failure
                wait = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt >= self.max_retries or (wait is not None and wait > MAX_RETRY_WAIT):
                log.warning(
                    "forge.call_failed",
                    forge=self.forge,
                    call=call,
                    status=failure.forge_status,
                    attempts=attempt + 1,
                )
                raise failure
            delay = wait if wait is not None else self.backoff * (2**attempt)
            log.info(
                "forge.retry", forge=self.forge, call=call, status=failure.forge_status, wait=round(delay, 2)
            )
            sleep(delay)
            attempt += 1

    def error(self, call: str, response: httpx.Response, cls: type[ForgeError] = ForgeError) -> ForgeError:
        """A ForgeError naming the call and status, with the forge's own message (short, token-free)."""
        return cls(self.forge, call, response.status_code, self.detail(response))

    def failure(self, call: str, detail: str, cls: type[ForgeError] = ForgeError) -> ForgeError:
        """A ForgeError for what the forge's answer said rather than its status (a rebase that failed)."""
        return cls(self.forge, call, None, detail)

    def detail(self, response: httpx.Response) -> str:
        """The forge's message from an error body: Gitea/GitHub `message`, GitLab `message` or `error`."""
        text = ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            for key in ("message", "error", "errors"):
                if body.get(key):
                    value = body[key]
                    text = value if isinstance(value, str) else _flatten(value)
                    break
        elif response.headers.get("content-type", "").startswith("text/"):
            text = response.text
        text = " ".join(self.scrub(text).split())
        return text[:DETAIL_LIMIT] + ("…" if len(text) > DETAIL_LIMIT else "")


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value)
    return str(value)
