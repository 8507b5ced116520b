"""The group-commit writer: many waiting requests become one transaction, acknowledged only after the commit.

`BatchCommitter` stores a list of reports in one transaction (retrying them one by one if the batch fails, so
that one bad report cannot fail its neighbours) and counts them later. One driver feeds it: the
`WriterServer` of ingest/channel.py, which the HTTP workers reach over a Unix socket, run in the writer
process of `logcenter serve` or on a thread of an app run alone (ingest/writer_process.py). A 200 always
means the report is durable, and throughput comes from amortising the commit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import structlog
from sqlalchemy.orm import Session, sessionmaker

from logcenter.db import begin_write, utcnow
from logcenter.errors import Unavailable
from logcenter.ingest import counting, service
from logcenter.ingest.counting import Tally
from logcenter.ingest.events import DEDUP_WINDOW, RecentEvents
from logcenter.ingest.quota import ProjectQuota
from logcenter.ingest.report import Outcome, Report
from logcenter.ingest.sql import HotPath
from logcenter.projects.service import IngestProject

log = structlog.get_logger(__name__)

# A batch that arrives while the writer counts waits for that transaction, so counting goes in parts of about
# this long. Past the retention a part also has old occurrences to delete, and the same number of reports
# costs two to three times as long (bench/README.md): a fixed number per part made the p99 latency. Parts of
# 4 rather than 10 ms took the Sentry p99 past the retention from ~45 to ~36 ms at the same throughput.
COUNT_PART_SECONDS = 0.004
# Reports (or deleted occurrences) per part however slow the database is: counting must keep up with storing.
MIN_COUNT_PART = 50
# While counting has more to do (catching up after a burst, or pruning once the bugs reach the retention), it
# takes at most this share of the writer's time, so that batches are not left to queue up between its parts.
COUNT_SHARE = 0.5


def next_part_limit(limit: int, done: int, elapsed: float, *, ceiling: int) -> int:
    """How much the next counting part takes on, after one that did `done` in `elapsed` seconds with `limit`:
    about `COUNT_PART_SECONDS` worth, at least `MIN_COUNT_PART`, at most `ceiling`, and no more than twice
    `limit` at once (one quick part, say of bugs without tags, says little about the next)."""
    if done <= 0 or elapsed <= 0:
        return limit
    fits = int(done * COUNT_PART_SECONDS / elapsed)
    return max(min(MIN_COUNT_PART, ceiling), min(ceiling, 2 * limit, fits))


class BatchCommitter:
    """Stores batches of reports, one transaction each, and counts them; the only thing in a process that
    writes reports.

    Its driver calls `write` for each batch, answers the batch's requests, then calls `count(if_due=True)`;
    when no report comes, it calls `count(if_due=True)` again once `count_delay()` has passed. So the bugs'
    counters are about `count_interval` seconds behind their stored reports at most (ingest/counting.py),
    the start-up count takes what a killed process left, and with `count_interval` 0 `write` counts each
    batch itself before it returns.

    Each batch's reports are added to a tally in memory once committed, and counting applies the tally: a
    bug, hour or tag value is written once per round however many reports it got. What the tally does not
    hold (the backlog an earlier process left, or everything after a failed count) is read back from the
    backlog first; until then batches are left to be read back too.
    """

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
        self._count_interval = count_interval
        if count_limit is None:
            # The most a counting transaction takes on; they are sized by time below that (next_part_limit).
            # PostgreSQL upserts a row in about four times SQLite's time.
            postgres = session_factory.kw["bind"].dialect.name == "postgresql"
            count_limit = 200 if postgres else 500
        self._count_limit = count_limit
        self._part_limit = count_limit
        # After a part that took t seconds, the next waits t * _part_pause (perf_counter) if batches want it.
        self._part_pause = (1 - count_share) / count_share
        self._next_part_at = 0.0
        self._counted_at = 0.0
        self._uncounted = True  # a backlog may be left by an earlier process
        self._more = False  # the last count stopped at count_limit: there is more to count or prune
        # Counting from memory (ingest/counting.py): what was stored since the current round began, what
        # the round has still to count, and the bugs counted past the retention, with about how many
        # occurrences each should lose. Until the backlog has been counted from the database once (an
        # earlier process's, or after a failed count), batches are left to be read back from there.
        self._tally = Tally()
        self._round = Tally()
        self._prune_due: dict[int, int] = {}
        self._from_db = True
        self._store = store
        # Sentry events per project and minute (0: off), counted here so that all HTTP workers share it.
        self._quota = ProjectQuota(quota_per_minute)
        # The last Sentry event ids stored, to recognise repeats (ingest/events.py).
        self._events = RecentEvents(dedup_window)
        self._session: Session | None = None
        # Resolved project slugs, reused across batches; only the committing thread touches it.
        self._projects: dict[str, IngestProject] = {}

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
        self._uncounted = True
        if not self._count_interval:
            self.count()
        return outcomes

    def count_delay(self) -> float | None:
        """Seconds until the backlog is due to be counted; None if nothing was stored since the last count."""
        if self._more:
            return max(0.0, self._next_part_at - time.perf_counter())
        if not self._uncounted:
            return None
        return max(0.0, self._counted_at + self._count_interval - time.monotonic())

    def count(self, *, if_due: bool = False) -> int:
        """Add stored reports to their bugs' counters, and prune those bugs, in transactions of up to
        `count_limit` reports (of whole bugs: one bug's reports are one row of counters however many) or of
        deleted occurrences, fewer when the last one took longer than `COUNT_PART_SECONDS`.

        Without `if_due`: all of it. With it (between batches, under load): one transaction, if counting is
        due: reports were stored since the last round began `count_interval` seconds ago, or the last
        transaction left more to do and the writer has since had `1 - count_share` of its time for batches.
        So a batch never waits behind more than one of them (SQLite has one writer at a time). Returns how
        many reports were counted. A failure is logged, and what was not counted is counted next time.
        """
        started = time.monotonic()
        waiting = not self._uncounted or started - self._counted_at < self._count_interval
        if if_due and (self._next_part_at > time.perf_counter() if self._more else waiting):
            return 0
        self._uncounted = False
        counted = 0
        try:
            while True:
                if not self._more:  # a new round, of what was stored since the last one began
                    self._counted_at = time.monotonic()  # the next one is due count_interval from now
                    self._round, self._tally = self._tally, Tally()
                part_started = time.perf_counter()
                with self._transaction() as session:
                    n, done = self._count_part(session)
                counted += n
                ended = time.perf_counter()
                elapsed = ended - part_started
                self._part_limit = next_part_limit(self._part_limit, done, elapsed, ceiling=self._count_limit)
                self._next_part_at = ended + elapsed * self._part_pause
                # All of it: also what was stored while an earlier round was still being counted.
                if if_due or not (self._more or self._tally):
                    break
        except Exception:
            self._read_back()  # at the next interval
            self._uncounted, self._more = True, False
            log.warning("ingest.count_failed", exc_info=True)
        if counted:
            log.debug("ingest.count", reports=counted, ms=round((time.monotonic() - started) * 1000, 2))
        return counted

    def _read_back(self) -> None:
        """Drop what is in memory and count from the backlog, which holds all that was not counted."""
        self._tally, self._round, self._prune_due, self._from_db = Tally(), Tally(), {}, True

    def _count_part(self, session: Session) -> tuple[int, int]:
        """One transaction of counting: a part of the backlog read back, of the tally, or of the pruning.
        Returns the reports counted and the part's size in reports or deleted occurrences."""
        limit = self._part_limit
        sql = HotPath(session.connection())
        if self._events.trim_due():  # a few thousand rows at the table's oldest end
            log.debug("ingest.trim_event_ids", deleted=self._events.trim(sql))
        if self._from_db:
            n = counting.count_pending(session, retention=self._retention, limit=limit)
            self._from_db = self._more = n == limit
            return n, n
        n = done = 0
        if self._round:
            n, over = counting.apply(sql, self._round.take(limit), retention=self._retention, now=utcnow())
            done = n
            for bug_id, due in over.items():
                self._prune_due[bug_id] = self._prune_due.get(bug_id, 0) + due
        elif self._prune_due:
            done = self._prune_part(sql)
            log.debug("ingest.prune", deleted=done)
        self._more = bool(self._round or self._prune_due)
        return n, done

    def _prune_part(self, sql: HotPath) -> int:
        """Delete up to a part's limit of occurrences past the retention, the oldest first, of the bugs that
        have waited longest (a bug counted whole may have to lose more than one transaction should delete);
        returns how many."""
        limit = self._part_limit
        bugs: list[int] = []
        rows = 0
        for bug_id, due in self._prune_due.items():
            if bugs and rows + due > limit:
                break
            bugs.append(bug_id)
            rows += due
        for bug_id in bugs:
            del self._prune_due[bug_id]
        deleted = sql.prune(bugs, keep=self._retention, limit=limit)
        if deleted == limit:  # perhaps not all: again later
            self._prune_due.update(dict.fromkeys(bugs, max(1, (rows - limit) // len(bugs))))
        return deleted

    def _write_one(self, report: Report) -> Outcome:
        try:
            return self._commit([report])[0]
        except Exception:
            self._projects.clear()
            log.error("ingest.report_failed", project=report.project_slug, exc_info=True)
            return Unavailable("Could not store the report, retry later", headers={"Retry-After": "5"})

    def _commit(self, reports: list[Report]) -> list[Outcome]:
        tally = None if self._from_db else self._tally
        quota = self._quota.saved()
        try:
            with self._transaction() as session:
                results = self._store(
                    session,
                    reports,
                    retention=self._retention,
                    projects=self._projects,
                    tally=tally,
                    events=self._events,
                    quota=self._quota,
                )
        except Exception:
            self._read_back()  # the tally may hold reports that were rolled back
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
        new session and a pool checkout per transaction cost ~100 µs, as much as storing a report."""
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
