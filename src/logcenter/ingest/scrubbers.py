"""Each project's Scrubber (the server's rules plus the project's own), kept in process for the ingest paths.

The Sentry endpoints know the project by the numeric id of the DSN, the REST endpoint by the slug in the
report; both ask `scrubber_for` before the report is made, so what a project's rules filter is never stored.
A project's rules are read at most once per `ttl` seconds (one indexed query), and a Scrubber is built once
per distinct set of rules, not per report: projects without rules of their own share the server's, and reading
unchanged rules again keeps the Scrubber (and what it has remembered of keys and strings). A project updated
through this process's API or pages is dropped at once (`forget`, after the commit); one updated through
another process (`serve --workers N`, another server on the same database) is seen within `ttl` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from logcenter.errors import Unavailable
from logcenter.ingest.keys import CACHE_SECONDS, ProjectCache
from logcenter.projects import scrubbing
from logcenter.projects.models import Project
from logcenter.scrub import DEFAULT, Scrubber, ScrubRules

log = structlog.get_logger(__name__)
# Distinct Scrubbers kept, the least recently built or refreshed dropped first: each remembers up to 10,000
# keys and 10,000 short strings (at most ~5 MB), so this bounds what projects with rules of their own cost.
MAX_RULE_SETS = 64


class ProjectScrubbers(ProjectCache[Scrubber]):
    """Project pk or slug → its Scrubber, for `ttl` seconds (unknown projects: the server's)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        server: ScrubRules,
        *,
        allow_off: bool = False,
        ttl: float = CACHE_SECONDS,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(session_factory, ttl=ttl, max_entries=max_entries, clock=clock)
        self._server = server
        self._allow_off = allow_off
        self._built: dict[ScrubRules, Scrubber] = {server: server.scrubber()}

    @property
    def server(self) -> Scrubber:
        return self._built[self._server]

    def _load(self, ref: int | str) -> Any:
        column = Project.id if isinstance(ref, int) else Project.slug
        try:
            with self._factory() as session:
                return session.scalar(select(Project.scrubbing).where(column == ref))
        except SQLAlchemyError:
            # Never the server's rules instead: the project's may filter more. The client sends it again.
            log.warning("scrub.project_rules_unreadable", exc_info=True)
            raise Unavailable(
                "The project's scrubbing rules cannot be read now; retry later", headers={"Retry-After": "5"}
            ) from None

    def _made(self, stored: Any) -> Scrubber:
        # A project's rules when they may have changed, so per project every `ttl` seconds at most.
        try:
            rules = scrubbing.rules(stored, server=self._server, allow_off=self._allow_off)
        except ValidationError:  # not written by the API (which validates): the server's rules, and say so
            log.warning("scrub.project_rules_invalid")
            rules = self._server
        if rules == self._server:
            return self.server
        scrubber = self._built.pop(rules, None) or rules.scrubber()
        if len(self._built) > MAX_RULE_SETS:  # the server's, first in the dict, always stays
            del self._built[list(self._built)[1]]
        self._built[rules] = scrubber  # last: the most recently used
        return scrubber


async def scrubber_for(request: Request, *, pk: int | None = None, slug: str | None = None) -> Scrubber:
    """The Scrubber of the project a report is for (by the DSN's numeric id or the report's slug)."""
    scrubbers: ProjectScrubbers | None = getattr(request.app.state, "scrubbers", None)
    if scrubbers is None:  # an app assembled without create_app
        return getattr(request.app.state, "scrubber", DEFAULT)
    if pk is not None:
        return await scrubbers.by_pk(pk)
    assert slug is not None
    return await scrubbers.by_slug(slug)
