"""The review policy API's bodies (designated reviewers, auto-merge)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from logcenter.automerge.models import Mode

ForgeUser = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")]
Glob = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]+$", max_length=300)]


class PolicyUpdate(BaseModel):
    """PUT: fields left out stay as they are (a project without a policy starts from the defaults)."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode | None = Field(default=None, description="off (default), dry_run (decide, merge nothing), on")
    max_lines: int | None = Field(default=None, ge=1, le=100_000, description="added + removed lines")
    max_files: int | None = Field(default=None, ge=1, le=1000)
    allowed_paths: list[Glob] | None = Field(
        default=None, max_length=100, description="globs every changed file must match; empty = any path"
    )
    grace_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    require_checks: bool | None = Field(default=None, description="the head's CI statuses must be green")
    reviewers: list[ForgeUser] | None = Field(
        default=None,
        max_length=50,
        description="forge user names requested on each fix's PR; when set, only they (and admins) may merge "
        "from Log Center",
    )
    revision_trigger: Annotated[str, StringConstraints(max_length=100, strip_whitespace=True)] | None = Field(
        default=None,
        description='A reviewer\'s PR comment starting with this asks for a revision of the fix; "" = the '
        "server's LOGCENTER_REVISION_TRIGGER",
    )
    max_revisions: int | None = Field(
        default=None, ge=0, le=100, description="Revisions a fix may have (0: none); default the server's"
    )

    @field_validator("revision_trigger")
    @classmethod
    def _trigger(cls, value: str | None) -> str | None:
        if value and len(value) < 2:
            raise ValueError('a trigger needs at least 2 characters ("" uses the server\'s)')
        return value


class PolicyRead(BaseModel):
    project_id: str
    mode: str
    max_lines: int
    max_files: int
    allowed_paths: list[str]
    grace_minutes: int
    require_checks: bool
    reviewers: list[str]
    revision_trigger: str = Field(description="The project's own, or the server's")
    max_revisions: int = Field(description="The project's own, or the server's")
    protected: dict[str, list[str]] = Field(
        description="files a fix may never touch to be merged automatically (dependencies, CI, migrations, "
        "secrets)"
    )
    updated_at: datetime | None
