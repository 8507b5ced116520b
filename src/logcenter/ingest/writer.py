"""The group-commit writer: many waiting requests become one transaction, acknowledged only after the commit.

`BatchCommitter` stores a list of reports in one transaction (retrying them one by one if the batch fails, so
that one bad report cannot fail its neighbours). Two drivers feed it:

- `GroupCommitWriter`, a thread inside the HTTP process: requests put their report on a bounded queue and
  await a future; the thread takes everything queued (up to `max_batch`), commits, and only then resolves the
  futures. Used when the app runs without a writer process (tests, `uvicorn logcenter.main:create_app`).
- the writer process of `logcenter serve` (ingest/writer_process.py, fed through ingest/channel.py), which
  runs the committer for every HTTP worker, so that SQLite's one write lock has one owner and the second core
  is used.

Either way a 200 always means the report is durable, and throughput comes from amortising the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session, sessionmaker

from logcenter.db import session_scope
from logcenter.errors import Unavailable
from logcenter.ingest import service
from logcenter.ingest.report import IngestResult, Report
from logcenter.projects.service import IngestProject

log = structlog.get_logger(__name__)

Outcome = IngestResult | Unavailable

_STOP = object()


class BatchCommitter:
    """Stores batches of reports, one transaction each; the only thing in a process that writes reports."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        retention: int,
        store: Callable[..., list[IngestResult]] = service.store_batch,
    ) -> None:
        self._factory = session_factory
        self._retention = retention
        self._store = store
        # Resolved project slugs, reused across batches; only the committing thread touches it.
        self._projects: dict[str, IngestProject] = {}

    def write(self, reports: list[Report]) -> list[Outcome]:
        """One outcome per report, in order: its result once committed, or why it could not be stored."""
        started = time.perf_counter()
        try:
            outcomes: list[Outcome] = list(self._commit(reports))
        except Exception:
            log.warning("ingest.batch_failed", size=len(reports), exc_info=True)
            self._projects.clear()  # it may hold projects whose creation was rolled back
            outcomes = [self._write_one(report) for report in reports]
        log.debug("ingest.batch", size=len(reports), ms=round((time.perf_counter() - started) * 1000, 2))
        return outcomes

    def _write_one(self, report: Report) -> Outcome:
        try:
            return self._commit([report])[0]
        except Exception:
            self._projects.clear()
            log.error("ingest.report_failed", project=report.project_slug, exc_info=True)
            return Unavailable("Could not store the report, retry later", headers={"Retry-After": "5"})

    def _commit(self, reports: list[Report]) -> list[IngestResult]:
        with session_scope(self._factory) as session:
            return self._store(session, reports, retention=self._retention, projects=self._projects)


@dataclass(slots=True)
class _Pending:
    report: Report
    future: asyncio.Future[IngestResult]
    loop: asyncio.AbstractEventLoop


class GroupCommitWriter:
    """The in-process writer: a thread that commits what the event loop queued."""

    def __init__(self, committer: BatchCommitter, *, max_batch: int = 500, queue_size: int = 20_000) -> None:
        self._committer = committer
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="logcenter-ingest-writer", daemon=True)
        self._thread.start()

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish everything already queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join, timeout)
        self._thread = None

    async def submit(self, report: Report) -> IngestResult:
        """Queue a report and wait until it is committed."""
        if self._thread is None:
            raise Unavailable("Ingest writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        try:
            self._queue.put_nowait(_Pending(report, future, loop))
        except queue.Full:
            raise Unavailable("Ingest queue is full, retry later", headers={"Retry-After": "1"}) from None
        return await future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Pending] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                _resolve(batch, self._committer.write([p.report for p in batch]))


def _resolve(batch: list[_Pending], outcomes: list[Outcome]) -> None:
    """Wake the waiting requests: one call into each event loop, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[IngestResult], Outcome]]] = {}
    for pending, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(pending.loop, []).append((pending.future, outcome))
    for loop, items in by_loop.items():
        # A loop closed while we were writing (shutdown) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, items)


def settle(items: list[tuple[asyncio.Future[IngestResult], Outcome]]) -> None:
    """Resolve each waiting request's future with its outcome (on the future's loop)."""
    for future, outcome in items:
        if future.done():  # the client went away and the request was cancelled
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
