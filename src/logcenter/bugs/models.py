from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from logcenter.db import Base, JSONText, UTCDateTime, utcnow
from logcenter.projects.models import Project


class BugStatus(StrEnum):
    NEW = "NEW"
    FIXING = "FIXING"
    PENDING_REVIEW = "PENDING_REVIEW"
    MERGED = "MERGED"
    DEPLOYED = "DEPLOYED"
    FAILED = "FAILED"


class Source(StrEnum):
    RUNTIME = "runtime"
    CICD = "cicd"
    DEPLOYMENT = "deployment"


class Level(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class Bug(Base):
    """One row per fingerprint: the guide's ErrorLog, with counters and the repair workflow's state."""

    __tablename__ = "bugs"
    __table_args__ = (
        UniqueConstraint("project_id", "fingerprint"),
        # With id: the board orders by (last_seen, id) and pages by a cursor on both (migration 0008).
        # And what the board lists (merged_into_id, ignored_at: migration 0018): the status chips and capped
        # totals read the index alone. The ingest counter rewrites its entries anyway (it sets last_seen).
        Index("ix_bugs_status_last_seen_id", "status", "last_seen", "id", "merged_into_id", "ignored_at"),
        Index("ix_bugs_last_seen_id", "last_seen", "id"),
        Index("ix_bugs_project_id_last_seen_id", "project_id", "last_seen", "id"),
        # Today's stat cards: what entered a status since midnight (migration 0008).
        Index("ix_bugs_status_status_changed_at", "status", "status_changed_at"),
        # A project's board (counts, today's cards, sections) and the stats page's per-project table, read
        # from the index alone (migration 0018): what the board lists is `merged_into_id IS NULL AND
        # ignored_at IS NULL`, which it seeks as equalities. Not updated by the ingest counter (none of
        # these columns changes when a report is counted).
        Index(
            "ix_bugs_project_status_listed",
            "project_id",
            "status",
            "merged_into_id",
            "ignored_at",
            "status_changed_at",
        ),
        Index("ix_bugs_project_id_created_at", "project_id", "created_at"),
        # The bug lists sorted by first_seen or occurrence_count, per status (bugs/listing.py; migration
        # 0019). The ingest counter rewrites their entries (it sets both columns), as it does the last_seen
        # ones: measured, 3-8% more WAL each for a batch stored and counted (docs/web.md).
        Index("ix_bugs_status_first_seen_id", "status", "first_seen", "id"),
        Index("ix_bugs_status_occurrence_count_id", "status", "occurrence_count", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))
    error_type: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(String(1024))
    line_number: Mapped[int | None] = mapped_column(Integer)
    stack_trace: Mapped[str] = mapped_column(Text, default="")
    # Latest report's values; every value seen is counted in bug_tag_values.
    level: Mapped[str] = mapped_column(String(20))
    environment: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(200))
    commit_hash: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[Any] = mapped_column(JSONText, default=dict)

    # Changed only through bugs/workflow.py, with the fields below that go with each state.
    status: Mapped[str] = mapped_column(String(20), default=BugStatus.NEW)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failure_reason: Mapped[str | None] = mapped_column(Text)

    occurrence_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)

    # Pull request of the current fix (set by the agent, moved along by forge webhooks).
    pr_number: Mapped[int | None] = mapped_column(Integer)
    pr_url: Mapped[str | None] = mapped_column(String(500))
    branch_name: Mapped[str | None] = mapped_column(String(200))
    # The PR's head commit as last known: a reviewer's merge is made at this sha, refused if the PR moved.
    head_sha: Mapped[str | None] = mapped_column(String(64))
    merge_commit_sha: Mapped[str | None] = mapped_column(String(64))
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_by: Mapped[str | None] = mapped_column(String(200))
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deployed_version: Mapped[str | None] = mapped_column(String(200))
    deployed_commit: Mapped[str | None] = mapped_column(String(64))
    deployed_environment: Mapped[str | None] = mapped_column(String(64))

    # Repair-agent lease while FIXING.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Revisions of the current fix that reviewers asked for (reset when a new fix starts). While a revision
    # is asked for and not yet reported, revision_requested_at is set and the bug is FIXING: with no lease it
    # waits for an agent's claim, with one it is being revised (bugs/workflow.py: request_revision).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    revision_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Triage (bugs/workflow.py: ignore, unignore, assign, absorb). None of it changes the status.
    # Ignored while ignored_at is set, until ignore_until passes or occurrence_count reaches
    # ignore_until_count (the count when ignored, ignore_start_count, plus N); the triage.unignore job
    # ends it.
    ignored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ignored_by: Mapped[str | None] = mapped_column(String(200))
    ignore_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ignore_until_count: Mapped[int | None] = mapped_column(Integer)
    ignore_start_count: Mapped[int | None] = mapped_column(Integer)
    assignee: Mapped[str | None] = mapped_column(String(200))
    # Set on a bug absorbed by another (a merge of duplicates): its fingerprint's reports go to that bug.
    # Always one level: bugs absorbed into a bug that is itself absorbed are re-pointed at the survivor.
    # No foreign key: SQLite can add one only by copying `bugs`, which with foreign keys on would delete
    # every occurrence. Both bugs are of one project and bugs are deleted only with their project, and the
    # ingest redirect falls back to the bug itself if the survivor were ever missing.
    merged_into_id: Mapped[int | None] = mapped_column(Integer, index=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship(lazy="raise")


class Occurrence(Base):
    """One report of a bug. Only the newest `occurrence_retention` per bug are kept."""

    __tablename__ = "occurrences"
    __table_args__ = (Index("ix_occurrences_bug_id_id", "bug_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bug_id: Mapped[int] = mapped_column(ForeignKey("bugs.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # Sentry's event id, shown with the occurrence. Not indexed: repeated ids are recognised by the ingest
    # writer (ingest.models.RecentEventId), not by a unique index: a random index page per insert and delete.
    event_id: Mapped[str | None] = mapped_column(String(32))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    environment: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(20))
    version: Mapped[str | None] = mapped_column(String(200))
    commit_hash: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    stack_trace: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[Any] = mapped_column(JSONText, default=dict)
    # Everything else a client sent that is worth showing (Sentry tags, user, request, breadcrumbs...).
    data: Mapped[Any] = mapped_column(JSONText, default=dict)


class BugHourlyCount(Base):
    __tablename__ = "bug_hourly_counts"

    bug_id: Mapped[int] = mapped_column(ForeignKey("bugs.id", ondelete="CASCADE"), primary_key=True)
    # Indexed on its own for range scans over all bugs (stats, charts); the primary key serves per-bug reads.
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class StaleSearchRow(Base):
    """A bug whose latest message changed since the search index read it (bugs/search.py); the
    `bugs.search_refresh` job takes these rows and re-indexes. Plain rows, repeats allowed: the ingest
    counter only inserts, and never waits on a key another transaction holds."""

    __tablename__ = "stale_search_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    bug_id: Mapped[int] = mapped_column(Integer)


class ProjectDailyCount(Base):
    """Occurrences of a project's bugs per UTC day of their report time: the stats page's series, kept by
    the ingest counter with bug_hourly_counts, so that the page reads a few rows per day rather than every
    bug's hours.

    Each counting transaction adds its own rows (no update: concurrent counters on PostgreSQL never wait
    for each other's row), and the periodic `stats.compact_daily` job sums the rows of each (project, day)
    into one. The count of a day is the sum of its rows at any moment.
    """

    __tablename__ = "project_daily_counts"

    # No index but the key: the table holds about a row per project and day (a year of 20 projects: 7,300),
    # read whole, and an index would be one more write per counting transaction.
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)


class BugTagValue(Base):
    """How often each environment / version / ... value was seen on a bug."""

    __tablename__ = "bug_tag_values"

    bug_id: Mapped[int] = mapped_column(ForeignKey("bugs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class BugEvent(Base):
    """Append-only history of a bug: status changes, PR links, comments. The UI's operation log."""

    __tablename__ = "bug_events"
    __table_args__ = (
        Index("ix_bug_events_bug_id_id", "bug_id", "id"),
        # The stats page's fixes and failures of a range, from the index alone, and for each of them when
        # its bug last entered NEW (migration 0018).
        Index(
            "ix_bug_events_to_status_created_at", "to_status", "created_at", "from_status", "kind", "bug_id"
        ),
        Index(
            "ix_bug_events_bug_id_to_status_created_at", "bug_id", "to_status", "created_at", "from_status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bug_id: Mapped[int] = mapped_column(ForeignKey("bugs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # history.HistoryKind
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    # Where it happened: the PR, the comment or review, the deployment's pipeline.
    link: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
