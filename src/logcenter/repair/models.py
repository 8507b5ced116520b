from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base, JSONText, UTCDateTime, utcnow


class RepairAttempt(Base):
    """A repair report: what one agent run did for a bug (the guide's repair report)."""

    __tablename__ = "repair_attempts"
    __table_args__ = (Index("ix_repair_attempts_bug_id_id", "bug_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bug_id: Mapped[int] = mapped_column(ForeignKey("bugs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # the status the report moved the bug to
    agent: Mapped[str | None] = mapped_column(String(200))
    fixer: Mapped[str | None] = mapped_column(String(200))
    analysis: Mapped[str | None] = mapped_column(Text)
    modified_files: Mapped[Any] = mapped_column(JSONText, default=list)
    diff: Mapped[str | None] = mapped_column(Text)
    test_passed: Mapped[bool | None] = mapped_column(Boolean)
    test_output: Mapped[str | None] = mapped_column(Text)
    # The agent's structured verification (bugs/schemas.py: Verification); NULL from agents before 0017.
    verification: Mapped[Any] = mapped_column(JSONText, nullable=True)
    pr_number: Mapped[int | None] = mapped_column(Integer)
    pr_url: Mapped[str | None] = mapped_column(String(500))
    branch_name: Mapped[str | None] = mapped_column(String(200))
    # The revision this report answers (bugs.revision when it was made); None for a first fix.
    revision: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    durations: Mapped[Any] = mapped_column(JSONText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
