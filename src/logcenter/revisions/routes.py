"""`POST /api/v1/bugs/{id}/revision`: a reviewer sends a fix back to the repair agent from Log Center."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from logcenter.auth.deps import Principal, require
from logcenter.auth.models import Scope
from logcenter.bugs.routes import BugId, to_read
from logcenter.bugs.schemas import BugRead
from logcenter.bugs.service import project_slug
from logcenter.deps import SessionDep
from logcenter.revisions import service
from logcenter.revisions.schemas import RevisionIn

router = APIRouter(prefix="/api/v1/bugs", tags=["reviews"])

RevisionRequester = Annotated[Principal, Depends(require(Scope.REVIEWER))]

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The project has designated reviewers and the caller is not one (nor an admin)"},
    409: {"description": "The bug is not PENDING_REVIEW, has no PR, or had the most revisions allowed"},
}


@router.post(
    "/{bug_id}/revision",
    response_model=BugRead,
    responses=_ERRORS,
    summary="Ask the repair agent to revise the fix (PENDING_REVIEW → FIXING)",
)
def request_revision(
    bug_id: BugId, body: RevisionIn, request: Request, session: SessionDep, who: RevisionRequester
) -> BugRead:
    """The comment goes to the repair agent with the fix, which pushes a new commit to the same PR and reports
    again (→ PENDING_REVIEW)."""
    bug = service.request_in_log_center(
        session,
        request.app.state.settings,
        bug_id,
        actor=who.name,
        comment=body.comment,
        admin=who.scope == Scope.ADMIN,
    )
    return to_read(bug, project_slug(session, bug))
