"""Notification channels, their delivery log, and the outbox cursor.

The bug history (`bug_events`, append-only, ids increasing) is the outbox: nothing is written for
notifications on the ingest path. A periodic job reads the history past `NotificationCursor.last_event_id`,
matches each channel's rules and writes one `NotificationDelivery` per channel message, in the same
transaction as the cursor moves, so an event is neither lost nor sent twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base, JSONText, UTCDateTime, utcnow


class NotificationChannel(Base):
    """Where messages go (a DingTalk robot, an SMTP server and its recipients, ...) and which ones."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # Webhook URLs carry their credentials (DingTalk's access_token, WeCom's key, Slack's path): sealed like
    # the secret. The SMTP password is the email channel's secret.
    url_sealed: Mapped[str | None] = mapped_column(Text)
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    # Email: {"host", "port", "security", "username", "from_address"} and the recipients.
    smtp: Mapped[Any] = mapped_column(JSONText, default=dict)
    recipients: Mapped[Any] = mapped_column(JSONText, default=list)

    # Rules. An empty `environments` list means every environment; no project means every project.
    events: Mapped[Any] = mapped_column(JSONText, default=list)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    min_level: Mapped[str | None] = mapped_column(String(20))
    environments: Mapped[Any] = mapped_column(JSONText, default=list)
    throttle_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    # Health: failed attempts in a row; `failing` is set past the threshold and cleared by a success.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DeliveryStatus:
    QUEUED = "queued"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"


class NotificationDelivery(Base):
    """One message to one channel: what was sent, and how each attempt went (the UI's delivery log).

    `message` is the rendered-independent content (title, bug, links) captured when the event was matched,
    so a retry sends what the first attempt would have, whatever happened to the bug since.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_channel_id_id", "channel_id", "id"),
        # The throttle's look-up: the last message of this kind about this bug on this channel.
        Index("ix_notification_deliveries_throttle", "channel_id", "bug_id", "event_kind", "event_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"))
    event_kind: Mapped[str] = mapped_column(String(20))
    # No foreign keys: the log outlives a deleted bug.
    bug_id: Mapped[int | None] = mapped_column(Integer)
    bug_event_id: Mapped[int | None] = mapped_column(Integer)
    event_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    title: Mapped[str] = mapped_column(String(500))
    message: Mapped[Any] = mapped_column(JSONText, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NotificationCursor(Base):
    """How far the dispatcher has read the bug history (one row, name "bug_events")."""

    __tablename__ = "notification_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InboxItem(Base):
    """One event in one user's message centre (消息中心): unread until the user marks it read."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_items_user_id_id", "user_id", "id"),
        # The header's unread count and the "one unread item per bug and kind" check.
        Index("ix_inbox_items_user_id_read_at", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    bug_id: Mapped[int | None] = mapped_column(ForeignKey("bugs.id", ondelete="CASCADE"), index=True)
    bug_event_id: Mapped[int | None] = mapped_column(Integer)
    event_kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    message: Mapped[Any] = mapped_column(JSONText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
