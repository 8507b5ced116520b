from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base, JSONText, UTCDateTime, utcnow


class Scope(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    INGEST = "ingest"
    # May merge and reject fixes (POST /api/v1/bugs/{id}/merge, /reject) and read their pull requests.
    REVIEWER = "reviewer"
    SOURCEMAPS = "sourcemaps"  # sentry-cli uploads from CI: nothing else


class ApiToken(Base):
    """An API token. Only its SHA-256 is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The project ids this token may act on (a JSON list); NULL: every project, as tokens made before 0017.
    projects: Mapped[Any] = mapped_column(JSONText, nullable=True)
