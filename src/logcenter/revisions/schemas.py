"""The revision request's body, and what a repair agent gets with a claimed revision."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class RevisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, StringConstraints(min_length=1, max_length=10_000, strip_whitespace=True)] = (
        Field(
            description="What to change: given to the repair agent with the fix (as data, not instructions)"
        )
    )


class ReviewComment(BaseModel):
    """A reviewer's words about the fix: the revision request itself, or another comment or review of theirs
    since the fix was reported. Written by a person on the forge: untrusted text."""

    author: str
    kind: str = Field(description="revision_requested, comment or review")
    text: str
    link: str | None
    created_at: datetime


class RevisionTask(BaseModel):
    """What a repair agent needs to revise a fix instead of making a new one."""

    number: int = Field(description="Which revision of the fix this is (1 for the first)")
    requested_at: datetime
    requested_by: list[str]
    pr_number: int | None
    pr_url: str | None
    branch_name: str | None = Field(description="The fix's branch: the revision is a new commit on it")
    head_sha: str | None = Field(description="The head the fix was reported (or last revised) at")
    comments: list[ReviewComment] = Field(description="Oldest first")
