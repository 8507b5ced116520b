"""Request bodies and answers of the ingest endpoints.

Bodies are read under a size cap: a client cannot make the server buffer more than the limit. Answers carry
headers encoded once at import (`encode_headers`), not on every request of the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import orjson
from fastapi import Request
from starlette.responses import Response

from logcenter.errors import PayloadTooLarge


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


T = TypeVar("T")

# Reports too large to map in a few milliseconds (a megabyte of JSON) are mapped off the event loop.
LARGE_BODY_BYTES = 64 * 1024


async def off_the_loop(request: Request, work: Callable[[], T]) -> T:
    """`work()` in a worker thread, one at a time per HTTP worker process: several large reports at once then
    wait their turn instead of each taking a share of the GIL away from the event loop, which keeps answering
    every other request."""
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "large_reports", None)
    if limiter is None:
        limiter = state.large_reports = anyio.CapacityLimiter(1)
    return await anyio.to_thread.run_sync(work, limiter=limiter)


def encode_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as a Response keeps them (`raw_headers`)."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


def json_answer(content: Any, headers: list[tuple[bytes, bytes]]) -> Response:
    """A JSON answer with these `encode_headers` first, as `Response(..., headers=...)` puts them."""
    response = Response(orjson.dumps(content), media_type="application/json")
    response.raw_headers[:0] = headers
    return response
