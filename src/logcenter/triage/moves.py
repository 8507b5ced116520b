"""Triage's moves on one bug: ignore, unignore, assign, absorb. None changes the status (bugs/workflow.py owns
that); each sets the fields that hide, hand out or merge a bug and writes a history row. Nothing here commits:
triage/service.py finds the bugs, moves an absorbed bug's data and owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from logcenter.bugs.history import HistoryKind, record_note, with_note
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.db import utcnow
from logcenter.errors import Conflict, ValidationFailed

FIX_IN_PROGRESS = (BugStatus.FIXING, BugStatus.PENDING_REVIEW)


def _not_merged_away(bug: Bug) -> None:
    if bug.merged_into_id is not None:
        raise Conflict(f"Bug {bug.id} was merged into bug {bug.merged_into_id}: triage that bug instead")


def ignore(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    until: datetime | None = None,
    occurrences: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> BugEvent:
    """Ignore the bug until `until`, until it recurs `occurrences` more times (whichever comes first), or
    forever when neither is given. Ignoring again replaces the conditions."""
    _not_merged_away(bug)
    now = now or utcnow()
    bug.ignored_at, bug.ignored_by, bug.ignore_until = now, actor, until
    bug.ignore_start_count = bug.occurrence_count if occurrences else None
    bug.ignore_until_count = bug.occurrence_count + occurrences if occurrences else None
    ends = [f"until {until:%Y-%m-%d %H:%M} UTC"] if until else []
    if occurrences:
        ends.append(f"until it recurs {occurrences} more time{'s' if occurrences != 1 else ''}")
    text = "Ignored " + (" or ".join(ends) if ends else "forever")
    return record_note(
        session, bug, kind=HistoryKind.IGNORED, actor=actor, note=with_note(text, note), now=now
    )


def unignore(
    session: Session, bug: Bug, *, actor: str, note: str | None = None, now: datetime | None = None
) -> BugEvent:
    """End ignoring: the bug is listed and may be claimed again. 409 if it is not ignored."""
    if bug.ignored_at is None:
        raise Conflict(f"Bug {bug.id} is not ignored")
    bug.ignored_at = bug.ignored_by = bug.ignore_until = None
    bug.ignore_until_count = bug.ignore_start_count = None
    return record_note(
        session, bug, kind=HistoryKind.UNIGNORED, actor=actor, note=note or "Unignored", now=now
    )


def assign(
    session: Session, bug: Bug, *, actor: str, assignee: str | None, now: datetime | None = None
) -> BugEvent | None:
    """Make `assignee` responsible for the bug (None: nobody); no history row if nothing changes."""
    _not_merged_away(bug)
    previous = bug.assignee
    if assignee == previous:
        return None
    bug.assignee = assignee
    text = f"Assigned to {assignee}" if assignee else f"Unassigned (was {previous})"
    return record_note(session, bug, kind=HistoryKind.ASSIGNED, actor=actor, note=text, now=now)


def absorb(
    session: Session, survivor: Bug, others: list[Bug], *, actor: str, now: datetime | None = None
) -> list[BugEvent]:
    """Mark `others` as duplicates merged into `survivor` (merged_into_id), with a history row on each.

    Refused: a bug of another project (422), a bug merged away already, and an absorbed bug whose fix is in
    progress (409, naming it: its agent or reviewer would lose the bug). The caller moves the occurrences
    and counters (triage/service.py).
    """
    _not_merged_away(survivor)
    problems = [
        {"field": "bug_ids", "message": f"bug {b.id} belongs to another project than bug {survivor.id}"}
        for b in others
        if b.project_id != survivor.project_id
    ]
    if any(b.id == survivor.id for b in others):
        problems.append({"field": "bug_ids", "message": f"bug {survivor.id} cannot absorb itself"})
    if problems:
        raise ValidationFailed(problems)
    for b in others:
        _not_merged_away(b)
        if b.status in FIX_IN_PROGRESS:
            raise Conflict(
                f"Bug {b.id} is {b.status}: a fix is in progress, it cannot be merged into another"
            )
    now = now or utcnow()
    events = []
    for b in others:
        b.merged_into_id = survivor.id
        events.append(
            record_note(
                session,
                b,
                kind=HistoryKind.ABSORBED,
                actor=actor,
                note=f"Merged into bug {survivor.id}",
                now=now,
            )
        )
        events.append(
            record_note(
                session,
                survivor,
                kind=HistoryKind.ABSORBED,
                actor=actor,
                note=f"Absorbed bug {b.id} ({b.occurrence_count} occurrences)",
                now=now,
            )
        )
    return events
