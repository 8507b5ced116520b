"""Periodic jobs of the review loop: the PR sync (missed webhooks heal themselves) and the pruning of old
webhook delivery ids."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from logcenter.db import session_scope, utcnow
from logcenter.jobs.registry import JobContext, every, handler
from logcenter.reviews import sync
from logcenter.webhooks import service as webhooks_service

log = structlog.get_logger(__name__)

SYNC_PULL_REQUESTS = "reviews.sync_pull_requests"
PRUNE_DELIVERIES = "webhooks.prune_deliveries"
# Forges redeliver for a few days at most (GitHub keeps deliveries 3 days; Gitea and GitLab retry for hours).
KEEP_DELIVERIES = timedelta(days=30)


@handler(SYNC_PULL_REQUESTS)
def sync_pull_requests(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Ask the forges about PRs awaiting review and apply merged / closed / reopened."""
    sync.sync_pending(ctx.sessions, ctx.settings)


@handler(PRUNE_DELIVERIES)
def prune_deliveries(ctx: JobContext, payload: dict[str, Any]) -> None:
    with session_scope(ctx.sessions) as session:
        deleted = webhooks_service.prune_deliveries(session, older_than=utcnow() - KEEP_DELIVERIES)
    if deleted:
        log.info("webhooks.deliveries_pruned", count=deleted)


every(lambda settings: settings.pr_sync_seconds, SYNC_PULL_REQUESTS)
every(86400, PRUNE_DELIVERIES)
