"""The ingest writer's own tables: its backlog of uncounted occurrences and its memory of recent event ids."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base


class UncountedOccurrence(Base):
    """An occurrence stored by the ingest writer and not yet added to its bug's counters.

    The ingest writer commits each report as an occurrence at once, and adds them to the counters (count,
    first/last seen, latest values, hourly counts, tag values) and prunes old occurrences later, from a tally
    it keeps in memory (ingest/counting.py). This table is that backlog, kept in the database so a crash loses
    none: what a stopped writer left is read back from here (`ingest.counting.count_pending`).
    """

    __tablename__ = "uncounted_occurrences"

    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("occurrences.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


class RecentEventId(Base):
    """The event ids of the last Sentry events stored (`LOGCENTER_SENTRY_DEDUP_WINDOW` of them), oldest first.

    The ingest writer keeps them in memory to recognise a repeated event_id (SDKs retry), and reads them back
    from here when it starts (ingest/events.py). Rows are appended in id order and trimmed from the oldest
    end, so the table costs a page write per batch, not an index lookup per report. `bug_id` is the bug the
    event joined, echoed for a repeat; no foreign key: a deleted bug's rows just age out.
    """

    __tablename__ = "recent_event_ids"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    bug_id: Mapped[int] = mapped_column(Integer)
    # Whether this event created its bug: a repeated REST report (Idempotency-Key) is answered as the first.
    created: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
