"""The bug workflow: the only module that changes a bug's status and the fields that go with it.

Each move is a named function (`claim`, `release`, `expire_lease`, `submit_for_review`, `merge`, `deploy`,
`fail`, `retry`, `reopen`, `reopen_review`, `request_revision`, `claim_revision`) that checks the move is
allowed (409 naming
both states otherwise), fills what the new state needs (lease, pull request, merge commit, release, failure
reason), clears what no longer holds, and writes one history row. Webhooks, the UI, the API and the repair
agent call these, so none of them can move a bug without the fields that explain it. A history row without a
move (a PR comment, a review, a deployment note) is `record_note` of history.py.

Triage's moves, which hide, hand out or merge a bug without touching its status, are in triage/moves.py.

Nothing here commits or does I/O beyond the session: the caller's edge owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict, Unpack

from sqlalchemy.orm import Session

from logcenter.bugs.history import HistoryKind, record_note, with_note
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.db import utcnow
from logcenter.errors import Conflict, ValidationFailed

S = BugStatus


TRANSITIONS: dict[BugStatus, frozenset[BugStatus]] = {
    S.NEW: frozenset({S.FIXING}),
    # FIXING → NEW: the agent released the bug or its lease expired.
    S.FIXING: frozenset({S.PENDING_REVIEW, S.FAILED, S.NEW}),
    # PENDING_REVIEW → FIXING: a reviewer asked the agent to revise its PR.
    S.PENDING_REVIEW: frozenset({S.MERGED, S.FAILED, S.FIXING}),
    # MERGED/DEPLOYED → NEW: a regression (the fix's code still raises).
    S.MERGED: frozenset({S.DEPLOYED, S.NEW}),
    S.DEPLOYED: frozenset({S.NEW}),
    # FAILED → NEW: a human asks for another attempt. FAILED → PENDING_REVIEW: its closed PR was reopened.
    S.FAILED: frozenset({S.NEW, S.PENDING_REVIEW}),
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


class Row(TypedDict, total=False):
    """What every move takes for its history row, besides the actor: a note, a link to what it records (the
    PR, comment or pipeline), its kind (each move has its default) and its time (now by default)."""

    note: str | None
    link: str | None
    kind: HistoryKind
    now: datetime | None


NO_REASON = "No reason given"
DEFAULT_MANUAL_LEASE = timedelta(minutes=30)


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


def _sha(value: str | None) -> str | None:
    return value.strip().lower() if value else None


def _move(
    session: Session, bug: Bug, target: BugStatus, *, actor: str, **row: Unpack[Row]
) -> tuple[BugEvent, datetime]:
    """Check the move, set the status and write its history row; the named functions fill the rest."""
    current = BugStatus(bug.status)
    if not can_transition(current, target):
        raise Conflict(f"Bug {bug.id} cannot move from {current} to {target}")
    now = row.get("now") or utcnow()
    bug.status = target
    bug.status_changed_at = now
    if current == S.FIXING:  # whoever held the bug holds it no longer
        bug.lease_owner = None
        bug.lease_expires_at = None
    if target != S.FAILED:
        bug.failure_reason = None
    if current == S.FIXING:  # a revision being made ends with the move, whichever way
        bug.revision_requested_at = None
    event = BugEvent(
        bug_id=bug.id,
        kind=row.get("kind", HistoryKind.STATUS),
        from_status=current,
        to_status=target,
        actor=actor,
        note=row.get("note"),
        link=row.get("link"),
        created_at=now,
    )
    session.add(event)
    return event, now


def _clear_pull_request(bug: Bug) -> None:
    bug.pr_number = bug.pr_url = bug.branch_name = bug.head_sha = None
    # The revisions counted were of that PR: the next fix starts its own count.
    bug.revision = 0
    bug.revision_requested_at = None


def is_revision(bug: Bug) -> bool:
    """A FIXING bug that is a revision of its PR (asked for by a reviewer), not a first fix."""
    return bug.status == S.FIXING and bug.revision_requested_at is not None


def _back_to_waiting(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    kind: HistoryKind,
    note: str,
    now: datetime | None,
    link: str | None = None,
) -> BugEvent:
    """A revision whose agent let go (released, lease expired): it waits for an agent again, FIXING with no
    lease. Not NEW: the PR and the reviewer's request stay; the next claim takes it again."""
    bug.lease_owner = None
    bug.lease_expires_at = None
    return record_note(session, bug, kind=kind, actor=actor, note=note, link=link, now=now)


def _clear_merge(bug: Bug) -> None:
    bug.merge_commit_sha = bug.merged_at = bug.merged_by = None


def _clear_deployment(bug: Bug) -> None:
    bug.deployed_at = bug.deployed_version = bug.deployed_commit = bug.deployed_environment = None


def claim(session: Session, bug: Bug, *, agent: str, lease: timedelta, **row: Unpack[Row]) -> BugEvent:
    """NEW → FIXING, leased to `agent` for `lease` (a lease that is not renewed returns the bug to NEW)."""
    event, now = _move(session, bug, S.FIXING, actor=agent, **row)
    bug.lease_owner = agent
    bug.lease_expires_at = now + lease
    return event


def renew_lease(bug: Bug, *, until: datetime) -> None:
    """A heartbeat: the agent still works on the bug. No history row (heartbeats come every minute)."""
    if bug.status != S.FIXING:
        raise Conflict(f"Bug {bug.id} is {bug.status}, not FIXING: there is no lease to renew")
    bug.lease_expires_at = until


def release(session: Session, bug: Bug, *, actor: str, **row: Unpack[Row]) -> BugEvent:
    """FIXING → NEW: the agent gives the bug back without a report. A revision stays FIXING and waits for
    the next claim (its PR and the reviewer's request stay)."""
    _expect(bug, S.FIXING, S.NEW)
    if is_revision(bug):
        text = f"Given back; revision {bug.revision} waits for a repair agent again"
        kind, note = row.get("kind", HistoryKind.STATUS), with_note(text, row.get("note"))
        return _back_to_waiting(
            session, bug, actor=actor, kind=kind, note=note, link=row.get("link"), now=row.get("now")
        )
    event, _ = _move(session, bug, S.NEW, actor=actor, **row)
    return event


def expire_lease(
    session: Session, bug: Bug, *, actor: str = "system", now: datetime | None = None
) -> BugEvent:
    """FIXING → NEW because the agent holding the bug stopped renewing its lease; a revision goes back to
    waiting for an agent instead (still FIXING, no lease)."""
    _expect(bug, S.FIXING, S.NEW)
    note = f"Lease of {bug.lease_owner or 'unknown agent'} expired"
    if is_revision(bug):
        note += f"; revision {bug.revision} waits for a repair agent again"
        return _back_to_waiting(session, bug, actor=actor, kind=HistoryKind.LEASE_EXPIRED, note=note, now=now)
    event, _ = _move(session, bug, S.NEW, actor=actor, kind=HistoryKind.LEASE_EXPIRED, note=note, now=now)
    return event


def submit_for_review(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    pr_number: int | None = None,
    pr_url: str | None = None,
    branch_name: str | None = None,
    head_sha: str | None = None,
    **row: Unpack[Row],
) -> BugEvent:
    """FIXING → PENDING_REVIEW with the fix's pull request (fields not given keep a PR linked earlier)."""
    row["link"] = row.get("link") or pr_url
    event, _ = _move(session, bug, S.PENDING_REVIEW, actor=actor, **row)
    _set_pull_request(bug, pr_number=pr_number, pr_url=pr_url, branch_name=branch_name, head_sha=head_sha)
    # A new fix: an earlier fix's merge and release (a regression reopened the bug since) are not this one's.
    _clear_merge(bug)
    _clear_deployment(bug)
    return event


def _set_pull_request(
    bug: Bug, *, pr_number: int | None, pr_url: str | None, branch_name: str | None, head_sha: str | None
) -> None:
    if pr_number is not None:
        bug.pr_number = pr_number
    if pr_url:
        bug.pr_url = pr_url
    if branch_name:
        bug.branch_name = branch_name
    if head_sha:
        bug.head_sha = _sha(head_sha)


