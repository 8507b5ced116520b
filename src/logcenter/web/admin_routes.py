"""Stats, projects, repair history and API tokens pages."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from logcenter.auth import projects as token_projects
from logcenter.auth import service as auth_service
from logcenter.auth.models import Scope
from logcenter.config import Settings
from logcenter.db import session_scope
from logcenter.deps import SessionDep
from logcenter.errors import Conflict, LogCenterError, NotFound, ValidationFailed
from logcenter.projects import forge as project_forge
from logcenter.projects import scrubbing as project_scrubbing
from logcenter.projects import service as projects_service
from logcenter.projects.models import Project
from logcenter.projects.schemas import ProjectCreate, ProjectUpdate
from logcenter.repair import history
from logcenter.secretbox import box_for
from logcenter.stats import service as stats_service
from logcenter.web import messages
from logcenter.web.security import AdminUser, CurrentUser
from logcenter.web.templating import _, render

router = APIRouter(include_in_schema=False)

# Plain fields of the inline editor, with what the repair agent needs each one for.
PROJECT_FIELDS: list[tuple[str, str, str]] = [
    ("name", _("Name"), ""),
    ("repo_url", _("Repository URL"), _("The agent clones the repository from here")),
    ("local_path", _("Local path"), _("Or a checkout on the agent's machine")),
    ("default_branch", _("Default branch"), _("The branch fixes start from and PRs target")),
    ("test_command", _("Test command"), _("The agent runs it to verify a fix, e.g. pytest -q")),
    ("forge", _("Forge"), _("gitea, github or gitlab: where pull requests are opened")),
    ("forge_url", _("Forge API URL"), _("e.g. https://gitea.example.com/api/v1")),
    ("forge_repo", _("Forge repository"), _("owner/name on the forge")),
    ("merge_style", _("Merge style"), _("merge, squash or rebase")),
]
# Write-only secrets: shown only as set / not set (column that holds the encrypted value).
SECRET_FIELDS: list[tuple[str, str, str]] = [
    ("forge_token", "forge_token_encrypted", _("Forge token")),
    ("webhook_secret", "webhook_secret_encrypted", _("Webhook secret")),
    ("deployment_secret", "deployment_secret_encrypted", _("Deployment secret")),
]


def _editable(names: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Only the fields this server's projects have (forge settings come with the forges feature)."""
    return [f for f in names if f[0] in ProjectUpdate.model_fields]


def missing_for_agent(project: Project) -> list[str]:
    """Fields the repair agent needs and the project lacks."""
    missing = []
    if not project.repo_url and not project.local_path:
        missing.append("repo_url")
    for name in ("default_branch", "test_command"):
        if not getattr(project, name, None):
            missing.append(name)
    return missing


def forge_problem(project: Project, settings: Settings) -> str | None:
    """Why pull requests cannot be opened or merged for this project (None when its forge is reachable by
    configuration: the project's settings or the server-wide ones)."""
    try:
        project_forge.target_for(project, settings)
    except LogCenterError as exc:
        return messages.translate(exc.message)
    return None


