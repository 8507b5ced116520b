"""The batch writer: bounded statements per batch, per-report results, event-id idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from logcenter.bugs.models import Bug, Occurrence
from logcenter.db import begin_write
from logcenter.ingest import counting, service
from logcenter.ingest.report import Report
from logcenter.ingest.schemas import ReportIn, to_report
from tests.factories import report_payload

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def reports(n: int, bugs: int, **overrides) -> list[Report]:
    out = []
    for i in range(n):
        payload = ReportIn.model_validate(report_payload(error={"line_number": i % bugs + 1}, **overrides))
        out.append(to_report(payload, now=NOW, max_skew=timedelta(minutes=1)))
    return out


def count_statements(db, batch: list[Report]) -> int:
    statements = 0

    def count(*_args, **_kwargs):
        nonlocal statements
        statements += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.factory() as session:
            begin_write(session)
            service.store_batch(session, batch, retention=100, now=NOW)
            session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return statements


def test_statements_per_batch_do_not_grow_with_its_size(db):
    # First batches create the bugs; then compare a batch of 10 and one of 300 over the same existing bugs.
    count_statements(db, reports(20, bugs=10))
    small = count_statements(db, reports(10, bugs=10))
    large = count_statements(db, reports(300, bugs=10))
    assert large == small
    assert large <= 12


@pytest.mark.parametrize("repeat_in_same_batch", [True, False])
def test_repeated_event_id_is_acknowledged_but_counted_once(db, repeat_in_same_batch):
    one = reports(1, bugs=1)[0]
    one.event_id = "9ec79c33ec9942ab8353589fcb2e04dc"
    with db.factory() as session:
        begin_write(session)
        if repeat_in_same_batch:
            results = service.store_batch(session, [one, one], retention=100, now=NOW)
        else:
            results = service.store_batch(session, [one], retention=100, now=NOW)
            results += service.store_batch(session, [one], retention=100, now=NOW)
        counting.count_pending(session, retention=100)
        session.commit()
        assert [r.duplicate for r in results] == [False, True]
        assert results[0].bug_id == results[1].bug_id and results[1].status == "NEW"
        assert session.scalars(select(Bug)).one().occurrence_count == 1
        assert session.scalar(select(func.count()).select_from(Occurrence)) == 1


def test_results_follow_report_order_across_bugs_and_projects(db):
    batch = reports(3, bugs=3) + reports(2, bugs=2, project_id="other_project")
    with db.factory() as session:
        begin_write(session)
        results = service.store_batch(session, batch, retention=100, now=NOW)
        session.commit()
        assert [r.created for r in results] == [True, True, True, True, True]
        projects = [session.get(Bug, r.bug_id).project_id for r in results]
        assert projects[0] == projects[1] == projects[2] != projects[3] == projects[4]
