"""Ignoring ends here, not on the ingest hot path: every minute, bugs whose ignore period passed or that
recurred their N times since they were ignored are listed again (with a history row saying why)."""

from __future__ import annotations

from typing import Any

import structlog

from logcenter.db import session_scope
from logcenter.jobs.registry import JobContext, every, handler
from logcenter.triage import service

log = structlog.get_logger(__name__)

UNIGNORE = "triage.unignore"


@handler(UNIGNORE)
def unignore_due(ctx: JobContext, payload: dict[str, Any]) -> None:
    """End ignoring whose condition was met."""
    with session_scope(ctx.sessions) as session:
        ended = service.unignore_due(session)
    if ended:
        log.info("triage.unignored", count=ended)


every(60, UNIGNORE)
