from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
)


def _no_dot_segments(value: str) -> str:
    """No segment may be empty, "." or "..": pages put the id in paths (`/projects/<id>/rotate-key`), where
    a browser resolves such segments, and "x/../rtc_backend" would act on rtc_backend."""
    if any(part in ("", ".", "..") for part in value.split("/")):
        raise ValueError('a "/" must separate names: no empty, "." or ".." part')
    return value


# A project id becomes part of fingerprints, URLs and filters: printable, no control characters, bounded.
# The same type serves ingest, so every id a report may carry is one the projects API accepts.
Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/\-]*$", max_length=100),
    AfterValidator(_no_dot_segments),
]
Line = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*$")]

# Where the repair agent may clone from. Git also understands transports such as "ext::<command>", which run
# a command: those are never accepted. Local repositories only from an admin (the API), not from reports.
REMOTE_REPO_PREFIXES = ("http://", "https://", "ssh://", "git@")
LOCAL_REPO_PREFIXES = ("file://", "/")

# Forge settings: "" clears a field (PUT). A repository path is "owner/name" or a GitLab "group/sub/name".
ForgeKindIn = Literal["gitea", "github", "gitlab", ""]
MergeStyleIn = Literal["merge", "squash", "rebase", ""]
ForgeRepo = Annotated[
    str,
    StringConstraints(
        pattern=r"^(?:[A-Za-z0-9_.][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)+)?$", max_length=300
    ),
]
ForgeSecret = Annotated[SecretStr, StringConstraints(max_length=2000)]


class AgentSettings(BaseModel):
    """How the repair agent treats this project; a field left out (null) takes the agent's own default
    (its `LOGCENTER_AGENT_*` environment). The fixer's command line and every credential stay on the agent."""

    model_config = ConfigDict(extra="forbid")

    fixer: Annotated[str, StringConstraints(pattern=r"^(claude|codex|aider|command)$")] | None = None
    max_files: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="Files a fix may change"
    )
    max_lines: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=None, description="Lines (added + removed) a fix may change"
    )
    test_patterns: (
        Annotated[
            list[Annotated[str, StringConstraints(min_length=1, max_length=200)]], Field(max_length=100)
        ]
        | None
    ) = Field(default=None, description="Globs of test files, e.g. tests/*, *_test.go")
    require_regression_test: bool | None = Field(
        default=None, description="A fix must add a test that fails before it (default true)"
    )
    timeout_seconds: Annotated[int, Field(ge=10, le=86_400)] | None = Field(
        default=None, description="Wall clock per fix"
    )
    max_turns: Annotated[int, Field(ge=1, le=1000)] | None = None
    max_budget_usd: Annotated[float, Field(gt=0, le=1000)] | None = None


# A key name of the scrubbing rules: matched against report keys with case, "-" and "_" ignored. No commas
# (LOGCENTER_SCRUB_FIELDS and the web form separate names with them), no control characters.
ScrubField = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f,]*$"),
]
MAX_SCRUB_FIELDS = 100


def _scrub_key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


class ScrubbingSettings(BaseModel):
    """A project's data scrubbing, on top of the server's rules (`LOGCENTER_SCRUB_*`), as Sentry's project
    "Security & Privacy" settings: written as a whole (PUT replaces the object; a field left out is empty or
    the server's choice)."""

    model_config = ConfigDict(extra="forbid")

    sensitive_fields: Annotated[list[ScrubField], Field(max_length=MAX_SCRUB_FIELDS)] = Field(
        default_factory=list,
        description="More key names whose values become [Filtered] (matched as parts of keys, like the "
        "built-in password, token, ...)",
    )
    safe_fields: Annotated[list[ScrubField], Field(max_length=MAX_SCRUB_FIELDS)] = Field(
        default_factory=list, description="Key names never scrubbed, even when they look sensitive"
    )
    scrub_ip_addresses: bool | None = Field(
        default=None, description="Scrub IP addresses; null: the server's LOGCENTER_SCRUB_IP_ADDRESSES"
    )
    scrub_data: bool | None = Field(
        default=None,
        description="false turns scrubbing off for this project, only where the server allows it "
        "(LOGCENTER_SCRUB_ALLOW_PROJECT_OFF); null: the server's LOGCENTER_SCRUB_DATA",
    )

    @field_validator("sensitive_fields", "safe_fields")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        names: dict[str, str] = {}
        for i, name in enumerate(value):
            key = _scrub_key(name)
            if not key:
                raise ValueError(f"[{i}] {name!r} is only dashes and underscores: it would match every key")
            names.setdefault(key, name)
        return list(names.values())


