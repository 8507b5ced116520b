"""The message centre (消息中心): each user's inbox of the same events the channels announce.

The dispatcher (outbox.py) adds one item per active user for each event it reads, in its own transaction:
nothing is written on the ingest path. A user with an unread item about the same bug and event kind does not
get a second one (a bug that regresses ten times before anyone looks is one unread item).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugEvent
from logcenter.db import JSONText, utcnow
from logcenter.notify.events import EventKind
from logcenter.notify.message import Message
from logcenter.notify.models import InboxItem
from logcenter.users.models import User


def add_for_event(session: Session, event: BugEvent, kind: EventKind, bug: Bug, message: Message) -> None:
    """One unread item per active user (an outbox observer)."""
    unread_twin = exists().where(
        InboxItem.user_id == User.id,
        InboxItem.bug_id == bug.id,
        InboxItem.event_kind == kind.value,
        InboxItem.read_at.is_(None),
    )
    rows = select(
        User.id,
        literal(bug.id),
        literal(event.id),
        literal(kind.value),
        literal(message.title[:500]),
        literal(message.to_json(), JSONText()),
        literal(event.created_at),
    ).where(User.disabled_at.is_(None), ~unread_twin)
    session.execute(
        insert(InboxItem).from_select(
            ["user_id", "bug_id", "bug_event_id", "event_kind", "title", "message", "created_at"], rows
        )
    )


def unread_count(session: Session, user_id: int) -> int:
    """For the header's badge."""
    return int(
        session.scalar(select(func.count()).where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None)))
        or 0
    )


def items(
    session: Session, user_id: int, *, limit: int, before: int | None = None, unread_only: bool = False
) -> list[InboxItem]:
    """The user's items, newest first (keyset paging on the id)."""
    query = select(InboxItem).where(InboxItem.user_id == user_id)
    if before is not None:
        query = query.where(InboxItem.id < before)
    if unread_only:
        query = query.where(InboxItem.read_at.is_(None))
    return list(session.scalars(query.order_by(InboxItem.id.desc()).limit(limit)))


def mark_read(
    session: Session,
    user_id: int,
    *,
    ids: list[int] | None,
    up_to: int | None = None,
    now: datetime | None = None,
) -> int:
    """Mark the given items (or all up to `up_to`, or all) read; only the user's own. Returns how many."""
    where = [InboxItem.user_id == user_id, InboxItem.read_at.is_(None)]
    if ids is not None:
        where.append(InboxItem.id.in_(ids))
    if up_to is not None:
        where.append(InboxItem.id <= up_to)
    result = session.execute(update(InboxItem).where(and_(*where)).values(read_at=now or utcnow()))
    return int(result.rowcount)  # type: ignore[attr-defined]