def _base_url(request: Request) -> str:
    return (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")


@router.get("/stats")
def stats_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    days: Annotated[int, Query(ge=1, le=365)] = 7,
    project: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    stats = stats_service.get_stats(session, days=days, project_slug=project or None)
    chart = {
        "days": [d.date.isoformat() for d in stats.daily],
        "new": [d.new for d in stats.daily],
        "fixed": [d.fixed for d in stats.daily],
        "failed": [d.failed for d in stats.daily],
    }
    return render(
        request,
        "stats.html",
        stats=stats,
        chart=chart,
        days=days,
        project=project or "",
        projects=[p.slug for p in projects_service.list_projects(session)],
    )


# The scrubbing fields of the editor: names of the form, and the field of ScrubbingSettings each one sets.
SCRUB_FORM = {
    "scrub_sensitive_fields": "sensitive_fields",
    "scrub_safe_fields": "safe_fields",
    "scrub_ip_addresses": "scrub_ip_addresses",
    "scrub_data": "scrub_data",
}


def _scrubbing_from_form(raw: dict[str, str]) -> dict[str, Any]:
    """The editor's scrubbing fields as ScrubbingSettings takes them: names one per line or comma-separated;
    "" (the server's choice), "on" or "off" for the two switches (pydantic reads on/off as booleans)."""
    values: dict[str, Any] = {}
    for name, field in SCRUB_FORM.items():
        text = raw.get(name, "").strip()
        if field.endswith("_fields"):
            values[field] = [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]
        else:
            values[field] = text or None
    return values


def _form_errors(exc: ValidationError | ValidationFailed) -> dict[str, str]:
    """Errors by the editor's field names ("scrubbing.safe_fields[0]" is the scrub_safe_fields box), each a
    sentence in the reader's language naming the field."""
    errors: dict[str, str] = {}
    found = (
        messages.pydantic_errors(exc.errors())
        if isinstance(exc, ValidationError)
        else messages.failure_errors(exc)
    )
    for field, message in found.items():
        if field.startswith("scrubbing."):
            name = "scrub_" + field.removeprefix("scrubbing.").split("[")[0].split(".")[0]
            name = name if name in SCRUB_FORM else "scrub_sensitive_fields"
        else:
            name = field.split(".")[-1]
        errors.setdefault(name, message)
    return errors


def _project_context(request: Request, project: Project) -> dict[str, Any]:
    base = _base_url(request)
    settings = request.app.state.settings
    return {
        "p": project,
        "scrubbing": project_scrubbing.read(project.scrubbing, settings),
        "scrub_off_allowed": project_scrubbing.off_allowed(settings),
        "server_scrubs": settings.scrub_data,
        "server_scrubs_ips": settings.scrub_ip_addresses,
        "dsn": projects_service.dsn(project, base_url=base + "/"),
        "missing": missing_for_agent(project),
        "forge_problem": forge_problem(project, request.app.state.settings),
        "base_url": base,
        "require_key": settings.ingest_require_key,
        "webhooks": {forge: f"{base}/api/webhooks/{forge}" for forge in ("gitea", "github", "gitlab")},
        "deploy_url": f"{base}/api/webhooks/deployment",
        "fields": _editable(PROJECT_FIELDS),
        "secrets": [s for s in SECRET_FIELDS if s[0] in ProjectUpdate.model_fields],
        "choices": {"forge": ["gitea", "github", "gitlab"], "merge_style": ["merge", "squash", "rebase"]},
    }


# The fields of the "New project" form besides the project id: what the repair agent needs first.
NEW_PROJECT_FIELDS = ("name", "repo_url", "default_branch", "test_command")


@router.get("/projects")
def projects_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    created: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    return _projects(request, session, created=created)


def _projects(request: Request, session: Any, status_code: int = 200, **extra: Any) -> Response:
    projects = [_project_context(request, p) for p in projects_service.list_projects(session)]
    extra.setdefault("errors", {})
    extra.setdefault("values", {})
    return render(
        request,
        "projects.html",
        status_code=status_code,
        projects=projects,
        new_fields=[f for f in PROJECT_FIELDS if f[0] in NEW_PROJECT_FIELDS],
        **extra,
    )


@router.post("/projects")
def project_create(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    project_id: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=2000)] = "",
    repo_url: Annotated[str, Form(max_length=2000)] = "",
    default_branch: Annotated[str, Form(max_length=2000)] = "",
    test_command: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The "New project" form: the same service as POST /api/v1/projects; then the project's card with the
    DSN and how to send it errors (a redirect, so that reloading the page does not post again)."""
    sent = {
        "project_id": project_id,
        "name": name,
        "repo_url": repo_url,
        "default_branch": default_branch,
        "test_command": test_command,
    }
    values = {field: value.strip() for field, value in sent.items() if value.strip()}
    settings = request.app.state.settings
    try:
        data = ProjectCreate.model_validate(values)
        project = projects_service.create(
            session, data=data, box=box_for(settings), allow_scrub_off=project_scrubbing.off_allowed(settings)
        )
    except ValidationError as exc:
        errors = _form_errors(exc)
        return _projects(request, session, status_code=422, errors=errors, values=values, open_new=True)
    except Conflict as exc:
        errors = {"project_id": messages.translate(exc.message)}
        return _projects(request, session, status_code=409, errors=errors, values=values, open_new=True)
    return RedirectResponse(f"/projects?created={quote(project.slug)}#project-{project.id}", status_code=303)


@router.get("/projects/{slug:path}/edit")
def project_edit(slug: str, request: Request, session: SessionDep, user: AdminUser) -> Response:
    project = projects_service.get_by_slug(session, slug)
    return render(request, "project_edit.html", errors={}, values={}, **_project_context(request, project))


@router.get("/projects/{slug:path}/card")
def project_card(slug: str, request: Request, session: SessionDep, user: CurrentUser) -> Response:
    project = projects_service.get_by_slug(session, slug)
    return render(request, "project_card.html", **_project_context(request, project))


@router.post("/projects/{slug:path}/rotate-key")
def rotate_key(slug: str, request: Request, session: SessionDep, user: AdminUser) -> Response:
    project = projects_service.rotate_ingest_key(session, slug=slug)
    session.commit()
    request.app.state.project_keys.forget(project.id, project.slug)
    return render(request, "project_card.html", rotated=True, **_project_context(request, project))


@router.post("/projects/{slug:path}")
async def project_save(slug: str, request: Request, user: AdminUser) -> Response:
    """Save the inline editor: every plain field as sent ("" clears it); secrets only when typed in."""
    form = await request.form()
    values: dict[str, Any] = {}
    for name, _label, _hint in _editable(PROJECT_FIELDS):
        raw = form.get(name)
        if isinstance(raw, str):
            values[name] = raw.strip()
    # Only what changed is sent to the service: saving the form must not confirm a repository URL that an
    # error report suggested (setting repo_url confirms it), unless the admin ticked "confirm".
    confirm_repo = form.get("confirm_repo_url") == "1"
    scrub_raw = {name: raw for name in SCRUB_FORM if isinstance(raw := form.get(name), str)}
    for name, _column, _label in SECRET_FIELDS:
        raw = form.get(name)
        if name in ProjectUpdate.model_fields and isinstance(raw, str) and raw.strip():
            values[name] = raw.strip()
        if name in ProjectUpdate.model_fields and form.get(f"clear_{name}") == "1":
            values[name] = ""
    return await run_in_threadpool(_save_project, request, slug, values, confirm_repo, scrub_raw)


def _save_project(
    request: Request, slug: str, values: dict[str, Any], confirm_repo: bool, scrub_raw: dict[str, str]
) -> Response:
    factory = request.app.state.session_factory
    with session_scope(factory, write=False) as session:
        current = projects_service.get_by_slug(session, slug)
        values = {
            name: value
            for name, value in values.items()
            if name in {s[0] for s in SECRET_FIELDS}
            or (getattr(current, name, None) or "") != value
            or (name == "repo_url" and confirm_repo and value)
        }
        if scrub_raw:  # replaced as a whole, and only when it changed
            scrubbing = _scrubbing_from_form(scrub_raw)
            if scrubbing != project_scrubbing.settings_of(current.scrubbing).model_dump():
                values["scrubbing"] = scrubbing
    settings = request.app.state.settings
    try:
        data = ProjectUpdate.model_validate(values)
        project_scrubbing.check(data.scrubbing, allow_off=project_scrubbing.off_allowed(settings))
    except (ValidationError, ValidationFailed) as exc:
        with session_scope(factory, write=False) as session:
            project = projects_service.get_by_slug(session, slug)
            return render(
                request,
                "project_edit.html",
                status_code=422,
                errors=_form_errors(exc),
                values={**values, **scrub_raw},
                **_project_context(request, project),
            )
    with session_scope(factory) as session:
        project = _update(session, slug, data, settings)
        page = render(request, "project_card.html", saved=True, **_project_context(request, project))
        pk = project.id
    if data.scrubbing is not None:  # after the commit: the project's next report is scrubbed with them
        request.app.state.scrubbers.forget(pk, slug)
    return page


def _update(session: Any, slug: str, data: ProjectUpdate, settings: Settings) -> Project:
    """The same service as PUT /api/v1/projects, which encrypts the secrets."""
    return projects_service.update_project(
        session,
        slug=slug,
        data=data,
        box=box_for(settings),
        allow_scrub_off=project_scrubbing.off_allowed(settings),
    )


@router.get("/repairs")
def repairs_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    project: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    fixer: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    rows, next_before = history.list_attempts(
        session, project=project or None, status=status or None, fixer=fixer or None, before_id=before
    )
    return render(
        request,
        "repairs.html",
        rows=rows,
        next_before=next_before,
        project=project or "",
        status=status or "",
        fixer=fixer or "",
        fixers=history.fixers(session),
        projects=[p.slug for p in projects_service.list_projects(session)],
    )


def _tokens_page(request: Request, session: Any, created: tuple[Any, str] | None) -> Response:
    tokens = auth_service.list_tokens(session)
    # Each token's projects by slug ("" for every project).
    limited = {
        t.id: ", ".join(token_projects.slugs_of(session, sorted(allowed)))
        for t in tokens
        if (allowed := token_projects.restriction_of(t.projects)) is not None
    }
    projects = [p.slug for p in projects_service.list_projects(session)]
    return render(request, "tokens.html", tokens=tokens, limited=limited, projects=projects, created=created)


@router.get("/tokens")
def tokens_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _tokens_page(request, session, None)


@router.post("/tokens")
def token_create(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    scope: Annotated[Scope, Form()],
    projects: Annotated[list[str] | None, Form(max_length=1000)] = None,
) -> Response:
    """A new token; restricted to the projects chosen (none chosen: every project)."""
    project_ids = token_projects.resolve(session, projects) if projects else None
    row, plaintext = auth_service.create_token(session, name=name, scope=scope, project_ids=project_ids)
    return _tokens_page(request, session, (row, plaintext))


@router.post("/tokens/{token_id}/revoke")
def token_revoke(token_id: int, request: Request, session: SessionDep, user: AdminUser) -> Response:
    if not auth_service.revoke(session, token_id=token_id):
        raise NotFound(f"No active token #{token_id}")
    return RedirectResponse("/tokens", status_code=303)
