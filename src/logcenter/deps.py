"""Request-edge dependencies: the request owns its transaction (commit on success, rollback on error)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from logcenter.config import Settings
from logcenter.db import session_scope

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; writes take SQLite's write lock up front and commit before the response."""
    with session_scope(
        request.app.state.session_factory, write=request.method not in READ_METHODS
    ) as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


# scope="function": the session closes (and commits) when the endpoint returns, before the response is built,
# so a failed commit becomes an error response instead of a 200 for data that was never stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
