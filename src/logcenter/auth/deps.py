"""`Authorization: Bearer <token>` checks for the API; admin tokens may do everything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from logcenter.auth import service
from logcenter.auth.models import Scope
from logcenter.deps import SessionDep
from logcenter.errors import Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name is the actor written into bug history."""

    token_id: int
    name: str
    scope: Scope


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def require(*scopes: Scope) -> Callable[..., Principal]:
    """A dependency that lets through tokens of these scopes (and admin tokens); 401 / 403 otherwise."""
    allowed = {Scope.ADMIN, *scopes}

    def dependency(request: Request, session: SessionDep) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized("Missing bearer token (Authorization: Bearer <token>)")
        row = service.authenticate(session, token)
        if row is None:
            raise Unauthorized("Invalid or revoked token")
        if row.scope not in allowed:
            needed = " or ".join(sorted(allowed))
            raise Forbidden(f"Token {row.name!r} has scope {row.scope!r}; this endpoint needs {needed}")
        return Principal(row.id, row.name, Scope(row.scope))

    return dependency


Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
AgentOrAdmin = Annotated[Principal, Depends(require(Scope.AGENT))]
