"""Dashboard statistics: status counts, range totals, a daily series and a per-project table.

Five aggregate queries whatever the data volume (plus the project lookup when filtered): every result has at
most one row per day, per status or per project. Days are UTC days; ranges end at the next UTC midnight.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import Date, Select, case, cast, distinct, extract, func, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from logcenter.bugs.models import Bug, BugEvent, BugHourlyCount, BugStatus
from logcenter.db import utcnow
from logcenter.errors import ValidationFailed
from logcenter.projects import service as projects_service
from logcenter.projects.models import Project
from logcenter.stats.schemas import DailyStats, ProjectStats, StatsRead, StatsTotals, StatusCounts

S = BugStatus
MAX_DAYS = 365
# Transitions counted as outcomes: history rows whose status actually changed (notes repeat the status).
_OUTCOMES = (S.PENDING_REVIEW, S.FAILED)


def get_stats(
    session: Session, *, days: int = 7, project_slug: str | None = None, now: dt.datetime | None = None
) -> StatsRead:
    """Statistics over the last `days` UTC days (today included), optionally for one project (404 if unknown)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed([{"field": "days", "message": f"must be within 1..{MAX_DAYS}"}])
    project_id = projects_service.get_by_slug(session, project_slug).id if project_slug else None
    now = now or utcnow()
    today = now.astimezone(dt.UTC).date()
    first_day = today - dt.timedelta(days=days - 1)
    start, end = _midnight(first_day), _midnight(today + dt.timedelta(days=1))

    all_time, today_counts, projects = _status_counts(session, project_id, _midnight(today))
    daily = _daily(session, project_id, start, end, first_day, days)
    totals = _totals(session, project_id, start, end, found=sum(d.new for d in daily))
    return StatsRead(
        days=days,
        project_id=project_slug,
        start=start,
        end=end,
        status_counts=all_time,
        today=today_counts,
        totals=totals,
        daily=daily,
        projects=projects,
    )


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _status_counts(
    session: Session, project_id: int | None, today_start: dt.datetime
) -> tuple[StatusCounts, StatusCounts, list[ProjectStats]]:
    """One GROUP BY (project, status) gives the all-time and today counts and the per-project table."""
    entered_today = case((Bug.status_changed_at >= today_start, 1), else_=0)
    stmt = (
        select(Project.slug, Project.name, Bug.status, func.count(Bug.id), func.sum(entered_today))
        .select_from(Project)
        .outerjoin(Bug, Bug.project_id == Project.id)
        .group_by(Project.id, Project.slug, Project.name, Bug.status)
    )
    if project_id is not None:
        stmt = stmt.where(Project.id == project_id)
    all_time, today = StatusCounts(), StatusCounts()
    rows: dict[str, ProjectStats] = {}
    for slug, name, status, count, count_today in session.execute(stmt):
        row = rows.setdefault(slug, ProjectStats(project_id=slug, name=name))
        if status is None:  # a project without bugs (outer join)
            continue
        _add(row, status, count)
        _add(all_time, status, count)
        _add(today, status, count_today or 0)
    # Sorted here rather than in SQL: PostgreSQL collations order "_" and case differently from SQLite.
    return all_time, today, [rows[slug] for slug in sorted(rows)]


def _add(counts: StatusCounts, status: str, n: int) -> None:
    counts.total += n
    if status in S.__members__:
        field = status.lower()
        setattr(counts, field, getattr(counts, field) + n)


def _status_changes(
    stmt: Select[Any], project_id: int | None, start: dt.datetime, end: dt.datetime
) -> Select[Any]:
    """History rows in [start, end) that moved a bug into PENDING_REVIEW or FAILED."""
    stmt = stmt.where(
        BugEvent.created_at >= start,
        BugEvent.created_at < end,
        BugEvent.to_status.in_(_OUTCOMES),
        BugEvent.from_status != BugEvent.to_status,
    )
    if project_id is not None:
        stmt = stmt.join(Bug, Bug.id == BugEvent.bug_id).where(Bug.project_id == project_id)
    return stmt


