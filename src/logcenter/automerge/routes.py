"""`/api/v1/merge-policies/{project_id}`: a project's review policy (designated reviewers, auto-merge);
admin only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from logcenter.auth.deps import Admin
from logcenter.automerge.models import MergePolicy, Mode
from logcenter.automerge.policy import FORBIDDEN
from logcenter.automerge.schemas import PolicyRead, PolicyUpdate
from logcenter.config import Settings
from logcenter.db import utcnow
from logcenter.deps import SessionDep
from logcenter.projects import service as projects_service
from logcenter.revisions import service as revisions_service

router = APIRouter(prefix="/api/v1/merge-policies", tags=["auto-merge"])

DEFAULTS = {"mode": Mode.OFF.value, "max_lines": 20, "max_files": 3, "allowed_paths": [], "grace_minutes": 60,
            "require_checks": True, "reviewers": []}  # fmt: skip


def _read(session: Session, slug: str, settings: Settings) -> PolicyRead:
    project = projects_service.get_by_slug(session, slug)
    row = session.get(MergePolicy, project.id)
    values = {k: getattr(row, k) for k in DEFAULTS} if row else dict(DEFAULTS)
    revisions = revisions_service.policy_for(session, project.id, settings)
    return PolicyRead(
        project_id=project.slug,
        protected={k: list(v) for k, v in FORBIDDEN.items()},
        updated_at=row.updated_at if row else None,
        revision_trigger=revisions.trigger,
        max_revisions=revisions.limit,
        **values,
    )


@router.get("/{project_id:path}", response_model=PolicyRead, summary="A project's auto-merge policy")
def get_policy(project_id: str, request: Request, session: SessionDep, _: Admin) -> PolicyRead:
    return _read(session, project_id, request.app.state.settings)


@router.put("/{project_id:path}", response_model=PolicyRead, summary="Set a project's auto-merge policy")
def put_policy(
    project_id: str, body: PolicyUpdate, request: Request, session: SessionDep, _: Admin
) -> PolicyRead:
    project = projects_service.get_by_slug(session, project_id)
    row = session.get(MergePolicy, project.id)
    if row is None:
        row = MergePolicy(project_id=project.id, **DEFAULTS)
        session.add(row)
    for key, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(row, key, value.value if isinstance(value, Mode) else value)
    if body.revision_trigger == "":
        row.revision_trigger = None  # back to the server's
    row.updated_at = utcnow()
    session.flush()
    return _read(session, project_id, request.app.state.settings)
