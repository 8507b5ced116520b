"""Counting stored reports into their bugs later, from the backlog (ingest/service.py count_pending): what the
counters show before and after, when the writers count, what a crash leaves, pruning, concurrent counters."""

from __future__ import annotations

import asyncio
import threading
import time
import types
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
from sqlalchemy import func, select

from logcenter.bugs.models import Bug, BugHourlyCount, BugTagValue, Occurrence
from logcenter.config import Settings
from logcenter.db import begin_write, create_db_engine, create_session_factory, session_scope
from logcenter.errors import Unavailable
from logcenter.ingest import counting, service
from logcenter.ingest.channel import RemoteWriter
from logcenter.ingest.models import UncountedOccurrence
from logcenter.ingest.report import IngestResult, Report
from logcenter.ingest.schemas import ReportIn, to_report
from logcenter.ingest.sql import BatchSQL
from logcenter.ingest.writer import BatchCommitter
from logcenter.ingest.writer_process import WriterProcess, WriterThread
from tests.factories import report_payload

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
LONG = 3600.0  # a count interval no test waits for


@pytest.fixture(autouse=True)
def _close_committers(monkeypatch):
    """Every BatchCommitter a test makes gives its connection back at the end (a crash is `close()`)."""
    made: list[BatchCommitter] = []
    init = BatchCommitter.__init__

    def tracked(self: BatchCommitter, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(BatchCommitter, "__init__", tracked)
    yield
    for committer in made:
        committer.close()


def at(minute: int) -> datetime:
    return START + timedelta(minutes=minute)


def report(
    minute: int, *, line: int = 1, environment: str = "production", version: str = "1.0", **overrides: Any
) -> Report:
    """A report of the bug at `line`, sent at START + `minute`; its message and context name the minute."""
    payload = report_payload(
        timestamp=at(minute).isoformat(),
        environment=environment,
        version=version,
        context={"minute": minute},
        error={"line_number": line, "message": f"boom at {minute}"},
        **overrides,
    )
    return to_report(ReportIn.model_validate(payload), now=NOW, max_skew=timedelta(minutes=1))


class Counters(NamedTuple):
    """What a user sees of a bug: its counters, its latest values, its hourly counts and tag values."""

    count: int
    first_seen: datetime
    last_seen: datetime
    environment: str
    version: str | None
    message: str
    context: Any
    hourly: dict[datetime, int]
    tags: dict[tuple[str, str], int]


def counters(db, bug_id: int) -> Counters:
    with db.factory() as s:
        bug = s.get_one(Bug, bug_id)
        hourly = s.scalars(select(BugHourlyCount).where(BugHourlyCount.bug_id == bug_id))
        tags = s.scalars(select(BugTagValue).where(BugTagValue.bug_id == bug_id))
        return Counters(
            bug.occurrence_count,
            bug.first_seen,
            bug.last_seen,
            bug.environment,
            bug.version,
            bug.message,
            bug.context,
            {h.hour: h.count for h in hourly},
            {(t.key, t.value): t.count for t in tags},
        )


def stored_minutes(db, bug_id: int) -> list[int]:
    """The minutes of the bug's stored occurrences, oldest first."""
    with db.factory() as s:
        query = select(Occurrence.context).where(Occurrence.bug_id == bug_id).order_by(Occurrence.id)
        contexts = s.scalars(query)
        return [c["minute"] for c in contexts]


def backlog(db) -> int:
    with db.factory() as s:
        return int(s.scalar(select(func.count()).select_from(UncountedOccurrence)))


def count_of(db, bug_id: int) -> int:
    with db.factory() as s:
        return int(s.scalar(select(Bug.occurrence_count).where(Bug.id == bug_id)))


def bug_of(outcomes: list) -> int:
    assert all(isinstance(o, IngestResult) for o in outcomes), outcomes
    (bug_id,) = {o.bug_id for o in outcomes}
    return bug_id


def wait_for_count(db, bug_id: int, expected: int, *, timeout: float = 5.0) -> None:
    """Poll until the bug shows `expected` occurrences."""
    deadline = time.monotonic() + timeout
    while (seen := count_of(db, bug_id)) != expected:
        assert time.monotonic() < deadline, f"count stuck at {seen}, expected {expected}"
        time.sleep(0.02)


# --- BatchCommitter: counting deferred, then all at once ----------------------------------------------------


def test_reports_of_an_existing_bug_are_stored_at_once_and_counted_later(db):
    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    bug_id = bug_of(committer.write([report(0), report(5)]))
    before = counters(db, bug_id)
    assert before.count == 2 and backlog(db) == 0
    assert committer.count() == 0  # a fresh committer's first round (an earlier process's backlog)

    later = committer.write(
        [
            report(70, environment="staging", version="2.0"),
            report(80, environment="staging", version="2.0"),
            report(20),  # sent last, but older: not the bug's latest report
        ]
    )
    assert bug_of(later) == bug_id and not any(o.created for o in later)
    assert stored_minutes(db, bug_id) == [0, 5, 70, 80, 20]
    assert counters(db, bug_id) == before  # stored, not counted: nothing the user sees has moved
    assert backlog(db) == 3
    assert committer.count_delay() > LONG - 60  # the next round is an interval away

    assert committer.count() == 3
    assert counters(db, bug_id) == Counters(
        count=5,
        first_seen=at(0),
        last_seen=at(80),
        environment="staging",
        version="2.0",
        message="boom at 80",
        context={"minute": 80},
        hourly={at(0): 3, at(60): 2},
        tags={
            ("environment", "production"): 3,
            ("environment", "staging"): 2,
            ("version", "1.0"): 3,
            ("version", "2.0"): 2,
        },
    )
    assert backlog(db) == 0
    assert committer.count_delay() is None  # nothing stored since: nothing to wait for


def test_a_bug_created_by_a_batch_is_counted_at_once(db):
    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    old = bug_of(committer.write([report(0, line=1)]))
    old_before = counters(db, old)

    outcomes = committer.write(
        [
            report(10, line=1),
            report(30, line=2, version="2.0"),
            report(75, line=2, environment="staging", version="2.0"),
            report(40, line=2, version="2.1"),
        ]
    )
    new = outcomes[1].bug_id
    assert [o.created for o in outcomes] == [False, True, False, False] and new != old
    assert counters(db, new) == Counters(
        count=3,
        first_seen=at(30),
        last_seen=at(75),
        environment="staging",
        version="2.0",
        message="boom at 75",
        context={"minute": 75},
        hourly={at(0): 2, at(60): 1},
        tags={
            ("environment", "production"): 2,
            ("environment", "staging"): 1,
            ("version", "2.0"): 2,
            ("version", "2.1"): 1,
        },
    )
    assert counters(db, old) == old_before  # the existing bug's report waits for the next count
    assert backlog(db) == 1
    assert committer.count() == 1
    assert counters(db, old).count == 2 and backlog(db) == 0


# --- BatchCommitter: when a count is due --------------------------------------------------------------------


class Clock:
    """time.monotonic as logcenter.ingest.counting sees it; `work` is its time.perf_counter, by which it
    sizes and spaces counting parts: it stands still (parts take no time) unless a test moves it."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.work = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(
        counting, "time", types.SimpleNamespace(monotonic=fake, perf_counter=lambda: fake.work)
    )
    return fake


@pytest.fixture
def part_takes(monkeypatch, clock):
    """Make every counting part (apply, prune) take `seconds[0]` of the writer's time."""
    seconds = [0.0]
    apply, prune = counting.apply, BatchSQL.prune

    def slow_apply(*args: Any, **kwargs: Any) -> Any:
        clock.work += seconds[0]
        return apply(*args, **kwargs)

    def slow_prune(self: BatchSQL, *args: Any, **kwargs: Any) -> int:
        clock.work += seconds[0]
        return prune(self, *args, **kwargs)

    monkeypatch.setattr(counting, "apply", slow_apply)
    monkeypatch.setattr(BatchSQL, "prune", slow_prune)
    return seconds


def test_count_if_due_waits_for_the_interval_then_counts_whole_bugs_a_limit_at_a_time(db, clock):
    committer = BatchCommitter(db.factory, retention=100, count_interval=10, count_limit=5)
    lines = (1, 2, 3, 4)
    bugs = [bug_of(committer.write([report(0, line=line)])) for line in lines]
    # A new committer counts at once what an earlier process may have left; this round starts the interval.
    assert committer.count(if_due=True) == 0

    # 2, 3, 4 and 3 reports of the four bugs, in that order of first arrival.
    sizes = dict(zip(lines, (2, 3, 4, 3), strict=True))
    committer.write([report(m, line=line) for line in lines for m in range(1, 1 + sizes[line])])
    assert committer.count(if_due=True) == 0  # not due: the last round began 0 s ago
    assert committer.count_delay() == 10
    clock.now += 9.9
    assert committer.count(if_due=True) == 0
    assert committer.count_delay() == pytest.approx(0.1)
    assert [count_of(db, b) for b in bugs] == [1, 1, 1, 1] and backlog(db) == 12

    clock.now += 0.1
    assert committer.count(if_due=True) == 5  # the first two bugs: the third would pass the limit
    assert [count_of(db, b) for b in bugs] == [3, 4, 1, 1] and backlog(db) == 7
    assert committer.count_delay() == 0  # it stopped at the limit: the rest is due at once
    assert committer.count(if_due=True) == 4  # no new interval to wait for
    assert committer.count(if_due=True) == 3
    assert [count_of(db, b) for b in bugs] == [3, 4, 5, 4] and backlog(db) == 0
    assert committer.count_delay() is None
    assert committer.count(if_due=True) == 0

    # count() (start-up, shutdown, idle) takes all there is, due or not, a limit per transaction; a bug is
    # counted whole even past the limit (its counters are one row each, however many reports).
    committer.write([report(m, line=1) for m in range(10, 22)])
    assert committer.count(if_due=True) == 0
    assert committer.count() == 12
    assert count_of(db, bugs[0]) == 15 and backlog(db) == 0


def test_a_writer_counts_from_memory_only_what_no_other_writer_counted_first(db):
    """A writer starting up counts the whole backlog, another writer's tallied reports too (PostgreSQL
    replicas; two committers here): that one then counts only what is left, from the database."""
    first = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    bug_id = bug_of(first.write([report(0)]))
    assert first.count() == 0  # from now on its batches are tallied in memory
    first.write([report(m) for m in range(1, 6)])

    starting = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    assert starting.count() == 5  # read back: it cannot know they are someone's tally
    first.write([report(m, environment="staging") for m in range(6, 9)])
    assert first.count() == 3  # its tally held 8 reports, of which 3 were still on the backlog

    seen = counters(db, bug_id)
    assert (seen.count, seen.last_seen, seen.environment) == (9, at(8), "staging")
    assert seen.tags == {
        ("environment", "production"): 6,
        ("environment", "staging"): 3,
        ("version", "1.0"): 9,
    }
    assert backlog(db) == 0


def test_after_a_failed_count_the_backlog_is_read_back_and_nothing_is_counted_twice(db, monkeypatch):
    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    bug_id = bug_of(committer.write([report(0)]))
    committer.count()
    committer.write([report(m) for m in range(1, 4)])

    def broken(*args: Any, **kwargs: Any) -> dict[int, int]:
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as patch:
        patch.setattr(counting, "apply", broken)
        assert committer.count() == 0  # rolled back: the tally is dropped, the backlog still holds them
    assert count_of(db, bug_id) == 1 and backlog(db) == 3

    committer.write([report(4)])  # left on the backlog too, until it has been read back
    assert committer.count() == 4
    committer.write([report(5)])
    assert committer.count() == 1  # from memory again
    assert count_of(db, bug_id) == 6 and backlog(db) == 0
    assert counters(db, bug_id).last_seen == at(5)


def test_a_report_that_fails_its_batch_is_refused_alone_and_its_neighbours_are_counted_once(db):
    def store(session: Any, reports: list[Report], **kwargs: Any) -> list[IngestResult]:
        results = service.store_batch(session, reports, **kwargs)
        if any(r.environment == "poison" for r in reports):  # the commit fails after the batch was stored
            raise RuntimeError("a report the database refuses")
        return results

    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG, store=store)
    bug_id = bug_of(committer.write([report(0)]))
    committer.count()
    outcomes = committer.write([report(1), report(2, environment="poison"), report(3)])
    assert [type(o) for o in outcomes] == [IngestResult, Unavailable, IngestResult]
    assert committer.count() == 2
    assert count_of(db, bug_id) == 3 and backlog(db) == 0
    committer.write([report(4)])
    assert committer.count() == 1
    assert count_of(db, bug_id) == 4 and counters(db, bug_id).last_seen == at(4)


