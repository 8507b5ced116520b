"""The bug workflow: the only module that changes a bug's status. Every change writes a history row."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.db import utcnow
from logcenter.errors import Conflict, ValidationFailed

S = BugStatus
TRANSITIONS: dict[BugStatus, frozenset[BugStatus]] = {
    S.NEW: frozenset({S.FIXING}),
    # FIXING → NEW: the agent released the bug or its lease expired.
    S.FIXING: frozenset({S.PENDING_REVIEW, S.FAILED, S.NEW}),
    S.PENDING_REVIEW: frozenset({S.MERGED, S.FAILED}),
    # MERGED/DEPLOYED → NEW: a regression (the fix's code still raises).
    S.MERGED: frozenset({S.DEPLOYED, S.NEW}),
    S.DEPLOYED: frozenset({S.NEW}),
    # FAILED → NEW: a human asks for another attempt.
    S.FAILED: frozenset({S.NEW}),
}

# Values of the old nine-state design, accepted on input (shared/ARCHITECTURE.md).
LEGACY_STATUSES: dict[str, BugStatus] = {
    "VERIFYING": S.NEW,
    "PENDING_FIX": S.NEW,
    "FIX_FAILED": S.FAILED,
    "CANNOT_REPRODUCE": S.FAILED,
    "FIXED": S.PENDING_REVIEW,
    "VERIFIED": S.MERGED,
}


def parse_status(value: str, *, field: str = "status") -> BugStatus:
    """A status from user input: one of the six, or a legacy value mapped onto them (case-insensitive)."""
    key = value.strip().upper()
    if key in BugStatus.__members__:
        return BugStatus(key)
    if key in LEGACY_STATUSES:
        return LEGACY_STATUSES[key]
    allowed = ", ".join(BugStatus)
    raise ValidationFailed(
        [{"field": field, "message": f"unknown status {value[:40]!r}; expected one of {allowed}"}]
    )


def can_transition(current: str, target: BugStatus) -> bool:
    return target in TRANSITIONS.get(BugStatus(current), frozenset())


def transition(
    session: Session,
    bug: Bug,
    target: BugStatus,
    *,
    actor: str,
    note: str | None = None,
    failure_reason: str | None = None,
    kind: str = "status",
    now: datetime | None = None,
) -> BugEvent:
    """Move `bug` to `target` or raise 409 naming both states; records who did it and why."""
    current = BugStatus(bug.status)
    if not can_transition(current, target):
        raise Conflict(f"Bug {bug.id} cannot move from {current} to {target}")
    now = now or utcnow()
    bug.status = target
    bug.status_changed_at = now
    if target == S.FAILED:
        bug.failure_reason = failure_reason or note or "No reason given"
    elif target == S.NEW:
        bug.failure_reason = None
    if current == S.FIXING:
        bug.lease_owner = None
        bug.lease_expires_at = None
    if target == S.MERGED:
        # A new merge is a new fix: the release of an earlier fix that failed (a regression reopened the bug)
        # does not contain this one, so reports from that release must not reopen the bug again.
        bug.deployed_at = bug.deployed_version = bug.deployed_commit = None
    event = BugEvent(
        bug_id=bug.id,
        kind=kind,
        from_status=current,
        to_status=target,
        actor=actor,
        note=bug.failure_reason if target == S.FAILED and not note else note,
        created_at=now,
    )
    session.add(event)
    return event


def created_event(bug_id: int, *, actor: str, now: datetime) -> dict[str, object]:
    """The history row of a bug that ingest just created (its first state, NEW)."""
    return {
        "bug_id": bug_id,
        "kind": "created",
        "from_status": None,
        "to_status": S.NEW.value,
        "actor": actor,
        "note": "First seen",
        "created_at": now,
    }


def record_created(session: Session, bug_ids: Iterable[int], *, actor: str, now: datetime) -> None:
    """History rows for bugs created outside the ingest hot path (which inserts `created_event` rows)."""
    rows = [created_event(i, actor=actor, now=now) for i in bug_ids]
    if rows:
        session.execute(insert(BugEvent), rows)


def record_note(
    session: Session, bug: Bug, *, kind: str, actor: str, note: str, now: datetime | None = None
) -> BugEvent:
    """A history row that does not change the status (PR linked, comment): from_status == to_status."""
    event = BugEvent(
        bug_id=bug.id,
        kind=kind,
        from_status=bug.status,
        to_status=bug.status,
        actor=actor,
        note=note,
        created_at=now or utcnow(),
    )
    session.add(event)
    return event
