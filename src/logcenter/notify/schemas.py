"""The notification channels API's bodies. Secrets (URL tokens, signing secrets, SMTP passwords) go in,
never out: a channel is read back with `url_preview`, `url_set` and `secret_set`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from logcenter.bugs.models import Level
from logcenter.notify.events import DEFAULT_EVENTS, SUBSCRIBABLE, EventKind
from logcenter.notify.transport import ChannelKind, SmtpSecurity

Line = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$")]
Name = Annotated[Line, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Url = Annotated[Line, StringConstraints(max_length=2000)]
Secret = Annotated[str, StringConstraints(max_length=1000)]
Address = Annotated[
    str, StringConstraints(pattern=r"^[^\s@<>,;\"\x00-\x1f\x7f]+@[^\s@<>,;\"\x00-\x1f\x7f]+$", max_length=254)
]
Environment = Annotated[Line, StringConstraints(min_length=1, max_length=64)]
MAX_THROTTLE = 7 * 24 * 3600


class SmtpSettings(BaseModel):
    """The SMTP server of an email channel; its password is the channel's `secret`."""

    model_config = ConfigDict(extra="forbid")

    host: Annotated[Line, StringConstraints(min_length=1, max_length=255)]
    port: int | None = Field(
        default=None, ge=1, le=65535, description="default 587 (starttls), 465 (tls), 25"
    )
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: Annotated[Line, StringConstraints(max_length=255)] | None = None
    from_address: Address | None = None


def _web_url(value: str | None) -> str | None:
    if value and not value.lower().startswith(("https://", "http://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _subscribable(value: list[EventKind] | None) -> list[EventKind] | None:
    if value is not None and not set(value) <= set(SUBSCRIBABLE):
        raise ValueError(f"choose events from {', '.join(SUBSCRIBABLE)}")
    return list(dict.fromkeys(value)) if value is not None else None


class ChannelFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = Field(
        default=None, description="the robot's / webhook's URL (write-only: it holds a token)"
    )
    secret: Secret | None = Field(
        default=None,
        description="DingTalk or Feishu signing secret, webhook HMAC secret, or SMTP password (write-only)",
    )
    smtp: SmtpSettings | None = None
    recipients: list[Address] | None = Field(default=None, max_length=100)
    events: list[EventKind] | None = None
    project_id: Annotated[Line, StringConstraints(max_length=100)] | None = Field(
        default=None, description="a project's id (slug); none = every project"
    )
    min_level: Level | None = None
    environments: list[Environment] | None = Field(default=None, max_length=50)
    throttle_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_THROTTLE,
        description="at most one message per bug and event kind per interval",
    )
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _web_url(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[EventKind] | None) -> list[EventKind] | None:
        return _subscribable(value)


class ChannelCreate(ChannelFields):
    name: Name
    kind: ChannelKind
    events: list[EventKind] | None = Field(default_factory=lambda: list(DEFAULT_EVENTS))


class ChannelUpdate(ChannelFields):
    """PUT: fields left out stay; `secret: ""` removes the secret; `project_id: ""` means every project."""

    name: Name | None = None


class ChannelRead(BaseModel):
    id: int
    name: str
    kind: ChannelKind
    url_preview: str | None = Field(description="scheme and host of the URL; the rest holds its token")
    url_set: bool
    secret_set: bool
    smtp: SmtpSettings | None
    recipients: list[str]
    events: list[str]
    project_id: str | None
    min_level: str | None
    environments: list[str]
    throttle_seconds: int
    enabled: bool
    failing: bool = Field(description="the last deliveries failed in a row; cleared by a success")
    consecutive_failures: int
    last_error: str | None
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ChannelList(BaseModel):
    channels: list[ChannelRead]


class DeliveryRead(BaseModel):
    id: int
    channel_id: int
    event_kind: str
    bug_id: int | None
    title: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime


class DeliveryList(BaseModel):
    deliveries: list[DeliveryRead]
    next_before: int | None = Field(description="pass as `before` for the next (older) page")


class TestResult(BaseModel):
    delivered: bool
    delivery_id: int
    error: str | None
