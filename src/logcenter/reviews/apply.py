"""What a pull request's state means for the bugs it fixes, applied idempotently.

Webhooks, the merge / reject API and the PR sync job all learn "PR #N was merged / closed / reopened" and call
these functions, which change bugs only through the workflow (bugs/workflow.py) and only when the bug is not
already where the PR says: a redelivered webhook, a webhook after an API merge, or a sync after a webhook
changes nothing. Each returns a short outcome for the caller's answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.bugs import history, workflow
from logcenter.bugs.history import HistoryKind
from logcenter.bugs.models import Bug, BugEvent, BugStatus

S = BugStatus


def merged(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    merged_by: str | None,
    merge_commit: str | None,
    merged_at: datetime | None,
    number: int | None,
    note: str | None = None,
    link: str | None = None,
) -> str:
    """PENDING_REVIEW (or FAILED: the PR was reopened and merged) → MERGED with the merge commit."""
    if bug.status in (S.MERGED, S.DEPLOYED):
        return "already merged"
    if bug.status == S.FAILED:
        workflow.reopen_review(
            session, bug, actor=actor, note=f"PR #{number} reopened", link=link, kind=HistoryKind.PR_REOPENED
        )
    elif bug.status != S.PENDING_REVIEW:
        return f"not changed: the bug is {bug.status}"
    by = merged_by or actor
    workflow.merge(
        session,
        bug,
        actor=actor,
        merged_by=by,
        merge_commit_sha=merge_commit,
        merged_at=merged_at,
        note=note or f"PR #{number} merged by {by}",
        link=link,
        kind=HistoryKind.MERGED,
    )
    return "merged"


def closed(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    number: int | None,
    reason: str,
    link: str | None = None,
    kind: HistoryKind = HistoryKind.PR_CLOSED,
) -> str:
    """PENDING_REVIEW → FAILED with the reason ("PR #N closed without merging by <user>")."""
    if bug.status == S.FAILED:
        return "already failed"
    if bug.status != S.PENDING_REVIEW:
        return f"not changed: the bug is {bug.status}"
    workflow.fail(session, bug, actor=actor, reason=reason, link=link, kind=kind)
    return "failed"


def reopened(
    session: Session, bug: Bug, *, actor: str, by: str, number: int | None, link: str | None = None
) -> str:
    """FAILED → PENDING_REVIEW: the PR is open for review again."""
    if bug.status == S.PENDING_REVIEW:
        return "already pending review"
    if bug.status != S.FAILED:
        return f"not changed: the bug is {bug.status}"
    workflow.reopen_review(
        session,
        bug,
        actor=actor,
        note=f"PR #{number} reopened by {by}",
        link=link,
        kind=HistoryKind.PR_REOPENED,
    )
    return "pending review"


def head_moved(
    session: Session, bug: Bug, *, head_sha: str | None, actor: str, link: str | None = None
) -> str:
    """A push to the PR's branch after the fix was reported. The bug keeps the head that was reported, so a
    merge from Log Center without the reviewer's `expected_head_sha` is refused (409) instead of merging
    commits nobody reviewed; the history says the PR has new commits (once per head)."""
    if not head_sha or bug.status != S.PENDING_REVIEW or head_sha.lower() == (bug.head_sha or "").lower():
        return "nothing to do"
    note = f"PR #{bug.pr_number} has new commits (head {head_sha[:12]}): review them before merging"
    last = session.scalar(
        select(BugEvent.note)
        .where(BugEvent.bug_id == bug.id, BugEvent.kind == HistoryKind.PR_PUSHED)
        .order_by(BugEvent.id.desc())
        .limit(1)
    )
    if last == note:
        return "nothing to do"
    history.record_note(session, bug, kind=HistoryKind.PR_PUSHED, actor=actor, note=note, link=link)
    return "head moved"


def commented(
    session: Session,
    bug: Bug,
    *,
    actor: str,
    text: str | None,
    link: str | None,
    review_state: str | None = None,
) -> str:
    """A PR comment or review, kept on the bug's history with its author and link (the text is data)."""
    if review_state is not None:
        note = f"Review ({review_state})" + (f": {text}" if text else "")
        kind = HistoryKind.REVIEW
    else:
        note = text or ""
        kind = HistoryKind.COMMENT
    history.record_note(session, bug, kind=kind, actor=actor, note=note, link=link)
    return "recorded"
