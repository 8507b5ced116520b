"""`POST /api/v1/logs/report`: the integration guide's ingest endpoint."""

from __future__ import annotations

import hmac
from datetime import timedelta

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import select

from logcenter.auth.deps import authorize
from logcenter.auth.models import Scope
from logcenter.config import Settings
from logcenter.db import utcnow
from logcenter.errors import Forbidden
from logcenter.ingest.body import read_capped
from logcenter.ingest.schemas import ReportAccepted, ReportDeduplicated, ReportIn, to_report
from logcenter.projects.models import Project
from logcenter.validation import from_pydantic

router = APIRouter(tags=["ingest"])

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, X-Logcenter-Key, Authorization",
    "Access-Control-Max-Age": "3600",
}


@router.post(
    "/api/v1/logs/report",
    summary="Report an error",
    response_model=ReportAccepted | ReportDeduplicated,
)
async def report(request: Request) -> Response:
    # Parsed by hand rather than by FastAPI's body handling: the size cap must apply while reading, and
    # pydantic's JSON parser is the fastest path from bytes to a validated report.
    settings: Settings = request.app.state.settings
    body = await read_capped(request, settings.max_body_bytes)
    try:
        payload = ReportIn.model_validate_json(body)
    except ValidationError as exc:
        raise from_pydantic(exc) from None
    if settings.ingest_require_key:
        _check_ingest_key(request, payload.project_id)
    report_ = to_report(payload, now=utcnow(), max_skew=timedelta(seconds=settings.max_clock_skew_seconds))
    result = await request.app.state.writer.submit(report_)
    if result.created:
        content = {"message": "Log reported", "id": result.bug_id}
    else:
        content = {"message": "Log deduplicated", "id": result.bug_id, "status": result.status}
    return Response(orjson.dumps(content), media_type="application/json", headers=CORS)


@router.options("/api/v1/logs/report", include_in_schema=False)
async def report_preflight() -> Response:
    return Response(status_code=204, headers=CORS)


def _check_ingest_key(request: Request, project_slug: str) -> None:
    """With ingest keys required: the project's own key (X-Logcenter-Key) or an ingest/admin token."""
    with request.app.state.session_factory() as session:
        key = request.headers.get("x-logcenter-key")
        if key:
            expected = session.scalar(select(Project.ingest_key).where(Project.slug == project_slug))
            if expected is None or not hmac.compare_digest(key, expected):
                raise Forbidden(f"Ingest key is not valid for project {project_slug!r}")
            return
        missing = "This server requires an ingest key: send X-Logcenter-Key or a bearer token"
        authorize(session, request, [Scope.INGEST], missing=missing)
