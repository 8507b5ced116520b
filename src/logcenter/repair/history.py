"""Repair history: every repair attempt with its bug and project, newest first, filtered and keyset-paged."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug
from logcenter.projects.models import Project
from logcenter.repair.models import RepairAttempt


@dataclass(frozen=True, slots=True)
class HistoryRow:
    attempt: RepairAttempt
    bug_id: int
    error_type: str
    project_slug: str


def list_attempts(
    session: Session,
    *,
    project: str | None = None,
    status: str | None = None,
    fixer: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[HistoryRow], int | None]:
    """One page of attempts (newest first) and the id to continue before, if there are more."""
    query = (
        select(RepairAttempt, Bug.error_type, Project.slug)
        .join(Bug, Bug.id == RepairAttempt.bug_id)
        .join(Project, Project.id == Bug.project_id)
    )
    if project:
        query = query.where(Project.slug == project)
    if status:
        query = query.where(RepairAttempt.status == status)
    if fixer:
        query = query.where(RepairAttempt.fixer == fixer)
    if before_id:
        query = query.where(RepairAttempt.id < before_id)
    rows = list(session.execute(query.order_by(RepairAttempt.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    page = [HistoryRow(a, a.bug_id, error_type, slug) for a, error_type, slug in rows[:limit]]
    return page, (page[-1].attempt.id if more and page else None)


def fixers(session: Session) -> list[str]:
    """Every fixer named in a repair report, for the filter."""
    return [
        f for f in session.scalars(select(RepairAttempt.fixer).distinct().order_by(RepairAttempt.fixer)) if f
    ]
