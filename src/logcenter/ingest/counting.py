"""Counting: adding stored occurrences to their bugs' counters, and pruning occurrences past the retention.

`store_batch` (ingest/service.py) stores each report as an occurrence and puts it on a backlog table, so that
the request can be answered at once. Counting then adds the backlog to the bugs: occurrence count, first and
last seen, the latest report's values, hourly counts and tag values, and deletes each counted bug's
occurrences past the newest `retention`. It works on a `Tally` (per bug: how many, when, which values), built
one of two ways:

- in memory: the writer adds each batch it committed to its tally (`Tally.add`, from the reports it has in
  hand) and applies the tally every `count_interval` seconds. A bug, an hour or a tag value is then written
  once per interval however many reports it got, and nothing is read back (a burst of one bug is one UPDATE
  a second, as Sentry's buffered counters do).
- from the database (`count_pending`): the oldest rows of the backlog, read back. This counts what a writer
  that stopped or failed left behind: the backlog is a table, so a crash loses no count.

Either way `apply` takes the tally's rows off the backlog, in the same transaction as the counters, so each
report is counted exactly once, whichever writer (PostgreSQL may have several) gets to it.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog
from sqlalchemy.orm import Session

from logcenter.db import part_limit, utcnow
from logcenter.ingest.report import Report
from logcenter.ingest.sql import LATEST_FIELDS, BatchSQL

log = structlog.get_logger(__name__)

TAGS_KEYS = ("environment", "version")
_MESSAGE = LATEST_FIELDS.index("message")
# A batch that arrives while the writer counts waits for that transaction, so counting goes in parts sized to
# take about this long: past the retention a part also deletes old occurrences, and the same number of
# reports costs several times as much, so a fixed number per part would set the latency.
COUNT_PART_SECONDS = 0.004
# Reports (or deleted occurrences) per part however slow the database is: counting must keep up with storing.
MIN_COUNT_PART = 50
# While counting has more to do (catching up after a burst, or pruning once the bugs reach the retention), it
# takes at most this share of the writer's time, so that batches are not left to queue up between its parts.
COUNT_SHARE = 0.5

# Orders reports tallied in memory with the same timestamp: the later stored wins, as a higher id does.
_stored_order = itertools.count()


@dataclass(slots=True)
class BugTally:
    n: int
    first: datetime
    latest_at: datetime
    latest_order: int  # the tie-break between occurrences of the same time: the later stored
    latest: Report | int  # the latest occurrence: its report (in memory), or its id (read back)
    hours: dict[datetime, int] = field(default_factory=dict)
    tags: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (key, value) -> [n, first, last]
    ids: list[int] = field(default_factory=list)  # its rows on the backlog


class Tally:
    """Stored occurrences not yet added to their bugs, per bug, in the order the bugs first came."""

    def __init__(self) -> None:
        self.bugs: dict[int, BugTally] = {}
        self.reports = 0

    def __len__(self) -> int:
        return self.reports

    def add(
        self,
        bug_id: int,
        at: datetime,
        environment: str | None,
        version: str | None,
        latest: Report | int,
        order: int | None = None,
    ) -> None:
        """One occurrence; `latest` is its report, or its id when `order` (the id again) says where it was
        stored."""
        if order is None:
            order = next(_stored_order)
        bug = self.bugs.get(bug_id)
        if bug is None:
            bug = self.bugs[bug_id] = BugTally(0, at, at, order, latest)
        elif (at, order) > (bug.latest_at, bug.latest_order):
            bug.latest_at, bug.latest_order, bug.latest = at, order, latest
        bug.n += 1
        if at < bug.first:
            bug.first = at
        hour = at.replace(minute=0, second=0, microsecond=0)
        bug.hours[hour] = bug.hours.get(hour, 0) + 1
        for key, value in zip(TAGS_KEYS, (environment, version), strict=True):
            if value:
                entry = bug.tags.get((key, value))
                if entry is None:
                    bug.tags[(key, value)] = [1, at, at]
                else:
                    entry[0] += 1
                    entry[1] = min(entry[1], at)
                    entry[2] = max(entry[2], at)
        self.reports += 1

    def take(self, limit: int) -> Tally:
        """Whole bugs, the longest waiting first, up to about `limit` reports."""
        part = Tally()
        bugs, part.reports = _first_within(((b, t.n) for b, t in self.bugs.items()), limit)
        part.bugs = {b: self.bugs.pop(b) for b in bugs}
        self.reports -= part.reports
        return part


def _first_within(sizes: Iterable[tuple[int, int]], limit: int) -> tuple[list[int], int]:
    """Keys of the first (key, size) pairs: at least one, then up to about `limit` in all; and the total."""
    keys: list[int] = []
    total = 0
    for k, n in sizes:
        if keys and total + n > limit:
            break
        keys.append(k)
        total += n
    return keys, total


# A report's values of LATEST_FIELDS, as the bug keeps them.
latest_values: Callable[[Report], tuple[Any, ...]] = operator.attrgetter(*LATEST_FIELDS)


def count_pending(
    session: Session, *, retention: int, limit: int = 20_000, now: datetime | None = None
) -> int:
    """Add up to `limit` uncounted occurrences (the oldest) to their bugs, read back from the database, and
    prune those bugs past the newest `retention`. Returns how many were counted; the caller commits."""
    sql = BatchSQL(session.connection())
    ids = sql.take_uncounted(limit)
    count_ids(sql, ids, retention=retention, now=now or utcnow())
    return len(ids)


def count_ids(sql: BatchSQL, ids: list[int], *, retention: int, now: datetime) -> int:
    """Count these occurrences, already off the backlog, into the bugs they belong to now (a merge of
    duplicates moves them: triage/service.py), and prune those bugs."""
    counted, over = apply(sql, _read_back(sql, ids), retention=retention, now=now, taken=True)
    sql.prune(list(over), keep=retention)
    return counted


def apply(
    sql: BatchSQL, tally: Tally, *, retention: int, now: datetime, taken: bool = False
) -> tuple[int, dict[int, int]]:
    """Add `tally` to its bugs. Returns how many reports it counted, and the bugs it took past the
    `retention` with about how many occurrences each should lose (`BatchSQL.prune`: the caller prunes them,
    at once or in parts).

    Unless `taken` (read back from the backlog, which took them off), the tally's rows are taken off the
    backlog here. One another writer took first (PostgreSQL: one counting what a stopped writer left) is
    counted there, not here: the tally is then read back from the rows this call did take.
    """
    if not tally.bugs:
        return 0, {}
    if not taken:
        ids = [i for bug in tally.bugs.values() for i in bug.ids]
        got = sql.take_uncounted_ids(ids)
        if len(got) != len(ids):
            tally = _read_back(sql, got)
    # A bug deleted since its occurrences were stored took them (and their backlog rows) with it.
    counts, merged = sql.lock_counts(list(tally.bugs))
    if merged:
        # A merge of duplicates (triage/service.py) moved some of these occurrences to the bug that absorbed
        # theirs since they were tallied (a PostgreSQL writer counting them while the merge ran): count them
        # where they are now.
        tally = _read_back(sql, [i for t in tally.bugs.values() for i in t.ids])
        counts, _ = sql.lock_counts(list(tally.bugs))
    bugs = sorted(b for b in tally.bugs if b in counts)
    stored = sql.latest_values([t.latest for t in tally.bugs.values() if isinstance(t.latest, int)])
    stamp = sql.ts(now)
    update: list[tuple[Any, ...]] = []
    same_first: list[tuple[Any, ...]] = []
    hourly, tags, stale = [], [], []
    daily: dict[tuple[int, date], int] = {}
    for b in bugs:
        t = tally.bugs[b]
        latest = stored[t.latest] if isinstance(t.latest, int) else latest_values(t.latest)
        latest_at, first = sql.ts(t.latest_at), sql.ts(t.first)
        _, _, last_seen, message, first_seen = counts[b]
        (same_first if first_seen is not None and first >= first_seen else update).append(
            (t.n, first, latest_at, *latest, stamp, b)
        )
        # The UPDATE's own rule (sql.py): the latest report's values win unless the bug has a later one.
        if message is not None and last_seen <= latest_at and latest[_MESSAGE] != message:
            stale.append(b)
        hourly += [(b, sql.ts(hour), n) for hour, n in t.hours.items()]
        tags += [(b, k, v, n, sql.ts(fs), sql.ts(ls)) for (k, v), (n, fs, ls) in t.tags.items()]
        project_id = counts[b][1]
        for hour, n in t.hours.items():
            key = (project_id, hour.astimezone(UTC).date())
            daily[key] = daily.get(key, 0) + n
    sql.update_bugs(update, same_first=same_first)
    sql.mark_search_stale(stale)
    sql.upsert_hourly(hourly)
    sql.add_daily([(p, day, n) for (p, day), n in sorted(daily.items())])
    sql.upsert_tags(tags)
    over = {
        b: min(n, counts[b][0] + n - retention)
        for b in bugs
        if counts[b][0] + (n := tally.bugs[b].n) > retention
    }
    return tally.reports, over


def _read_back(sql: BatchSQL, ids: list[int]) -> Tally:
    """The tally of these occurrences, from their stored rows."""
    tally = Tally()
    for occurrence_id, bug_id, at, environment, version in sql.occurrence_facts(ids):
        tally.add(bug_id, at, environment, version, occurrence_id, order=occurrence_id)
        tally.bugs[bug_id].ids.append(occurrence_id)
    return tally


def next_part_limit(limit: int, done: int, elapsed: float, *, ceiling: int) -> int:
    """How much the next counting part takes on (db.part_limit): about COUNT_PART_SECONDS worth."""
    return part_limit(limit, done, elapsed, target=COUNT_PART_SECONDS, floor=MIN_COUNT_PART, ceiling=ceiling)


class Counter:
    """A writer's reports not yet counted, and the one place that decides when to count and prune them.

    Each committed batch is added to the tally (`tally()`); every `interval` seconds a round takes the tally
    and applies it in parts, one transaction each, then prunes the bugs it took past the retention, in parts
    too. So the counters lag the stored reports by about `interval` at most, and a batch never waits behind
    more than one part. What the tally does not hold (a backlog an earlier process left, or everything after
    a failure) is read back from the backlog table first; until then batches are left to be read back too.
    """

    def __init__(self, *, retention: int, interval: float, limit: int, share: float = COUNT_SHARE) -> None:
        self.retention = retention
        self.interval = interval
        self._ceiling = limit
        self._limit = limit  # of the next part (next_part_limit)
        self._pause = (1 - share) / share  # after a part of t seconds, the next waits t * _pause
        self._next_part_at = 0.0  # perf_counter
        self._round_at = 0.0  # monotonic
        self._uncounted = True  # a backlog may be left by an earlier process
        self._more = False  # the last part left more of its round to count or prune
        self._tally = Tally()  # stored since the current round began
        self._round = Tally()  # the current round's, not yet counted
        self._prune_due: dict[int, int] = {}  # bugs past the retention → about how many to delete
        self._from_db = True

    def tally(self) -> Tally | None:
        """Where a batch being stored adds its reports; None while they are to be read back instead."""
        return None if self._from_db else self._tally

    def stored(self) -> None:
        self._uncounted = True

    def forget(self) -> None:
        """Drop what is in memory (a transaction failed): count from the backlog, which holds it all."""
        self._tally, self._round, self._prune_due, self._from_db = Tally(), Tally(), {}, True

    def delay(self) -> float | None:
        """Seconds until a part is due; None if nothing was stored since the last round."""
        if self._more:
            return max(0.0, self._next_part_at - time.perf_counter())
        if not self._uncounted:
            return None
        return max(0.0, self._round_at + self.interval - time.monotonic())

    def run(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        *,
        if_due: bool = False,
        before_part: Callable[[BatchSQL], None] | None = None,
    ) -> int:
        """Count, in transactions of up to `limit` reports (of whole bugs) or deleted occurrences, fewer when
        the last one took longer than COUNT_PART_SECONDS. Without `if_due`: all of it. With it (between
        batches): one part, if one is due. Returns how many reports were counted; a failure is logged, and
        what was not counted is counted next time."""
        started = time.monotonic()
        waiting = not self._uncounted or started - self._round_at < self.interval
        if if_due and (self._next_part_at > time.perf_counter() if self._more else waiting):
            return 0
        self._uncounted = False
        counted = 0
        try:
            while True:
                if not self._more:  # a new round, of what was stored since the last one began
                    self._round_at = time.monotonic()
                    self._round, self._tally = self._tally, Tally()
                part_started = time.perf_counter()
                with transaction() as session:
                    sql = BatchSQL(session.connection())
                    if before_part is not None:
                        before_part(sql)
                    n, done = self._part(session, sql)
                counted += n
                ended = time.perf_counter()
                self._limit = next_part_limit(self._limit, done, ended - part_started, ceiling=self._ceiling)
                self._next_part_at = ended + (ended - part_started) * self._pause
                if if_due or not (self._more or self._tally):  # all: also what came in meanwhile
                    break
        except Exception:
            self.forget()  # at the next interval
            self._uncounted, self._more = True, False
            log.warning("ingest.count_failed", exc_info=True)
        if counted:
            log.debug("ingest.count", reports=counted, ms=round((time.monotonic() - started) * 1000, 2))
        return counted

    def _part(self, session: Session, sql: BatchSQL) -> tuple[int, int]:
        """One part: of the backlog read back, of the round, or of the pruning. Returns the reports counted
        and the part's size in reports or deleted occurrences."""
        if self._from_db:
            n = count_pending(session, retention=self.retention, limit=self._limit)
            self._from_db = self._more = n == self._limit
            return n, n
        n = done = 0
        if self._round:
            n, over = apply(sql, self._round.take(self._limit), retention=self.retention, now=utcnow())
            done = n
            for bug_id, due in over.items():
                self._prune_due[bug_id] = self._prune_due.get(bug_id, 0) + due
        elif self._prune_due:
            done = self._prune(sql)
            log.debug("ingest.prune", deleted=done)
        self._more = bool(self._round or self._prune_due)
        return n, done

    def _prune(self, sql: BatchSQL) -> int:
        """Delete up to a part's limit of occurrences past the retention, the oldest first, of the bugs that
        have waited longest (a bug counted whole may have to lose more than one part deletes)."""
        limit = self._limit
        bugs, rows = _first_within(self._prune_due.items(), limit)
        for bug_id in bugs:
            del self._prune_due[bug_id]
        deleted = sql.prune(bugs, keep=self.retention, limit=limit)
        if deleted == limit:  # perhaps not all: again later
            self._prune_due.update(dict.fromkeys(bugs, max(1, (rows - limit) // len(bugs))))
        return deleted