class ScrubbingEffective(BaseModel):
    """The rules this project's reports are scrubbed with now: the server's and the project's together."""

    scrub_data: bool = True
    sensitive_fields: list[str] = Field(
        default_factory=list, description="Added to the built-in sensitive names"
    )
    safe_fields: list[str] = Field(default_factory=list)
    scrub_ip_addresses: bool = False


class ScrubbingRead(ScrubbingSettings):
    # Defaults (the built-in rules) only for a client reading a server older than per-project rules.
    effective: ScrubbingEffective = Field(default_factory=ScrubbingEffective)


class ProjectFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[Line, StringConstraints(max_length=200)] | None = None
    repo_url: Annotated[Line, StringConstraints(max_length=500)] | None = None
    local_path: Annotated[Line, StringConstraints(max_length=1000)] | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    # "" clears it (PUT). No leading "-": git refuses such names, and the agent must not pass an option.
    default_branch: (
        Annotated[str, StringConstraints(pattern=r"^(?:[A-Za-z0-9._/][A-Za-z0-9._/\-]*)?$", max_length=200)]
        | None
    ) = None
    test_command: Annotated[Line, StringConstraints(max_length=2000)] | None = None
    agent_settings: AgentSettings | None = None
    scrubbing: ScrubbingSettings | None = None
    forge: ForgeKindIn | None = None
    forge_url: Annotated[Line, StringConstraints(max_length=500)] | None = None
    forge_repo: ForgeRepo | None = None
    # Write-only: stored encrypted, never returned (ProjectRead says only whether one is set).
    forge_token: ForgeSecret | None = None
    webhook_secret: ForgeSecret | None = None
    deployment_secret: ForgeSecret | None = None
    merge_style: MergeStyleIn | None = None

    @field_validator("forge_url")
    @classmethod
    def _forge_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be the forge's http(s):// API base URL")
        return value.rstrip("/") if value else value

    @field_validator("repo_url")
    @classmethod
    def _repo_url(cls, value: str | None) -> str | None:
        if not value:
            return value
        if not value.startswith((*REMOTE_REPO_PREFIXES, *LOCAL_REPO_PREFIXES)):
            raise ValueError("must be an http(s)://, ssh://, git@host:path, file:// URL or an absolute path")
        return value


class ProjectCreate(ProjectFields):
    project_id: Slug


class ProjectUpdate(ProjectFields):
    """PUT body: fields left out stay as they are; an empty string clears a field."""


class ProjectRead(BaseModel):
    id: int
    project_id: str
    name: str | None
    repo_url: str | None
    repo_url_confirmed: bool = Field(
        description="False when repo_url came from an error report: the repair agent and the forge clients "
        "use it only once an admin sets (confirms) it with PUT"
    )
    local_path: str | None
    description: str | None
    default_branch: str | None
    test_command: str | None
    forge: str | None
    forge_url: str | None
    forge_repo: str | None = Field(description="As set, else derived from repo_url")
    forge_token_set: bool
    webhook_secret_set: bool
    deployment_secret_set: bool = Field(
        default=False, description="Whether the project has its own deployment secret (write-only)"
    )
    merge_style: str | None
    agent_settings: AgentSettings = Field(default_factory=AgentSettings)
    scrubbing: ScrubbingRead = Field(default_factory=ScrubbingRead)
    ingest_key: str
    dsn: str
    created_at: datetime
    updated_at: datetime


class ProjectList(BaseModel):
    projects: list[ProjectRead]


class IngestKeyRotated(BaseModel):
    ingest_key: str
    dsn: str
