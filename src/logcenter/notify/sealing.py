"""Channel URLs and secrets at rest: Fernet tokens made by the server's secret box (logcenter/secretbox.py),
with the same keys as the forge tokens, so `logcenter secrets rotate` / `reencrypt` covers them too."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.config import Settings
from logcenter.notify.models import NotificationChannel
from logcenter.secretbox import SecretBox, box_for


def seal(settings: Settings, value: str | None) -> str | None:
    """The stored form of a secret (None stays None)."""
    if value is None:
        return None
    return box_for(settings).encrypt(value)


def unseal(settings: Settings, token: str | None) -> str | None:
    """The secret back from its stored form; a key that cannot decrypt it is a 503 naming the key file."""
    if token is None:
        return None
    return box_for(settings).decrypt(token, what="a notification channel's URL or secret")


def reencrypt_secrets(session: Session, *, box: SecretBox) -> int:
    """Every channel's URL and secret encrypted again with the newest key; returns how many values."""
    count = 0
    for channel in session.scalars(select(NotificationChannel).order_by(NotificationChannel.id)):
        for column in ("url_sealed", "secret_sealed"):
            value = getattr(channel, column)
            if value:
                setattr(channel, column, box.rotate(value))
                count += 1
    session.flush()
    return count
