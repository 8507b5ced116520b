"""Missed webhooks heal themselves: ask the forge about the PRs of bugs awaiting review, apply its answer.

Run every `pr_sync_seconds` by the job worker (reviews/jobs.py). Applying is idempotent (reviews/apply.py): a
PR the webhook already reported changes nothing. A bug FAILED because its PR was closed on the forge (in the
last week) is looked at too, so a reopened PR is noticed; a bug failed by hand or rejected in Log Center is
not put back in review by a PR someone left open.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from logcenter.bugs.history import HistoryKind
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.config import Settings
from logcenter.db import session_scope, utcnow
from logcenter.errors import LogCenterError
from logcenter.forges.base import PRState, PullRequest
from logcenter.projects import forge as project_forge
from logcenter.projects.models import Project
from logcenter.reviews import apply

log = structlog.get_logger(__name__)

REOPEN_WINDOW = timedelta(days=7)


@dataclass
class SyncReport:
    asked: int = 0  # PRs the forge was asked about
    changed: dict[int, str] = field(default_factory=dict)  # bug id → outcome, for bugs that moved
    errors: list[str] = field(default_factory=list)


def _watched(session: Session, now: datetime) -> list[tuple[int, int, int]]:
    """(bug id, project id, PR number) of bugs awaiting review, and of bugs whose PR was closed lately."""
    last_event = (
        select(BugEvent.kind)
        .where(BugEvent.bug_id == Bug.id)
        .order_by(BugEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    closed_lately = and_(
        Bug.status == BugStatus.FAILED,
        Bug.status_changed_at >= now - REOPEN_WINDOW,
        func.coalesce(last_event, "") == HistoryKind.PR_CLOSED,
    )
    rows = session.execute(
        select(Bug.id, Bug.project_id, Bug.pr_number)
        .where(Bug.pr_number.is_not(None), or_(Bug.status == BugStatus.PENDING_REVIEW, closed_lately))
        .order_by(Bug.id)
    )
    return [(bug_id, project_id, number) for bug_id, project_id, number in rows if number is not None]


def _apply(session: Session, bug: Bug, pr: PullRequest, *, actor: str) -> str:
    if pr.merged:
        return apply.merged(
            session,
            bug,
            actor=actor,
            merged_by=pr.merged_by,
            merge_commit=pr.merge_commit_sha,
            merged_at=pr.merged_at,
            number=pr.number,
            link=pr.url,
        )
    if pr.state == PRState.CLOSED:
        reason = f"PR #{pr.number} was closed without merging (found by the PR sync)"
        return apply.closed(session, bug, actor=actor, number=pr.number, reason=reason, link=pr.url)
    if bug.status == BugStatus.FAILED:
        return apply.reopened(session, bug, actor=actor, by="someone", number=pr.number, link=pr.url)
    return apply.head_moved(session, bug, head_sha=pr.head_sha, actor=actor, link=pr.url)


def sync_pending(
    factory: sessionmaker[Session], settings: Settings, *, now: datetime | None = None
) -> SyncReport:
    """Ask each project's forge about its watched PRs (no transaction open meanwhile), then apply each
    answer in a short transaction of its own."""
    now = now or utcnow()
    report = SyncReport()
    with session_scope(factory, write=False) as session:
        watched = _watched(session, now)
        prs: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for bug_id, project_id, number in watched:
            prs[project_id][number].append(bug_id)
        targets: dict[int, project_forge.ForgeTarget] = {}
        for project in session.scalars(select(Project).where(Project.id.in_(list(prs)))):
            try:
                targets[project.id] = project_forge.target_for(project, settings)
            except LogCenterError as exc:  # no forge configured, or its secret cannot be read
                report.errors.append(f"project {project.slug}: {exc.message}")
    for project_id, numbers in prs.items():
        target = targets.get(project_id)
        if target is None:
            continue
        actor = f"PR sync ({target.kind})"
        with closing(project_forge.connect(target)) as forge:
            for number, bug_ids in numbers.items():
                report.asked += 1
                try:
                    pr = forge.get_pull_request(number)
                except LogCenterError as exc:
                    report.errors.append(exc.message)
                    continue
                with session_scope(factory) as session:
                    bugs = session.scalars(
                        select(Bug).where(Bug.id.in_(bug_ids)).order_by(Bug.id).with_for_update()
                    )
                    for bug in bugs:
                        before = bug.status
                        outcome = _apply(session, bug, pr, actor=actor)
                        if bug.status != before:
                            report.changed[bug.id] = outcome
    if report.changed or report.errors:
        log.info("reviews.sync", asked=report.asked, changed=report.changed, errors=report.errors[:5])
    return report
