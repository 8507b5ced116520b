"""Notification channels: create, change, remove, read (without their secrets), and their delivery log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.config import Settings
from logcenter.db import utcnow
from logcenter.errors import NotFound, ValidationFailed
from logcenter.notify import sealing
from logcenter.notify.models import NotificationChannel, NotificationDelivery
from logcenter.notify.schemas import ChannelCreate, ChannelRead, ChannelUpdate, DeliveryRead, SmtpSettings
from logcenter.notify.transport import ChannelKind
from logcenter.projects.models import Project


def get(session: Session, channel_id: int) -> NotificationChannel:
    """The channel, or 404."""
    channel = session.get(NotificationChannel, channel_id)
    if channel is None:
        raise NotFound(f"Notification channel {channel_id} not found")
    return channel


def list_channels(session: Session) -> list[NotificationChannel]:
    """Every channel, oldest first."""
    return list(session.scalars(select(NotificationChannel).order_by(NotificationChannel.id)))


def _project_id(session: Session, slug: str | None) -> int | None:
    if not slug:
        return None
    pk = session.scalar(select(Project.id).where(Project.slug == slug))
    if pk is None:
        raise ValidationFailed([{"field": "project_id", "message": f"no project {slug[:100]!r}"}])
    return pk


def _check_complete(channel: NotificationChannel, settings: Settings) -> None:
    """What each kind needs to send anything: a URL, or an SMTP host and recipients."""
    errors = []
    if channel.kind == ChannelKind.EMAIL:
        if not (channel.smtp or {}).get("host"):
            errors.append({"field": "smtp.host", "message": "an email channel needs an SMTP server"})
        if not channel.recipients:
            errors.append({"field": "recipients", "message": "an email channel needs at least one recipient"})
    elif not channel.url_sealed:
        errors.append({"field": "url", "message": f"a {channel.kind} channel needs its webhook URL"})
    if errors:
        raise ValidationFailed(errors)


def create(session: Session, *, data: ChannelCreate, settings: Settings) -> NotificationChannel:
    """A new channel; its URL and secret are stored sealed."""
    now = utcnow()
    channel = NotificationChannel(
        name=data.name,
        kind=data.kind.value,
        url_sealed=sealing.seal(settings, data.url or None),
        secret_sealed=sealing.seal(settings, data.secret or None),
        smtp=data.smtp.model_dump(mode="json") if data.smtp else {},
        recipients=list(data.recipients or []),
        events=[e.value for e in data.events or []],
        project_id=_project_id(session, data.project_id),
        min_level=data.min_level.value if data.min_level else None,
        environments=list(data.environments or []),
        throttle_seconds=3600 if data.throttle_seconds is None else data.throttle_seconds,
        enabled=True if data.enabled is None else data.enabled,
        consecutive_failures=0,
        failing=False,
        created_at=now,
        updated_at=now,
    )
    _check_complete(channel, settings)
    session.add(channel)
    session.flush()
    return channel


def update(
    session: Session, channel_id: int, *, data: ChannelUpdate, settings: Settings
) -> NotificationChannel:
    """Apply the fields sent; a secret or URL left out is kept, `secret: ""` removes it."""
    channel = get(session, channel_id)
    sent = data.model_fields_set
    if "name" in sent and data.name:
        channel.name = data.name
    if "url" in sent:
        channel.url_sealed = sealing.seal(settings, data.url or None)
    if "secret" in sent:
        channel.secret_sealed = sealing.seal(settings, data.secret or None)
    if "smtp" in sent:
        channel.smtp = data.smtp.model_dump(mode="json") if data.smtp else {}
    if "recipients" in sent:
        channel.recipients = list(data.recipients or [])
    if "events" in sent:
        channel.events = [e.value for e in data.events or []]
    if "project_id" in sent:
        channel.project_id = _project_id(session, data.project_id)
    if "min_level" in sent:
        channel.min_level = data.min_level.value if data.min_level else None
    if "environments" in sent:
        channel.environments = list(data.environments or [])
    if "throttle_seconds" in sent and data.throttle_seconds is not None:
        channel.throttle_seconds = data.throttle_seconds
    if "enabled" in sent and data.enabled is not None:
        channel.enabled = data.enabled
    _check_complete(channel, settings)
    channel.updated_at = utcnow()
    session.flush()
    return channel


def delete(session: Session, channel_id: int) -> None:
    """Remove the channel and its delivery log."""
    session.delete(get(session, channel_id))
    session.flush()


def url_preview(url: str | None) -> str | None:
    """Only the scheme and host: the path or query of a robot's URL is its credential."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def to_read(session: Session, channel: NotificationChannel, settings: Settings) -> ChannelRead:
    slug = (
        session.scalar(select(Project.slug).where(Project.id == channel.project_id))
        if channel.project_id
        else None
    )
    return ChannelRead(
        id=channel.id,
        name=channel.name,
        kind=ChannelKind(channel.kind),
        url_preview=url_preview(sealing.unseal(settings, channel.url_sealed)),
        url_set=bool(channel.url_sealed),
        secret_set=bool(channel.secret_sealed),
        smtp=SmtpSettings.model_validate(channel.smtp) if channel.smtp else None,
        recipients=list(channel.recipients or []),
        events=list(channel.events or []),
        project_id=slug,
        min_level=channel.min_level,
        environments=list(channel.environments or []),
        throttle_seconds=channel.throttle_seconds,
        enabled=channel.enabled,
        failing=channel.failing,
        consecutive_failures=channel.consecutive_failures,
        last_error=channel.last_error,
        last_success_at=channel.last_success_at,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def deliveries(
    session: Session, channel_id: int, *, limit: int, before: int | None, status: str | None
) -> list[NotificationDelivery]:
    """A channel's deliveries, newest first, `limit` per page (keyset on the id)."""
    get(session, channel_id)
    query = select(NotificationDelivery).where(NotificationDelivery.channel_id == channel_id)
    if before is not None:
        query = query.where(NotificationDelivery.id < before)
    if status:
        query = query.where(NotificationDelivery.status == status)
    return list(session.scalars(query.order_by(NotificationDelivery.id.desc()).limit(limit)))


def delivery_read(delivery: NotificationDelivery) -> DeliveryRead:
    return DeliveryRead.model_validate(delivery, from_attributes=True)


def add_test_delivery(session: Session, channel: NotificationChannel, message: Any) -> NotificationDelivery:
    """The log row of a "send test message" (its attempt is recorded like any other)."""
    now = utcnow()
    delivery = NotificationDelivery(
        channel_id=channel.id,
        event_kind="test",
        title=message.title[:500],
        message=message.to_json(),
        event_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery
