"""The group-commit writer: many waiting requests become one transaction, acknowledged only after the commit.

`BatchCommitter` stores a list of reports in one transaction (retrying them one by one if the batch fails, so
that one bad report cannot fail its neighbours) and counts them later (ingest/counting.py). `WriterServer`
feeds it from the HTTP workers' socket (ingest/channel.py); ingest/writer_process.py runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from logcenter.db import begin_write
from logcenter.errors import Unavailable
from logcenter.ingest import service
from logcenter.ingest.channel import FrameReader, decode_report, encode_outcome, frame
from logcenter.ingest.counting import COUNT_SHARE, Counter
from logcenter.ingest.events import DEDUP_WINDOW, RecentEvents
from logcenter.ingest.quota import ProjectQuota
from logcenter.ingest.report import Outcome, Report
from logcenter.ingest.sql import BatchSQL
from logcenter.projects.service import IngestProject

log = structlog.get_logger(__name__)


class BatchCommitter:
    """Stores batches of reports, one transaction each, and counts them when its `counter` says. Its driver
    calls `write`, answers, then `count(if_due=True)`, and again after `count_delay()` when no report comes;
    with `count_interval` 0, `write` counts each batch before it returns."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        retention: int,
        count_interval: float = 1.0,
        count_limit: int | None = None,
        count_share: float = COUNT_SHARE,
        quota_per_minute: int = 0,
        dedup_window: int = DEDUP_WINDOW,
        store: Callable[..., list[Outcome]] = service.store_batch,
    ) -> None:
        self._factory = session_factory
        self._retention = retention
        if count_limit is None:  # PostgreSQL upserts a row in about four times SQLite's time
            count_limit = 200 if session_factory.kw["bind"].dialect.name == "postgresql" else 500
        self.counter = Counter(
            retention=retention, interval=count_interval, limit=count_limit, share=count_share
        )
        self._store = store
        self._quota = ProjectQuota(quota_per_minute)  # here, so that all HTTP workers share it
        self._events = RecentEvents(dedup_window)
        self._session: Session | None = None
        self._projects: dict[str, IngestProject] = {}  # resolved project slugs, reused across batches

    def write(self, reports: list[Report]) -> list[Outcome]:
        """One outcome per report, in order: its result once committed, or why it was not stored."""
        started = time.perf_counter()
        try:
            outcomes = self._commit(reports)
        except Exception:
            log.warning("ingest.batch_failed", size=len(reports), exc_info=True)
            self._projects.clear()  # it may hold projects whose creation was rolled back
            outcomes = [self._write_one(report) for report in reports]
        log.debug("ingest.batch", size=len(reports), ms=round((time.perf_counter() - started) * 1000, 2))
        self.counter.stored()
        if not self.counter.interval:
            self.count()
        return outcomes

    def count_delay(self) -> float | None:
        """Seconds until counting is due; None if nothing was stored since the last count."""
        return self.counter.delay()

    def count(self, *, if_due: bool = False) -> int:
        """Count what was stored: all of it, or with `if_due` one transaction if one is due (Counter.run)."""
        return self.counter.run(self._transaction, if_due=if_due, before_part=self._trim_event_ids)

    def _trim_event_ids(self, sql: BatchSQL) -> None:
        if self._events.trim_due():  # a few thousand rows at the table's oldest end
            log.debug("ingest.trim_event_ids", deleted=self._events.trim(sql))

    def _write_one(self, report: Report) -> Outcome:
        try:
            return self._commit([report])[0]
        except Exception:
            self._projects.clear()
            log.error("ingest.report_failed", project=report.project_slug, exc_info=True)
            return Unavailable("Could not store the report, retry later", headers={"Retry-After": "5"})

    def _commit(self, reports: list[Report]) -> list[Outcome]:
        quota = self._quota.saved()
        try:
            with self._transaction() as session:
                results = self._store(
                    session,
                    reports,
                    retention=self._retention,
                    projects=self._projects,
                    tally=self.counter.tally(),
                    events=self._events,
                    quota=self._quota,
                )
        except Exception:
            self.counter.forget()  # the tally may hold reports that were rolled back
            self._events.rollback()
            self._quota.restore(quota)  # the reports are stored (and counted) again one by one
            raise
        self._events.commit()
        return results

    def close(self) -> None:
        """Give back the committer's connection (it opens a new one if used again)."""
        session, self._session = self._session, None
        if session is not None:
            connection = session.get_bind()
            session.close()
            connection.close()  # type: ignore[union-attr]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A write transaction on the committer's own session and connection, kept from one to the next: a
        new session and a pool checkout per transaction cost as much as storing a report."""
        if self._session is None:
            bind = self._factory.kw["bind"]
            self._session = Session(bind=bind.connect(), autoflush=False, expire_on_commit=False)
        session = self._session
        try:
            begin_write(session)
            yield session
            session.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                session.rollback()
            with contextlib.suppress(Exception):
                self.close()  # start over on a new connection: this one may be broken
            raise
        if session.identity_map:  # rare (regressions, new projects): no object outlives its transaction
            session.expunge_all()


# A batch takes at most half of what waits, but at least this many.
MIN_SPLIT = 8


def batch_size(waiting: int, max_batch: int) -> int:
    """How many of `waiting` received reports the next transaction commits.

    Not all of them once there are many: the clients of a busy server each wait for an answer before they
    send again, so the reports one commit answers are the HTTP workers' next work. Committing everything at
    once leaves them idle for the whole of a long transaction, then the writer idle while they parse what the
    answers brought back; two halves keep both sides busy. Below `MIN_SPLIT` the fixed cost of a transaction
    outweighs that, and half of a long queue is still a large batch.
    """
    return min(waiting, max_batch, max(MIN_SPLIT, (waiting + 1) // 2))


class WriterServer:
    """Accepts HTTP workers' connections and commits their reports in batches, on one thread."""

    def __init__(
        self,
        committer: BatchCommitter,
        *,
        max_batch: int,
        queue_size: int,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self._committer = committer
        self._max_batch = max_batch
        self._queue_size = queue_size
        self._after_batch = after_batch  # runs once the batch's answers are on their way
        self._pending: deque[tuple[_WorkerConnection, int, Report]] = deque()
        self._scheduled = False
        self._count_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: set[_WorkerConnection] = set()
        self._closing = False  # close_connections() has begun

    async def listen(self, path: str) -> asyncio.Server:
        self._loop = asyncio.get_running_loop()
        return await self._loop.create_unix_server(lambda: _WorkerConnection(self), path=path)

    def add(self, connection: _WorkerConnection, items: list[list[Any]]) -> None:
        room = max(self._queue_size - len(self._pending), 0)
        if room < len(items):  # the database cannot keep up: shed load rather than queue without bound
            full = Unavailable("Ingest queue is full, retry later", headers={"Retry-After": "1"})
            connection.send([encode_outcome(seq, full) for seq, _ in items[room:]])
            items = items[:room]
        self._pending.extend((connection, seq, decode_report(values)) for seq, values in items)
        if not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        # Runs after the loop has read every socket that is ready now: all of them join this batch.
        self._scheduled = True
        assert self._loop is not None
        self._loop.call_soon(self._commit)

    def _commit(self) -> None:
        self._scheduled = False
        if not self._pending:  # drain() got there first
            return
        take = batch_size(len(self._pending), self._max_batch)
        batch = [self._pending.popleft() for _ in range(take)]
        if self._pending:
            self._schedule()
        outcomes = self._committer.write([report for _, _, report in batch])
        replies: dict[_WorkerConnection, list[bytes]] = {}
        for (connection, seq, _), outcome in zip(batch, outcomes, strict=True):
            replies.setdefault(connection, []).append(encode_outcome(seq, outcome))
        for connection, parts in replies.items():
            connection.send(parts)
        self._count()

    def _count(self) -> None:
        """Count one part if one is due; when no report comes for a while, count again once the next part is
        due (BatchCommitter.count_delay)."""
        if self._count_timer is not None:
            self._count_timer.cancel()
            self._count_timer = None
        self._committer.count(if_due=True)
        if self._after_batch is not None:
            self._after_batch()
        delay = self._committer.count_delay()
        if delay is not None and not self._pending:
            assert self._loop is not None
            self._count_timer = self._loop.call_later(delay, self._count_idle)

    def _count_idle(self) -> None:
        if not self._pending:  # else the next batch counts when due
            self._count()

    def drain(self) -> None:
        """Commit and count everything received (at shutdown)."""
        while self._pending:
            self._commit()
        if self._count_timer is not None:
            self._count_timer.cancel()
        self._committer.count()

    async def close_connections(self, timeout: float = 10.0) -> None:
        """Close the HTTP workers' connections, after drain() (their last answers are sent first): closing
        the server leaves them open (Python < 3.13), and a writer thread's would outlive its event loop.

        A connection accepted just before the server closed is set up by a task of its own (asyncio's
        selector loop; uvloop has none). Such a task still pending when this returns is cancelled by
        asyncio.run with its transport made and never closed (an unclosed-socket warning at some later
        garbage collection), and a commit that blocks the loop can keep it pending for a while: so this waits
        for those tasks as long as for the connections. A connection still open at `timeout` is cut."""
        assert self._loop is not None
        self._closing = True  # a connection made from now on closes itself (connection_made)
        deadline = self._loop.time() + timeout
        while True:
            accepting = _accepting()
            if accepting:
                await asyncio.wait(accepting, timeout=max(0.01, deadline - self._loop.time()))
            if not self._connections and not _accepting():
                return
            cut = self._loop.time() >= deadline
            for connection in list(self._connections):
                connection.close(abort=cut)
            await asyncio.sleep(0.01)
            if cut and not self._connections:
                return
            if cut and self._loop.time() >= deadline + 1.0:  # a connection never made is never lost
                return


def _accepting() -> set[asyncio.Task[object]]:
    """The selector loop's tasks that are setting up an accepted connection."""
    return {t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__name__", "") == "_accept_connection2"}


class _WorkerConnection(asyncio.Protocol):
    def __init__(self, server: WriterServer) -> None:
        self._server = server
        self._reader = FrameReader()
        self._transport: asyncio.Transport | None = None
        server._connections.add(self)  # from its accept on, before its transport is made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        if self._server._closing:  # accepted as the writer stops: nobody will close it later
            transport.abort()  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        try:
            for items in self._reader.feed(data):
                self._server.add(self, items)
        except Exception:  # not our protocol: drop the connection (the worker answers its requests 503)
            log.error("writer.bad_frame", exc_info=True)
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        # Reports already received are still committed; their worker no longer waits for the answer.
        self._transport = None
        self._server._connections.discard(self)

    def close(self, *, abort: bool = False) -> None:
        if self._transport is not None:
            if abort:
                self._transport.abort()
            else:
                self._transport.close()

    def send(self, parts: list[bytes]) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(frame(parts))
