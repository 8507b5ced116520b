"""The bug detail page (`/bugs/{id}`) and its actions: merge, reject, request changes, retry, mark failed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from logcenter.bugs import board
from logcenter.bugs import service as bugs_service
from logcenter.bugs.schemas import MAX_ID
from logcenter.deps import SessionDep
from logcenter.projects import service as projects_service
from logcenter.triage import service as triage_service
from logcenter.web import reviews
from logcenter.web.highlight import parse_diff, stack_trace_html
from logcenter.web.security import CurrentUser, Reviewer
from logcenter.web.templating import render
from logcenter.web.triage_routes import CANDIDATES

router = APIRouter(include_in_schema=False)
BugId = Annotated[int, Path(ge=1, le=MAX_ID)]
CHART_DAYS = 30


@router.get("/bugs/{bug_id}")
def bug_page(
    bug_id: BugId,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    merge_q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """`merge_q` searches the bugs this one may be merged into (the search box's answer without script)."""
    details = bugs_service.get_details(session, bug_id, occurrences=20)
    project = projects_service.get_by_slug(session, details.project_slug)
    pr = reviews.pull_request(
        request.app.state.session_factory,
        request.app.state.settings,
        details,
        default_branch=project.default_branch,
    )
    latest = details.occurrences[0] if details.occurrences else None
    chart = board.daily_counts(session, bug_id=bug_id, days=CHART_DAYS, now=dt.datetime.now(dt.UTC))
    bug = details.bug
    return render(
        request,
        "bug.html",
        d=details,
        bug=bug,
        project=project,
        pr=pr,
        diff_files=parse_diff(pr.diff) if pr and pr.diff else [],
        trace_html=stack_trace_html(
            (latest.stack_trace if latest and latest.stack_trace else bug.stack_trace) or "",
            file_path=bug.file_path,
            line_number=bug.line_number,
        ),
        latest=latest,
        chart={
            "days": [int(dt.datetime.combine(d, dt.time.min, tzinfo=dt.UTC).timestamp()) for d, _ in chart],
            "counts": [n for _, n in chart],
        },
        notice=request.query_params.get("done"),
        merge_q=merge_q,
        candidates=triage_service.merge_candidates(session, bug_id, text=merge_q, limit=CANDIDATES)
        if user.can_review and not bug.merged_into_id
        else [],
    )


@router.get("/bugs/{bug_id}/diff/{file_index}")
def diff_file(
    bug_id: BugId,
    file_index: Annotated[int, Path(ge=0, le=10_000)],
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    """One file of the PR's diff in full (a large file shows its first lines until asked)."""
    details = bugs_service.get_details(session, bug_id, occurrences=0)
    project = projects_service.get_by_slug(session, details.project_slug)
    pr = reviews.pull_request(
        request.app.state.session_factory,
        request.app.state.settings,
        details,
        default_branch=project.default_branch,
    )
    files = parse_diff(pr.diff, full_file=file_index) if pr and pr.diff else []
    if file_index >= len(files):
        return Response(status_code=404)
    return render(request, "diff_file.html", f=files[file_index], index=file_index, bug=details.bug)


def _after(request: Request, bug_id: int, done: str) -> Response:
    url = f"/bugs/{bug_id}?done={done}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.post("/bugs/{bug_id}/merge")
def merge(
    bug_id: BugId, request: Request, user: Reviewer, head_sha: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    reviews.merge(
        request.app.state.session_factory,
        request.app.state.settings,
        bug_id=bug_id,
        actor=user.username,
        expected_head_sha=head_sha or None,
        admin=user.is_admin,
    )
    return _after(request, bug_id, "merged")


@router.post("/bugs/{bug_id}/reject")
def reject(
    bug_id: BugId,
    request: Request,
    user: Reviewer,
    reason: Annotated[str, Form(min_length=1, max_length=10_000)],
) -> Response:
    reviews.reject(
        request.app.state.session_factory,
        request.app.state.settings,
        bug_id=bug_id,
        actor=user.username,
        reason=reason,
    )
    return _after(request, bug_id, "rejected")


@router.post("/bugs/{bug_id}/revision")
def request_revision(
    bug_id: BugId,
    request: Request,
    user: Reviewer,
    comment: Annotated[str, Form(min_length=1, max_length=10_000)],
) -> Response:
    reviews.request_revision(
        request.app.state.session_factory,
        request.app.state.settings,
        bug_id=bug_id,
        actor=user.username,
        comment=comment,
        admin=user.is_admin,
    )
    return _after(request, bug_id, "revision")


@router.post("/bugs/{bug_id}/retry")
def retry(bug_id: BugId, request: Request, user: Reviewer) -> Response:
    reviews.retry(request.app.state.session_factory, bug_id=bug_id, actor=user.username)
    return _after(request, bug_id, "retried")


@router.post("/bugs/{bug_id}/fail")
def mark_failed(
    bug_id: BugId,
    request: Request,
    user: Reviewer,
    reason: Annotated[str, Form(min_length=1, max_length=10_000)],
) -> Response:
    reviews.mark_failed(request.app.state.session_factory, bug_id=bug_id, actor=user.username, reason=reason)
    return _after(request, bug_id, "failed")
