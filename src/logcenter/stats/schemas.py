"""Wire shapes of `GET /api/v1/stats`: what the dashboard and the bug list's "today" counters show."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class StatusCounts(BaseModel):
    """Bugs per current status (the six workflow states) and their sum."""

    total: int = 0
    new: int = 0
    fixing: int = 0
    pending_review: int = 0
    merged: int = 0
    deployed: int = 0
    failed: int = 0


class ProjectStats(StatusCounts):
    """One row of the per-project table: the project's bugs by current status."""

    project_id: str = Field(description="The project's string id (slug)")
    name: str | None


class StatsTotals(BaseModel):
    found: int = Field(description="Bugs first seen in the range")
    auto_fixed: int = Field(description="Bugs that reached PENDING_REVIEW in the range")
    failed: int = Field(description="Bugs that reached FAILED in the range")
    fix_attempts: int = Field(
        description="Repair attempts that ended in the range (FIXING → PENDING_REVIEW or FAILED)"
    )
    fix_success_rate: float | None = Field(
        description="Share of those attempts that reached PENDING_REVIEW, 0..1; null without attempts"
    )
    avg_seconds_to_review: float | None = Field(
        description="Mean time from a bug's last entry into NEW to PENDING_REVIEW, over the range's fixes"
    )


class DailyStats(BaseModel):
    date: dt.date = Field(description="UTC day")
    new: int = Field(description="Bugs first seen that day")
    fixed: int = Field(description="Bugs that reached PENDING_REVIEW that day")
    failed: int = Field(description="Bugs that reached FAILED that day")
    occurrences: int = Field(description="Reports received for the bugs, by report time")


class StatsRead(BaseModel):
    days: int
    project_id: str | None = Field(description="The project filter, if any")
    start: dt.datetime = Field(description="Start of the range (UTC midnight, inclusive)")
    end: dt.datetime = Field(description="End of the range (next UTC midnight, exclusive)")
    status_counts: StatusCounts = Field(description="All bugs by current status")
    today: StatusCounts = Field(description="Bugs that entered their current status today (UTC)")
    totals: StatsTotals
    daily: list[DailyStats] = Field(description="One entry per day of the range, oldest first")
    projects: list[ProjectStats] = Field(description="Per-project table, by project id")