# --- the writers: a crash's backlog, idle time --------------------------------------------------------------


def test_reports_stored_but_not_counted_before_a_crash_are_counted_when_the_writer_starts(db):
    crashed = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    bug_id = bug_of(crashed.write([report(0)]))
    crashed.write([report(m, environment="staging") for m in range(1, 7)])
    crashed.close()  # the process died before its next count
    assert count_of(db, bug_id) == 1 and backlog(db) == 6

    writer = WriterThread(
        BatchCommitter(db.factory, retention=100, count_interval=LONG), Settings(database_url=db.url)
    )
    writer.start()
    try:
        after = counters(db, bug_id)  # before any report and before stop(), which counts too
    finally:
        writer.stop()
    assert (after.count, after.last_seen, after.environment) == (7, at(6), "staging")
    assert after.hourly == {at(0): 7}
    assert after.tags[("environment", "staging")] == 6
    assert backlog(db) == 0


def test_the_in_process_writer_counts_the_last_reports_without_more_traffic(db):
    host = WriterThread(
        BatchCommitter(db.factory, retention=100, count_interval=0.2), Settings(database_url=db.url)
    )
    host.start()

    async def send() -> tuple[int, int]:
        writer = RemoteWriter(host.path)
        try:
            first = await writer.submit(report(0))
            results = await asyncio.gather(*(writer.submit(report(m)) for m in range(1, 21)))
            assert {r.bug_id for r in results} == {first.bug_id}
            # Blocking the loop is fine: the writer's thread counts; no report is submitted meanwhile.
            wait_for_count(db, first.bug_id, 21)
            return first.bug_id, backlog(db)
        finally:
            await writer.stop()

    try:
        bug_id, left = asyncio.run(send())
    finally:
        host.stop()
    assert left == 0
    assert sum(counters(db, bug_id).hourly.values()) == 21


