"""Triage API: ignore / unignore, assign, and merge duplicates into a bug ("absorb"; `/merge` is the forge
merge of a fix's pull request). Same token scopes as the bug actions (bugs/routes.py)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from logcenter.auth import projects as token_projects
from logcenter.auth.deps import AgentOrAdmin
from logcenter.bugs import service as bugs_service
from logcenter.bugs.routes import BugId, to_read
from logcenter.bugs.schemas import BugRead
from logcenter.db import utcnow
from logcenter.deps import SessionDep
from logcenter.errors import NotFound
from logcenter.triage import service
from logcenter.triage.schemas import AbsorbIn, AssigneeIn, IgnoreIn, UnignoreIn

router = APIRouter(prefix="/api/v1/bugs", tags=["triage"])


@router.post(
    "/{bug_id}/ignore",
    response_model=BugRead,
    summary="Ignore a bug: for a while, until it recurs N more times, or forever",
)
def ignore(bug_id: BugId, session: SessionDep, who: AgentOrAdmin, body: IgnoreIn | None = None) -> BugRead:
    body = body or IgnoreIn()
    until = utcnow() + timedelta(minutes=body.for_minutes) if body.for_minutes else body.until
    bug = service.ignore(
        session, bug_id, actor=who.name, until=until, occurrences=body.until_occurrences, note=body.note
    )
    return to_read(bug, bugs_service.project_slug(session, bug))


@router.post("/{bug_id}/unignore", response_model=BugRead, summary="Stop ignoring a bug")
def unignore(
    bug_id: BugId, session: SessionDep, who: AgentOrAdmin, body: UnignoreIn | None = None
) -> BugRead:
    bug = service.unignore(session, bug_id, actor=who.name, note=body.note if body else None)
    return to_read(bug, bugs_service.project_slug(session, bug))


@router.put("/{bug_id}/assignee", response_model=BugRead, summary="Assign a bug to a user (null: nobody)")
def assign(bug_id: BugId, body: AssigneeIn, session: SessionDep, who: AgentOrAdmin) -> BugRead:
    bug = service.assign(session, bug_id, actor=who.name, assignee=body.assignee)
    return to_read(bug, bugs_service.project_slug(session, bug))


@router.post(
    "/{bug_id}/absorb",
    response_model=BugRead,
    summary="Merge duplicate bugs into this one; their fingerprints report to it from now on",
)
def absorb(
    bug_id: BugId, body: AbsorbIn, request: Request, session: SessionDep, who: AgentOrAdmin
) -> BugRead:
    retention = request.app.state.settings.occurrence_retention
    if foreign := token_projects.outside(session, who.projects, body.bug_ids):
        raise NotFound(f"Bug {min(foreign)} not found")  # as for a bug that does not exist
    bug = service.absorb(session, bug_id, body.bug_ids, actor=who.name, retention=retention)
    return to_read(bug, bugs_service.project_slug(session, bug))