def _totals(
    session: Session, project_id: int | None, start: dt.datetime, end: dt.datetime, *, found: int
) -> StatsTotals:
    dialect = session.get_bind().dialect.name
    # When the bug last entered NEW (first seen, reopened, retried or released) before this row.
    entered_new = aliased(BugEvent)
    last_new = (
        select(func.max(entered_new.created_at))
        .where(
            entered_new.bug_id == BugEvent.bug_id,
            entered_new.to_status == S.NEW,
            or_(entered_new.from_status.is_(None), entered_new.from_status != S.NEW),
            entered_new.created_at <= BugEvent.created_at,
        )
        .scalar_subquery()
    )
    from_fixing = case((BugEvent.from_status == S.FIXING, 1), else_=0)
    stmt = select(
        BugEvent.to_status,
        func.count(distinct(BugEvent.bug_id)),
        func.sum(from_fixing),
        func.avg(
            case(
                (
                    BugEvent.to_status == S.PENDING_REVIEW,
                    _seconds_between(dialect, last_new, BugEvent.created_at),
                )
            )
        ),
    ).group_by(BugEvent.to_status)
    by_status: dict[str, tuple[int, int, Any]] = {
        status: (bugs, attempts or 0, avg)
        for status, bugs, attempts, avg in session.execute(_status_changes(stmt, project_id, start, end))
    }
    fixed_bugs, fixed_attempts, avg_seconds = by_status.get(S.PENDING_REVIEW, (0, 0, None))
    failed_bugs, failed_attempts, _ = by_status.get(S.FAILED, (0, 0, None))
    attempts = fixed_attempts + failed_attempts
    return StatsTotals(
        found=found,
        auto_fixed=fixed_bugs,
        failed=failed_bugs,
        fix_attempts=attempts,
        fix_success_rate=fixed_attempts / attempts if attempts else None,
        avg_seconds_to_review=round(float(avg_seconds), 3) if avg_seconds is not None else None,
    )


def _daily(
    session: Session,
    project_id: int | None,
    start: dt.datetime,
    end: dt.datetime,
    first_day: dt.date,
    days: int,
) -> list[DailyStats]:
    """The series for every day of the range, zeros included."""
    dialect = session.get_bind().dialect.name
    series: dict[dt.date, Counter[str]] = {first_day + dt.timedelta(days=i): Counter() for i in range(days)}

    created_day = _utc_day(dialect, Bug.created_at)
    created = select(created_day, func.count()).where(Bug.created_at >= start, Bug.created_at < end)
    if project_id is not None:
        created = created.where(Bug.project_id == project_id)
    for day, n in session.execute(created.group_by(created_day)):
        series[_as_date(day)]["new"] += n

    event_day = _utc_day(dialect, BugEvent.created_at)
    events = select(event_day, BugEvent.to_status, func.count(distinct(BugEvent.bug_id)))
    events = _status_changes(events, project_id, start, end).group_by(event_day, BugEvent.to_status)
    for day, status, n in session.execute(events):
        series[_as_date(day)]["fixed" if status == S.PENDING_REVIEW else "failed"] += n

    hour_day = _utc_day(dialect, BugHourlyCount.hour)
    hourly = select(hour_day, func.sum(BugHourlyCount.count)).where(
        BugHourlyCount.hour >= start, BugHourlyCount.hour < end
    )
    if project_id is not None:
        hourly = hourly.join(Bug, Bug.id == BugHourlyCount.bug_id).where(Bug.project_id == project_id)
    for day, n in session.execute(hourly.group_by(hour_day)):
        series[_as_date(day)]["occurrences"] += int(n or 0)

    return [
        DailyStats(date=day, new=c["new"], fixed=c["fixed"], failed=c["failed"], occurrences=c["occurrences"])
        for day, c in series.items()
    ]


# Date arithmetic is where SQLite and PostgreSQL differ; these two helpers hold all of it. SQLite stores
# UTCDateTime as naive UTC text ("2026-02-25 10:55:26.000000"); PostgreSQL as timestamptz, converted to UTC
# explicitly so the session's TimeZone setting cannot move a bug to another day. Constants are inlined
# (literal_column) so the grouped expression renders identically in SELECT and GROUP BY on PostgreSQL.


def _utc_day(dialect: str, column: Any) -> Any:
    if dialect == "postgresql":
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column)


def _seconds_between(dialect: str, earlier: Any, later: Any) -> Any:
    if dialect == "postgresql":
        return extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * literal_column("86400.0")


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
