"""The repair side's background work: bugs of agents that stopped heart-beating go back to NEW."""

from __future__ import annotations

from typing import Any

import structlog

from logcenter.db import session_scope
from logcenter.jobs.registry import JobContext, every, handler
from logcenter.repair import service

log = structlog.get_logger(__name__)

SWEEP_LEASES = "repair.sweep_leases"


@handler(SWEEP_LEASES)
def sweep_leases(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Return expired leases to NEW even when no agent is claiming (a claim sweeps first as well)."""
    with session_scope(ctx.sessions) as session:
        swept = service.sweep_expired(session)
    if swept:
        log.info("repair.leases_expired", count=swept)


every(lambda settings: settings.lease_sweep_seconds, SWEEP_LEASES)
