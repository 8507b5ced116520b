from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from logcenter.projects.schemas import Slug

Sha = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")]
Label = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$", max_length=200)]


class DeploymentIn(BaseModel):
    """The CI's call after a deploy (the seed's curl): which project, whether it worked, which commit."""

    model_config = ConfigDict(extra="ignore")

    project_id: Slug
    status: Annotated[str, StringConstraints(max_length=40)]
    commit: Sha
    environment: Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$", max_length=64)] | None = (
        None
    )
    version: Label | None = None
    deployed_at: datetime | None = None


class BugOutcome(BaseModel):
    bug_id: int
    outcome: str


class WebhookAnswer(BaseModel):
    status: Literal["ok", "ignored", "duplicate"]
    message: str
    bugs: list[BugOutcome] = []


class LeftBug(BaseModel):
    bug_id: int
    reason: str


class DeploymentAnswer(BaseModel):
    status: Literal["ok", "ignored", "duplicate"]
    message: str
    deployed: list[int] = []
    left: list[LeftBug] = []
