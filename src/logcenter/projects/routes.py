"""Projects API (the integration guide's), plus creation ahead of the first report and key rotation."""

from __future__ import annotations

from fastapi import APIRouter, Request

from logcenter.auth.deps import Admin, AgentOrAdmin
from logcenter.deps import SessionDep
from logcenter.projects import forge, scrubbing, service
from logcenter.projects.models import Project
from logcenter.projects.schemas import (
    IngestKeyRotated,
    ProjectCreate,
    ProjectList,
    ProjectRead,
    ProjectUpdate,
)
from logcenter.secretbox import SecretBox, box_for

# Project ids may contain "/" (the guide's `project_id`, e.g. "team/app"), hence the `:path` parameters.
router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


def base_url(request: Request) -> str:
    return request.app.state.settings.public_url or str(request.base_url)


def secret_box(request: Request) -> SecretBox:
    return box_for(request.app.state.settings)


def to_read(project: Project, request: Request) -> ProjectRead:
    return ProjectRead(
        id=project.id,
        project_id=project.slug,
        name=project.name,
        repo_url=project.repo_url,
        repo_url_confirmed=project.repo_url_confirmed,
        local_path=project.local_path,
        description=project.description,
        default_branch=project.default_branch,
        test_command=project.test_command,
        forge=project.forge,
        forge_url=project.forge_url,
        forge_repo=forge.repo_path(project),
        forge_token_set=project.forge_token_encrypted is not None,
        webhook_secret_set=project.webhook_secret_encrypted is not None,
        deployment_secret_set=project.deployment_secret_encrypted is not None,
        merge_style=project.merge_style,
        agent_settings=project.agent_settings or {},
        scrubbing=scrubbing.read(project.scrubbing, request.app.state.settings),
        ingest_key=project.ingest_key,
        dsn=service.dsn(project, base_url=base_url(request)),
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


@router.get("", response_model=ProjectList, summary="List projects")
def list_projects(request: Request, session: SessionDep, who: AgentOrAdmin) -> ProjectList:
    """Every project; a token restricted to projects sees only those."""
    return ProjectList(
        projects=[to_read(p, request) for p in service.list_projects(session, ids=who.projects)]
    )


@router.post(
    "", response_model=ProjectRead, status_code=201, summary="Create a project before its first report"
)
def create_project(body: ProjectCreate, request: Request, session: SessionDep, _: Admin) -> ProjectRead:
    allow_off = scrubbing.off_allowed(request.app.state.settings)
    project = service.create(session, data=body, box=secret_box(request), allow_scrub_off=allow_off)
    return to_read(project, request)


@router.get("/{project_id:path}", response_model=ProjectRead, summary="A project")
def get_project(project_id: str, request: Request, session: SessionDep, _: AgentOrAdmin) -> ProjectRead:
    return to_read(service.get_by_slug(session, project_id), request)


@router.put("/{project_id:path}", response_model=ProjectRead, summary="Edit a project's configuration")
def update_project(
    project_id: str, body: ProjectUpdate, request: Request, session: SessionDep, _: Admin
) -> ProjectRead:
    allow_off = scrubbing.off_allowed(request.app.state.settings)
    project = service.update_project(
        session, slug=project_id, data=body, box=secret_box(request), allow_scrub_off=allow_off
    )
    read = to_read(project, request)
    if "scrubbing" in body.model_fields_set:
        # Committed first, so that the next report cannot read the old rules again: this process uses the
        # new ones from the next report on, other processes within their cache's TTL (ingest/scrubbers.py).
        session.commit()
        request.app.state.scrubbers.forget(project.id, project.slug)
    return read


@router.post(
    "/{project_id:path}/rotate-key", response_model=IngestKeyRotated, summary="Replace the ingest key (DSN)"
)
def rotate_key(project_id: str, request: Request, session: SessionDep, _: Admin) -> IngestKeyRotated:
    project = service.rotate_ingest_key(session, slug=project_id)
    rotated = IngestKeyRotated(
        ingest_key=project.ingest_key, dsn=service.dsn(project, base_url=base_url(request))
    )
    # Committed before the cached key is dropped, so that the next request cannot read the old one again:
    # from then on this process rejects the old key; other processes do within their cache's TTL.
    session.commit()
    request.app.state.project_keys.forget(project.id, project.slug)
    return rotated
