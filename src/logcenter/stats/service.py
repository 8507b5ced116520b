"""Dashboard statistics: status counts, range totals, a daily series and a per-project table.

Five aggregate queries whatever the data volume (plus the project lookup when filtered); each returns at most
one row per day, per status or per project. Days are UTC days; a range ends at the next UTC midnight.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Date,
    Select,
    case,
    cast,
    delete,
    distinct,
    extract,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from logcenter.bugs.history import HistoryKind
from logcenter.bugs.models import Bug, BugEvent, BugStatus, ProjectDailyCount
from logcenter.bugs.service import not_merged_away
from logcenter.db import utcnow
from logcenter.errors import NotFound, ValidationFailed
from logcenter.projects import service as projects_service
from logcenter.projects.models import Project
from logcenter.stats.schemas import DailyStats, ProjectStats, StatsRead, StatsTotals, StatusCounts

S = BugStatus
MAX_DAYS = 365


@dataclass(frozen=True, slots=True)
class _Scope:
    project_ids: frozenset[int] | None  # None: every project
    first_day: dt.date
    days: int
    dialect: str

    @property
    def start(self) -> dt.datetime:
        return _midnight(self.first_day)

    @property
    def end(self) -> dt.datetime:
        return _midnight(self.first_day + dt.timedelta(days=self.days))


def get_stats(
    session: Session,
    *,
    days: int = 7,
    project_slug: str | None = None,
    within: frozenset[int] | None = None,
    now: dt.datetime | None = None,
) -> StatsRead:
    """Statistics over the last `days` UTC days, today included; optionally one project's (404 if unknown),
    and only of the projects `within` when given (a token restricted to projects: others are unknown)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed([{"field": "days", "message": f"must be within 1..{MAX_DAYS}"}])
    project_ids = within
    if project_slug:
        project_id = projects_service.get_by_slug(session, project_slug).id
        if within is not None and project_id not in within:
            raise NotFound(f"Project {project_slug!r} not found")
        project_ids = frozenset({project_id})
    today = (now or utcnow()).astimezone(dt.UTC).date()
    scope = _Scope(project_ids, today - dt.timedelta(days=days - 1), days, session.get_bind().dialect.name)

    all_time, today_counts, projects = _status_counts(session, scope, _midnight(today))
    daily = _daily(session, scope)
    return StatsRead(
        days=days,
        project_id=project_slug,
        start=scope.start,
        end=scope.end,
        status_counts=all_time,
        today=today_counts,
        totals=_totals(session, scope, found=sum(d.new for d in daily)),
        daily=daily,
        projects=projects,
    )


def compact_daily_counts(session: Session) -> int:
    """Sum the rows of each (project, day) of the daily counts that has several into one; returns how many
    rows were merged. The rows summed are exactly the rows deleted (DELETE ... RETURNING): one a counter
    adds meanwhile stays as it is, and is summed next time."""
    d = ProjectDailyCount
    several = select(d.project_id, d.day).group_by(d.project_id, d.day).having(func.count() > 1)
    deleted = session.execute(
        delete(d).where(tuple_(d.project_id, d.day).in_(several)).returning(d.project_id, d.day, d.count),
        execution_options={"synchronize_session": False},
    ).all()
    sums: Counter[tuple[int, dt.date]] = Counter()
    for project_id, day, n in deleted:
        sums[(project_id, _as_date(day))] += n
    if sums:
        session.execute(
            insert(d), [{"project_id": p, "day": day, "count": n} for (p, day), n in sorted(sums.items())]
        )
    return len(deleted)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _status_counts(
    session: Session, scope: _Scope, today_start: dt.datetime
) -> tuple[StatusCounts, StatusCounts, list[ProjectStats]]:
    """One GROUP BY (project, status) gives the all-time and today counts and the per-project table."""
    entered_today = case((Bug.status_changed_at >= today_start, 1), else_=0)
    # The bugs grouped on their own, then joined to the projects: the aggregate reads the (project_id,
    # status, merged_into_id, ignored_at, status_changed_at) index alone, not every bug's row.
    counts = (
        select(Bug.project_id, Bug.status, func.count().label("n"), func.sum(entered_today).label("today"))
        # A duplicate merged into another bug (triage) is counted as part of that one.
        .where(not_merged_away())
        .group_by(Bug.project_id, Bug.status)
    )
    if scope.project_ids is not None:
        counts = counts.where(Bug.project_id.in_(scope.project_ids))
    c = counts.subquery()
    stmt = select(Project.slug, Project.name, c.c.status, c.c.n, c.c.today).outerjoin(
        c, c.c.project_id == Project.id
    )
    if scope.project_ids is not None:
        stmt = stmt.where(Project.id.in_(scope.project_ids))
    all_time, today = StatusCounts(), StatusCounts()
    rows: dict[str, ProjectStats] = {}
    for slug, name, status, count, count_today in session.execute(stmt):
        row = rows.setdefault(slug, ProjectStats(project_id=slug, name=name))
        if status is None:  # a project without bugs (outer join)
            continue
        _add(row, status, count)
        _add(all_time, status, count)
        _add(today, status, count_today or 0)
    # Sorted here rather than in SQL: PostgreSQL collations may order "_" and case unlike SQLite.
    return all_time, today, [rows[slug] for slug in sorted(rows)]


