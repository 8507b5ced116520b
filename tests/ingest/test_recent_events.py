"""A repeated Sentry event id is acknowledged and not counted again (ingest/events.py): across batches,
after a writer restart, after its occurrence was pruned, within the window; never for an event not stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from logcenter.bugs.models import Bug, Occurrence
from logcenter.db import create_session_factory
from logcenter.errors import Unavailable
from logcenter.ingest import service
from logcenter.ingest.models import RecentEventId
from logcenter.ingest.report import IngestResult, Report
from logcenter.ingest.schemas import ReportIn, to_report
from logcenter.ingest.writer import BatchCommitter
from logcenter.migrations import downgrade, upgrade
from tests.conftest import migrated_engine
from tests.factories import report_payload

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def event(n: int, *, line: int = 1, environment: str = "production") -> Report:
    """A Sentry-like report with event id number `n`, of the bug at `line`."""
    payload = report_payload(environment=environment, error={"line_number": line, "message": f"event {n}"})
    report = to_report(ReportIn.model_validate(payload), now=NOW, max_skew=timedelta(minutes=1))
    report.event_id = f"{n:032x}"
    return report


@pytest.fixture
def committers(db) -> Iterator[list[BatchCommitter]]:
    made: list[BatchCommitter] = []
    yield made
    for committer in made:
        committer.close()


def writer(db, committers: list[BatchCommitter], **kwargs: Any) -> BatchCommitter:
    committer = BatchCommitter(db.factory, retention=kwargs.pop("retention", 100), count_interval=0, **kwargs)
    committers.append(committer)
    return committer


def occurrences(db) -> int:
    with db.factory() as session:
        return session.scalar(select(func.count()).select_from(Occurrence)) or 0


def counted(db) -> int:
    with db.factory() as session:
        return sum(session.scalars(select(Bug.occurrence_count)))


def test_a_repeat_in_a_later_batch_is_acknowledged_with_its_bug_and_not_stored(db, committers):
    committer = writer(db, committers)
    first = committer.write([event(1), event(2, line=2)])
    again = committer.write([event(2, line=2), event(3)])
    assert [type(r) for r in first + again] == [IngestResult] * 4
    assert [r.duplicate for r in first + again] == [False, False, True, False]  # type: ignore[union-attr]
    assert again[0].bug_id == first[1].bug_id  # type: ignore[union-attr]
    assert occurrences(db) == 3 and counted(db) == 3


def test_the_quota_counts_an_event_once_and_never_refuses_a_retry_of_a_stored_one(db, committers):
    committer = writer(db, committers, quota_per_minute=2)
    project_pk = committer.write([event(0)])[0].bug_id and _project_pk(db)  # REST: no quota

    def sentry(n: int) -> Report:
        report = event(n, line=n)
        report.project_pk = project_pk
        return report

    # 1 and 2 use the quota; 3 and its repeat in the same batch are refused alike; a retry of 1 is not.
    outcomes = committer.write([sentry(1), sentry(2), sentry(3), sentry(3), sentry(1)])
    assert [type(o).__name__ for o in outcomes] == [
        "IngestResult", "IngestResult", "RateLimited", "RateLimited", "IngestResult"
    ]  # fmt: skip
    assert outcomes[4].duplicate and outcomes[4].bug_id == outcomes[0].bug_id  # type: ignore[union-attr]
    assert occurrences(db) == 3
    assert type(committer.write([sentry(2)])[0]) is IngestResult  # stored before: answered, not refused


def _project_pk(db) -> int:
    with db.factory() as session:
        return session.scalars(select(Bug.project_id)).one()


def test_a_writer_that_starts_knows_the_events_an_earlier_one_stored(db, committers):
    writer(db, committers).write([event(1), event(2)])
    restarted = writer(db, committers)
    results = restarted.write([event(2), event(3)])
    assert [r.duplicate for r in results] == [True, False]  # type: ignore[union-attr]
    assert occurrences(db) == 3 and counted(db) == 3


def test_an_event_is_recognised_after_its_occurrence_was_pruned(db, committers):
    committer = writer(db, committers, retention=2)
    committer.write([event(1)])
    committer.write([event(2), event(3), event(4)])  # the same bug: event 1's occurrence is pruned
    assert occurrences(db) == 2
    assert committer.write([event(1)])[0].duplicate  # type: ignore[union-attr]
    assert counted(db) == 4


def test_only_the_last_window_of_events_is_remembered_and_kept(db, committers):
    committer = writer(db, committers, dedup_window=3)
    committer.write([event(n) for n in range(1, 5)])
    committer.count()  # trims the table
    with db.factory() as session:
        kept = session.scalars(select(RecentEventId.event_id).order_by(RecentEventId.id)).all()
    assert kept == [f"{n:032x}" for n in (2, 3, 4)]
    # Event 1 is past the window: stored again, as Sentry does once its cache forgot an event id.
    results = committer.write([event(4), event(1)])
    assert [r.duplicate for r in results] == [True, False]  # type: ignore[union-attr]
    # A writer that starts reads the same window back: 3, 4 and 1 now.
    results = writer(db, committers, dedup_window=3).write([event(1), event(3), event(2)])
    assert [r.duplicate for r in results] == [True, True, False]  # type: ignore[union-attr]


def test_an_event_whose_batch_failed_is_not_remembered(db, committers):
    def store(session: Any, reports: list[Report], **kwargs: Any) -> list[IngestResult]:
        results = service.store_batch(session, reports, **kwargs)
        if any(r.environment == "poison" for r in reports):  # the commit fails after the batch was stored
            raise RuntimeError("a report the database refuses")
        return results

    committer = writer(db, committers, store=store)
    outcomes = committer.write([event(1), event(2, environment="poison"), event(3)])
    assert [type(o) for o in outcomes] == [IngestResult, Unavailable, IngestResult]
    retried = committer.write([event(2), event(1)])  # the SDK retries the refused event
    assert [r.duplicate for r in retried] == [False, True]  # type: ignore[union-attr]
    assert occurrences(db) == 3 and counted(db) == 3


def backlog(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT occurrence_id FROM uncounted_occurrences")).scalars())


@pytest.fixture
def engine_at_0003(backend: str, tmp_path) -> Iterator[Engine]:
    with migrated_engine(backend, tmp_path, "0003") as engine:
        yield engine


def test_the_upgrade_keeps_the_stored_event_ids_and_the_uncounted_backlog(engine_at_0003):
    engine = engine_at_0003
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (id, slug, ingest_key, created_at, updated_at)"
                " VALUES (1, 'old', 'k', :now, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO bugs (id, project_id, fingerprint, source, error_type, message, stack_trace,"
                " level, environment, context, status, status_changed_at, occurrence_count, first_seen,"
                " last_seen, created_at, updated_at) VALUES (7, 1, 'f', 'runtime', 'E', 'm', '', 'ERROR',"
                " 'production', '{}', 'NEW', :now, 2, :now, :now, :now, :now)"
            ),
            {"now": NOW},
        )
        for event_id in ("a" * 32, None):
            conn.execute(
                text(
                    "INSERT INTO occurrences (bug_id, project_id, event_id, timestamp, received_at,"
                    " environment, level, message, stack_trace, context, data) VALUES (7, 1, :event_id,"
                    " :now, :now, 'production', 'ERROR', 'm', '', '{}', '{}')"
                ),
                {"event_id": event_id, "now": NOW},
            )
        # The second occurrence is not counted yet: the writer stopped before it could.
        conn.execute(text("INSERT INTO uncounted_occurrences SELECT max(id) FROM occurrences"))
    uncounted = backlog(engine)
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT project_id, event_id, bug_id FROM recent_event_ids")).all()
    assert [tuple(r) for r in rows] == [(1, "a" * 32, 7)]
    # SQLite copies the occurrences table, both ways: the writer's backlog must not go with the old one.
    assert backlog(engine) == uncounted != []
    downgrade(engine, "0003")
    assert backlog(engine) == uncounted
    upgrade(engine)

    committer = BatchCommitter(create_session_factory(engine), retention=100, count_interval=0)
    try:
        report = event(0)
        report.project_slug, report.event_id = "old", "a" * 32
        report.fingerprint = "f"
        [result] = committer.write([report])
    finally:
        committer.close()
    assert result == IngestResult(7, created=False, status="NEW", duplicate=True)
