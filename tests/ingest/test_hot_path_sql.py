"""The hot path's statements over whole batches (ingest/sql.py): one row per key in multi-row upserts, the bug
update's merge rules, chunks past the bound-parameter limit, pruning several bugs at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter
from sqlalchemy import func, select

from logcenter.bugs.models import Bug, BugEvent, BugHourlyCount, BugTagValue, Occurrence
from logcenter.db import begin_write
from logcenter.ingest import counting, service, sql
from logcenter.ingest.report import Report
from logcenter.ingest.schemas import ReportIn, to_report
from logcenter.models import Base
from tests.factories import report_payload

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def report(at: datetime, *, line: int = 42, message: str = "boom", **overrides) -> Report:
    error = {"line_number": line, "message": message}
    payload = report_payload(timestamp=at.isoformat(), error=error, **overrides)
    return to_report(ReportIn.model_validate(payload), now=NOW, max_skew=timedelta(minutes=1))


def store(db, batch: list[Report], *, retention: int = 100):
    with db.factory() as session:
        begin_write(session)
        results = service.store_batch(session, batch, retention=retention, now=NOW)
        counting.count_pending(session, retention=retention, now=NOW)
        session.commit()
    return results


def at(hour: int, minute: int) -> datetime:
    return NOW.replace(hour=hour, minute=minute)


def test_reports_of_one_bug_hour_and_tag_in_one_batch_are_counted_once_per_key(db, session):
    # New bug: two reports of the same hour and tags; then an existing bug: the same again, and a later hour.
    store(db, [report(at(10, 5), version="1.0"), report(at(10, 6), version="1.0")])
    store(
        db,
        [
            report(at(10, 10), version="1.0"),
            report(at(11, 30), version="1.0", environment="staging"),
            report(at(10, 20), version="1.0"),
        ],
    )

    bug = session.scalars(select(Bug)).one()
    assert (bug.occurrence_count, bug.first_seen, bug.last_seen) == (5, at(10, 5), at(11, 30))
    assert bug.environment == "staging"  # the latest report's, although it was not the last in the batch
    hourly = {h.hour: h.count for h in session.scalars(select(BugHourlyCount))}
    assert hourly == {at(10, 0): 4, at(11, 0): 1}
    tags = {
        (t.key, t.value): (t.count, t.first_seen, t.last_seen) for t in session.scalars(select(BugTagValue))
    }
    assert tags == {
        ("environment", "production"): (4, at(10, 5), at(10, 20)),
        ("environment", "staging"): (1, at(11, 30), at(11, 30)),
        ("version", "1.0"): (5, at(10, 5), at(11, 30)),
    }


def test_older_reports_count_but_do_not_replace_the_latest_values(db, session):
    store(db, [report(at(11, 0), message="latest", version="2.0")])
    store(db, [report(at(9, 0), message="older", version="1.0"), report(at(10, 0), message="older")])
    bug = session.scalars(select(Bug)).one()
    assert (bug.occurrence_count, bug.first_seen, bug.last_seen) == (3, at(9, 0), at(11, 0))
    assert (bug.message, bug.version) == ("latest", "2.0")

    # A report as recent as last_seen is the latest one (as before: `last_seen <= report`).
    store(db, [report(at(11, 0), message="same time", version="3.0")])
    session.rollback()  # a new snapshot (SQLite keeps the old one for the open read transaction)
    bug = session.scalars(select(Bug)).one()
    assert (bug.occurrence_count, bug.first_seen, bug.last_seen) == (4, at(9, 0), at(11, 0))
    assert (bug.message, bug.version) == ("same time", "3.0")


def test_each_bug_of_a_batch_is_updated_with_its_own_values(db, session):
    store(db, [report(at(10, 0), line=n) for n in (1, 2, 3)])
    store(
        db, [report(at(11, n), line=n, message=f"bug {n}") for n in (1, 2, 3)] + [report(at(11, 9), line=2)]
    )
    bugs = {b.line_number: b for b in session.scalars(select(Bug))}
    assert {n: (b.occurrence_count, b.last_seen, b.message) for n, b in bugs.items()} == {
        1: (2, at(11, 1), "bug 1"),
        2: (3, at(11, 9), "boom"),
        3: (2, at(11, 3), "bug 3"),
    }


def test_rows_past_the_parameter_limit_go_in_several_statements(db, session, monkeypatch):
    # 40 parameters: 3 occurrences, 3 bug updates, 6 tag rows, 1 new bug... per statement.
    monkeypatch.setattr(sql, "MAX_PARAMS", 40)
    first = [report(at(10, n % 50), line=n % 7 + 1, version=f"1.{n % 3}") for n in range(20)]
    results = store(db, first)
    assert sum(r.created for r in results) == 7 and len({r.bug_id for r in results}) == 7
    store(db, [report(at(11, n % 50), line=n % 9 + 1, version=f"1.{n % 3}") for n in range(20)], retention=3)

    assert session.scalar(select(func.count()).select_from(Bug)) == 9
    assert session.scalar(select(func.count()).select_from(BugEvent)) == 9  # one "created" row per bug
    assert session.scalar(select(func.sum(Bug.occurrence_count))) == 40
    assert session.scalar(select(func.sum(BugHourlyCount.count))) == 40
    assert session.scalar(select(func.sum(BugTagValue.count)).where(BugTagValue.key == "version")) == 40
    kept = session.execute(select(Occurrence.bug_id, func.count()).group_by(Occurrence.bug_id)).all()
    assert sorted(n for _, n in kept) == [2, 2, 3, 3, 3, 3, 3, 3, 3]


def test_a_batch_as_large_as_the_writers_largest(db, session):
    results = store(db, [report(at(10, n % 60), line=n + 1, version=f"1.{n}") for n in range(500)])
    assert sum(r.created for r in results) == 500
    store(db, [report(at(11, n % 60), line=n + 1, version=f"1.{n}") for n in range(500)])
    assert session.scalar(select(func.sum(Bug.occurrence_count))) == 1000
    assert session.scalar(select(func.count()).select_from(Occurrence)) == 1000
    assert (
        session.scalar(select(func.count()).select_from(BugTagValue)) == 1000
    )  # a version and an environment per bug


def test_prune_keeps_the_newest_occurrences_of_each_bug(db, session):
    batch = [report(at(10, m), line=1) for m in range(5)] + [report(at(10, m), line=2) for m in range(2)]
    store(db, batch + [report(at(10, m), line=3) for m in range(4)], retention=3)
    store(db, [report(at(11, 0), line=1)], retention=3)

    bug_ids = {b.line_number: b.id for b in session.scalars(select(Bug))}
    kept = {
        n: session.scalars(
            select(Occurrence.timestamp).where(Occurrence.bug_id == i).order_by(Occurrence.id)
        ).all()
        for n, i in bug_ids.items()
    }
    assert kept == {
        1: [at(10, 3), at(10, 4), at(11, 0)],
        2: [at(10, 0), at(10, 1)],
        3: [at(10, 1), at(10, 2), at(10, 3)],
    }


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 22, 12, 0, 1, 5, tzinfo=UTC),
        TypeAdapter(datetime).validate_python("2026-11-22T12:00:01.000005Z"),  # pydantic's own UTC tzinfo
        datetime(2026, 11, 22, 14, 0, 1, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 22, 12, 0, 1, 5),  # naive: local time, as astimezone() reads it
    ],
)
def test_ts_converts_any_timezone_as_astimezone_does(db, value):
    with db.engine.connect() as conn:
        ts = sql.BatchSQL(conn).ts(value)
    expected = value.astimezone(UTC)
    if db.backend == "sqlite":
        assert ts == expected.replace(tzinfo=None).isoformat(" ", "microseconds")
    else:
        assert ts == expected and ts.utcoffset() == timedelta(0)


def test_every_column_the_hand_written_sql_names_is_in_the_models():
    """The statements are plain SQL, which the models-versus-migrations test does not see: a column renamed
    in a model (and its migration) must fail here, not in production."""
    tables = Base.metadata.tables
    named: list[tuple[str, str]] = []
    for value in vars(sql).values():
        text = value.sql if isinstance(value, sql._Rows) else value
        if not isinstance(text, str):
            continue
        for table, columns in re.findall(r"INSERT INTO (\w+) \(([^)]*)\)", text):
            named += [(table, c.strip()) for c in columns.split(",")]
        for columns, table in re.findall(r"SELECT ([\w, ]+) FROM (\w+)", text):
            named += [(table, c.strip()) for c in columns.split(",")]
    named = [(t, c) for t, c in named if t in tables]
    named += [("bugs", c) for c in (*sql.LATEST_FIELDS, *sql.NEW_BUG_COLUMNS)]
    named += [("occurrences", c) for c in sql.LATEST_FIELDS] + [("bug_events", c) for c in sql.EVENT_COLUMNS]
    assert {t for t, _ in named} >= {"bugs", "occurrences", "bug_events", "recent_event_ids"}
    missing = [(t, c) for t, c in named if c not in tables[t].columns]
    assert missing == []
