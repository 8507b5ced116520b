"""`GET /api/v1/stats`: the numbers behind the statistics dashboard and the bug list's "today" counters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from logcenter.auth.deps import AgentOrAdmin
from logcenter.deps import SessionDep
from logcenter.stats import service
from logcenter.stats.schemas import StatsRead

router = APIRouter(prefix="/api/v1", tags=["stats"])


@router.get("/stats", response_model=StatsRead, summary="Bug statistics")
def get_stats(
    session: SessionDep,
    principal: AgentOrAdmin,
    days: Annotated[int, Query(ge=1, le=service.MAX_DAYS, description="UTC days, today included")] = 7,
    project_id: Annotated[
        str | None, Query(max_length=100, description="Only this project (its slug)")
    ] = None,
) -> StatsRead:
    # An empty project_id is what an "all projects" choice in a form sends.
    return service.get_stats(session, days=days, project_slug=project_id or None, within=principal.projects)
