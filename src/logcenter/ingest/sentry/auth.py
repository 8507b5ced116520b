"""DSN key authentication for the Sentry endpoints (develop-docs `transport/authentication.mdx`).

The public key arrives in `?sentry_key=` (JS SDKs, to avoid CORS preflights), in `X-Sentry-Auth: Sentry
sentry_key=…, sentry_version=7` (sentry-python), in `Authorization` in the same form, or as the `dsn`
envelope header (JS tunnels). Keys are checked against the in-process copy of each project's key
(ingest/keys.py), so the hot path does not query the database.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from starlette.requests import Request

from logcenter.errors import Forbidden
from logcenter.ingest.keys import ProjectKey, ProjectKeys

# sentry-python's X-Sentry-Auth is ~100 characters.
_MAX_CACHED_HEADER = 256


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


async def authenticate(keys: ProjectKeys, project_id: int, key: str) -> ProjectKey:
    """The project if `key` is its DSN key; else Forbidden, with one message for both failures."""
    project = await keys.by_pk(project_id)
    if project is None or not project.accepts(key):
        raise rejected(str(project_id))
    return project
