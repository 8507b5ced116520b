"""Triage from the bug page and the board: ignore (for a while, until N more occurrences, forever), unignore,
assign, and merge duplicates (into a bug found by id or search from the bug page, or several rows of the board
into the one chosen among them); the board does the same to the rows selected.

The same service functions as the JSON API (`POST /api/v1/bugs/{id}/ignore`, `/absorb` ...), with the
logged-in reviewer's or admin's username as the actor of the history row; the page offers a few fixed
choices, as Sentry's "Ignore" menu does, rather than free-form periods. There is no un-merge: the service
has none (docs/triage.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field

from logcenter.bugs.schemas import MAX_ID
from logcenter.db import session_scope, utcnow
from logcenter.deps import SessionDep
from logcenter.errors import LogCenterError, ValidationFailed
from logcenter.triage import service
from logcenter.web.reviews import BatchResult
from logcenter.web.security import Reviewer
from logcenter.web.templating import render

router = APIRouter(include_in_schema=False)
BugId = Annotated[int, Path(ge=1, le=MAX_ID)]

# The "Ignore" choices of the page: a period (minutes) or a number of further occurrences; "forever": neither.
IgnoreChoice = Literal["1h", "1d", "1w", "10", "100", "forever"]
PERIODS = {"1h": 60, "1d": 24 * 60, "1w": 7 * 24 * 60}
COUNTS = {"10": 10, "100": 100}
Note = Annotated[str, Form(max_length=2000)]
MergeIds = list[Annotated[int, Field(ge=1, le=MAX_ID)]]
CANDIDATES = 8  # bugs offered to merge into, on the bug page


def _after(request: Request, bug_id: int, done: str) -> Response:
    url = f"/bugs/{bug_id}?done={done}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.post("/bugs/{bug_id}/ignore")
def ignore(
    bug_id: BugId,
    request: Request,
    session: SessionDep,
    user: Reviewer,
    choice: Annotated[IgnoreChoice, Form()],
    note: Note = "",
) -> Response:
    minutes = PERIODS.get(choice)
    service.ignore(
        session,
        bug_id,
        actor=user.username,
        until=utcnow() + timedelta(minutes=minutes) if minutes else None,
        occurrences=COUNTS.get(choice),
        note=note.strip() or None,
    )
    return _after(request, bug_id, "ignored")


@router.post("/bugs/{bug_id}/unignore")
def unignore(bug_id: BugId, request: Request, session: SessionDep, user: Reviewer) -> Response:
    service.unignore(session, bug_id, actor=user.username)
    return _after(request, bug_id, "unignored")


@router.post("/bugs/{bug_id}/assign")
def assign(
    bug_id: BugId,
    request: Request,
    session: SessionDep,
    user: Reviewer,
    to: Annotated[Literal["me", "name", "nobody"], Form()],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if to == "me":
        assignee: str | None = user.username
    elif to == "name":
        assignee = name.strip()
        if not assignee:
            raise ValidationFailed([{"field": "name", "message": "give the name of the user to assign"}])
    else:
        assignee = None
    service.assign(session, bug_id, actor=user.username, assignee=assignee)
    return _after(request, bug_id, "assigned")


@router.post("/bugs/triage-batch")
def triage_batch(
    request: Request,
    user: Reviewer,
    action: Annotated[Literal["merge", "ignore", "unignore", "assign_me"], Form()],
    bug_ids: Annotated[MergeIds, Form(min_length=1, max_length=service.MAX_ABSORB + 1)],
    choice: Annotated[IgnoreChoice, Form()] = "forever",
) -> Response:
    """The board's selected rows: merge them (on to the page that chooses the one kept), or ignore, unignore
    or assign each to me, each bug in its own transaction with its own result."""
    ids = list(dict.fromkeys(bug_ids))
    if action == "merge":
        url = "/bugs/merge-duplicates?" + urlencode([("bug_ids", i) for i in ids])
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)
    minutes = PERIODS.get(choice)
    results = []
    for bug_id in ids:
        try:
            with session_scope(request.app.state.session_factory) as session:
                if action == "ignore":
                    until = utcnow() + timedelta(minutes=minutes) if minutes else None
                    bug = service.ignore(
                        session, bug_id, actor=user.username, until=until, occurrences=COUNTS.get(choice)
                    )
                elif action == "unignore":
                    bug = service.unignore(session, bug_id, actor=user.username)
                else:
                    bug = service.assign(session, bug_id, actor=user.username, assignee=user.username)
                results.append(BatchResult(bug_id, True, bug.status, ""))
        except LogCenterError as exc:
            results.append(BatchResult(bug_id, False, None, exc.message))
    return render(request, "triage_results.html", results=results, action=action)


@router.get("/bugs/merge-duplicates")
def merge_duplicates_page(
    request: Request,
    session: SessionDep,
    user: Reviewer,
    bug_ids: Annotated[MergeIds | None, Query(max_length=service.MAX_ABSORB + 1)] = None,
) -> Response:
    """The board's selected bugs, to choose the one they are merged into (most occurrences preselected)."""
    bugs = service.merge_group(session, bug_ids or [])
    return render(request, "merge_duplicates.html", bugs=bugs)


@router.post("/bugs/merge-duplicates")
def merge_duplicates(
    request: Request,
    session: SessionDep,
    user: Reviewer,
    survivor: Annotated[int, Form(ge=1, le=MAX_ID)],
    bug_ids: Annotated[MergeIds, Form(max_length=service.MAX_ABSORB + 1)],
) -> Response:
    """Merge the selected bugs into the chosen one of them."""
    if survivor not in bug_ids:
        raise ValidationFailed([{"field": "survivor", "message": "choose one of the selected bugs"}])
    retention = request.app.state.settings.occurrence_retention
    others = [i for i in dict.fromkeys(bug_ids) if i != survivor]
    service.absorb(session, survivor, others, actor=user.username, retention=retention)
    return _after(request, survivor, "absorbed")


@router.post("/bugs/{bug_id}/merge-into")
def merge_into(
    bug_id: BugId,
    request: Request,
    session: SessionDep,
    user: Reviewer,
    into: Annotated[int, Form(ge=1, le=MAX_ID)],
) -> Response:
    """Merge this bug into another of its project (the survivor's page follows)."""
    retention = request.app.state.settings.occurrence_retention
    service.absorb(session, into, [bug_id], actor=user.username, retention=retention)
    return _after(request, into, "absorbed")


@router.get("/bugs/{bug_id}/merge-candidates")
def merge_candidates(
    bug_id: BugId,
    request: Request,
    session: SessionDep,
    user: Reviewer,
    merge_q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The bug page's search for the bug to merge into (an HTMX fragment of choices)."""
    candidates = service.merge_candidates(session, bug_id, text=merge_q, limit=CANDIDATES)
    return render(request, "merge_candidates.html", candidates=candidates, merge_q=merge_q)
