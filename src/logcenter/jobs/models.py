"""The job table: background work the server must do, claimed by lease from the same database."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base, JSONText, UTCDateTime, utcnow


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for run_after (also between retries)
    RUNNING = "running"  # claimed by locked_by until locked_until; after that any worker may reclaim it
    DONE = "done"
    FAILED = "failed"  # out of attempts, or failed for good; last_error says why


QUEUED_ONLY = text("state = 'queued'")


class Job(Base):
    """One piece of background work: `kind` names its handler, `payload` is its JSON argument."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The claim's scan: due queued jobs oldest first, and running jobs whose lease ran out.
        Index("ix_jobs_state_run_after", "state", "run_after"),
        Index("ix_jobs_state_locked_until", "state", "locked_until"),
        # At most one queued job per dedupe key (a running one may have read what the new one must see).
        Index(
            "uq_jobs_dedupe_key_queued",
            "dedupe_key",
            unique=True,
            sqlite_where=QUEUED_ONLY,
            postgresql_where=QUEUED_ONLY,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[Any] = mapped_column(JSONText, default=dict)
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
