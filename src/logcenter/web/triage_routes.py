"""Triage from the bug page: ignore (for a while, until N more occurrences, forever), unignore, assign.

The same service functions as the JSON API (`POST /api/v1/bugs/{id}/ignore` ...), with the logged-in
reviewer's or admin's username as the actor of the history row; the page offers a few fixed choices, as
Sentry's "Ignore" menu does, rather than free-form periods.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from logcenter.bugs.schemas import MAX_ID
from logcenter.db import utcnow
from logcenter.deps import SessionDep
from logcenter.errors import ValidationFailed
from logcenter.triage import service
from logcenter.web.security import Reviewer

router = APIRouter(include_in_schema=False)
BugId = Annotated[int, Path(ge=1, le=MAX_ID)]

# The "Ignore" choices of the page: a period (minutes) or a number of further occurrences; "forever": neither.
IgnoreChoice = Literal["1h", "1d", "1w", "10", "100", "forever"]
PERIODS = {"1h": 60, "1d": 24 * 60, "1w": 7 * 24 * 60}
COUNTS = {"10": 10, "100": 100}
Note = Annotated[str, Form(max_length=2000)]


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
