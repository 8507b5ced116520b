"""The ingest writer's own tables: its backlog of uncounted occurrences and its memory of recent event ids."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base


class UncountedOccurrence(Base):
    """An occurrence not yet added to its bug's counters: the backlog of ingest/counting.py, a table so that a
    crash loses no count."""

    __tablename__ = "uncounted_occurrences"

    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("occurrences.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


class RecentEventId(Base):
    """The ids of the last Sentry events stored, oldest first (ingest/events.py). `bug_id` is the bug the
    event joined, echoed for a repeat; no foreign key: a deleted bug's rows just age out."""

    __tablename__ = "recent_event_ids"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    bug_id: Mapped[int] = mapped_column(Integer)
    # Whether this event created its bug: a repeated REST report (Idempotency-Key) is answered as the first.
    created: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
