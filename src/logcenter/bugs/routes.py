"""Bug API: search, detail, manual workflow actions, PR info."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from logcenter.auth.deps import AgentOrAdmin, BugReader
from logcenter.bugs import listing, service, workflow
from logcenter.bugs.models import Bug
from logcenter.bugs.schemas import (
    MAX_ID,
    BugDetail,
    BugEventRead,
    BugPage,
    BugRead,
    FailIn,
    OccurrenceRead,
    PrInfo,
    RepairReportRead,
    RetryIn,
    StatusChange,
    TagValueRead,
)
from logcenter.deps import SessionDep

router = APIRouter(prefix="/api/v1/bugs", tags=["bugs"])

BugId = Annotated[int, Path(ge=1, le=MAX_ID)]


def to_read(bug: Bug, slug: str) -> BugRead:
    data = {k: getattr(bug, k) for k in BugRead.model_fields if k != "project_id"}
    return BugRead(project_id=slug, **data)


@router.get(
    "",
    response_model=BugPage,
    summary="Search bugs",
    responses={422: {"description": "A filter, the sort, or a cursor that is not one of this list's"}},
)
def list_bugs(
    request: Request,
    response: Response,
    session: SessionDep,
    who: BugReader,
    project_id: str | None = None,
    status: Annotated[
        list[str] | None, Query(description="Repeat or comma-separate; legacy names accepted")
    ] = None,
    source: str | None = None,
    environment: str | None = None,
    level: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in type, message or file")] = None,
    since: Annotated[datetime | None, Query(description="Last seen at or after")] = None,
    until: Annotated[datetime | None, Query(description="Last seen at or before")] = None,
    ignored: Annotated[
        str, Query(description="Bugs being ignored: exclude (default), include, or only them")
    ] = "exclude",
    assignee: Annotated[str | None, Query(max_length=200, description="Assigned to this user")] = None,
    sort: str = "-last_seen",
    cursor: Annotated[
        str | None,
        Query(max_length=500, description="The next_cursor of the previous page (fast at any depth)"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Offset paging (slower deep down)")] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> BugPage:
    """Pages by `cursor`: each page's `next_cursor` (also in a `Link: <...>; rel="next"` header) asks for
    the next one. `page` still pages by offset. `total` is exact up to 10,000 matches (`total_capped`)."""
    statuses = [workflow.parse_status(s) for raw in status or [] for s in raw.split(",") if s.strip()]
    filters = service.BugFilter(
        project=project_id,
        statuses=statuses,
        source=source,
        environment=environment,
        level=level,
        text=q,
        since=since,
        until=until,
        ignored=ignored,
        assignee=assignee,
        project_ids=who.projects,
    )
    found = listing.list_page(
        session, filters=filters, sort=sort, cursor=cursor, page=page, page_size=page_size
    )
    if found.next_cursor:
        # RFC 8288 (5988) as Sentry and GitHub send it: the same query, the page replaced by the cursor.
        following = request.url.remove_query_params(["cursor", "page"])
        response.headers["Link"] = f'<{following.include_query_params(cursor=found.next_cursor)}>; rel="next"'
    return BugPage(
        bugs=[to_read(b, s) for b, s in found.rows],
        total=found.total,
        total_capped=found.total_capped,
        page=page,
        page_size=page_size,
        next_cursor=found.next_cursor,
    )


@router.get(
    "/{bug_id}", response_model=BugDetail, summary="A bug with its history, occurrences and repair reports"
)
def get_bug(
    bug_id: BugId, session: SessionDep, _: BugReader, occurrences: Annotated[int, Query(ge=0, le=100)] = 20
) -> BugDetail:
    d = service.get_details(session, bug_id, occurrences=occurrences)
    return BugDetail(
        **to_read(d.bug, d.project_slug).model_dump(),
        environments=[TagValueRead.model_validate(t) for t in d.environments],
        versions=[TagValueRead.model_validate(t) for t in d.versions],
        history=[BugEventRead.model_validate(e) for e in d.history],
        occurrences=[OccurrenceRead.model_validate(o) for o in d.occurrences],
        repair_reports=[RepairReportRead.model_validate(r) for r in d.repair_reports],
    )


@router.put(
    "/{bug_id}/status",
    response_model=BugRead,
    responses={409: {"description": "The workflow does not allow the move (a revision: use /revision)"}},
    summary="Change status where the workflow allows it",
)
def change_status(
    bug_id: BugId, body: StatusChange, request: Request, session: SessionDep, who: AgentOrAdmin
) -> BugRead:
    """PENDING_REVIEW → FIXING is a revision request: `POST /api/v1/bugs/{bug_id}/revision` (409 here)."""
    bug = service.change_status(
        session,
        bug_id,
        status=workflow.parse_status(body.status),
        actor=who.name,
        note=body.note,
        failure_reason=body.failure_reason,
        merge_commit_sha=body.merge_commit_sha,
        deployed_version=body.deployed_version,
        deployed_commit=body.deployed_commit,
        lease=timedelta(seconds=request.app.state.settings.lease_seconds),
    )
    return to_read(bug, service.project_slug(session, bug))


@router.post("/{bug_id}/retry", response_model=BugRead, summary="FAILED → NEW")
def retry(bug_id: BugId, session: SessionDep, who: AgentOrAdmin, body: RetryIn | None = None) -> BugRead:
    bug = service.retry(session, bug_id, actor=who.name, note=body.note if body else None)
    return to_read(bug, service.project_slug(session, bug))


@router.post("/{bug_id}/fail", response_model=BugRead, summary="Mark failed with a reason")
def fail(bug_id: BugId, body: FailIn, session: SessionDep, who: AgentOrAdmin) -> BugRead:
    bug = service.mark_failed(session, bug_id, actor=who.name, reason=body.reason)
    return to_read(bug, service.project_slug(session, bug))


@router.put("/{bug_id}/pr-info", response_model=BugRead, summary="Link the pull request of the fix")
def pr_info(bug_id: BugId, body: PrInfo, session: SessionDep, who: AgentOrAdmin) -> BugRead:
    bug = service.set_pr_info(
        session,
        bug_id,
        pr_number=body.pr_number,
        pr_url=body.pr_url,
        branch_name=body.branch_name,
        actor=who.name,
    )
    return to_read(bug, service.project_slug(session, bug))