# --- retention ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("new_bug", [True, False], ids=["new-bug", "existing-bug"])
def test_retention_keeps_the_newest_occurrences_and_counts_them_all(db, new_bug):
    committer = BatchCommitter(db.factory, retention=3, count_interval=LONG)
    if new_bug:  # counted by the batch that creates the bug
        bug_id = bug_of(committer.write([report(m) for m in range(10)]))
    else:  # one report creates it, nine wait on the backlog
        bug_id = bug_of(committer.write([report(0)]))
        committer.write([report(m) for m in range(1, 10)])
        assert stored_minutes(db, bug_id) == list(range(10))  # nothing is pruned before it is counted
        assert committer.count() == 9

    assert stored_minutes(db, bug_id) == [7, 8, 9]
    seen = counters(db, bug_id)
    assert (seen.count, seen.first_seen, seen.last_seen) == (10, at(0), at(9))
    assert seen.hourly == {at(0): 10} and seen.tags[("version", "1.0")] == 10
    assert backlog(db) == 0


def test_prune_never_deletes_an_occurrence_that_is_not_counted_yet(db):
    committer = BatchCommitter(db.factory, retention=3, count_interval=LONG)
    bug_id = bug_of(committer.write([report(m) for m in range(4)]))
    assert stored_minutes(db, bug_id) == [1, 2, 3]
    committer.write([report(m) for m in range(4, 9)])

    with db.factory() as s:
        begin_write(s)
        BatchSQL(s.connection()).prune([bug_id], keep=3)
        s.commit()
    # 6, 7 and 8 are the newest three; 4 and 5 are older but still on the backlog.
    assert stored_minutes(db, bug_id) == [4, 5, 6, 7, 8]
    assert backlog(db) == 5

    assert committer.count() == 5
    assert stored_minutes(db, bug_id) == [6, 7, 8]
    seen = counters(db, bug_id)
    assert (seen.count, seen.last_seen, seen.message) == (9, at(8), "boom at 8")
    assert seen.hourly == {at(0): 9}


