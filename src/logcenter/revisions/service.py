"""Asking for a revision of a fix awaiting review, from the forge (a webhook's review or comment) or from Log
Center (API, web UI), and what the repair agent gets when it claims one.

A revision request moves the bug PENDING_REVIEW → FIXING with no lease (bugs/workflow.py: request_revision);
the repair agent's claim takes it like a NEW bug (repair/service.py) and revises the same PR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from logcenter.automerge.models import MergePolicy
from logcenter.bugs import history, workflow
from logcenter.bugs.history import HistoryKind
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.bugs.service import get_bug
from logcenter.config import Settings
from logcenter.errors import Conflict, Forbidden, ValidationFailed
from logcenter.reviews import apply
from logcenter.revisions import rules
from logcenter.revisions.schemas import ReviewComment, RevisionTask
from logcenter.webhooks.events import Action, ForgeEvent

MAX_COMMENTS = 20
MAX_COMMENT_CHARS = 8_000


@dataclass(frozen=True, slots=True)
class Policy:
    """A project's revision settings: its own (merge policy) where set, else the server's."""

    trigger: str
    limit: int
    reviewers: list[str] = field(default_factory=list)


def policy_for(session: Session, project_id: int, settings: Settings) -> Policy:
    row = session.get(MergePolicy, project_id)
    if row is None:
        return Policy(settings.revision_trigger, settings.max_revisions)
    return Policy(
        trigger=row.revision_trigger or settings.revision_trigger,
        limit=settings.max_revisions if row.max_revisions is None else row.max_revisions,
        reviewers=list(row.reviewers or []),
    )


def request(
    session: Session, bug: Bug, *, actor: str, comment: str, link: str | None, policy: Policy
) -> BugEvent:
    """PENDING_REVIEW → FIXING for the repair agent to revise the PR; 409 (nothing changed) when the bug is
    not awaiting review, has no PR, or had `policy.limit` revisions already."""
    if bug.status != BugStatus.PENDING_REVIEW:
        raise Conflict(
            f"Bug {bug.id} is {bug.status}: only a fix awaiting review (PENDING_REVIEW) is revised"
        )
    if bug.pr_number is None or not bug.branch_name:
        raise Conflict(f"Bug {bug.id} has no pull request and branch for the repair agent to revise")
    return workflow.request_revision(session, bug, actor=actor, note=comment, link=link, limit=policy.limit)


def request_in_log_center(
    session: Session, settings: Settings, bug_id: int, *, actor: str, comment: str, admin: bool
) -> Bug:
    """A reviewer's (or admin's) request from the API or the web UI. 403 when the project has designated
    reviewers and `actor` is neither one of them nor an admin; 409 as `request`."""
    comment = comment.strip()
    if not comment:
        raise ValidationFailed([{"field": "comment", "message": "say what the repair agent should change"}])
    bug = get_bug(session, bug_id, for_update=True)
    policy = policy_for(session, bug.project_id, settings)
    if policy.reviewers and not admin and not rules.is_designated(actor, policy.reviewers):
        raise Forbidden(
            f"Only this project's designated reviewers ({', '.join(policy.reviewers)}) or an admin may ask "
            f"for a revision of its fixes; {actor[:100]!r} is not one of them"
        )
    request(session, bug, actor=actor, comment=comment, link=None, policy=policy)
    session.flush()
    return bug


def asks_for_revision(event: ForgeEvent, trigger: str) -> bool:
    """A review requesting changes, or a comment that starts with the trigger."""
    if event.action is Action.REVIEW and event.review_state == rules.CHANGES_REQUESTED:
        return True
    return event.action in (Action.COMMENT, Action.REVIEW) and rules.is_trigger(event.text, trigger)


def from_forge(
    session: Session, bug: Bug, event: ForgeEvent, *, actor: str, settings: Settings
) -> str | None:
    """A webhook's comment or review on the bug's PR: None when it does not ask for a revision (the caller
    records it as a comment); else what it did, for the webhook's answer. A refused request is recorded as
    a comment, with a history note that says why it was not a revision."""
    policy = policy_for(session, bug.project_id, settings)
    if not asks_for_revision(event, policy.trigger):
        return None
    text = event.text or ("Changes requested" if event.action is Action.REVIEW else "")
    problem = rules.reviewer_problem(
        reviewers=policy.reviewers, forge=event.forge, login=event.actor, association=event.author_association
    )
    if problem is None and workflow.is_revision(bug) and bug.lease_owner is None:
        # The revision has not been claimed yet: this request goes to the agent with it.
        history.record_note(
            session, bug, kind=HistoryKind.REVISION_REQUESTED, actor=actor, note=text, link=event.link
        )
        return f"added to revision {bug.revision}, which waits for a repair agent"
    if problem is None:
        try:
            request(session, bug, actor=actor, comment=text, link=event.link, policy=policy)
        except Conflict as exc:
            problem = exc.message
        else:
            return f"revision {bug.revision} requested"
    apply.commented(
        session, bug, actor=actor, text=event.text, link=event.link, review_state=event.review_state
    )
    history.record_note(
        session,
        bug,
        kind=HistoryKind.REVISION_REFUSED,
        actor="system",
        note=f"Not a revision request: {problem}",
        link=event.link,
    )
    return f"recorded; not a revision request: {problem}"


def task_for(session: Session, bug: Bug) -> RevisionTask:
    """The revision a repair agent claimed: the PR to revise and the reviewers' words since the fix was last
    reported (their revision requests, and their other comments and reviews; nobody else's)."""
    last_report = session.scalar(
        select(func.max(BugEvent.id)).where(
            BugEvent.bug_id == bug.id, BugEvent.kind.in_([HistoryKind.REPAIR, HistoryKind.REVISED])
        )
    )
    rows = list(
        session.scalars(
            select(BugEvent)
            .where(
                BugEvent.bug_id == bug.id,
                BugEvent.id > (last_report or 0),
                BugEvent.kind.in_([HistoryKind.REVISION_REQUESTED, HistoryKind.COMMENT, HistoryKind.REVIEW]),
            )
            .order_by(BugEvent.id)
        )
    )
    askers = list(dict.fromkeys(e.actor for e in rows if e.kind == HistoryKind.REVISION_REQUESTED))
    said = [e for e in rows if e.actor in askers][-MAX_COMMENTS:]
    requested = [e.created_at for e in rows if e.kind == HistoryKind.REVISION_REQUESTED]
    return RevisionTask(
        number=bug.revision,
        requested_at=bug.revision_requested_at or (requested[-1] if requested else bug.status_changed_at),
        requested_by=askers,
        pr_number=bug.pr_number,
        pr_url=bug.pr_url,
        branch_name=bug.branch_name,
        head_sha=bug.head_sha,
        comments=[
            ReviewComment(
                author=e.actor,
                kind=e.kind,
                text=(e.note or "")[:MAX_COMMENT_CHARS],
                link=e.link,
                created_at=e.created_at,
            )
            for e in said
        ],
    )
