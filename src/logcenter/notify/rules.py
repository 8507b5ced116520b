"""A channel's rules: which events, which project, from which level, which environments."""

from __future__ import annotations

from logcenter.bugs.models import Bug, Level
from logcenter.notify.events import EventKind
from logcenter.notify.models import NotificationChannel

LEVEL_ORDER = {level.value: rank for rank, level in enumerate(Level)}


def level_rank(value: str | None) -> int:
    """Unknown levels (a client may send "fatal" or "notice") rank as ERROR: loud rather than silent."""
    if not value:
        return LEVEL_ORDER[Level.ERROR]
    key = value.strip().upper()
    if key == "FATAL":
        key = Level.CRITICAL
    elif key == "WARN":
        key = Level.WARNING
    return LEVEL_ORDER.get(key, LEVEL_ORDER[Level.ERROR])


def wants(channel: NotificationChannel, kind: EventKind, bug: Bug | None) -> bool:
    """Does this channel want this event about this bug? (The throttle is applied separately.)"""
    if not channel.enabled or kind.value not in (channel.events or []):
        return False
    if bug is None:  # the digest: per project when the channel is
        return True
    if channel.project_id is not None and channel.project_id != bug.project_id:
        return False
    if channel.min_level and level_rank(bug.level) < level_rank(channel.min_level):
        return False
    environments = channel.environments or []
    return not environments or bug.environment in environments
