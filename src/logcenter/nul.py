"""No NUL character in the text a request carries: PostgreSQL text cannot hold one, and SQLite's full-text
search reads it as the end of its string. Unchecked, a NUL in a query, a path, or a JSON or form field was
a 500 where it reached the database (a bug list search, a reject reason, a project's description). With this,
it is a 422 that names the field, before anything is read or written.

The ingest routes keep their own rules (free text there has NUL replaced, ingest/schemas.py). The webhooks
read their raw body themselves, to check its signature before anything in it counts; what they read has its
own rule (webhooks/events.py: NUL replaced in shown text, a 422 in a branch name), so a forge's merge event is
not refused for a NUL in a comment or a name.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from fastapi import Request

from logcenter.errors import ValidationFailed

MESSAGE = "must not contain a NUL character"
SKIP_BODY = ("/api/webhooks/",)


async def no_nul(request: Request) -> None:
    """App-wide dependency: 422 naming each query, path, JSON or form field that holds a NUL."""
    bad: list[str] = []
    if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
        params = [*request.path_params.items(), *request.query_params.multi_items()]
        bad += [name for name, value in params if "\x00" in name + str(value)] or ["url"]
    if request.method not in ("GET", "HEAD", "OPTIONS") and not request.url.path.startswith(SKIP_BODY):
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            body = await request.body()
            if b"\\u0000" in body:
                with contextlib.suppress(orjson.JSONDecodeError):  # the route answers for that
                    _walk(orjson.loads(body), "", bad)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            form = await request.form()  # parsed once: the route and the CSRF check reuse it
            bad += [name for name, value in form.multi_items() if "\x00" in name + str(value)]
    if bad:
        raise ValidationFailed([{"field": name, "message": MESSAGE} for name in dict.fromkeys(bad)])


def _walk(value: Any, path: str, bad: list[str]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            bad.append(path or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                bad.append(where)
            else:
                _walk(item, where, bad)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", bad)
