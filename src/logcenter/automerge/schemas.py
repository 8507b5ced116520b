"""The review policy API's bodies (designated reviewers, auto-merge)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


class PolicyRead(BaseModel):
    project_id: str
    mode: str
    max_lines: int
    max_files: int
    allowed_paths: list[str]
    grace_minutes: int
    require_checks: bool
    reviewers: list[str]
    protected: dict[str, list[str]] = Field(
        description="files a fix may never touch to be merged automatically (dependencies, CI, migrations, "
        "secrets)"
    )
    updated_at: datetime | None
