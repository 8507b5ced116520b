"""DSN key authentication for the Sentry endpoints (develop-docs `transport/authentication.mdx`).

The public key arrives in `?sentry_key=` (JS SDKs, to avoid CORS preflights), in `X-Sentry-Auth: Sentry
sentry_key=…, sentry_version=7` (sentry-python), in `Authorization` in the same form, or as the `dsn`
envelope header (JS tunnels). Keys are checked against a short-lived in-process copy of each project's key,
so the hot path does not query the database and a rotated key stops working within `ttl` seconds.
"""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from logcenter.errors import Forbidden
from logcenter.projects import service as projects_service

# A DSN key is 32 hex digits here; anything far longer is not worth comparing.
_MAX_KEY = 128
# sentry-python's X-Sentry-Auth is ~100 characters.
_MAX_CACHED_HEADER = 256


@dataclass(slots=True, frozen=True)
class ProjectKey:
    pk: int
    slug: str
    ingest_key: str


def key_from_request(request: Request) -> str | None:
    """The key from the query string, `X-Sentry-Auth` or `Authorization`, in that order."""
    # Parsing an empty query string costs as much as the rest of this function: SDKs that send the key in a
    # header send none.
    if request.scope.get("query_string"):
        key = request.query_params.get("sentry_key")
        if key:
            return key
    for header in ("x-sentry-auth", "authorization"):
        value = request.headers.get(header)
        if value:
            key = _header_key(value) if len(value) <= _MAX_CACHED_HEADER else _parse_key(value)
            if key:
                return key
    return None


def _parse_key(value: str) -> str | None:
    return parse_auth_header(value).get("sentry_key")


# An SDK sends the same header on every request (only its key and version in it), so most are parsed once;
# long values are not kept, so that made-up headers cannot make the cache big.
_header_key = functools.lru_cache(maxsize=256)(_parse_key)


def parse_auth_header(value: str) -> dict[str, str]:
    """`Sentry sentry_key=abc, sentry_version=7` → {"sentry_key": "abc", "sentry_version": "7"}."""
    if value[:7].lower() == "sentry ":
        value = value[7:]
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, sep, field_value = part.partition("=")
        if sep:
            fields[name.strip()] = field_value.strip()
    return fields


def key_from_dsn(dsn: object, *, project_id: int) -> str | None:
    """The key in an envelope's `dsn` header; Forbidden if that DSN names another project."""
    if not isinstance(dsn, str) or not dsn:
        return None
    try:
        parts = urlsplit(dsn)
    except ValueError:
        raise Forbidden("The envelope's dsn header is not a URL") from None
    if parts.path.rstrip("/").rsplit("/", 1)[-1] != str(project_id):
        raise Forbidden(f"The envelope's dsn is for another project than {project_id}")
    return parts.username or None


def rejected(project_id: str) -> Forbidden:
    """One answer for an unknown project and a wrong key, so that ids cannot be probed."""
    return Forbidden(f"Project {project_id[:20]} not found or sentry_key incorrect: check the DSN")


class ProjectKeys:
    """Project pk → its slug and DSN key, cached for `ttl` seconds.

    Unknown pks are cached too, so made-up project ids in a flood of requests do not reach the database;
    `max_entries` bounds the memory such a flood can take.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        ttl: float = 10.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = session_factory
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[int, tuple[float, ProjectKey | None]] = {}

    async def authenticate(self, project_id: int, key: str) -> ProjectKey:
        """The project if `key` is its DSN key; else Forbidden, with one message for both failures."""
        project = await self._get(project_id)
        if project is None or len(key) > _MAX_KEY or not hmac.compare_digest(key, project.ingest_key):
            raise rejected(str(project_id))
        return project

    async def _get(self, project_id: int) -> ProjectKey | None:
        now = self._clock()
        cached = self._entries.get(project_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        project = await run_in_threadpool(self._load, project_id)
        # Re-inserting keeps the dict in refresh order, so the first entry is always the stalest.
        self._entries.pop(project_id, None)
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[project_id] = (now + self._ttl, project)
        return project

    def _load(self, project_id: int) -> ProjectKey | None:
        with self._factory() as session:
            project = projects_service.get_by_pk(session, project_id)
            return None if project is None else ProjectKey(project.id, project.slug, project.ingest_key)
