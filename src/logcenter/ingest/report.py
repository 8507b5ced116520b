"""The internal report every wire format (REST, Sentry envelope/store) is normalised into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Report:
    project_slug: str
    source: str  # runtime | cicd | deployment
    environment: str
    level: str  # DEBUG | INFO | WARNING | ERROR | CRITICAL
    error_type: str
    message: str
    stack_trace: str
    timestamp: datetime  # UTC, already clamped against clock skew
    fingerprint: str  # 32 hex chars, see ingest.fingerprint
    file_path: str | None = None
    line_number: int | None = None
    version: str | None = None
    commit_hash: str | None = None
    repo_url: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    # Kept on the occurrence for display: Sentry tags, user, request, contexts, breadcrumbs, platform, sdk...
    data: dict[str, Any] = field(default_factory=dict)
    # Sentry: the event id (32 lowercase hex); a repeated one is acknowledged but not counted again.
    event_id: str | None = None
    # Set when the caller already resolved the project (Sentry path: numeric id from the URL, key checked).
    project_pk: int | None = None


@dataclass(slots=True, frozen=True)
class IngestResult:
    bug_id: int
    created: bool  # this report created the bug ("Log reported") rather than joining it ("Log deduplicated")
    status: str  # the bug's status after this report (NEW again after a regression)
    duplicate: bool = False  # a repeated event_id: acknowledged, not counted
