"""The dispatcher: reads the bug history past a cursor and writes one delivery per channel message.

Run as a periodic job (never on the ingest path). One transaction locks the cursor, reads the next events,
writes their deliveries (and inbox entries), enqueues a delivery job for each and moves the cursor: two
dispatchers cannot both take the same events, and a crash takes nothing.

On PostgreSQL, ids come from a sequence, so a transaction that took id 10 may commit after one that took
id 11: events younger than `settle` seconds are left for the next run, so that the cursor never passes an
id whose transaction has not committed yet. SQLite has one writer at a time, so ids commit in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, joinedload

from logcenter.bugs.models import Bug, BugEvent
from logcenter.db import utcnow
from logcenter.notify import message as messages
from logcenter.notify import rules
from logcenter.notify.burst import Burst
from logcenter.notify.events import EventKind, classify
from logcenter.notify.models import (
    DeliveryStatus,
    NotificationChannel,
    NotificationCursor,
    NotificationDelivery,
)

log = structlog.get_logger(__name__)

CURSOR = "bug_events"
# Events per transaction at most: the dispatch job sizes its parts by time below that (db.write_in_parts).
BATCH = 200

# Called with the new deliveries' ids inside the dispatcher's transaction: enqueues a job for each.
Enqueue = Callable[[Session, list[int]], None]
# Called for each matched event inside the same transaction: the message centre's inbox.
Observer = Callable[[Session, BugEvent, EventKind, Bug, messages.Message], None]


def lock_cursor(session: Session) -> NotificationCursor:
    """The cursor row, locked for this transaction (on SQLite the write transaction is the lock).

    A missing row (a database emptied by hand) starts from the beginning of the history; the migration
    that made the table started it at the history's end, so an upgrade does not replay old events.
    """
    cursor = session.scalar(
        select(NotificationCursor).where(NotificationCursor.name == CURSOR).with_for_update()
    )
    if cursor is None:
        cursor = NotificationCursor(name=CURSOR, last_event_id=0, updated_at=utcnow())
        session.add(cursor)
        session.flush()
    return cursor


def dispatch(
    session: Session,
    *,
    base_url: str,
    enqueue: Enqueue,
    observers: Sequence[Observer] = (),
    settle: timedelta = timedelta(0),
    burst: int = 0,
    now: datetime | None = None,
    batch: int = BATCH,
) -> Dispatched:
    """Turn the next events (at most `batch`) into deliveries."""
    now = now or utcnow()
    cursor = lock_cursor(session)
    events = list(
        session.scalars(
            select(BugEvent).where(BugEvent.id > cursor.last_event_id).order_by(BugEvent.id).limit(batch)
        )
    )
    if not events:
        return Dispatched(0, 0, more=False)
    horizon = now - settle
    kinds: list[tuple[BugEvent, EventKind | None]] = []
    for event in events:
        if settle and event.created_at > horizon:
            break
        kinds.append((event, classify(event)))
    if not kinds:
        return Dispatched(0, 0, more=False)
    bug_ids = {event.bug_id for event, kind in kinds if kind is not None}
    bugs = {
        bug.id: bug
        for bug in session.scalars(select(Bug).where(Bug.id.in_(bug_ids)).options(joinedload(Bug.project)))
    }
    channels = list(
        session.scalars(
            select(NotificationChannel)
            .where(NotificationChannel.enabled.is_(True))
            .order_by(NotificationChannel.id)
        )
    )
    throttle = Throttle(session, bug_ids)
    limiter = Burst(session, channels, limit=burst, now=now)
    rows: list[dict[str, Any]] = []
    pr_links: dict[int, str] = {}  # the PR each bug was last linked to in this batch
    for event, kind in kinds:
        if event.link and messages.is_web_url(event.link) and event.kind == "pr":
            pr_links[event.bug_id] = event.link
        bug = bugs.get(event.bug_id)
        if kind is None or bug is None:
            continue
        if bug.ignored_at is not None or bug.merged_into_id is not None:
            continue  # muted (triage) or merged into another bug: nobody is told
        message = messages.for_event(
            bug, bug.project, event, kind, base_url=base_url, pr_link=pr_links.get(event.bug_id)
        )
        stored = message.to_json()
        for observer in observers:
            observer(session, event, kind, bug, message)
        for channel in channels:
            if not rules.wants(channel, kind, bug):
                continue
            if throttle.suppressed(channel, bug.id, kind, event.created_at):
                log.info("notify.throttled", channel=channel.id, bug=bug.id, kind=kind.value)
                continue
            if not limiter.allow(channel, message):
                continue
            rows.append(delivery_row(channel.id, message, stored, bug_id=bug.id, event=event, now=now))
    for channel_id, summary in limiter.summaries(base_url=base_url).items():
        rows.append(delivery_row(channel_id, summary, summary.to_json(), bug_id=None, event=None, now=now))
    written = write_deliveries(session, rows, enqueue)
    cursor.last_event_id = kinds[-1][0].id
    cursor.updated_at = now
    if written:
        log.info("notify.dispatched", events=len(kinds), deliveries=written)
    return Dispatched(len(kinds), written, more=len(kinds) == batch)


def delivery_row(
    channel_id: int,
    message: messages.Message,
    stored: dict[str, Any],
    *,
    bug_id: int | None,
    event: BugEvent | None,
    now: datetime,
) -> dict[str, Any]:
    """A delivery to insert; `stored` is `message.to_json()`, built once for all channels of an event."""
    return {
        "channel_id": channel_id,
        "event_kind": message.event,
        "bug_id": bug_id,
        "bug_event_id": event.id if event else None,
        "event_at": event.created_at if event else now,
        "title": message.title[:500],
        "message": stored,
        "status": DeliveryStatus.QUEUED,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def write_deliveries(session: Session, rows: list[dict[str, Any]], enqueue: Enqueue) -> int:
    """Insert the deliveries in one statement and queue a job for each; returns how many."""
    if not rows:
        return 0
    ids = session.scalars(
        insert(NotificationDelivery).returning(NotificationDelivery.id, sort_by_parameter_order=True), rows
    ).all()
    enqueue(session, list(ids))
    return len(ids)


@dataclass(frozen=True, slots=True)
class Dispatched:
    events: int
    deliveries: int
    more: bool  # a full batch: there may be more events waiting


class Throttle:
    """At most one message per channel, bug and event kind per the channel's interval.

    The last message of each (channel, bug, kind) for the batch's bugs is read in one query; the batch's own
    messages are added as they are written.
    """

    def __init__(self, session: Session, bug_ids: set[int]) -> None:
        self.recent: dict[tuple[int, int | None, str], datetime] = {}
        if bug_ids:
            last = (
                select(
                    NotificationDelivery.channel_id,
                    NotificationDelivery.bug_id,
                    NotificationDelivery.event_kind,
                    func.max(NotificationDelivery.event_at),
                )
                .where(NotificationDelivery.bug_id.in_(bug_ids))
                .group_by(
                    NotificationDelivery.channel_id,
                    NotificationDelivery.bug_id,
                    NotificationDelivery.event_kind,
                )
            )
            for channel_id, bug_id, kind, at in session.execute(last):
                self.recent[(channel_id, bug_id, kind)] = at

    def suppressed(self, channel: NotificationChannel, bug_id: int, kind: EventKind, at: datetime) -> bool:
        key = (channel.id, bug_id, kind.value)
        interval = timedelta(seconds=channel.throttle_seconds or 0)
        last = self.recent.get(key)
        if last is not None and at - last < interval:
            return True
        self.recent[key] = at
        return False
