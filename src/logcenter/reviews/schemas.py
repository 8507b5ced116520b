from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from logcenter.bugs.schemas import MAX_ID, BugRead

Style = Literal["merge", "squash", "rebase"]
HeadSha = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=5000, strip_whitespace=True)]
BugIds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(min_length=1, max_length=100)]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merge_style: Style | None = Field(
        default=None, description="Default: the project's merge_style, else merge"
    )
    note: Annotated[str, StringConstraints(max_length=5000)] | None = None
    expected_head_sha: HeadSha | None = Field(
        default=None, description="The PR head the reviewer saw; a PR that moved since is refused (409)"
    )


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class BatchMergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bug_ids: BugIds
    merge_style: Style | None = None
    note: Annotated[str, StringConstraints(max_length=5000)] | None = None


class BatchRejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bug_ids: BugIds
    reason: Reason


class BatchItem(BaseModel):
    """One bug's result in a batch: `ok` with its new status, or the error it would have had alone."""

    bug_id: int
    ok: bool
    status: str | None = None
    outcome: str | None = None
    status_code: int | None = None
    error: str | None = None


class BatchResult(BaseModel):
    succeeded: int
    failed: int
    results: list[BatchItem]


class ReviewedBug(BugRead):
    outcome: str = Field(description="What the action did: merged, already merged, failed...")


class ChangedFileRead(BaseModel):
    filename: str
    status: str
    additions: int
    deletions: int


class PullRequestView(BaseModel):
    number: int
    url: str
    title: str
    state: str
    merged: bool
    head_branch: str
    head_sha: str
    base_branch: str
    merge_commit_sha: str | None
    merged_by: str | None
    merged_at: datetime | None
    author: str | None
    files: list[ChangedFileRead]
    additions: int
    deletions: int
    diff: str
    diff_truncated: bool
