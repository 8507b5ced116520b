"""The group-commit writer: one thread per process turns many waiting requests into one transaction.

Requests put their report on a bounded queue and await a future. The thread takes everything queued (up to
`max_batch`), stores it with `service.store_batch` in one transaction, commits, and only then resolves the
futures: a 200 always means the report is durable, and throughput comes from amortising the commit.
If a batch fails, its reports are retried one by one so that one bad report cannot fail its neighbours.
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

_STOP = object()


@dataclass(slots=True)
class _Pending:
    report: Report
    future: asyncio.Future[IngestResult]
    loop: asyncio.AbstractEventLoop


class GroupCommitWriter:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        retention: int,
        max_batch: int = 500,
        queue_size: int = 20_000,
        store: Callable[..., list[IngestResult]] = service.store_batch,
    ) -> None:
        self._factory = session_factory
        self._retention = retention
        self._max_batch = max_batch
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._store = store
        self._thread: threading.Thread | None = None
        # Resolved project slugs, reused across batches; only this writer's thread touches it.
        self._projects: dict[str, IngestProject] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="logcenter-ingest-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish everything already queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
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
                self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            results: list[IngestResult | BaseException] = list(self._commit([p.report for p in batch]))
        except Exception:
            log.warning("ingest.batch_failed", size=len(batch), exc_info=True)
            self._projects.clear()  # it may hold projects whose creation was rolled back
            results = [self._write_one(p.report) for p in batch]
        log.debug("ingest.batch", size=len(batch), ms=round((time.perf_counter() - started) * 1000, 2))
        _resolve(batch, results)

    def _write_one(self, report: Report) -> IngestResult | BaseException:
        try:
            return self._commit([report])[0]
        except Exception:
            self._projects.clear()
            log.error("ingest.report_failed", project=report.project_slug, exc_info=True)
            return Unavailable("Could not store the report, retry later", headers={"Retry-After": "5"})

    def _commit(self, reports: list[Report]) -> list[IngestResult]:
        with session_scope(self._factory) as session:
            return self._store(session, reports, retention=self._retention, projects=self._projects)


def _resolve(batch: list[_Pending], results: list[IngestResult | BaseException]) -> None:
    """Wake the waiting requests: one call into each event loop, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[IngestResult], object]]] = {}
    for pending, result in zip(batch, results, strict=True):
        by_loop.setdefault(pending.loop, []).append((pending.future, result))
    for loop, items in by_loop.items():
        # A loop closed while we were writing (shutdown) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_set_results, items)


def _set_results(items: list[tuple[asyncio.Future[IngestResult], object]]) -> None:
    for future, result in items:
        if future.done():  # the client went away and the request was cancelled
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)  # type: ignore[arg-type]
