"""Request bodies of the triage actions (answers are the bug, `BugRead`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from logcenter.bugs.schemas import MAX_ID, Note

MINUTES_PER_YEAR = 525_600


class IgnoreIn(BaseModel):
    """Ignore for `for_minutes` or until `until`, and/or until `until_occurrences` more reports (whichever
    comes first); none of them: forever."""

    model_config = ConfigDict(extra="forbid")

    for_minutes: Annotated[int, Field(ge=1, le=10 * MINUTES_PER_YEAR)] | None = None
    until: datetime | None = Field(default=None, description="UTC if no offset is given")
    until_occurrences: Annotated[int, Field(ge=1, le=1_000_000_000)] | None = None
    note: Note | None = None

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _one_period(self) -> IgnoreIn:
        if self.for_minutes is not None and self.until is not None:
            raise ValueError("give for_minutes or until, not both")
        return self


class UnignoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = None


class AssigneeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None


class AbsorbIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bug_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(min_length=1, max_length=100)]
