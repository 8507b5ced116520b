"""Channel URLs and secrets at rest.

TEMPORARY: stored as they are until the server's secret box (logcenter/secretbox.py, Fernet keys shared
with the forge tokens) lands on main; then these two functions call it and nothing else changes.
"""

from __future__ import annotations

from logcenter.config import Settings

_PLAIN = "plain:"


def seal(settings: Settings, value: str | None) -> str | None:
    """The stored form of a secret (None stays None)."""
    if value is None:
        return None
    return _PLAIN + value


def unseal(settings: Settings, token: str | None) -> str | None:
    """The secret back from its stored form."""
    if token is None:
        return None
    return token.removeprefix(_PLAIN)
