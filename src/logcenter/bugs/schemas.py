from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Note = Annotated[str, StringConstraints(max_length=10_000)]
# A pull request as the agent and the forge webhooks record it (also used by repair reports).
PrNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]
PrUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=500)]
BranchName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/\-]+$", max_length=200)]
# Ids are 32-bit INTEGER columns: a bigger number is a 422, not a database "out of range" error (500).
MAX_ID = 2**31 - 1


class BugRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: str
    fingerprint: str
    source: str
    error_type: str
    message: str
    file_path: str | None
    line_number: int | None
    stack_trace: str
    level: str
    environment: str
    version: str | None
    commit_hash: str | None
    context: dict[str, Any]
    status: str
    status_changed_at: datetime
    failure_reason: str | None
    occurrence_count: int
    first_seen: datetime
    last_seen: datetime
    pr_number: int | None
    pr_url: str | None
    branch_name: str | None
    head_sha: str | None
    merge_commit_sha: str | None
    merged_at: datetime | None
    merged_by: str | None
    deployed_at: datetime | None
    deployed_version: str | None
    deployed_commit: str | None
    deployed_environment: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    revision: int = Field(default=0, description="Revisions of the current fix reviewers asked for")
    revision_requested_at: datetime | None = Field(
        default=None, description="Set while a revision is asked for and not yet reported (the bug is FIXING)"
    )
    # Triage: ignored while ignored_at is set (until ignore_until / ignore_until_count, if given), who is on
    # it, and the bug this one was merged into as a duplicate.
    ignored_at: datetime | None
    ignored_by: str | None
    ignore_until: datetime | None
    ignore_until_count: int | None
    ignore_start_count: int | None
    assignee: str | None
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime


class BugPage(BaseModel):
    bugs: list[BugRead]
    total: int = Field(
        description="How many bugs match: exact up to 10,000 (1,000 with a text search); when more match, "
        "that cap, and total_capped is true"
    )
    total_capped: bool = Field(default=False, description="More bugs match than total says")
    page: int = Field(description="The page asked for with `page` (1 when paging by cursor)")
    page_size: int
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` (same filters and sort) for the next page; null on the last page",
    )


class BugEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    note: str | None
    link: str | None
    created_at: datetime


class OccurrenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str | None
    timestamp: datetime
    received_at: datetime
    environment: str
    level: str
    version: str | None
    commit_hash: str | None
    message: str
    stack_trace: str
    context: dict[str, Any]
    data: dict[str, Any]


class TagValueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    value: str
    count: int
    first_seen: datetime
    last_seen: datetime


class TestOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # exited non-zero
    TIMED_OUT = "timed_out"
    NOT_RUN = "not_run"


class Verification(BaseModel):
    """How the repair agent verified a fix, outside the model, in a form auto-merge reads (not the text of
    `test_output`, which quotes the tests' output and may quote the report's own text)."""

    model_config = ConfigDict(extra="forbid")

    command: Annotated[str, StringConstraints(max_length=2_000)] | None = Field(
        default=None, description="The project's test command the agent ran"
    )
    fail_to_pass: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=1_024)]], Field(max_length=200)
    ] = Field(
        default_factory=list,
        description="The new or changed tests (files, or test ids) that failed on the base commit and pass "
        "with the fix; empty: no test was seen to fail before the fix",
    )
    before: TestOutcome = Field(
        default=TestOutcome.NOT_RUN, description="Those tests on the base commit, without the fix"
    )
    after: TestOutcome = Field(default=TestOutcome.NOT_RUN, description="Those tests with the fix")
    suite: TestOutcome = Field(
        default=TestOutcome.NOT_RUN, description="The project's whole suite with the fix"
    )

    def shows_fail_to_pass(self) -> bool:
        """Tests that failed before the fix pass with it, and the suite passes."""
        return (
            bool(self.fail_to_pass)
            and self.before == TestOutcome.FAILED
            and self.after == TestOutcome.PASSED
            and self.suite == TestOutcome.PASSED
        )


class RepairReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    attempt: int
    status: str
    agent: str | None
    fixer: str | None
    analysis: str | None
    modified_files: list[str]
    diff: str | None
    test_passed: bool | None
    test_output: str | None
    verification: Verification | None = Field(
        default=None, description="The agent's structured verification (none from agents before it)"
    )
    pr_number: int | None
    pr_url: str | None
    branch_name: str | None
    revision: int | None = Field(default=None, description="The revision this report answers; none: a fix")
    failure_reason: str | None
    duration_seconds: float | None
    durations: dict[str, float]
    created_at: datetime


class BugDetail(BugRead):
    environments: list[TagValueRead]
    versions: list[TagValueRead]
    history: list[BugEventRead]
    occurrences: list[OccurrenceRead]
    repair_reports: list[RepairReportRead]


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Annotated[str, StringConstraints(max_length=40)]
    note: Note | None = None
    failure_reason: Note | None = None
    # Set when moving to MERGED / DEPLOYED by hand (forge and deployment webhooks set them otherwise).
    merge_commit_sha: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")] | None = None
    deployed_version: Annotated[str, StringConstraints(max_length=200)] | None = None
    deployed_commit: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")] | None = None


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = None


class FailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class PrInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pr_number: PrNumber
    pr_url: PrUrl
    branch_name: BranchName | None = None


class Message(BaseModel):
    message: str
