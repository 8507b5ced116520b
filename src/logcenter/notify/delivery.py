"""One delivery attempt: read what to send, send it with no transaction open, write down how it went.

Every attempt is counted on the delivery (status, attempts, last error) and on its channel: a success
clears the channel's failure streak, `failing_after` failures in a row mark the channel as failing (the UI
shows it in red) until the next success.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from logcenter.config import Settings
from logcenter.db import session_scope, utcnow
from logcenter.notify import sealing, transport
from logcenter.notify.message import Message
from logcenter.notify.models import DeliveryStatus, NotificationChannel, NotificationDelivery
from logcenter.notify.transport import ChannelKind, DeliveryFailed, Target

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    max_attempts: int = 6
    failing_after: int = 5


def target_for(channel: NotificationChannel, settings: Settings) -> Target:
    """The channel's settings with its URL and secret unsealed, for use after the transaction closes."""
    return Target(
        kind=ChannelKind(channel.kind),
        name=channel.name,
        url=sealing.unseal(settings, channel.url_sealed),
        secret=sealing.unseal(settings, channel.secret_sealed),
        smtp=dict(channel.smtp or {}),
        recipients=list(channel.recipients or []),
    )


@dataclass(slots=True)
class Outcome:
    status: str
    attempts: int
    error: str | None
    retry: bool


def attempt(
    factory: sessionmaker[Session],
    delivery_id: int,
    *,
    settings: Settings,
    policy: Policy,
    final: bool | None = None,
) -> Outcome | None:
    """Try to send delivery `delivery_id` once; None if there is nothing (left) to send."""
    with session_scope(factory, write=False) as session:
        delivery = session.get(NotificationDelivery, delivery_id)
        if delivery is None or delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
            return None
        channel = session.get(NotificationChannel, delivery.channel_id)
        if channel is None:
            return None
        target = target_for(channel, settings)
        message = Message.from_json(delivery.message)
    error: str | None = None
    try:
        transport.send(target, message, delivery_id=delivery_id)
    except DeliveryFailed as exc:
        error = str(exc) or "Delivery failed"
    with session_scope(factory) as session:
        return record(session, delivery_id, error=error, policy=policy, now=utcnow(), final=final)


def record(
    session: Session,
    delivery_id: int,
    *,
    error: str | None,
    policy: Policy,
    now: datetime,
    final: bool | None = None,
) -> Outcome | None:
    """Write one attempt's result on the delivery and its channel. `final`: no attempt will follow (the
    job queue says so); by default, when the delivery has had `policy.max_attempts`."""
    delivery = session.get(NotificationDelivery, delivery_id)
    if delivery is None:
        return None
    channel = session.get(NotificationChannel, delivery.channel_id)
    delivery.attempts += 1
    delivery.updated_at = now
    retry = False
    if error is None:
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = now
        delivery.last_error = None
        delivery.next_attempt_at = None
    else:
        delivery.last_error = error
        retry = not final if final is not None else delivery.attempts < policy.max_attempts
        delivery.status = DeliveryStatus.RETRYING if retry else DeliveryStatus.FAILED
        delivery.next_attempt_at = now + backoff(delivery.attempts) if retry else None
    if channel is not None:
        if error is None:
            channel.consecutive_failures = 0
            channel.failing = False
            channel.last_success_at = now
        else:
            channel.consecutive_failures += 1
            channel.last_error = error
            if channel.consecutive_failures >= policy.failing_after:
                channel.failing = True
    log.info(
        "notify.attempt",
        delivery=delivery_id,
        channel=delivery.channel_id,
        status=delivery.status,
        attempts=delivery.attempts,
        error=error,
    )
    return Outcome(delivery.status, delivery.attempts, error, retry)


def backoff(attempts: int) -> timedelta:
    """30 s, 2 min, 8 min, 32 min, then every 2 hours: a chat service's outage is usually short."""
    return timedelta(seconds=min(30 * 4 ** (attempts - 1), 7200))
