"""A bug's history (`bug_events`): what a row records (`HistoryKind`), and the rows written without a
move: a note (a PR comment, a review, a triage move, a step of the repair agent) and a new bug's first row.
Each move of workflow.py writes its own row.

Nothing here commits: the caller's edge owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.db import utcnow


class HistoryKind(StrEnum):
    """What a history row records (`bug_events.kind`)."""

    CREATED = "created"  # ingest saw the fingerprint for the first time
    STATUS = "status"  # a move by a person or an agent through the API (claim, release, retry, by hand)
    REPAIR = "repair"  # the repair agent's report moved the bug (PENDING_REVIEW or FAILED)
    LEASE_EXPIRED = "lease_expired"  # the agent stopped heart-beating
    REGRESSION = "regression"  # seen again in code that contains the fix
    PR = "pr"  # the fix's pull request was linked
    MERGED = "merged"  # the forge merged the PR (webhook, sync, or a reviewer in Log Center)
    DEPLOYED = "deployed"  # CI/CD deployed a commit that contains the merge
    PR_CLOSED = "pr_closed"  # the PR was closed without merging
    PR_REOPENED = "pr_reopened"  # a closed PR was reopened
    REVISION_REQUESTED = "revision_requested"  # a reviewer sent the fix back to the agent
    REVISION_REFUSED = "revision_refused"  # a comment asked for a revision and was not one (who, limit)
    REVISED = "revised"  # the agent's report on a revision (the revised fix, or why the revision failed)
    COMMENT = "comment"  # a comment on the PR
    REVIEW = "review"  # a review of the PR (approve / request changes)
    REPAIR_REPORT = "repair_report"  # a repair report that did not move the bug
    DEPLOYMENT = "deployment"  # a deployment note that did not move the bug
    NOTE = "note"  # anything else a person wrote on the bug
    AUTOMERGE = "automerge"  # what the auto-merge policy decided for a PR head (automerge/)
    REVIEW_REQUESTED = "review_requested"  # the project's designated reviewers were requested on the PR
    AGENT = "agent"  # a step of the repair agent's run (fixing, verifying, pushed)
    PR_PUSHED = "pr_pushed"  # new commits on the PR's branch after the fix was reported: review them again
    IGNORED = "ignored"  # triage: hidden from the list and the agent (forever / for a while / N more times)
    UNIGNORED = "unignored"  # by hand, or the triage.unignore job when the condition was met
    ASSIGNED = "assigned"  # triage: someone is (or nobody is any more) responsible for the bug
    ABSORBED = "absorbed"  # triage: duplicates merged into this bug, or this bug merged into another


def with_note(text: str, note: str | None) -> str:
    """A history note: what happened, and the actor's own note after it."""
    return f"{text}: {note}" if note else text


def created_event(bug_id: int, *, actor: str, now: datetime) -> dict[str, object]:
    """The history row of a bug that ingest just created (its first state, NEW)."""
    return {
        "bug_id": bug_id,
        "kind": HistoryKind.CREATED.value,
        "from_status": None,
        "to_status": BugStatus.NEW.value,
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
    session: Session,
    bug: Bug,
    *,
    kind: HistoryKind,
    actor: str,
    note: str,
    link: str | None = None,
    now: datetime | None = None,
) -> BugEvent:
    """A history row that does not change the status (PR linked, comment, review): from_status ==
    to_status. `link` points at what it records (the comment's URL)."""
    event = BugEvent(
        bug_id=bug.id,
        kind=kind,
        from_status=bug.status,
        to_status=bug.status,
        actor=actor,
        note=note,
        link=link,
        created_at=now or utcnow(),
    )
    session.add(event)
    return event
