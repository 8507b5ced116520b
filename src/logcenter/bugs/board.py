"""The bug board's reads: stat cards, sections and capped totals, built to stay fast on large tables.

Offset paging and exact totals cost a scan of every match (bench/web.py); the board's list pages by a cursor
on (sort column, id) as the API's does (bugs/listing.py), counts only up to `COUNT_CAP`, and reads its stat
cards from indexes:
`ix_bugs_status_last_seen_id` for the status filter, its order and the status counts,
`ix_bugs_status_status_changed_at` for what entered a status today, `ix_bugs_created_at` for what was found
today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugStatus
from logcenter.bugs.service import BugFilter, _filtered, not_merged_away, searched
from logcenter.projects.models import Project

S = BugStatus
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
COUNT_CAP = 10_000
CHIP_CAP = 1_000  # the status chips' counts: "1,000+" above
# A text search has no index to count from (LIKE '%...%'): each counted match costs a scan of several rows.
SEARCH_COUNT_CAP = 1_000


@dataclass(frozen=True, slots=True)
class StatCards:
    """Today's board: found / entered a status since midnight (UTC), and the queues as they are now."""

    new_today: int
    fixing: int
    pending_review: int
    merged_today: int
    deployed_today: int
    failed_today: int
    by_status: dict[str, int]


@dataclass(frozen=True, slots=True)
class Page:
    """A page of bugs with their project slugs: the board's sections and list, the API's list."""

    rows: list[tuple[Bug, str]]
    next_cursor: str | None
    total: int
    total_capped: bool


def stat_cards(
    session: Session, *, now: dt.datetime, project_id: int | None = None, ignored: str = "exclude"
) -> StatCards:
    """The board's stat cards and status counts; each count is an index range read, capped.

    Counts per status are capped (CHIP_CAP for the chips, COUNT_CAP for the queues on the cards) rather
    than a GROUP BY over every bug: on PostgreSQL that aggregate alone cost ~30-70 ms at 100,000 bugs.
    The cards and the chips count what the board lists: never a bug merged into another, and ignored bugs
    as the board's `ignored` filter says (left out by default).
    """
    midnight = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time.min, tzinfo=dt.UTC)
    listed = _filtered(select(Bug.id), BugFilter(ignored=ignored))
    if project_id:
        listed = listed.where(Bug.project_id == project_id)

    def capped(query: Any, cap: int) -> int:
        return session.scalar(select(func.count()).select_from(query.limit(cap + 1).subquery())) or 0

    queues = {s: capped(listed.where(Bug.status == s), COUNT_CAP) for s in (S.FIXING, S.PENDING_REVIEW)}
    # CHIP_CAP + 1 means "more than CHIP_CAP" (the page shows "1,000+").
    by_status = {
        s.value: min(queues[s], CHIP_CAP + 1)
        if s in queues
        else capped(listed.where(Bug.status == s), CHIP_CAP)
        for s in S
    }
    entered = {
        s: capped(listed.where(Bug.status == s, Bug.status_changed_at >= midnight), COUNT_CAP)
        for s in (S.MERGED, S.DEPLOYED, S.FAILED)
    }
    # Found today: from the created_at index (or the project's), not through merged_into_id's.
    found = select(Bug.id).where(Bug.created_at >= midnight, not_merged_away(), *_ignored(ignored))
    if project_id:
        found = found.where(Bug.project_id == project_id)
    return StatCards(
        new_today=capped(found, COUNT_CAP),
        fixing=queues[S.FIXING],
        pending_review=queues[S.PENDING_REVIEW],
        merged_today=entered[S.MERGED],
        deployed_today=entered[S.DEPLOYED],
        failed_today=entered[S.FAILED],
        by_status=by_status,
    )


def _ignored(ignored: str) -> list[Any]:
    """The board's `ignored` filter as conditions (as bugs.service._filtered has it)."""
    if ignored == "exclude":
        return [Bug.ignored_at.is_(None)]
    if ignored == "only":
        return [Bug.ignored_at.is_not(None)]
    return []


def count(session: Session, *, filters: BugFilter) -> tuple[int, bool]:
    """How many bugs match, counted up to a cap (COUNT_CAP, or SEARCH_COUNT_CAP with a text search); the flag
    says there are more."""
    cap = SEARCH_COUNT_CAP if filters.text else COUNT_CAP
    # Several statuses: one capped count each, which reads one range of the (status, last_seen, id, ...)
    # index alone (for `status IN (...)` SQLite's planner took the merged_into_id index and each bug's row).
    # Not with a text search, which reads the rows anyway, in table order that way.
    split = len(filters.statuses) > 1 and not filters.text
    n = 0
    for one in [_one_status(filters, s) for s in filters.statuses] if split else [filters]:
        inner = _where(session, select(Bug.id), one)
        n += session.scalar(select(func.count()).select_from(inner.limit(cap + 1 - n).subquery())) or 0
        if n > cap:
            break
    return min(n, cap), n > cap


def section(session: Session, *, filters: BugFilter, status: BugStatus, limit: int = 20) -> Page:
    """A board section (needs review, fixing): the oldest in that status first, so nothing waits forever."""
    scoped = BugFilter(**{**_as_dict(filters), "statuses": [status]})
    query = _where(session, select(Bug, Project.slug).join(Project, Project.id == Bug.project_id), scoped)
    rows = [
        (bug, slug)
        for bug, slug in session.execute(query.order_by(Bug.status_changed_at, Bug.id).limit(limit))
    ]
    total, capped = count(session, filters=scoped)
    return Page(rows=rows, next_cursor=None, total=total, total_capped=capped)


def _where(session: Session, query: Q, filters: BugFilter, *, ordered: bool = False) -> Q:
    """The bugs service's filters, with the project looked up first: a condition on bugs.project_id reads
    the (project_id, last_seen, id) index, where a condition on the joined projects.slug would not.
    `ordered` as for `_filtered`, on SQLite: PostgreSQL's statistics take the order's index anyway, and it
    cannot estimate `not_merged_away` (a text search then sorted every match: 120 ms, not 10)."""
    ordered = ordered and session.get_bind().dialect.name == "sqlite"
    filters = searched(session, filters)
    if not filters.project:
        return _filtered(query, filters, ordered=ordered)
    project_id = session.scalar(select(Project.id).where(Project.slug == filters.project))
    unscoped = BugFilter(**{**_as_dict(filters), "project": None})
    return _filtered(query.where(Bug.project_id == (project_id or -1)), unscoped, ordered=ordered)


def _one_status(filters: BugFilter, status: BugStatus) -> BugFilter:
    return BugFilter(**{**_as_dict(filters), "statuses": [status]})


def _as_dict(filters: BugFilter) -> dict[str, Any]:
    return {name: getattr(filters, name) for name in BugFilter.__slots__}


def daily_counts(session: Session, *, bug_id: int, days: int, now: dt.datetime) -> list[tuple[dt.date, int]]:
    """Occurrences of a bug per UTC day over the last `days` days, zeros included (from the hourly counts)."""
    from logcenter.bugs.models import BugHourlyCount

    first = now.astimezone(dt.UTC).date() - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    series = {first + dt.timedelta(days=i): 0 for i in range(days)}
    rows = session.execute(
        select(BugHourlyCount.hour, BugHourlyCount.count).where(
            BugHourlyCount.bug_id == bug_id, BugHourlyCount.hour >= start
        )
    )
    for hour, n in rows:
        day = hour.astimezone(dt.UTC).date()
        if day in series:
            series[day] += n
    return list(series.items())
