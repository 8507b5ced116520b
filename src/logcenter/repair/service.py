"""The repair agent's side of the server: leased claims of NEW bugs and of revisions reviewers asked for, and
repair reports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from logcenter.bugs import history, workflow
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.bugs.service import get_bug
from logcenter.db import utcnow
from logcenter.errors import Conflict, ValidationFailed
from logcenter.projects.models import Project
from logcenter.repair.models import RepairAttempt
from logcenter.repair.schemas import RepairReportIn

SYSTEM = "system"


def _claimable(
    session: Session, condition: Any, *, limit: int, project: str | None, within: frozenset[int] | None
) -> list[Bug]:
    # Never a bug someone chose to ignore, nor a duplicate merged into another (that one is the bug to fix).
    query = select(Bug).where(condition, Bug.ignored_at.is_(None), Bug.merged_into_id.is_(None))
    if project:
        query = query.join(Project, Project.id == Bug.project_id).where(Project.slug == project)
    if within is not None:
        query = query.where(Bug.project_id.in_(within))
    # SKIP LOCKED on PostgreSQL: rows another claimer is taking are passed over, not waited for. SQLite's
    # claim runs in a write transaction (BEGIN IMMEDIATE), which already serialises claimers.
    query = (
        query.order_by(Bug.status_changed_at, Bug.id).limit(limit).with_for_update(skip_locked=True, of=Bug)
    )
    return list(session.scalars(query))


def claim(
    session: Session,
    *,
    agent: str,
    limit: int,
    lease: timedelta,
    project: str | None = None,
    within: frozenset[int] | None = None,
) -> list[Bug]:
    """Lease up to `limit` bugs to `agent`: revisions waiting for an agent first (a reviewer waits for
    them), then NEW bugs (→ FIXING); not ignored, not merged away; of `project` and of the projects `within`
    when given. Concurrent claimers never get the same bug."""
    sweep_expired(session)
    now = utcnow()
    waiting = and_(
        Bug.status == BugStatus.FIXING, Bug.revision_requested_at.is_not(None), Bug.lease_owner.is_(None)
    )
    revisions = _claimable(session, waiting, limit=limit, project=project, within=within)
    for bug in revisions:
        workflow.claim_revision(session, bug, agent=agent, lease=lease, now=now)
    room = limit - len(revisions)
    fresh = (
        _claimable(session, Bug.status == BugStatus.NEW, limit=room, project=project, within=within)
        if room
        else []
    )
    for bug in fresh:
        workflow.claim(session, bug, agent=agent, lease=lease, note="Claimed by repair agent", now=now)
    session.flush()
    return revisions + fresh


def _leased(session: Session, *, agent: str, bug_ids: list[int]) -> list[Bug]:
    return list(
        session.scalars(
            select(Bug)
            .where(Bug.id.in_(bug_ids), Bug.status == BugStatus.FIXING, Bug.lease_owner == agent)
            .order_by(Bug.id)
            .with_for_update()
        )
    )


def heartbeat(
    session: Session, *, agent: str, bug_ids: list[int], lease: timedelta
) -> tuple[list[int], list[int]]:
    """Extend the agent's leases; returns (held, lost) so the agent can stop work on lost bugs."""
    bugs = _leased(session, agent=agent, bug_ids=bug_ids)
    until = utcnow() + lease
    for bug in bugs:
        workflow.renew_lease(bug, until=until)
    held = [b.id for b in bugs]
    return held, [i for i in bug_ids if i not in held]


def release(
    session: Session, *, agent: str, bug_ids: list[int], note: str | None
) -> tuple[list[int], list[int]]:
    """Give bugs back (FIXING → NEW) without a report; returns (released, not held)."""
    bugs = _leased(session, agent=agent, bug_ids=bug_ids)
    for bug in bugs:
        workflow.release(session, bug, actor=agent, note=note or "Released by repair agent")
    released = [b.id for b in bugs]
    return released, [i for i in bug_ids if i not in released]


def progress(session: Session, *, agent: str, bug_id: int, step: str, note: str) -> BugEvent:
    """Record a step of the agent's run in the bug's history; only the lease holder may."""
    bug = get_bug(session, bug_id, for_update=True)
    if bug.status != BugStatus.FIXING or bug.lease_owner != agent:
        raise Conflict(f"Bug {bug_id} is not being fixed by {agent!r}")
    event = history.record_note(
        session, bug, kind=history.HistoryKind.AGENT, actor=agent, note=f"{step}: {note}" if note else step
    )
    session.flush()
    return event


def sweep_expired(session: Session) -> int:
    """Return bugs whose agent stopped heart-beating to NEW (a revision: to waiting for an agent again);
    returns how many."""
    now = utcnow()
    bugs = list(
        session.scalars(
            select(Bug)
            .where(Bug.status == BugStatus.FIXING, Bug.lease_expires_at < now)
            .order_by(Bug.id)
            .with_for_update(skip_locked=True)
        )
    )
    for bug in bugs:
        workflow.expire_lease(session, bug, actor=SYSTEM, now=now)
    session.flush()
    return len(bugs)


