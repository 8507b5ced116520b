"""A project's auto-merge policy (off by default) and the decisions taken for each PR head."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base, JSONText, UTCDateTime, utcnow


class Mode(StrEnum):
    OFF = "off"
    DRY_RUN = "dry_run"  # decide and write it down, merge nothing
    ON = "on"


class MergePolicy(Base):
    """A project's review policy: its designated reviewers, and when a verified fix may be merged without a
    person (every condition must hold)."""

    __tablename__ = "merge_policies"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(20), default=Mode.OFF)
    max_lines: Mapped[int] = mapped_column(Integer, default=20)
    max_files: Mapped[int] = mapped_column(Integer, default=3)
    # Globs the changed files must all match (empty: any path that is not forbidden).
    allowed_paths: Mapped[Any] = mapped_column(JSONText, default=list)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=60)
    require_checks: Mapped[bool] = mapped_column(Boolean, default=True)
    # Designated reviewers (forge user names): requested on each fix's PR; when set, only they (and admins)
    # may merge from Log Center.
    reviewers: Mapped[Any] = mapped_column(JSONText, default=list)
    # Revisions from review comments (revisions/): the comment prefix that asks for one and how many a fix
    # may have; None: the server's LOGCENTER_REVISION_TRIGGER / LOGCENTER_MAX_REVISIONS.
    revision_trigger: Mapped[str | None] = mapped_column(String(100))
    max_revisions: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MergeDecision(Base):
    """What auto-merge decided for one head of a bug's PR: decided once per head (a new push, a new look)."""

    __tablename__ = "merge_decisions"

    bug_id: Mapped[int] = mapped_column(ForeignKey("bugs.id", ondelete="CASCADE"), primary_key=True)
    head_sha: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20))  # merged / would_merge / refused / failed
    conditions: Mapped[Any] = mapped_column(JSONText, default=list)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewRequest(Base):
    """The designated reviewers were asked to review this PR (once per PR)."""

    __tablename__ = "review_requests"

    bug_id: Mapped[int] = mapped_column(ForeignKey("bugs.id", ondelete="CASCADE"), primary_key=True)
    pr_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    reviewers: Mapped[Any] = mapped_column(JSONText, default=list)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
