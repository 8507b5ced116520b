"""A channel's burst limit: when many different bugs need a message at once (a bad release breaks fifty
endpoints), the first few go out one by one and the rest as one summary, instead of fifty messages a minute.

Chat robots refuse more than about twenty messages a minute (DingTalk answers errcode 130101 "send too
fast"), and nobody reads the fiftieth. The per-bug throttle does not help here: every bug is a different one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from logcenter.notify.events import EventKind
from logcenter.notify.message import HEADLINES, TONES, Item, Link, Message
from logcenter.notify.models import NotificationChannel, NotificationDelivery

WINDOW = timedelta(minutes=1)
MAX_ITEMS = 25


class Burst:
    """Counts each channel's messages of the last minute; past `limit`, holds them for a summary."""

    def __init__(
        self, session: Session, channels: Iterable[NotificationChannel], *, limit: int, now: datetime
    ) -> None:
        self.limit = limit
        self.sent: dict[int, int] = {}
        self.held: dict[int, list[Message]] = {}
        if not limit:
            return
        since = now - WINDOW
        for channel in channels:
            # The newest `limit` deliveries of the channel suffice to know whether `limit` went out lately.
            latest = (
                select(NotificationDelivery.created_at)
                .where(NotificationDelivery.channel_id == channel.id)
                .order_by(NotificationDelivery.id.desc())
                .limit(limit)
                .subquery()
            )
            self.sent[channel.id] = int(
                session.scalar(select(func.count()).select_from(latest).where(latest.c.created_at >= since))
                or 0
            )

    def allow(self, channel: NotificationChannel, message: Message) -> bool:
        """True: send it on its own. False: it is held for this channel's summary."""
        if not self.limit:
            return True
        if self.sent.get(channel.id, 0) < self.limit:
            self.sent[channel.id] = self.sent.get(channel.id, 0) + 1
            return True
        self.held.setdefault(channel.id, []).append(message)
        return False

    def summaries(self, *, base_url: str) -> dict[int, Message]:
        """One summary message per channel that had messages held."""
        return {channel_id: summary(held, base_url=base_url) for channel_id, held in self.held.items()}


def summary(held: list[Message], *, base_url: str) -> Message:
    counts = Counter(message.event for message in held)
    parts = ", ".join(f"{n} × {HEADLINES[EventKind(kind)].lower()}" for kind, n in counts.most_common())
    items = [
        Item(message.title, message.links[0].url if message.links else None) for message in held[:MAX_ITEMS]
    ]
    if len(held) > MAX_ITEMS:
        items.append(Item(f"… and {len(held) - MAX_ITEMS} more"))
    return Message(
        event=EventKind.SUMMARY.value,
        title=f"{len(held)} more notifications: {parts}",
        tone=TONES[EventKind.NEW_BUG] if counts.keys() & {"new_bug", "regression", "fix_failed"} else "info",
        facts=[(HEADLINES[EventKind(kind)], str(n)) for kind, n in counts.most_common()],
        links=[Link("Open Log Center", base_url)],
        items=items,
        data={
            "counts": dict(counts),
            "bugs": [message.data.get("bug_id") for message in held],
        },
    )
