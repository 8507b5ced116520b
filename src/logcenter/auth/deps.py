"""`Authorization: Bearer <token>` checks for the API; admin tokens may do everything."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from logcenter.auth import projects as token_projects
from logcenter.auth import service
from logcenter.auth.models import ApiToken, Scope
from logcenter.db import session_scope
from logcenter.deps import READ_METHODS, SessionDep
from logcenter.errors import Forbidden, Unauthorized

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name is the actor written into bug history; `projects` the ids of the
    projects a restricted token may act on (None: every project; auth/projects.py)."""

    token_id: int
    name: str
    scope: Scope
    projects: frozenset[int] | None = None

    @classmethod
    def of(cls, row: ApiToken) -> Principal:
        return cls(row.id, row.name, Scope(row.scope), token_projects.restriction_of(row.projects))

    def may(self, project_id: int | None) -> bool:
        """Whether this token may act on the project."""
        return token_projects.may(self.projects, project_id)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def touch_last_used(request: Request, token_id: int) -> None:
    """Best effort, in its own short write transaction: a read request's transaction stays read-only (on
    SQLite a read that turns into a write fails at once when another writer committed meanwhile)."""
    try:
        with session_scope(request.app.state.session_factory) as session:
            service.touch(session, token_id=token_id)
    except OperationalError:
        log.warning("auth.touch_failed", token_id=token_id)


def authorize(
    session: Session,
    request: Request,
    scopes: Iterable[Scope],
    *,
    missing: str = "Missing bearer token (Authorization: Bearer <token>)",
) -> ApiToken:
    """The request's live bearer token if it has one of `scopes` (admin always does); 401 / 403 otherwise."""
    allowed = {Scope.ADMIN, *scopes}
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(missing)
    row = service.authenticate(session, token)
    if row is None:
        raise Unauthorized("Invalid or revoked token")
    if row.scope not in allowed:
        needed = " or ".join(sorted(allowed))
        raise Forbidden(f"Token {row.name!r} has scope {row.scope!r}; this endpoint needs {needed}")
    return row


def require(*scopes: Scope) -> Callable[..., Principal]:
    """A dependency that lets through tokens of these scopes (and admin tokens); 401 / 403 otherwise, and
    404 when a token restricted to projects names a bug or project of another in the path."""

    def dependency(request: Request, session: SessionDep) -> Principal:
        row = authorize(session, request, scopes)
        principal = Principal.of(row)
        token_projects.check_path(session, request, principal.projects)
        if service.needs_touch(row):
            if request.method in READ_METHODS:
                touch_last_used(request, row.id)
            else:  # already a write transaction: a second writer would wait for our own lock
                service.touch(session, token_id=row.id)
        return principal

    return dependency


def require_outside_transaction(*scopes: Scope) -> Callable[..., Principal]:
    """Like `require`, for endpoints that call a forge: the token is checked in a short transaction of its
    own, so the request holds no transaction (on SQLite: no write lock) while it waits for the forge."""

    def dependency(request: Request) -> Principal:
        with session_scope(request.app.state.session_factory, write=False) as session:
            row = authorize(session, request, scopes)
            principal = Principal.of(row)
            token_projects.check_path(session, request, principal.projects)
            stale = service.needs_touch(row)
        if stale:
            touch_last_used(request, principal.token_id)
        return principal

    return dependency


Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
AgentOrAdmin = Annotated[Principal, Depends(require(Scope.AGENT))]
# Reading bugs: a reviewer reads what it reviews.
BugReader = Annotated[Principal, Depends(require(Scope.AGENT, Scope.REVIEWER))]
# Merge / reject: admin and reviewer tokens; the pull request's page: those and the agent's.
Reviewer = Annotated[Principal, Depends(require_outside_transaction(Scope.REVIEWER))]
ReviewReader = Annotated[Principal, Depends(require_outside_transaction(Scope.REVIEWER, Scope.AGENT))]