def test_pruning_in_parts_after_counting_loses_no_report(db, clock):
    committer = BatchCommitter(db.factory, retention=3, count_interval=LONG, count_limit=4)
    bug_id = bug_of(committer.write([report(0)]))
    assert committer.count() == 0  # the round starts now
    clock.now += LONG
    committer.write([report(m, version=f"1.{m % 2}") for m in range(1, 11)])

    assert committer.count(if_due=True) == 10  # one bug: counted whole, pruned a limit at a time
    seen = counters(db, bug_id)
    assert (seen.count, seen.last_seen, seen.context) == (11, at(10), {"minute": 10})
    assert seen.hourly == {at(0): 11}
    assert seen.tags == {("environment", "production"): 11, ("version", "1.0"): 6, ("version", "1.1"): 5}
    assert stored_minutes(db, bug_id) == list(range(11))
    assert committer.count_delay() == 0
    assert committer.count(if_due=True) == 0
    assert stored_minutes(db, bug_id) == [4, 5, 6, 7, 8, 9, 10]  # the oldest four
    while committer.count_delay() == 0:
        committer.count(if_due=True)
    assert stored_minutes(db, bug_id) == [8, 9, 10]
    assert counters(db, bug_id) == seen


def test_slow_counting_goes_in_smaller_parts_and_still_counts_everything(db, clock, part_takes):
    """Counting parts are sized by time (counting.COUNT_PART_SECONDS): a batch never waits long behind one.
    Here parts turn slow, so they shrink to the floor, then grow back when they are fast again."""
    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG, count_limit=500, count_share=1)
    assert committer.count() == 0  # the round starts now
    lines = range(1, 121)
    bugs = [bug_of(committer.write([report(0, line=line)])) for line in lines]
    clock.now += LONG
    committer.write([report(1, line=line) for line in lines])

    part_takes[0] = 1.0  # 120 reports in a second: under one per part
    assert committer.count(if_due=True) == 120  # sized before the slowness was seen: all of it
    committer.write([report(2, line=line) for line in lines])
    clock.now += LONG
    assert committer.count(if_due=True) == counting.MIN_COUNT_PART  # whole bugs of one report each
    assert committer.count_delay() == 0  # the rest at once (count_share 1: no pause between parts)

    part_takes[0] = counting.COUNT_PART_SECONDS / 10
    assert committer.count(if_due=True) == counting.MIN_COUNT_PART  # fast: the next may take 100
    assert committer.count(if_due=True) == 120 - 2 * counting.MIN_COUNT_PART
    assert [count_of(db, b) for b in bugs] == [3] * len(bugs) and backlog(db) == 0
    committer.write([report(3, line=line) for line in lines])
    clock.now += LONG
    assert committer.count(if_due=True) == 120  # back to parts of up to 200, then 400, 500


