from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base, JSONText, UTCDateTime, utcnow


def new_ingest_key() -> str:
    return secrets.token_hex(16)


class Project(Base):
    __tablename__ = "projects"

    # `id` is the numeric id (Sentry DSNs use it); `slug` is the guide's string `project_id` ("rtc_backend").
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    repo_url: Mapped[str | None] = mapped_column(String(500))
    local_path: Mapped[str | None] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text)
    default_branch: Mapped[str | None] = mapped_column(String(200))
    test_command: Mapped[str | None] = mapped_column(String(2000))
    # The repair agent's settings (projects/schemas.py AgentSettings); None = the agent's own defaults.
    agent_settings: Mapped[Any] = mapped_column(JSONText, nullable=True)
    ingest_key: Mapped[str] = mapped_column(String(64), unique=True, default=new_ingest_key)
    # Forge of the repository (docs/forges-setup.md). Unset fields fall back to the server-wide settings;
    # forge_repo falls back to what repo_url names. Secrets are Fernet tokens (logcenter/secretbox.py).
    forge: Mapped[str | None] = mapped_column(String(20))
    forge_url: Mapped[str | None] = mapped_column(String(500))
    forge_repo: Mapped[str | None] = mapped_column(String(300))
    forge_token_encrypted: Mapped[str | None] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    merge_style: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