def link_pull_request(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    pr_number: int,
    pr_url: str,
    branch_name: str | None = None,
    head_sha: str | None = None,
    now: datetime | None = None,
) -> BugEvent:
    """Link (or update) the pull request of the bug's fix without moving the bug; a history row says so."""
    _set_pull_request(bug, pr_number=pr_number, pr_url=pr_url, branch_name=branch_name, head_sha=head_sha)
    return record_note(
        session,
        bug,
        kind=HistoryKind.PR,
        actor=actor,
        note=f"PR #{pr_number}: {pr_url}",
        link=pr_url,
        now=now,
    )


def merge(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    merge_commit_sha: str | None = None,
    merged_by: str | None = None,
    merged_at: datetime | None = None,
    **row: Unpack[Row],
) -> BugEvent:
    """PENDING_REVIEW → MERGED: the merge commit (what a deployment must contain), who merged it, when."""
    event, now = _move(session, bug, S.MERGED, actor=actor, **row)
    bug.merge_commit_sha = _sha(merge_commit_sha)
    bug.merged_by = merged_by or actor
    bug.merged_at = merged_at or now
    # A new merge is a new fix: the release of an earlier fix that failed (a regression reopened the bug)
    # does not contain this one, so reports from that release must not reopen the bug again.
    _clear_deployment(bug)
    return event


def deploy(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    commit: str | None = None,
    version: str | None = None,
    environment: str | None = None,
    deployed_at: datetime | None = None,
    **row: Unpack[Row],
) -> BugEvent:
    """MERGED → DEPLOYED: the release that carries the fix (what the regression check compares with)."""
    event, now = _move(session, bug, S.DEPLOYED, actor=actor, **row)
    bug.deployed_commit = _sha(commit)
    bug.deployed_version = version
    bug.deployed_environment = environment
    bug.deployed_at = deployed_at or now
    return event


def fail(session: Session, bug: Bug, *, actor: str, reason: str | None, **row: Unpack[Row]) -> BugEvent:
    """FIXING / PENDING_REVIEW → FAILED, with the reason shown on the bug until it is retried."""
    reason = reason or row.get("note") or NO_REASON
    row["note"] = row.get("note") or reason
    event, _ = _move(session, bug, S.FAILED, actor=actor, **row)
    bug.failure_reason = reason
    return event


def retry(session: Session, bug: Bug, *, actor: str, **row: Unpack[Row]) -> BugEvent:
    """FAILED → NEW: another repair attempt, which will open a PR of its own."""
    # The workflow also allows FIXING/MERGED/DEPLOYED → NEW (release, regression), but none is a retry:
    # "retry" on a bug being fixed would pull it from under its agent's lease.
    if bug.status != S.FAILED:
        raise Conflict(f"Bug {bug.id} cannot be retried: it is {bug.status}, only a FAILED bug can be")
    event, _ = _move(session, bug, S.NEW, actor=actor, **row)
    _clear_pull_request(bug)
    return event


def reopen(session: Session, bug: Bug, *, actor: str, **row: Unpack[Row]) -> BugEvent:
    """MERGED / DEPLOYED → NEW: the fix did not hold. The merge and release stay on the bug (which fix
    regressed) until the next fix replaces them; the next attempt opens a new PR."""
    if bug.status not in (S.MERGED, S.DEPLOYED):
        raise Conflict(f"Bug {bug.id} cannot move from {bug.status} to {S.NEW}: only a fixed bug is reopened")
    row.setdefault("kind", HistoryKind.REGRESSION)
    event, _ = _move(session, bug, S.NEW, actor=actor, **row)
    _clear_pull_request(bug)
    return event


def reopen_review(session: Session, bug: Bug, *, actor: str, **row: Unpack[Row]) -> BugEvent:
    """FAILED → PENDING_REVIEW: the PR that was closed without merging was reopened."""
    event, _ = _move(session, bug, S.PENDING_REVIEW, actor=actor, **row)
    return event


