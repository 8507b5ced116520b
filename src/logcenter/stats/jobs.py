"""The daily occurrence counts' upkeep: every minute, the rows the ingest counter added for each project and
day are summed into one, so that the stats page reads about one row per project and day."""

from __future__ import annotations

from typing import Any

import structlog

from logcenter.db import session_scope
from logcenter.jobs.registry import JobContext, every, handler
from logcenter.stats import service

log = structlog.get_logger(__name__)

COMPACT_DAILY = "stats.compact_daily"


@handler(COMPACT_DAILY)
def compact_daily(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Sum each project's and day's rows of the daily counts into one."""
    with session_scope(ctx.sessions) as session:
        merged = service.compact_daily_counts(session)
    if merged:
        log.info("stats.daily_compacted", rows=merged)


every(60, COMPACT_DAILY)
