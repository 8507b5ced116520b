"""Tokens restricted to projects: what such a token may see and change.

A token made with `--project shop` (one or more) acts on those projects only; a token without a restriction
acts on every project, as every token did before (migration 0017). Admin tokens are never restricted. What
lies outside is answered as if it did not exist (404) when it is named by id in the path (a bug, a project),
left out of lists and counts, and refused (403) when a request names it as a target (a report, an upload).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from logcenter.bugs.models import Bug
from logcenter.errors import Forbidden, NotFound, ValidationFailed
from logcenter.projects.models import Project

# Path parameters that name a project by its slug (projects API, merge policies, source map bundles).
PROJECT_PARAMS = ("project_id", "project")
_MAX_ID = 2**31 - 1


def restriction_of(stored: object) -> frozenset[int] | None:
    """The stored `api_tokens.projects` value as a set of project ids; None: every project."""
    if stored is None:
        return None
    if not isinstance(stored, list):
        return frozenset()  # unreadable: allow nothing rather than everything
    return frozenset(i for i in stored if isinstance(i, int))


def resolve(session: Session, slugs: Iterable[str]) -> list[int]:
    """The ids of these projects (for a new token's restriction); 422 naming any that does not exist."""
    wanted = list(dict.fromkeys(s.strip() for s in slugs if s.strip()))
    found = dict(session.execute(select(Project.slug, Project.id).where(Project.slug.in_(wanted))).all())
    missing = [s for s in wanted if s not in found]
    if missing:
        raise ValidationFailed(
            [{"field": "projects", "message": f"no such project: {', '.join(m[:100] for m in missing)}"}]
        )
    return [found[s] for s in wanted]


def slugs_of(session: Session, project_ids: Iterable[int]) -> list[str]:
    ids = list(project_ids)
    rows = session.execute(select(Project.id, Project.slug).where(Project.id.in_(ids))).all()
    by_id = dict(rows)
    return [by_id.get(i, f"#{i} (deleted)") for i in ids]


def may(allowed: frozenset[int] | None, project_id: int | None) -> bool:
    return allowed is None or (project_id is not None and project_id in allowed)


def check_path(session: Session, request: Request, allowed: frozenset[int] | None) -> None:
    """404 when the path names a bug or a project outside the token's projects (the same answer as for one
    that does not exist: a restricted token learns nothing of other projects).

    A bug that does not exist is a 404 here too, before the request's body is read: otherwise a body the
    endpoint refuses (422) for an unknown bug, and the 404 here for another project's, would tell them apart.
    """
    if allowed is None:
        return
    params = request.path_params
    raw = params.get("bug_id")
    if isinstance(raw, str) and raw.isdigit() and 0 < int(raw) <= _MAX_ID:
        project_id = session.scalar(select(Bug.project_id).where(Bug.id == int(raw)))
        if project_id is None or project_id not in allowed:
            raise NotFound(f"Bug {int(raw)} not found")
    for name in PROJECT_PARAMS:
        slug = params.get(name)
        if isinstance(slug, str) and slug:
            project_id = session.scalar(select(Project.id).where(Project.slug == slug))
            if project_id is not None and project_id not in allowed:
                raise NotFound(f"Project {slug[:100]!r} not found")


def check_project(session: Session, allowed: frozenset[int] | None, slug: str, *, token: str) -> None:
    """403 when a request targets a project (by slug) outside the token's projects (or one that does not
    exist yet: a restricted token never creates a project by reporting to it)."""
    if allowed is None:
        return
    project_id = session.scalar(select(Project.id).where(Project.slug == slug))
    if project_id is None or project_id not in allowed:
        raise Forbidden(f"Token {token!r} is restricted to other projects than {slug[:100]!r}")


def outside(session: Session, allowed: frozenset[int] | None, bug_ids: Iterable[int]) -> set[int]:
    """Those of `bug_ids` that exist in a project outside the token's projects."""
    ids = list(bug_ids)
    if allowed is None or not ids:
        return set()
    rows = session.execute(select(Bug.id, Bug.project_id).where(Bug.id.in_(ids))).all()
    return {bug_id for bug_id, project_id in rows if project_id not in allowed}
