"""The daily digest: what happened in the last day, per channel that subscribed to it.

Checked by a periodic job; a channel gets its digest once a day, at the first check after
`LOGCENTER_NOTIFY_DIGEST_HOUR` (UTC). Counts come from the bug history (one grouped query), so they agree
with what the other notifications said; a channel limited to a project sees that project only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.db import utcnow
from logcenter.notify.events import EventKind, classify
from logcenter.notify.message import TONES, Item, Link, Message, bug_url, clip
from logcenter.notify.models import NotificationChannel
from logcenter.notify.outbox import Enqueue, delivery_row, write_deliveries
from logcenter.projects.models import Project

TOP = 10
COUNTED = (
    (EventKind.NEW_BUG, "New bugs"),
    (EventKind.REGRESSION, "Regressions"),
    (EventKind.PR_OPENED, "Fixes opened for review"),
    (EventKind.FIX_FAILED, "Fixes failed"),
    (EventKind.MERGED, "Fixes merged"),
    (EventKind.DEPLOYED, "Fixes deployed"),
)


def due_since(channel: NotificationChannel, *, now: datetime, hour: int) -> datetime | None:
    """The start of the period to report, if this channel's digest is due now; else None."""
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    slot = today if now >= today else today - timedelta(days=1)
    # A new channel waits for the next digest hour rather than sending one the minute it is created.
    reference = channel.last_digest_at or channel.created_at
    if reference is not None and reference >= slot:
        return None
    # The first digest covers a day; a later one everything since the previous (after an outage, more).
    return channel.last_digest_at or slot - timedelta(days=1)


def build(
    session: Session, *, since: datetime, until: datetime, project_id: int | None, base_url: str
) -> Message:
    """The digest message for [since, until), for one project or all."""
    counts = dict.fromkeys((kind for kind, _ in COUNTED), 0)
    groups = (
        select(BugEvent.kind, BugEvent.from_status, BugEvent.to_status, func.count())
        .join(Bug, Bug.id == BugEvent.bug_id)
        .where(BugEvent.created_at >= since, BugEvent.created_at < until)
        .group_by(BugEvent.kind, BugEvent.from_status, BugEvent.to_status)
    )
    if project_id is not None:
        groups = groups.where(Bug.project_id == project_id)
    for kind, before, after, n in session.execute(groups):
        event_kind = classify(BugEvent(kind=kind, from_status=before, to_status=after))
        if event_kind in counts:
            counts[event_kind] += n
    waiting = select(func.count()).select_from(Bug).where(Bug.status == BugStatus.PENDING_REVIEW)
    top = (
        select(Bug, Project.slug)
        .join(Project, Project.id == Bug.project_id)
        .where(Bug.created_at >= since, Bug.created_at < until)
        .order_by(Bug.occurrence_count.desc(), Bug.id)
        .limit(TOP)
    )
    scope = "all projects"
    if project_id is not None:
        waiting = waiting.where(Bug.project_id == project_id)
        top = top.where(Bug.project_id == project_id)
        scope = clip(session.scalar(select(Project.slug).where(Project.id == project_id)), 100)
    facts = [(label, str(counts[kind])) for kind, label in COUNTED]
    facts.append(("Waiting for review now", str(session.scalar(waiting) or 0)))
    items = [
        Item(
            f"#{bug.id} {clip(bug.error_type, 80)} in {clip(slug, 60)}: {clip(bug.message, 80)} "
            f"({bug.occurrence_count}×, {bug.status})",
            bug_url(base_url, bug.id),
        )
        for bug, slug in session.execute(top)
    ]
    return Message(
        event=EventKind.DIGEST.value,
        title=f"Daily digest for {scope}: {counts[EventKind.NEW_BUG]} new, "
        f"{counts[EventKind.REGRESSION]} regressed",
        tone=TONES[EventKind.DIGEST],
        text=None,
        facts=facts,
        links=[Link("Open Log Center", base_url)],
        items=items,
        data={
            "since": since.isoformat(),
            "until": until.isoformat(),
            "project": scope if project_id is not None else None,
            "counts": {kind.value: counts[kind] for kind, _ in COUNTED},
            "new_bugs": [item.url for item in items],
        },
    )


def send_due(
    session: Session, *, base_url: str, hour: int, enqueue: Enqueue, now: datetime | None = None
) -> int:
    """Write a digest delivery for each channel whose digest is due; returns how many."""
    now = now or utcnow()
    channels = list(
        session.scalars(
            select(NotificationChannel)
            .where(NotificationChannel.enabled.is_(True))
            .order_by(NotificationChannel.id)
            .with_for_update()
        )
    )
    written = 0
    for channel in channels:
        if EventKind.DIGEST.value not in (channel.events or []):
            continue
        since = due_since(channel, now=now, hour=hour)
        if since is None:
            continue
        message = build(session, since=since, until=now, project_id=channel.project_id, base_url=base_url)
        channel.last_digest_at = now
        row = delivery_row(channel.id, message, message.to_json(), bug_id=None, event=None, now=now)
        write_deliveries(session, [row], enqueue)
        written += 1
    return written
