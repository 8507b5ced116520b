"""A project's data scrubbing rules: checked when an admin writes them, combined with the server's when read.

The rules themselves are logcenter/scrub.py's; a project adds sensitive and safe key names to the server's
(`LOGCENTER_SCRUB_FIELDS` / `_SAFE_FIELDS`), chooses whether IP addresses are scrubbed, and may turn scrubbing
off only where the server allows it (`LOGCENTER_SCRUB_ALLOW_PROJECT_OFF`), as Sentry's organisation setting
"Require Data Scrubber" decides for its projects.
"""

from __future__ import annotations

from typing import Any

from logcenter.config import Settings
from logcenter.errors import ValidationFailed
from logcenter.projects.schemas import ScrubbingEffective, ScrubbingRead, ScrubbingSettings
from logcenter.scrub import ScrubRules


def off_allowed(settings: Settings) -> bool:
    """Whether a project may turn scrubbing off (trivially so when the server scrubs nothing anyway)."""
    return settings.scrub_allow_project_off or not settings.scrub_data


def check(data: ScrubbingSettings | None, *, allow_off: bool) -> None:
    """422 naming `scrubbing.scrub_data` when a project turns scrubbing off and the server forbids it."""
    if data is not None and data.scrub_data is False and not allow_off:
        message = (
            "this server does not let a project turn scrubbing off (LOGCENTER_SCRUB_ALLOW_PROJECT_OFF=false)"
        )
        raise ValidationFailed([{"field": "scrubbing.scrub_data", "message": message}])


def stored(data: ScrubbingSettings | None) -> dict[str, Any] | None:
    """What the project keeps: None for the server's rules unchanged."""
    if data is None or data == ScrubbingSettings():
        return None
    return data.model_dump()


def settings_of(value: Any) -> ScrubbingSettings:
    """The project's stored rules (None: none of its own)."""
    return ScrubbingSettings.model_validate(value) if value else ScrubbingSettings()


def rules(value: Any, *, server: ScrubRules, allow_off: bool) -> ScrubRules:
    """The rules a project's reports are scrubbed with: the server's and the project's stored ones."""
    if not value:
        return server
    own = settings_of(value)
    return server.with_project(
        fields=own.sensitive_fields,
        safe_fields=own.safe_fields,
        ip_addresses=own.scrub_ip_addresses,
        enabled=own.scrub_data,
        allow_off=allow_off,
    )


def read(value: Any, settings: Settings) -> ScrubbingRead:
    """The project's own rules and the effective ones (what GET /api/v1/projects/{id} shows)."""
    effective = rules(value, server=settings.scrub_rules, allow_off=off_allowed(settings))
    return ScrubbingRead(
        **settings_of(value).model_dump(),
        effective=ScrubbingEffective(
            scrub_data=effective.enabled,
            sensitive_fields=list(effective.fields),
            safe_fields=list(effective.safe_fields),
            scrub_ip_addresses=effective.ip_addresses,
        ),
    )
