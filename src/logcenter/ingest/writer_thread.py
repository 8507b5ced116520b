"""The in-process driver of the group-commit writer (ingest/writer.py): a thread inside the HTTP process.

Requests put their report on a bounded queue and await a future; the thread takes everything queued (up to
`max_batch`), commits it through `BatchCommitter`, and only then resolves the futures, one call into each
event loop per batch. Used when the app runs without a writer process (tests, `uvicorn
logcenter.main:create_app`); `logcenter serve` runs the committer in its writer process instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from dataclasses import dataclass

from logcenter.errors import Unavailable
from logcenter.ingest.report import IngestResult, Outcome, Report
from logcenter.ingest.writer import BatchCommitter

_STOP = object()


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
        await asyncio.to_thread(self._committer.count)  # what an earlier process stored and did not count
        self._thread = threading.Thread(target=self._run, name="logcenter-ingest-writer", daemon=True)
        self._thread.start()

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish everything already queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join, timeout)
        self._thread = None
        self._committer.close()

    async def alive(self) -> bool:
        """Whether the writer thread runs (for /api/health)."""
        return self._thread is not None and self._thread.is_alive()

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
            try:
                item = self._queue.get(timeout=self._committer.count_delay())
            except queue.Empty:  # no report for a while: count what the last ones left (a transaction)
                self._committer.count(if_due=True)
                continue
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
                self._committer.count(if_due=True)
        self._committer.count()


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