def _add(counts: StatusCounts, status: str, n: int) -> None:
    counts.total += n
    if status in S.__members__:
        field = status.lower()
        setattr(counts, field, getattr(counts, field) + n)


def _outcomes(stmt: Select[Any], scope: _Scope) -> Select[Any]:
    """Restrict to history rows of the range that moved a bug into PENDING_REVIEW or FAILED."""
    stmt = stmt.where(
        BugEvent.created_at >= scope.start,
        BugEvent.created_at < scope.end,
        BugEvent.to_status.in_((S.PENDING_REVIEW, S.FAILED)),
        # Notes (PR linked, comments) repeat the current status; only real changes count.
        BugEvent.from_status != BugEvent.to_status,
        # A revision a reviewer asked for is another round of review of the same fix, not a fix attempt
        # (a failed one returns to PENDING_REVIEW with the PR as it was).
        BugEvent.kind != HistoryKind.REVISED,
    )
    if scope.project_ids is not None:
        stmt = stmt.join(Bug, Bug.id == BugEvent.bug_id).where(Bug.project_id.in_(scope.project_ids))
    return stmt


def _totals(session: Session, scope: _Scope, *, found: int) -> StatsTotals:
    # When the bug last entered NEW (first seen, reopened, retried or released) before this history row.
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
    to_review = BugEvent.to_status == S.PENDING_REVIEW
    wait = _seconds_between(scope.dialect, last_new, BugEvent.created_at)
    stmt = select(
        BugEvent.to_status,
        func.count(distinct(BugEvent.bug_id)),
        func.sum(case((BugEvent.from_status == S.FIXING, 1), else_=0)),
        func.avg(case((to_review, wait))),
    ).group_by(BugEvent.to_status)
    by_status: dict[str, tuple[int, int, Any]] = {
        status: (bugs, attempts or 0, avg)
        for status, bugs, attempts, avg in session.execute(_outcomes(stmt, scope))
    }
    fixed_bugs, fixed_attempts, avg_wait = by_status.get(S.PENDING_REVIEW, (0, 0, None))
    failed_bugs, failed_attempts, _ = by_status.get(S.FAILED, (0, 0, None))
    attempts = fixed_attempts + failed_attempts
    return StatsTotals(
        found=found,
        auto_fixed=fixed_bugs,
        failed=failed_bugs,
        fix_attempts=attempts,
        fix_success_rate=fixed_attempts / attempts if attempts else None,
        avg_seconds_to_review=round(float(avg_wait), 3) if avg_wait is not None else None,
    )


def _daily(session: Session, scope: _Scope) -> list[DailyStats]:
    """The series for every day of the range, zeros included."""
    series: dict[dt.date, Counter[str]] = {
        scope.first_day + dt.timedelta(days=i): Counter() for i in range(scope.days)
    }

    day = _utc_day(scope.dialect, Bug.created_at)
    created = select(day, func.count()).where(Bug.created_at >= scope.start, Bug.created_at < scope.end)
    if scope.project_ids is not None:
        created = created.where(Bug.project_id.in_(scope.project_ids))
    for value, n in session.execute(created.group_by(day)):
        series[_as_date(value)]["new"] += n

    day = _utc_day(scope.dialect, BugEvent.created_at)
    events = _outcomes(select(day, BugEvent.to_status, func.count(distinct(BugEvent.bug_id))), scope)
    for value, status, n in session.execute(events.group_by(day, BugEvent.to_status)):
        series[_as_date(value)]["fixed" if status == S.PENDING_REVIEW else "failed"] += n

    # Kept per project and day by the ingest counter: a row per day and project, however many bugs.
    occurrences = select(ProjectDailyCount.day, func.sum(ProjectDailyCount.count)).where(
        ProjectDailyCount.day >= scope.first_day,
        ProjectDailyCount.day < scope.first_day + dt.timedelta(days=scope.days),
    )
    if scope.project_ids is not None:
        occurrences = occurrences.where(ProjectDailyCount.project_id.in_(scope.project_ids))
    for value, n in session.execute(occurrences.group_by(ProjectDailyCount.day)):
        series[_as_date(value)]["occurrences"] += int(n or 0)

    return [
        DailyStats(date=d, new=c["new"], fixed=c["fixed"], failed=c["failed"], occurrences=c["occurrences"])
        for d, c in series.items()
    ]


# Date arithmetic is where SQLite and PostgreSQL differ; these helpers hold all of it. SQLite stores
# UTCDateTime as naive UTC text ("2026-02-25 10:55:26.000000"); PostgreSQL as timestamptz, converted to
# UTC explicitly so the session's TimeZone cannot move a bug to another day. Constants are inlined
# (literal_column) so a grouped expression renders identically in SELECT and GROUP BY, as PostgreSQL requires.


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
