"""`POST /api/v1/logs/report`: the integration guide's ingest endpoint.

A plain Starlette route, served ahead of FastAPI's middleware (main.LogCenterApp): this is the hot path,
and FastAPI's per-request machinery costs about as much as the rest of the request half. The body is parsed
by hand anyway: the size cap must apply while reading, and pydantic's JSON parser is the fastest path from
bytes to a validated report. `docs` documents it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logcenter.auth import projects as token_projects
from logcenter.auth.deps import authorize
from logcenter.auth.models import Scope
from logcenter.config import Settings
from logcenter.db import utcnow
from logcenter.errors import BadRequest, Forbidden
from logcenter.ingest.body import LARGE_BODY_BYTES, encode_headers, json_answer, off_the_loop, read_capped
from logcenter.ingest.events import idempotency_event_id
from logcenter.ingest.schemas import ReportAccepted, ReportDeduplicated, ReportIn, to_report
from logcenter.ingest.scrubbers import scrubber_for
from logcenter.validation import from_pydantic

PATH = "/api/v1/logs/report"

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-Logcenter-Key, Authorization, Idempotency-Key",
    "Access-Control-Expose-Headers": "Idempotent-Replayed",
    "Access-Control-Max-Age": "3600",
}
_CORS_RAW = encode_headers(CORS)
_REPLAYED_RAW = encode_headers({**CORS, "Idempotent-Replayed": "true"})
# Stripe's limit. Printable ASCII, optionally as the IETF draft's quoted string ("8e03978e-40d5-43e8...").
_IDEMPOTENCY_KEY = re.compile(r'"?([\x21\x23-\x7e]{1,255})"?')


async def report(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    body = await read_capped(request, settings.max_body_bytes)
    max_skew = timedelta(seconds=settings.max_clock_skew_seconds)
    # A body too large to validate in a few milliseconds is validated in a worker thread, so that it never
    # holds up the event loop (and every other request).
    small = len(body) <= LARGE_BODY_BYTES
    validate = partial(_validate, body)
    payload = validate() if small else await off_the_loop(request, validate)
    # Scrubbed with the project's rules (the server's and its own), before anything is stored.
    scrubber = await scrubber_for(request, slug=payload.project_id)
    make = partial(to_report, payload, now=utcnow(), max_skew=max_skew, scrubber=scrubber)
    report_ = make() if small else await off_the_loop(request, make)
    if settings.ingest_require_key:
        await _check_ingest_key(request, report_.project_slug)
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        report_.event_id = idempotency_event_id(_idempotency_key(idempotency_key))
    result = await request.app.state.writer.submit(report_)
    # A retry with the key of a report already stored is answered as that report was, and counts nothing.
    if result.created:
        content: dict[str, Any] = {"message": "Log reported", "id": result.bug_id}
    else:
        content = {"message": "Log deduplicated", "id": result.bug_id, "status": result.status}
    return json_answer(content, _REPLAYED_RAW if result.duplicate else _CORS_RAW)


def _idempotency_key(value: str) -> str:
    match = _IDEMPOTENCY_KEY.fullmatch(value.strip())
    if match is None:
        raise BadRequest("Invalid Idempotency-Key header: expected 1 to 255 printable ASCII characters")
    return match.group(1)


def _validate(body: bytes) -> ReportIn:
    try:
        return ReportIn.model_validate_json(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


async def report_preflight(_: Request) -> Response:
    return Response(status_code=204, headers=CORS)


routes: list[Route] = [
    Route(PATH, report, methods=["POST"], name="report"),
    Route(PATH, report_preflight, methods=["OPTIONS"], include_in_schema=False),
]


async def _check_ingest_key(request: Request, project_slug: str) -> None:
    """With ingest keys required: the project's own key (X-Logcenter-Key) or an ingest/admin token.

    The key is checked against the in-process copy of the project's (ingest/keys.py); a token, which is
    rarer here and may be revoked at any time, is looked up in a worker thread, off the event loop.
    """
    key = request.headers.get("x-logcenter-key")
    if key:
        project = await request.app.state.project_keys.by_slug(project_slug)
        if project is None or not project.accepts(key):
            raise Forbidden(f"Ingest key is not valid for project {project_slug!r}")
        return
    await run_in_threadpool(_check_ingest_token, request, project_slug)


def _check_ingest_token(request: Request, project_slug: str) -> None:
    """An ingest (or admin) token; one restricted to projects reports only to those (403 otherwise)."""
    missing = "This server requires an ingest key: send X-Logcenter-Key or a bearer token"
    with request.app.state.session_factory() as session:
        row = authorize(session, request, [Scope.INGEST], missing=missing)
        allowed = token_projects.restriction_of(row.projects)
        token_projects.check_project(session, allowed, project_slug, token=row.name)


# The OpenAPI operation of `report`, generated from the same schemas by a route that only documents it.
docs = APIRouter(tags=["ingest"])


@docs.post(
    PATH,
    summary="Report an error",
    description="The integration guide's contract; answered after the commit.",
    operation_id="report_error",
    response_description="Stored: a new bug, or one more occurrence of an existing bug",
    responses={
        403: {"description": "Ingest keys are required and this one is missing or wrong"},
        413: {"description": "The body is larger than LOGCENTER_MAX_BODY_BYTES"},
        422: {"description": "Invalid report; `errors` names every offending field"},
        503: {"description": "The writer cannot take the report now; retry after Retry-After"},
    },
)
def _documented(
    body: ReportIn,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=257,
            description="A unique key per report (a UUID): a retry with the same key is answered as the first"
            " report was, with Idempotent-Replayed: true, and counts nothing",
        ),
    ] = None,
) -> ReportAccepted | ReportDeduplicated:
    raise NotImplementedError  # never routed: `report` serves this path
