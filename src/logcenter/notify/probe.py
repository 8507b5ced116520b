"""The "send test message" button: one attempt now, logged like any delivery, no transaction held open."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from logcenter.config import Settings
from logcenter.db import session_scope, utcnow
from logcenter.notify import delivery, service, transport
from logcenter.notify.message import test_message
from logcenter.notify.schemas import TestResult
from logcenter.notify.settings import base_url, policy


def send_test(factory: sessionmaker[Session], channel_id: int, *, settings: Settings) -> TestResult:
    """Send a test message to the channel and report whether it arrived."""
    with session_scope(factory) as session:
        channel = service.get(session, channel_id)
        message = test_message(channel.name, base_url=base_url(settings))
        delivery_id = service.add_test_delivery(session, channel, message).id
        target = delivery.target_for(channel, settings)
    error: str | None = None
    try:
        transport.send(target, message, delivery_id=delivery_id)
    except transport.DeliveryFailed as exc:
        error = str(exc) or "Delivery failed"
    with session_scope(factory) as session:
        # One attempt only: a person is waiting for the answer, and can press the button again.
        delivery.record(
            session, delivery_id, error=error, policy=policy(settings, max_attempts=1), now=utcnow()
        )
    return TestResult(delivered=error is None, delivery_id=delivery_id, error=error)
