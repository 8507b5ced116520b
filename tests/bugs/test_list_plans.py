"""The bug list sorted by first_seen or occurrence_count reads an index range per status (merged), not a sort
of every match: 110-410 and 600-980 ms at 100,000 bugs on SQLite before migration 0019 (bench/web.py). The
plan is asked of the database itself; on PostgreSQL with sequential scans and sorts off, as its planner would
take on a table of 100,000 bugs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from logcenter.bugs import listing
from logcenter.bugs.models import BugStatus
from logcenter.bugs.service import BugFilter
from tests.factories import make_bug, make_project

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def page_plan(session: Session, **page: object) -> str:
    """The database's plan for the query that reads the list's rows (not its count)."""
    seen: list[tuple[str, object]] = []
    engine = session.get_bind()

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "ORDER BY" in statement and "LIMIT" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        listing.list_page(session, **page)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    statement, parameters = seen[-1]
    connection = session.connection()
    if engine.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row[3]) for row in rows)
    # Its planner's choice on a few rows depends on when autovacuum last analysed the table: sequential scans
    # and sorts off, it takes what it would on a table of 100,000 bugs, whatever the statistics say.
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    connection.execute(text("SET LOCAL enable_sort = off"))
    rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
    return "\n".join(str(row[0]) for row in rows)


@pytest.fixture
def bugs(session: Session) -> None:
    project = make_project(session, "shop")
    for i in range(40):
        make_bug(
            session,
            project,
            status=list(BugStatus)[i % 6],
            seen=T0 + dt.timedelta(minutes=i),
            first_seen=T0 - dt.timedelta(hours=i % 7),
            occurrence_count=i % 5,
        )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE bugs"))  # as autovacuum may have done: the plan must not depend on it
        session.commit()


@pytest.mark.parametrize("sort", ["first_seen", "-first_seen", "occurrence_count", "-occurrence_count"])
@pytest.mark.parametrize("statuses", [[], [BugStatus.NEW, BugStatus.FAILED], [BugStatus.FIXING]])
def test_a_list_by_first_seen_or_count_reads_that_columns_index(session, bugs, sort, statuses):
    plan = page_plan(session, filters=BugFilter(statuses=statuses), sort=sort, page_size=5)
    assert f"ix_bugs_status_{sort.removeprefix('-')}_id" in plan, plan