def test_counting_leaves_the_writer_half_of_its_time_while_it_catches_up(db, clock, part_takes):
    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG, count_limit=2)
    assert committer.count() == 0
    bugs = [bug_of(committer.write([report(0, line=line)])) for line in (1, 2, 3)]
    clock.now += LONG
    committer.write([report(m, line=line) for line in (1, 2, 3) for m in (1, 2)])
    part_takes[0] = 0.004

    assert committer.count(if_due=True) == 2
    assert committer.count_delay() == pytest.approx(0.004)  # more to do, after as long again for batches
    assert committer.count(if_due=True) == 0
    clock.work += 0.003
    assert committer.count(if_due=True) == 0
    assert committer.count_delay() == pytest.approx(0.001)
    clock.work += 0.001
    assert committer.count(if_due=True) == 2
    clock.work += 0.004
    assert committer.count(if_due=True) == 2
    assert committer.count_delay() is None
    assert [count_of(db, b) for b in bugs] == [3, 3, 3]
    # Counting everything (start-up, shutdown, idle) does not pause.
    committer.write([report(m, line=line) for line in (1, 2, 3) for m in (3, 4)])
    assert committer.count() == 6


def test_counting_everything_takes_what_came_while_a_round_was_being_counted(db, clock):
    """At shutdown the writer counts all it stored, also what arrived in the middle of a round."""
    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG, count_limit=2)
    assert committer.count() == 0
    bugs = [bug_of(committer.write([report(0, line=line)])) for line in (1, 2, 3)]
    clock.now += LONG
    committer.write([report(1, line=line) for line in (1, 2, 3)])
    assert committer.count(if_due=True) == 2  # the round has one bug left to count
    committer.write([report(2, line=line) for line in (1, 2, 3)])  # the next round's

    assert committer.count() == 4
    assert [count_of(db, b) for b in bugs] == [3, 3, 3] and backlog(db) == 0
    assert committer.count_delay() is None


