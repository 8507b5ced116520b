from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from logcenter.bugs.schemas import MAX_ID, BranchName, BugRead, PrNumber, PrUrl, Verification
from logcenter.revisions.schemas import RevisionTask

AgentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:@\-]+$", min_length=1, max_length=200)]
BugIds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(min_length=1, max_length=100)]


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: AgentName
    limit: Annotated[int, Field(ge=1, le=50)] = 1
    project_id: Annotated[str, StringConstraints(max_length=100)] | None = None
    lease_seconds: Annotated[int, Field(ge=10, le=86_400)] | None = None


class ClaimedBug(BugRead):
    revision_request: RevisionTask | None = Field(
        default=None,
        description="Set when the claimed bug is a revision of its fix: the PR and branch to revise and the "
        "reviewers' comments; absent for a NEW bug",
    )


class Claimed(BaseModel):
    bugs: list[ClaimedBug]


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: AgentName
    bug_ids: BugIds
    lease_seconds: Annotated[int, Field(ge=10, le=86_400)] | None = None


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: AgentName
    bug_ids: BugIds
    note: Annotated[str, StringConstraints(max_length=10_000)] | None = None


class ProgressIn(BaseModel):
    """A step of a repair run, for the bug's history (the bug must be leased to this agent)."""

    model_config = ConfigDict(extra="forbid")

    agent: AgentName
    bug_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    step: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,30}$")]
    note: Annotated[str, StringConstraints(max_length=2_000)] = ""


class LeaseResult(BaseModel):
    held: list[int] = Field(description="Bugs this agent holds (heartbeat) or returned to NEW (release)")
    lost: list[int] = Field(description="Bugs not (or no longer) leased to this agent")


Text = Annotated[str, StringConstraints(max_length=1_000_000)]


class RepairReportIn(BaseModel):
    """The guide's repair report, plus what a verified fix records."""

    model_config = ConfigDict(extra="forbid")

    status: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="PENDING_REVIEW or FAILED (legacy FIXED / FIX_FAILED); inferred if absent"
    )
    agent: AgentName | None = None
    fixer: Annotated[str, StringConstraints(max_length=200)] | None = None
    attempt: Annotated[int, Field(ge=1, le=10_000)] | None = None
    analysis: Text | None = None
    modified_files: Annotated[
        list[Annotated[str, StringConstraints(max_length=1024)]], Field(max_length=1000)
    ] = []
    diff: Text | None = None
    test_passed: bool | None = None
    test_output: Text | None = None
    verification: Verification | None = Field(
        default=None,
        description="How the fix was verified (fail-to-pass tests, outcomes before and after, the suite): "
        "what auto-merge judges; a report without it is never merged by policy",
    )
    pr_number: PrNumber | None = None
    pr_url: PrUrl | None = None
    branch_name: BranchName | None = None
    head_sha: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{7,64}$")] | None = Field(
        default=None,
        description="The commit the agent pushed and verified: a merge from Log Center is made at this head "
        "unless the reviewer says another",
    )
    failure_reason: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    duration_seconds: Annotated[float, Field(ge=0)] | None = None
    durations: dict[Annotated[str, StringConstraints(max_length=50)], Annotated[float, Field(ge=0)]] = {}
