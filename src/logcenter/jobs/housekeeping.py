"""The job table's upkeep: finished jobs are kept `job_keep_days` for operators to look at, then deleted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from logcenter.db import utcnow, write_in_parts
from logcenter.jobs import service
from logcenter.jobs.registry import JobContext, every, handler

log = structlog.get_logger(__name__)

PRUNE = "jobs.prune"


@handler(PRUNE)
def prune_finished(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Delete done and failed jobs older than the retention (in parts: db.write_in_parts)."""
    older_than = utcnow() - timedelta(days=ctx.settings.job_keep_days)
    deleted = write_in_parts(
        ctx.sessions,
        lambda session, limit: service.prune(session, older_than=older_than, limit=limit),
        ceiling=5000,
    )
    if deleted:
        log.info("jobs.pruned", count=deleted)


every(3600, PRUNE)
