"""Job handlers for the tests: they record what they were given, and fail when told to."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from logcenter.jobs import JobContext, PermanentFailure, RetryLater, handler


@dataclass
class Calls:
    """What the test handlers ran: (job id, attempt, worker, payload), in order."""

    runs: list[tuple[int, int, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        with self.lock:
            self.runs.append((ctx.job_id, ctx.attempt, ctx.worker, payload))

    def clear(self) -> None:
        with self.lock:
            self.runs.clear()


CALLS = Calls()
# A job that blocks until the test lets it finish: for leases and heartbeats.
RELEASE = threading.Event()
STARTED = threading.Event()


@handler("test.record")
def record(ctx: JobContext, payload: dict[str, Any]) -> None:
    CALLS.add(ctx, payload)


@handler("test.flaky")
def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Fails its first `fail_times` attempts."""
    CALLS.add(ctx, payload)
    if ctx.attempt <= payload.get("fail_times", 0):
        raise ConnectionError(f"forge unreachable (attempt {ctx.attempt})")


@handler("test.permanent")
def permanent(ctx: JobContext, payload: dict[str, Any]) -> None:
    CALLS.add(ctx, payload)
    raise PermanentFailure("bug 42 no longer exists")


@handler("test.later")
def later(ctx: JobContext, payload: dict[str, Any]) -> None:
    CALLS.add(ctx, payload)
    if ctx.attempt == 1:
        raise RetryLater("forge said 429", seconds=120)


@handler("test.blocking")
def blocking(ctx: JobContext, payload: dict[str, Any]) -> None:
    STARTED.set()
    RELEASE.wait(60)
    CALLS.add(ctx, payload)


TEST_KINDS = ("test.record", "test.flaky", "test.permanent", "test.later", "test.blocking")


@pytest.fixture
def calls() -> Iterator[Calls]:
    CALLS.clear()
    STARTED.clear()
    RELEASE.clear()
    yield CALLS
    RELEASE.set()
    CALLS.clear()
