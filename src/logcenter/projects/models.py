from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String, Text, false
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
    # True when an admin set repo_url; a repo_url from an error report (reports need no login) is only a
    # suggestion: the repair agent and the forge clients use it only once an admin confirms it.
    repo_url_confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    local_path: Mapped[str | None] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text)
    default_branch: Mapped[str | None] = mapped_column(String(200))
    test_command: Mapped[str | None] = mapped_column(String(2000))
    # The repair agent's settings (projects/schemas.py AgentSettings); None = the agent's own defaults.
    agent_settings: Mapped[Any] = mapped_column(JSONText, nullable=True)
    # Data scrubbing beyond the server's rules (projects/schemas.py ScrubbingSettings); None = the server's.
    scrubbing: Mapped[Any] = mapped_column(JSONText, nullable=True)
    ingest_key: Mapped[str] = mapped_column(String(64), unique=True, default=new_ingest_key)
    # Forge of the repository (docs/forges-setup.md). Unset fields fall back to the server-wide settings;
    # forge_repo falls back to what repo_url names. Secrets are Fernet tokens (logcenter/secretbox.py).
    forge: Mapped[str | None] = mapped_column(String(20))
    forge_url: Mapped[str | None] = mapped_column(String(500))
    forge_repo: Mapped[str | None] = mapped_column(String(300))
    forge_token_encrypted: Mapped[str | None] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # The secret of this project's deployment notices (POST /api/webhooks/deployment), when it has its own.
    deployment_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    merge_style: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
