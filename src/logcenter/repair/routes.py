"""Repair-agent API: claim, heartbeat, release, repair reports."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from logcenter.auth import projects as token_projects
from logcenter.auth.deps import AgentOrAdmin, Principal
from logcenter.bugs import workflow
from logcenter.bugs.routes import BugId, to_read
from logcenter.bugs.schemas import BugEventRead, RepairReportRead
from logcenter.deps import SessionDep
from logcenter.errors import NotFound
from logcenter.projects import service as projects_service
from logcenter.repair import service
from logcenter.repair.schemas import (
    Claimed,
    ClaimedBug,
    ClaimIn,
    HeartbeatIn,
    LeaseResult,
    ProgressIn,
    ReleaseIn,
    RepairReportIn,
)
from logcenter.revisions import service as revisions

router = APIRouter(prefix="/api/v1", tags=["repair agent"])


def _within(session: Session, who: Principal, bug_ids: list[int]) -> list[int]:
    """The bugs a token restricted to projects may act on (those of other projects are as unknown ones)."""
    foreign = token_projects.outside(session, who.projects, bug_ids)
    return [i for i in bug_ids if i not in foreign]


def _lease(request: Request, seconds: int | None) -> timedelta:
    return timedelta(seconds=seconds or request.app.state.settings.lease_seconds)


@router.post(
    "/agent/claim",
    response_model=Claimed,
    summary="Take bugs to fix: revisions reviewers asked for, then NEW bugs (FIXING, leased)",
)
def claim(body: ClaimIn, request: Request, session: SessionDep, who: AgentOrAdmin) -> Claimed:
    """A claimed revision carries `revision_request`: the PR and branch to revise and the reviewers'
    comments. A token restricted to projects claims only their bugs."""
    if body.project_id:
        project = projects_service.get_by_slug(session, body.project_id)
        if not who.may(project.id):
            raise NotFound(f"Project {body.project_id!r} not found")
    bugs = service.claim(
        session,
        agent=body.agent,
        limit=body.limit,
        lease=_lease(request, body.lease_seconds),
        project=body.project_id,
        within=who.projects,
    )
    slugs = {p.id: p.slug for p in projects_service.list_projects(session)} if bugs else {}
    return Claimed(
        bugs=[
            ClaimedBug(
                **to_read(b, slugs[b.project_id]).model_dump(),
                revision_request=revisions.task_for(session, b) if workflow.is_revision(b) else None,
            )
            for b in bugs
        ]
    )


@router.post("/agent/heartbeat", response_model=LeaseResult, summary="Extend the leases of bugs being fixed")
def heartbeat(body: HeartbeatIn, request: Request, session: SessionDep, who: AgentOrAdmin) -> LeaseResult:
    bug_ids = _within(session, who, body.bug_ids)
    held, lost = service.heartbeat(
        session, agent=body.agent, bug_ids=bug_ids, lease=_lease(request, body.lease_seconds)
    )
    return LeaseResult(held=held, lost=[i for i in body.bug_ids if i not in held])


@router.post("/agent/release", response_model=LeaseResult, summary="Give bugs back (FIXING → NEW)")
def release(body: ReleaseIn, session: SessionDep, who: AgentOrAdmin) -> LeaseResult:
    bug_ids = _within(session, who, body.bug_ids)
    held, lost = service.release(session, agent=body.agent, bug_ids=bug_ids, note=body.note)
    return LeaseResult(held=held, lost=[i for i in body.bug_ids if i not in held])


@router.post(
    "/agent/progress",
    response_model=BugEventRead,
    status_code=201,
    summary="Record a step of a repair run in the bug's history (lease holder only)",
)
def progress(body: ProgressIn, session: SessionDep, who: AgentOrAdmin) -> BugEventRead:
    if not _within(session, who, [body.bug_id]):
        raise NotFound(f"Bug {body.bug_id} not found")
    event = service.progress(session, agent=body.agent, bug_id=body.bug_id, step=body.step, note=body.note)
    return BugEventRead.model_validate(event)


@router.post(
    "/bugs/{bug_id}/repair-reports",
    response_model=RepairReportRead,
    status_code=201,
    summary="Report a repair run; moves the bug to PENDING_REVIEW or FAILED",
)
def create_report(
    bug_id: BugId, body: RepairReportIn, session: SessionDep, who: AgentOrAdmin
) -> RepairReportRead:
    return RepairReportRead.model_validate(
        service.create_report(session, bug_id, report=body, actor=who.name)
    )


@router.get(
    "/bugs/{bug_id}/repair-reports", response_model=list[RepairReportRead], summary="A bug's repair reports"
)
def list_reports(bug_id: BugId, session: SessionDep, _: AgentOrAdmin) -> list[RepairReportRead]:
    return [RepairReportRead.model_validate(r) for r in service.list_reports(session, bug_id)]
