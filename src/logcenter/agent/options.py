"""The agent's options: command-line flags over `LOGCENTER_AGENT_*` environment variables over defaults.

The agent is its own process, often on another machine than the server, so it has its own settings class
rather than the server's `config.Settings`. Forge credentials use the names the issue fixes
(`LOGCENTER_GITEA_URL` / `_TOKEN`, `LOGCENTER_GITHUB_TOKEN`, `LOGCENTER_GITLAB_URL` / `_TOKEN`): they stay in
this process and reach git only through the environment of a push (see git.py), never the fixer.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

FixerName = Literal["claude", "codex", "aider", "command"]

# Where tests live, per ecosystem: a changed file matching one of these is the fixer's regression test.
DEFAULT_TEST_PATTERNS = (
    # Python
    "test_*.py",
    "*_test.py",
    "tests/*",
    "*/tests/*",
    "test/*.py",
    "conftest.py",
    "*/conftest.py",
    # JavaScript / TypeScript
    "*.test.js",
    "*.test.jsx",
    "*.test.ts",
    "*.test.tsx",
    "*.test.mjs",
    "*.spec.js",
    "*.spec.jsx",
    "*.spec.ts",
    "*.spec.tsx",
    "__tests__/*",
    "*/__tests__/*",
    # Dart / Flutter
    "*_test.dart",
    "test/*",
    # Go
    "*_test.go",
    # Java / Kotlin
    "src/test/*",
    "*/src/test/*",
    "*Test.java",
    "*Tests.java",
    "*Test.kt",
)


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _split(value: object) -> object:
    """Lists from the environment are comma-separated (`LOGCENTER_AGENT_TEST_PATTERNS=test_*.py,tests/*`)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOGCENTER_AGENT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    server: str = Field(default="http://127.0.0.1:8002", description="Log Center's base URL")
    token: SecretStr | None = Field(default=None, description="An `agent` (or admin) API token")
    name: str = Field(default_factory=default_name, pattern=r"^[A-Za-z0-9._:@\-]+$", max_length=200)
    workdir: Path = Field(default=Path("data/agent"), description="Mirrors, worktrees and prompts")
    concurrency: int = Field(default=1, ge=1, le=32)
    project: str | None = None
    once: bool = False
    poll: float = Field(default=30.0, gt=0, description="Seconds between claims when the queue is empty")
    lease: int = Field(default=600, ge=10, le=86_400, description="Lease asked for each claimed bug")
    json_output: bool = Field(
        default=False, validation_alias=AliasChoices("json_output", "LOGCENTER_AGENT_JSON")
    )
    no_push: bool = False
    dry_run: bool = False

    fixer: FixerName = "claude"
    fixer_command: str | None = Field(default=None, description="The program run by `--fixer command`")
    fixer_path: str | None = Field(
        default=None, description="The fixer's executable (default: found on PATH)"
    )
    model: str | None = None
    timeout: float = Field(default=1800.0, gt=0, description="Wall-clock seconds per fix")
    test_timeout: float = Field(default=900.0, gt=0, description="Wall-clock seconds per test run")
    max_turns: int = Field(default=30, ge=1)
    max_budget_usd: float = Field(default=2.0, gt=0)
    fixer_env: CommaList = Field(
        default_factory=list, description="More environment variables the fixer may see (names)"
    )

    # Verification defaults; the project's settings on the server win where it has them.
    max_files: int = Field(default=10, ge=1)
    max_lines: int = Field(default=500, ge=1)
    test_patterns: CommaList = Field(default_factory=lambda: list(DEFAULT_TEST_PATTERNS))
    require_regression_test: bool = True
    mask_patterns: CommaList = Field(default_factory=list, description="More regexes of secrets to mask")

    # Fallbacks for projects the server has not configured (the seed's single-project settings.py).
    repo_url: str | None = None
    default_branch: str | None = None
    test_command: str | None = None
    forge: Literal["gitea", "github", "gitlab"] | None = None
    forge_repo: str | None = None

    git_name: str = "Log Center Repair Agent"
    git_email: str = "repair-agent@logcenter.invalid"

    gitea_url: str | None = Field(
        default=None, validation_alias=AliasChoices("gitea_url", "LOGCENTER_GITEA_URL")
    )
    gitea_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("gitea_token", "LOGCENTER_GITEA_TOKEN")
    )
    github_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("github_url", "LOGCENTER_GITHUB_API_URL", "LOGCENTER_GITHUB_URL"),
    )
    github_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("github_token", "LOGCENTER_GITHUB_TOKEN")
    )
    gitlab_url: str | None = Field(
        default=None, validation_alias=AliasChoices("gitlab_url", "LOGCENTER_GITLAB_URL")
    )
    gitlab_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("gitlab_token", "LOGCENTER_GITLAB_TOKEN")
    )

    @field_validator("fixer_env", "test_patterns", "mask_patterns", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def pushes(self) -> bool:
        return not (self.no_push or self.dry_run)

    def secrets(self) -> list[str]:
        """Every secret this process holds: never in the fixer's environment, a log line or a report."""
        values = [self.token, self.gitea_token, self.github_token, self.gitlab_token]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
