"""The integration guide's report (`POST /api/v1/logs/report`) as a pydantic schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from logcenter.bugs.models import Level, Source
from logcenter.errors import ValidationFailed
from logcenter.ingest import fingerprint
from logcenter.ingest.limits import fit_json
from logcenter.ingest.report import Report
from logcenter.projects.schemas import Slug
from logcenter.scrub import DEFAULT as DEFAULT_SCRUBBER
from logcenter.scrub import Scrubber

Token = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]+$", min_length=1)]
FreeText = Annotated[str, StringConstraints(max_length=32_768)]

MAX_STACK_LINES = 5_000
MAX_STACK_LINE = 8_192
MAX_STACK_TEXT = 262_144


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; free text keeps its shape with a replacement character instead.
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


class ErrorIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Annotated[Token, StringConstraints(max_length=300)]
    message: FreeText
    file_path: Annotated[Token, StringConstraints(max_length=1024)] | None = None
    line_number: Annotated[StrictInt, Field(ge=0, le=10_000_000)] | None = None
    stack_trace: (
        list[Annotated[str, StringConstraints(max_length=MAX_STACK_LINE)]]
        | Annotated[str, StringConstraints(max_length=MAX_STACK_TEXT)]
    )

    @field_validator("stack_trace")
    @classmethod
    def _bounded_trace(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list) and len(value) > MAX_STACK_LINES:
            raise ValueError(f"at most {MAX_STACK_LINES} lines")
        return value


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    project_id: Slug
    environment: Annotated[Token, StringConstraints(max_length=64)]
    level: str
    source: str = Source.RUNTIME
    timestamp: datetime | None = None
    version: Annotated[Token, StringConstraints(max_length=200)] | None = None
    commit_hash: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._\-]+$", max_length=64)] | None = None
    repo_url: Annotated[Token, StringConstraints(max_length=500)] | None = None
    error: ErrorIn
    context: dict[str, Any] | None = None
    fingerprint: (
        Annotated[Token, StringConstraints(max_length=200)]
        | Annotated[
            list[Annotated[str, StringConstraints(max_length=200)]], Field(min_length=1, max_length=20)
        ]
        | None
    ) = None

    @field_validator("version", "commit_hash", "repo_url", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        # The guide's own client sends os.getenv("REPO_URL", ""): an empty optional field means "not given".
        return None if value == "" else value

    @field_validator("context")
    @classmethod
    def _storable(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # Stored as JSON text: integers past 64 bits or nesting past 254 levels would fail the write.
        if value is not None:
            try:
                orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
            except orjson.JSONEncodeError as exc:
                raise ValueError(f"cannot be stored as JSON: {exc}") from None
        return value

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in Level.__members__:
            raise ValueError(f"unknown level {value[:20]!r}; expected one of {', '.join(Level)}")
        return upper

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        lower = value.lower()
        if lower not in {s.value for s in Source}:
            raise ValueError(f"unknown source {value[:20]!r}; expected one of {', '.join(Source)}")
        return lower


def _context_name(context: dict[str, Any], key: str) -> str:
    value = context.get(key)
    return "" if value is None else str(value)[:200]


def compute_fingerprint(payload: ReportIn) -> str:
    """The guide's formula for the report's source, or the client's own fingerprint."""
    project, error = payload.project_id, payload.error
    if payload.fingerprint is not None:
        parts = [payload.fingerprint] if isinstance(payload.fingerprint, str) else payload.fingerprint
        return fingerprint.custom(project, parts)
    context = payload.context or {}
    if payload.source == Source.CICD:
        return fingerprint.cicd(
            project, error.type, _context_name(context, "job_name"), _context_name(context, "step_name")
        )
    if payload.source == Source.DEPLOYMENT:
        return fingerprint.deployment(
            project,
            error.type,
            _context_name(context, "namespace"),
            _context_name(context, "deployment_name"),
        )
    assert error.file_path is not None and error.line_number is not None  # checked by the validator
    return fingerprint.runtime(project, error.type, error.file_path, error.line_number)


def clamp_timestamp(value: datetime | None, *, now: datetime, max_skew: timedelta) -> datetime:
    """Server time when absent or outside the range of UTC datetimes (year 1 at +01:00); clients' clocks
    running ahead are clamped so they cannot pin `last_seen`."""
    if value is None:
        return now
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        return now
    return now if value > now + max_skew else value


def check_location(payload: ReportIn) -> None:
    """Runtime reports are grouped by where they were raised, so they must say where (cicd/deployment not)."""
    if payload.source != Source.RUNTIME or payload.fingerprint is not None:
        return
    missing = [
        f"error.{name}" for name in ("file_path", "line_number") if getattr(payload.error, name) is None
    ]
    if missing:
        raise ValidationFailed([{"field": f, "message": "required for runtime reports"} for f in missing])


def to_report(
    payload: ReportIn, *, now: datetime, max_skew: timedelta, scrubber: Scrubber = DEFAULT_SCRUBBER
) -> Report:
    check_location(payload)
    error = payload.error
    trace = error.stack_trace
    stack_text = "\n".join(line.rstrip("\n") for line in trace) if isinstance(trace, list) else trace
    return Report(
        project_slug=payload.project_id,
        source=payload.source,
        environment=payload.environment,
        level=payload.level,
        error_type=error.type,
        message=scrubber.text(_no_nul(error.message)),
        stack_trace=scrubber.text(_no_nul(stack_text)),
        timestamp=clamp_timestamp(payload.timestamp, now=now, max_skew=max_skew),
        fingerprint=compute_fingerprint(payload),
        file_path=error.file_path,
        line_number=error.line_number,
        version=payload.version,
        commit_hash=payload.commit_hash,
        repo_url=payload.repo_url,
        context=fit_json(scrubber.scrub(payload.context or {})),
    )


class ReportAccepted(BaseModel):
    message: Literal["Log reported"] = "Log reported"
    id: int


class ReportDeduplicated(BaseModel):
    message: Literal["Log deduplicated"] = "Log deduplicated"
    id: int
    status: str