def _outcome(report: RepairReportIn) -> BugStatus:
    if report.status is not None:
        status = workflow.parse_status(report.status)
        if status not in (BugStatus.PENDING_REVIEW, BugStatus.FAILED):
            raise ValidationFailed(
                [{"field": "status", "message": "a repair report ends in PENDING_REVIEW or FAILED"}]
            )
        return status
    return (
        BugStatus.FAILED if report.failure_reason or report.test_passed is False else BugStatus.PENDING_REVIEW
    )


def create_report(session: Session, bug_id: int, *, report: RepairReportIn, actor: str) -> RepairAttempt:
    """Record what a repair run did and move the bug to PENDING_REVIEW or FAILED accordingly."""
    bug = get_bug(session, bug_id, for_update=True)
    # Only the run that holds the bug may report on it. The workflow alone would also let a report move
    # PENDING_REVIEW → FAILED, and a late report from an agent whose lease expired would land on the bug
    # that another agent has claimed since.
    if bug.status != BugStatus.FIXING:
        raise Conflict(f"Bug {bug_id} is {bug.status}, not FIXING: only a claimed bug takes a repair report")
    if report.agent and bug.lease_owner and report.agent != bug.lease_owner:
        raise Conflict(f"Bug {bug_id} is leased to {bug.lease_owner!r}, not {report.agent!r}")
    outcome = _outcome(report)
    revision = bug.revision if workflow.is_revision(bug) else None
    if outcome == BugStatus.PENDING_REVIEW and not report.pr_url and not bug.pr_url:
        raise ValidationFailed(
            [{"field": "pr_url", "message": "a fix awaiting review needs its pull request"}]
        )
    agent = report.agent or bug.lease_owner or actor
    previous = session.scalar(
        select(func.count()).select_from(RepairAttempt).where(RepairAttempt.bug_id == bug_id)
    )
    reason = report.failure_reason or ("Tests failed" if report.test_passed is False else None)
    attempt = RepairAttempt(
        bug_id=bug_id,
        attempt=report.attempt or (previous or 0) + 1,
        status=outcome,
        agent=agent,
        revision=revision,
        **report.model_dump(exclude={"status", "agent", "attempt", "failure_reason", "head_sha"}),
        failure_reason=reason if outcome == BugStatus.FAILED else report.failure_reason,
    )
    if revision is not None:
        _revised(session, bug, report, outcome=outcome, agent=agent, reason=reason, revision=revision)
        session.add(attempt)
        session.flush()
        return attempt
    note = (
        f"PR #{report.pr_number}: {report.pr_url}"
        if outcome == BugStatus.PENDING_REVIEW and report.pr_url
        else None
    )
    if outcome == BugStatus.PENDING_REVIEW:
        workflow.submit_for_review(
            session,
            bug,
            actor=agent,
            pr_number=report.pr_number,
            pr_url=report.pr_url,
            branch_name=report.branch_name,
            head_sha=report.head_sha,
            note=note,
            kind=history.HistoryKind.REPAIR,
        )
    else:
        workflow.fail(session, bug, actor=agent, reason=reason, kind=history.HistoryKind.REPAIR)
    session.add(attempt)
    session.flush()
    return attempt


def _revised(
    session: Session,
    bug: Bug,
    report: RepairReportIn,
    *,
    outcome: BugStatus,
    agent: str,
    reason: str | None,
    revision: int,
) -> None:
    """A revision's report: the revised fix awaits review again (its new head); a failed revision leaves the
    PR as it was, still reviewable, and says why in the history (a reviewer may merge it, reject it, or ask
    again)."""
    number = report.pr_number or bug.pr_number
    if outcome == BugStatus.PENDING_REVIEW:
        head = (report.head_sha or "")[:12]
        note = f"Revision {revision}: PR #{number} updated" + (f" at {head}" if head else "")
        workflow.submit_for_review(
            session,
            bug,
            actor=agent,
            pr_number=report.pr_number,
            pr_url=report.pr_url,
            head_sha=report.head_sha,
            note=note,
            kind=history.HistoryKind.REVISED,
        )
        return
    workflow.submit_for_review(
        session,
        bug,
        actor=agent,
        note=f"Revision {revision} failed: {reason or workflow.NO_REASON}. PR #{number} is as it was before",
        link=bug.pr_url,
        kind=history.HistoryKind.REVISED,
    )


def list_reports(session: Session, bug_id: int) -> list[RepairAttempt]:
    """Every repair report of a bug, oldest first."""
    get_bug(session, bug_id)
    return list(
        session.scalars(
            select(RepairAttempt).where(RepairAttempt.bug_id == bug_id).order_by(RepairAttempt.id)
        )
    )
