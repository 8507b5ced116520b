"""What the notification code reads from the server's settings."""

from __future__ import annotations

from datetime import timedelta

from logcenter.config import Settings
from logcenter.notify.delivery import Policy


def base_url(settings: Settings) -> str:
    """Where people open Log Center: links in messages point here (LOGCENTER_PUBLIC_URL)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def policy(settings: Settings, *, max_attempts: int | None = None) -> Policy:
    return Policy(
        max_attempts=max_attempts or settings.notify_max_attempts, failing_after=settings.notify_failing_after
    )


def settle(settings: Settings) -> timedelta:
    return timedelta(0) if settings.is_sqlite else timedelta(seconds=settings.notify_settle_seconds)