@pytest.mark.parametrize(
    ("limit", "done", "parts", "expected"),  # parts: how long the last part took, in COUNT_PART_SECONDS
    [
        (500, 500, 0.5, 500),  # fast: at most the ceiling
        (500, 500, 2, 250),  # twice too long: half as many
        (500, 500, 100, 50),  # however slow: the floor
        (100, 100, 0.1, 200),  # growing back: at most twice as many at once
        (100, 0, 0.4, 100),  # nothing done says nothing about speed
        (500, 30, 0.2, 150),  # sized by what was done, not by the limit
    ],
)
def test_next_part_limit(limit, done, parts, expected):
    elapsed = parts * counting.COUNT_PART_SECONDS
    assert counting.next_part_limit(limit, done, elapsed, ceiling=500) == expected


def test_a_ceiling_below_the_floor_wins():
    assert counting.next_part_limit(4, 4, 1.0, ceiling=4) == 4


# --- PostgreSQL: counters in several transactions at once ---------------------------------------------------


def _postgres_only(db, why: str = "concurrent counters: SQLite lets one transaction write at a time") -> None:
    if db.backend == "sqlite":
        pytest.skip(f"PostgreSQL only ({why})")


def _backlog_of_two_bugs(db, n: int) -> tuple[int, int]:
    """Two existing bugs and `n` uncounted reports of each; returns their ids."""
    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    first = bug_of(committer.write([report(0, line=1)]))
    second = bug_of(committer.write([report(0, line=2)]))
    committer.write([report(m % 120, line=1 + m % 2) for m in range(2 * n)])
    assert backlog(db) == 2 * n
    return first, second


