"""The bug board (`/`): stat cards, the review and fixing sections, the filtered list, batch review."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from logcenter.bugs import board, workflow
from logcenter.bugs import listing as bug_lists
from logcenter.bugs.models import BugStatus
from logcenter.bugs.service import BugFilter
from logcenter.deps import SessionDep
from logcenter.projects import service as projects_service
from logcenter.web import reviews
from logcenter.web.security import CurrentUser, Reviewer
from logcenter.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
REFRESH_SECONDS = 20  # how often an open board refreshes its counts and rows
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
SORTS = ["-last_seen", "last_seen", "-first_seen", "first_seen", "-occurrence_count", "-id", "id"]


def _filters(
    status: str | None,
    project: str | None,
    environment: str | None,
    level: str | None,
    q: str | None,
    *,
    ignored: str = "exclude",
    assignee: str | None = None,
) -> BugFilter:
    statuses = [workflow.parse_status(s) for s in (status or "").split(",") if s.strip()]
    return BugFilter(
        project=project or None,
        statuses=statuses,
        environment=environment or None,
        level=level or None,
        text=(q or "").strip() or None,
        ignored=ignored,
        assignee=assignee,
    )


@router.get("/")
def board_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    status: Annotated[str | None, Query(max_length=200)] = None,
    project: Annotated[str | None, Query(max_length=100)] = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Annotated[str, Query(max_length=30)] = "-last_seen",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    ignored: Literal["exclude", "include", "only"] = "exclude",
    mine: bool = False,
    partial: bool = False,
) -> Response:
    """`ignored=only` lists the bugs being ignored (hidden by default), `mine=1` those assigned to you."""
    filters = _filters(
        status, project, environment, level, q, ignored=ignored, assignee=user.username if mine else None
    )
    project_id = projects_service.get_by_slug(session, project).id if project else None
    cards = board.stat_cards(session, now=dt.datetime.now(dt.UTC), project_id=project_id, ignored=ignored)
    # With no status chosen the board leads with what needs a person, as the seed's mock-up does.
    sections = []
    rest = filters
    if not filters.statuses:
        sections = [
            ("review", board.section(session, filters=filters, status=BugStatus.PENDING_REVIEW)),
            ("fixing", board.section(session, filters=filters, status=BugStatus.FIXING)),
        ]
        rest = BugFilter(
            project=filters.project,
            statuses=[BugStatus.NEW, BugStatus.FAILED, BugStatus.MERGED, BugStatus.DEPLOYED],
            environment=filters.environment,
            level=filters.level,
            text=filters.text,
            ignored=filters.ignored,
            assignee=filters.assignee,
        )
    listing = bug_lists.list_page(session, filters=rest, sort=sort, cursor=cursor, page_size=PAGE_SIZE)
    context: dict[str, Any] = dict(
        cards=cards,
        sections=sections,
        listing=listing,
        chosen_status=status or "",
        project=project or "",
        environment=environment or "",
        level=level or "",
        q=q or "",
        ignored=ignored,
        mine=mine,
        sort=sort,
        cursor=cursor,
        levels=LEVELS,
        sorts=SORTS,
        projects=[p.slug for p in projects_service.list_projects(session)],
        chip_cap=board.CHIP_CAP,
        refresh_seconds=getattr(request.app.state, "board_refresh_seconds", REFRESH_SECONDS),
    )
    template = "board_body.html" if partial or request.headers.get("hx-request") else "board.html"
    return render(request, template, **context)


@router.post("/bugs/batch")
def batch_review(
    request: Request,
    user: Reviewer,
    action: Annotated[str, Form(pattern="^(merge|reject)$")],
    bug_ids: Annotated[list[int], Form(max_length=100)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve and merge, or reject, several PENDING_REVIEW bugs; each bug's own result is shown."""
    results = reviews.batch(
        request.app.state.session_factory,
        request.app.state.settings,
        bug_ids=bug_ids,
        action=action,
        actor=user.username,
        reason=reason,
        admin=user.is_admin,
    )
    return render(request, "batch_results.html", results=results, action=action)
