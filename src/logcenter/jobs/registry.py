"""What a job kind runs: `@handler("kind")` functions, and the periodic kinds (`every(seconds, "kind")`).

A handler gets a `JobContext` (the session factory, the settings, which job and attempt this is) and the
job's JSON payload. It opens its own short transactions through `ctx.sessions`, so forge calls and other slow
I/O run outside any transaction it did not open itself. It returns normally when done; it raises to be retried
(with backoff, up to the job's max_attempts), `RetryLater` to be retried after a given delay (a forge's
Retry-After), or `PermanentFailure` to fail at once (retrying cannot help: the bug is gone).

Handlers live in their feature (`logcenter/<feature>/jobs.py`) and register on import; `load_handlers()`
imports the modules listed in `HANDLER_MODULES`, so a worker knows every kind whichever process it runs in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from logcenter.config import Settings

# Features that define handlers. Add yours here (one line) when you add a logcenter/<feature>/jobs.py.
HANDLER_MODULES: tuple[str, ...] = (
    "logcenter.jobs.housekeeping",
    "logcenter.repair.jobs",
    "logcenter.reviews.jobs",
    "logcenter.sourcemaps.jobs",
    "logcenter.triage.jobs",
    "logcenter.notify.jobs",
    "logcenter.automerge.jobs",
    "logcenter.stats.jobs",
    "logcenter.bugs.jobs",
    "logcenter.bugs.ancestry",
)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler may use besides its payload."""

    sessions: sessionmaker[Session]
    settings: Settings
    job_id: int
    attempt: int  # 1 on the first run
    max_attempts: int
    worker: str


HandlerFn = Callable[[JobContext, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Handler:
    kind: str
    fn: HandlerFn
    max_attempts: int | None  # None: the settings' job_max_attempts


@dataclass(frozen=True, slots=True)
class Periodic:
    """A kind enqueued every `seconds` (a number, or read from the settings) with an empty payload."""

    kind: str
    seconds: float | Callable[[Settings], float]

    def interval(self, settings: Settings) -> float:
        return float(self.seconds(settings) if callable(self.seconds) else self.seconds)


class PermanentFailure(Exception):
    """Raised by a handler: fail the job now, without the remaining attempts."""


class RetryLater(Exception):
    """Raised by a handler: try again after `seconds` (counts as an attempt)."""

    def __init__(self, message: str, *, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


HANDLERS: dict[str, Handler] = {}
PERIODIC: dict[str, Periodic] = {}


def handler(kind: str, *, max_attempts: int | None = None) -> Callable[[HandlerFn], HandlerFn]:
    """Register `fn` as what jobs of `kind` run."""

    def register(fn: HandlerFn) -> HandlerFn:
        existing = HANDLERS.get(kind)
        if existing is not None and existing.fn is not fn:
            raise ValueError(f"job kind {kind!r} already has a handler: {existing.fn.__qualname__}")
        HANDLERS[kind] = Handler(kind, fn, max_attempts)
        return fn

    return register


def every(seconds: float | Callable[[Settings], float], kind: str) -> Periodic:
    """Run `kind` every `seconds` (measured from the end of one run to the next): one queued job at a time,
    whichever number of workers run, and the schedule survives restarts (it is the queued job)."""
    periodic = Periodic(kind, seconds)
    PERIODIC[kind] = periodic
    return periodic


def load_handlers() -> dict[str, Handler]:
    """Import every module that registers handlers; returns the registry."""
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    return HANDLERS
