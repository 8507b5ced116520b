"""The internal report every wire format (REST, Sentry envelope/store) is normalised into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from logcenter.errors import LogCenterError


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
    # JSON text (`json_text`), encoded once where the report is made: the writer process stores it as it is,
    # and it crosses to the writer process as one string rather than as objects to rebuild.
    context: str = "{}"
    # Kept on the occurrence for display: Sentry tags, user, request, contexts, breadcrumbs, platform, sdk...
    data: str = "{}"
    # Sentry: the event id (32 lowercase hex); a repeated one is acknowledged but not counted again.
    event_id: str | None = None
    # Set when the caller already resolved the project (Sentry path: numeric id from the URL, key checked).
    project_pk: int | None = None


@dataclass(slots=True, frozen=True)
class IngestResult:
    bug_id: int
    created: bool  # this report created the bug ("Log reported") rather than joining it ("Log deduplicated")
    status: str  # the bug's status after this report (NEW again after a regression)
    # A repeated event_id (or REST Idempotency-Key): acknowledged, not counted; `created` is then the first's.
    duplicate: bool = False


# A report's result once committed, or why it was not stored: Unavailable (503), RateLimited (429).
Outcome = IngestResult | LogCenterError


def json_text(value: Any) -> str:
    """A report's context or data as JSON text; orjson.JSONEncodeError past its nesting limit."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