def test_a_counter_does_not_wait_for_the_reports_another_is_counting(db):
    _postgres_only(db)
    committer = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    first = bug_of(committer.write([report(0, line=1)]))
    second = bug_of(committer.write([report(0, line=2)]))
    committer.write([report(m, line=1) for m in range(1, 8)])  # the backlog's oldest 7
    committer.write([report(m, line=2) for m in range(1, 24)])
    committer.close()
    taken, done = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def slow() -> None:  # takes the 7 of the first bug and holds its transaction until the other is done
        with session_scope(db.factory) as s:
            seen["slow"] = counting.count_pending(s, retention=5, limit=7)
            taken.set()
            seen["fast was done first"] = done.wait(5)

    def fast() -> None:
        taken.wait(5)
        counted = []
        while counted[-1:] != [0]:
            with session_scope(db.factory) as s:
                counted.append(counting.count_pending(s, retention=5, limit=10))
        seen["fast"] = counted
        done.set()

    threads = [threading.Thread(target=slow), threading.Thread(target=fast)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen == {"slow": 7, "fast": [10, 10, 3, 0], "fast was done first": True}
    assert (count_of(db, first), count_of(db, second)) == (8, 24)
    assert backlog(db) == 0
    assert sum(counters(db, first).hourly.values()) == 8
    assert stored_minutes(db, first) == [3, 4, 5, 6, 7]
    assert stored_minutes(db, second) == [19, 20, 21, 22, 23]


def test_concurrent_counters_never_count_a_report_twice(db):
    _postgres_only(db)
    first, second = _backlog_of_two_bugs(db, 100)
    start = threading.Barrier(4)
    counted: list[int] = []
    errors: list[BaseException] = []

    def count() -> None:
        try:
            start.wait(10)
            while True:
                with session_scope(db.factory) as s:
                    n = counting.count_pending(s, retention=10, limit=3)
                counted.append(n)
                if not n:
                    return
        except BaseException as exc:  # a deadlock or a failed statement fails the test, not just the thread
            errors.append(exc)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sum(counted) == 200
    assert (count_of(db, first), count_of(db, second)) == (101, 101)
    assert backlog(db) == 0
    for bug_id in (first, second):
        seen = counters(db, bug_id)
        assert sum(seen.hourly.values()) == 101 and seen.tags[("version", "1.0")] == 101
        assert len(stored_minutes(db, bug_id)) == 10


def test_hourly_counts_are_utc_hours_whatever_the_postgresql_time_zone(db):
    # A server installed with a half-hour time zone (initdb takes the machine's): psycopg returns timestamptz
    # in it, and 10:05 UTC read as 15:35 +05:30 must still count in the 10:00 UTC hour, as it did before the
    # backlog (the hour was taken from the report's own UTC timestamp).
    _postgres_only(db, "SQLite has no session time zone")
    engine = create_db_engine(db.url + "%20-ctimezone%3DAsia/Kolkata", pool_size=1)
    try:
        committer = BatchCommitter(create_session_factory(engine), retention=100, count_interval=0)
        bug_id = bug_of(committer.write([report(5)]))
        committer.write([report(10), report(40)])
        committer.close()
    finally:
        engine.dispose()
    assert counters(db, bug_id).hourly == {at(0): 3}


# --- the writer process of `logcenter serve` ----------------------------------------------------------------


def _writer_process(settings: Settings, interval: float) -> WriterProcess:
    process = WriterProcess(settings.model_copy(update={"count_interval": interval}))
    process.start()
    return process


def test_the_writer_process_counts_the_last_reports_without_more_traffic(settings, db):
    process = _writer_process(settings, 0.3)
    try:

        async def send() -> int:
            remote = RemoteWriter(process.path)
            await remote.start()
            try:
                first = await remote.submit(report(0))
                results = await asyncio.gather(*(remote.submit(report(m)) for m in range(1, 31)))
            finally:
                await remote.stop()
            assert {r.bug_id for r in results} == {first.bug_id}
            return first.bug_id

        bug_id = asyncio.run(send())
        wait_for_count(db, bug_id, 31)  # before stop(), which counts everything too
        assert backlog(db) == 0
    finally:
        process.stop()
    assert sum(counters(db, bug_id).hourly.values()) == 31


def test_the_writer_process_counts_a_backlog_left_in_the_database_when_it_starts(settings, db):
    crashed = BatchCommitter(db.factory, retention=100, count_interval=LONG)
    bug_id = bug_of(crashed.write([report(0)]))
    crashed.write([report(m, version="2.0") for m in range(1, 9)])
    crashed.close()
    assert count_of(db, bug_id) == 1 and backlog(db) == 8

    process = _writer_process(settings, LONG)  # no idle count in this test's time: only the start-up one
    try:
        # start() returns once the writer is ready, and it counts before it says so.
        seen = counters(db, bug_id)
        assert (seen.count, seen.last_seen, seen.version) == (9, at(8), "2.0")
        assert seen.tags[("version", "2.0")] == 8
        assert backlog(db) == 0
    finally:
        process.stop()