def request_revision(
    session: Session, bug: Bug, *, actor: str, limit: int | None = None, **row: Unpack[Row]
) -> BugEvent:
    """PENDING_REVIEW → FIXING: a reviewer sends the fix back. The bug waits, with no lease, for a repair
    agent's claim (`claim_revision`), which revises the same PR. `note` is the reviewer's comment, `link`
    where it was made. 409 past `limit` revisions of this fix (the bug stays PENDING_REVIEW)."""
    if bug.status != S.PENDING_REVIEW:
        raise Conflict(
            f"Bug {bug.id} cannot move from {bug.status} to {S.FIXING}: only a fix awaiting review "
            "can be revised"
        )
    if limit is not None and bug.revision >= limit:
        raise Conflict(
            f"Bug {bug.id} has had {bug.revision} revision{'s' if bug.revision != 1 else ''} of "
            f"its fix, the most allowed ({limit}): review it as it is, reject it, or fix it by hand"
        )
    row.setdefault("kind", HistoryKind.REVISION_REQUESTED)
    event, now = _move(session, bug, S.FIXING, actor=actor, **row)
    bug.revision += 1
    bug.revision_requested_at = now
    return event


def claim_revision(
    session: Session, bug: Bug, *, agent: str, lease: timedelta, now: datetime | None = None
) -> BugEvent:
    """A revision waiting for an agent (FIXING, no lease) is leased to `agent`; no status change."""
    if not is_revision(bug) or bug.lease_owner is not None:
        raise Conflict(f"Bug {bug.id} is not a revision waiting for a repair agent")
    now = now or utcnow()
    bug.lease_owner = agent
    bug.lease_expires_at = now + lease
    return record_note(
        session,
        bug,
        kind=HistoryKind.STATUS,
        actor=agent,
        note=f"Revision {bug.revision} claimed by repair agent",
        now=now,
    )


def _expect(bug: Bug, current: BugStatus, target: BugStatus) -> None:
    if bug.status != current:
        raise Conflict(f"Bug {bug.id} cannot move from {bug.status} to {target}")


def transition(
    session: Session,
    bug: Bug,
    target: BugStatus,
    *,
    actor: str,
    failure_reason: str | None = None,
    merge_commit_sha: str | None = None,
    deployed_version: str | None = None,
    deployed_commit: str | None = None,
    lease: timedelta | None = None,
    **row: Unpack[Row],
) -> BugEvent:
    """Move `bug` to `target` by whichever named move leads there from its state (a move by hand through
    `PUT /bugs/{id}/status`); 409 naming both states when none does, and 409 naming the revision endpoint
    for PENDING_REVIEW → FIXING (`request_revision`, through revisions/service.py)."""
    current = BugStatus(bug.status)
    if not can_transition(current, target):
        raise Conflict(f"Bug {bug.id} cannot move from {current} to {target}")
    row.setdefault("kind", HistoryKind.STATUS)  # a move by hand, whichever move it is
    if target == S.FIXING:
        if current == S.NEW:
            # Taken by hand rather than through a claim: still leased, so an abandoned fix returns to NEW.
            held = lease or DEFAULT_MANUAL_LEASE
            return claim(session, bug, agent=actor, lease=held, **row)
        # PENDING_REVIEW → FIXING is a revision request, which has its own endpoint and rules (a reviewer's
        # comment for the agent, the project's designated reviewers, its revision limit): not a status change.
        raise Conflict(
            f"Bug {bug.id} is {current}: to send its fix back to the repair agent, ask for a revision with "
            f'POST /api/v1/bugs/{bug.id}/revision {{"comment": "..."}}'
        )
    if target == S.PENDING_REVIEW:
        move = reopen_review if current == S.FAILED else submit_for_review
        return move(session, bug, actor=actor, **row)
    if target == S.MERGED:
        return merge(session, bug, merge_commit_sha=merge_commit_sha, actor=actor, **row)
    if target == S.DEPLOYED:
        return deploy(session, bug, commit=deployed_commit, version=deployed_version, actor=actor, **row)
    if target == S.FAILED:
        return fail(session, bug, reason=failure_reason, actor=actor, **row)
    back = {S.FIXING: release, S.FAILED: retry}.get(current, reopen)
    return back(session, bug, actor=actor, **row)
