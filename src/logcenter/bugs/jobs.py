"""The search index's upkeep (bugs/search.py): bugs whose latest message changed are re-indexed every
REFRESH_SECONDS, off the ingest hot path."""

from __future__ import annotations

from typing import Any

import structlog

from logcenter.bugs import search
from logcenter.db import write_in_parts
from logcenter.jobs.registry import JobContext, every, handler

log = structlog.get_logger(__name__)

SEARCH_REFRESH = "bugs.search_refresh"
REFRESH_SECONDS = 10


@handler(SEARCH_REFRESH)
def refresh_search(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Re-index the messages the ingest counter changed, in short transactions (db.write_in_parts)."""
    total = write_in_parts(
        ctx.sessions,
        lambda session, limit: search.refresh_stale(session, limit=limit),
        ceiling=search.REFRESH_BATCH,
    )
    if total:
        log.info("bugs.search_refreshed", notes=total)


every(REFRESH_SECONDS, SEARCH_REFRESH)
