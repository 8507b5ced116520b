"""Projects' ingest keys, cached in process, so that checking a key on the ingest paths costs no query.

The Sentry endpoints look a project up by the numeric id in the DSN, the REST endpoint (with
`LOGCENTER_INGEST_REQUIRE_KEY=true`) by its slug; both keep what they found, and what they did not find, for
`ttl` seconds. A key rotated through this process's API stops working at once (`forget`); one rotated
through another process (`logcenter serve --workers N`, a second server on the same database) within `ttl`.
`ProjectCache` is that cache, shared with each project's Scrubber (ingest/scrubbers.py).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from logcenter.projects.models import Project

# A key is 32 hex digits here; anything far longer is not worth comparing.
MAX_KEY = 128
CACHE_SECONDS = 10.0
T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class ProjectKey:
    pk: int
    slug: str
    ingest_key: str

    def accepts(self, key: str) -> bool:
        # compare_digest raises TypeError for a str that is not ASCII; keys are hex, so such a key is wrong.
        return len(key) <= MAX_KEY and key.isascii() and hmac.compare_digest(key, self.ingest_key)


class ProjectCache(Generic[T]):
    """Project pk or slug → `_made` of what `_load` read of it (in a worker thread), for `ttl` seconds.

    Unknown projects are cached too, so made-up ids in a flood of requests do not reach the database;
    `max_entries` bounds the memory such a flood can take. Pks (int) and slugs (str) share one dict: an int
    never equals a str, so they cannot collide.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        ttl: float = CACHE_SECONDS,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = session_factory
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[int | str, tuple[float, T]] = {}
        # Bumped by `forget`: a lookup that began before it may have read the old value, and is not kept.
        self._generation = 0

    async def by_pk(self, pk: int) -> T:
        return await self._get(pk)

    async def by_slug(self, slug: str) -> T:
        return await self._get(slug)

    def forget(self, pk: int, slug: str) -> None:
        """Drop a project after it changed (call after the commit): the next request reads it again."""
        self._generation += 1
        self._entries.pop(pk, None)
        self._entries.pop(slug, None)

    async def _get(self, ref: int | str) -> T:
        now = self._clock()
        cached = self._entries.get(ref)
        if cached is not None and cached[0] > now:
            return cached[1]
        generation = self._generation
        value = self._made(await run_in_threadpool(self._load, ref))
        if generation == self._generation:
            # Re-inserting keeps the dict in refresh order, so the first entry is always the stalest.
            self._entries.pop(ref, None)
            if len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[ref] = (now + self._ttl, value)
        return value

    def _load(self, ref: int | str) -> Any:
        raise NotImplementedError

    def _made(self, loaded: Any) -> T:
        return cast(T, loaded)


class ProjectKeys(ProjectCache[ProjectKey | None]):
    def _load(self, ref: int | str) -> ProjectKey | None:
        column = Project.id if isinstance(ref, int) else Project.slug
        with self._factory() as session:
            row = session.execute(
                select(Project.id, Project.slug, Project.ingest_key).where(column == ref)
            ).one_or_none()
        return None if row is None else ProjectKey(*row)
