"""Bugs: search, detail, and the manual actions of the workflow."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from logcenter.bugs import search, workflow
from logcenter.bugs.models import Bug, BugEvent, BugStatus, BugTagValue, Occurrence
from logcenter.errors import NotFound
from logcenter.projects.models import Project
from logcenter.repair.models import RepairAttempt

SORTS = {
    "last_seen": Bug.last_seen,
    "first_seen": Bug.first_seen,
    "occurrence_count": Bug.occurrence_count,
    "id": Bug.id,
    "status": Bug.status,
    "status_changed_at": Bug.status_changed_at,
}


@dataclass(slots=True)
class BugFilter:
    project: str | None = None
    statuses: list[BugStatus] = field(default_factory=list)
    source: str | None = None
    environment: str | None = None
    level: str | None = None
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ignored: str = "exclude"  # IGNORED: exclude (default), include or only bugs being ignored
    assignee: str | None = None
    project_ids: frozenset[int] | None = None  # a token restricted to projects sees only theirs
    # The bugs whose text matches, from the index (bugs/search.py: indexed_ids); set by `searched`.
    text_ids: tuple[int, ...] | None = None


IGNORED = ("exclude", "include", "only")


def not_merged_away() -> ColumnElement[bool]:
    """`merged_into_id IS NULL` written so that no index serves it (ids start at 1). For queries that should
    read another index: SQLite's planner (no statistics) takes the equality `merged_into_id IS NULL` on its
    index, which holds nearly every bug, over a selective range or a covering index."""
    return func.coalesce(Bug.merged_into_id, 0) == 0


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _filtered(query: Q, f: BugFilter, *, ordered: bool = False) -> Q:
    """`query` with the filters' conditions; `ordered`: for an ordered page, whose order's index should be
    read rather than merged_into_id's (`not_merged_away`: 37 ms of a 40 ms page on 100,000 bugs)."""
    # A duplicate merged into another bug is part of that bug: never listed on its own.
    query = query.where(not_merged_away() if ordered else Bug.merged_into_id.is_(None))
    if f.ignored == "exclude":
        query = query.where(Bug.ignored_at.is_(None))
    elif f.ignored == "only":
        query = query.where(Bug.ignored_at.is_not(None))
    if f.assignee:
        query = query.where(Bug.assignee == f.assignee)
    if f.project:
        query = query.where(Project.slug == f.project)
    if f.project_ids is not None:
        query = query.where(Bug.project_id.in_(f.project_ids))
    if f.statuses:
        query = query.where(Bug.status.in_(f.statuses))
    if f.source:
        query = query.where(Bug.source == f.source.lower())
    if f.environment:
        # Every environment the bug was seen in, not only its latest report's (as Sentry filters events).
        seen_in = (
            select(BugTagValue.bug_id)
            .where(BugTagValue.bug_id == Bug.id, BugTagValue.key == "environment")
            .where(BugTagValue.value == f.environment)
        )
        query = query.where(or_(Bug.environment == f.environment, seen_in.exists()))
    if f.level:
        query = query.where(Bug.level == f.level.upper())
    if f.text:
        query = query.where(search.matches(f.text, ids=f.text_ids))
    if f.since:
        query = query.where(Bug.last_seen >= f.since)
    if f.until:
        query = query.where(Bug.last_seen <= f.until)
    return query


def searched(session: Session, f: BugFilter) -> BugFilter:
    """`f`, with the bugs that match its text listed from the index where it serves (bugs/search.py)."""
    if not f.text:
        return f
    return replace(f, text_ids=search.indexed_ids(session, f.text))


def get_bug(session: Session, bug_id: int, *, for_update: bool = False) -> Bug:
    """The bug, or 404."""
    query = select(Bug).where(Bug.id == bug_id)
    if for_update:
        query = query.with_for_update()
    bug = session.scalar(query)
    if bug is None:
        raise NotFound(f"Bug {bug_id} not found")
    return bug


def project_slug(session: Session, bug: Bug) -> str:
    return session.scalar(select(Project.slug).where(Project.id == bug.project_id)) or ""


@dataclass(slots=True)
class BugDetails:
    bug: Bug
    project_slug: str
    environments: list[BugTagValue]
    versions: list[BugTagValue]
    history: list[BugEvent]
    occurrences: list[Occurrence]
    repair_reports: list[RepairAttempt]


def get_details(session: Session, bug_id: int, *, occurrences: int = 20) -> BugDetails:
    """A bug with what its page shows: history, recent occurrences, tag counts and repair reports."""
    bug = get_bug(session, bug_id)
    tags = list(
        session.scalars(
            select(BugTagValue).where(BugTagValue.bug_id == bug_id).order_by(BugTagValue.count.desc())
        )
    )
    return BugDetails(
        bug=bug,
        project_slug=project_slug(session, bug),
        environments=[t for t in tags if t.key == "environment"],
        versions=[t for t in tags if t.key == "version"],
        history=list(
            session.scalars(select(BugEvent).where(BugEvent.bug_id == bug_id).order_by(BugEvent.id))
        ),
        occurrences=list(
            session.scalars(
                select(Occurrence)
                .where(Occurrence.bug_id == bug_id)
                .order_by(Occurrence.id.desc())
                .limit(occurrences)
            )
        ),
        repair_reports=list(
            session.scalars(
                select(RepairAttempt).where(RepairAttempt.bug_id == bug_id).order_by(RepairAttempt.id)
            )
        ),
    )


def change_status(
    session: Session,
    bug_id: int,
    *,
    status: BugStatus,
    actor: str,
    note: str | None = None,
    failure_reason: str | None = None,
    merge_commit_sha: str | None = None,
    deployed_version: str | None = None,
    deployed_commit: str | None = None,
    lease: timedelta | None = None,
) -> Bug:
    """Move a bug wherever the workflow allows, recording what the new state needs (merge commit, release)."""
    bug = get_bug(session, bug_id, for_update=True)
    workflow.transition(
        session,
        bug,
        status,
        actor=actor,
        note=note,
        failure_reason=failure_reason,
        merge_commit_sha=merge_commit_sha,
        deployed_version=deployed_version,
        deployed_commit=deployed_commit,
        lease=lease,
    )
    session.flush()
    return bug


def retry(session: Session, bug_id: int, *, actor: str, note: str | None = None) -> Bug:
    """FAILED → NEW: give the repair agent another go."""
    bug = get_bug(session, bug_id, for_update=True)
    workflow.retry(session, bug, actor=actor, note=note or "Retry requested")
    session.flush()
    return bug


def mark_failed(session: Session, bug_id: int, *, actor: str, reason: str) -> Bug:
    """FIXING / PENDING_REVIEW → FAILED with the reason a human gave."""
    bug = get_bug(session, bug_id, for_update=True)
    workflow.fail(session, bug, actor=actor, reason=reason)
    session.flush()
    return bug


def set_pr_info(
    session: Session, bug_id: int, *, pr_number: int, pr_url: str, branch_name: str | None, actor: str
) -> Bug:
    """Link the bug to the pull request of its fix."""
    bug = get_bug(session, bug_id, for_update=True)
    workflow.link_pull_request(
        session, bug, actor=actor, pr_number=pr_number, pr_url=pr_url, branch_name=branch_name
    )
    session.flush()
    return bug
