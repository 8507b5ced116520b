"""The report body of ``POST /api/v1/logs/report``, exactly the integration guide's fields.

Built on the caller's thread: the traceback's frames are only alive there, and copying the context now means
later changes by the application do not leak into a report that is still waiting in the queue.
"""

from __future__ import annotations

import json
import math
import traceback
from datetime import UTC, datetime
from types import FrameType
from typing import Any, NotRequired, TypedDict

from . import _frames
from ._options import CONTROL, Options

# The server answers 413 above 1 MB; stay well clear of it so that a report is never refused for its size.
MAX_BODY_BYTES = 900_000
MAX_MESSAGE_CHARS = 8_192
MAX_TYPE_CHARS = 300
MAX_PATH_CHARS = 1_024
MAX_LINE_CHARS = 1_000
# The end of a traceback (the raising frame) matters most; its head says how the request got there.
MAX_STACK_HEAD = 50
MAX_STACK_TAIL = 350
MAX_CONTEXT_DEPTH = 8
MAX_CONTEXT_ITEMS = 200
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


class ErrorInfo(TypedDict):
    type: str
    message: str
    file_path: str
    line_number: int
    stack_trace: list[str]


class Report(TypedDict):
    project_id: str
    environment: str
    level: str
    source: str
    timestamp: str
    version: NotRequired[str]
    commit_hash: NotRequired[str]
    repo_url: NotRequired[str]
    error: ErrorInfo
    context: dict[str, Any]


def now_iso() -> str:
    """UTC, ISO 8601 with milliseconds and a Z: 2026-01-30T10:30:00.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__} str() failed>"


def _type_name(name: str) -> str:
    """An error type the server accepts: no control characters, not empty (a class can be named anything)."""
    return _clip(CONTROL.sub("", name), MAX_TYPE_CHARS) or "Exception"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path(filename: str, options: Options) -> str:
    return _clip(_frames.display_path(filename, options.root_path), MAX_PATH_CHARS) or "unknown"


def _clip_lines(lines: list[str]) -> list[str]:
    lines = [_clip(line, MAX_LINE_CHARS) for line in lines]
    if len(lines) <= MAX_STACK_HEAD + MAX_STACK_TAIL:
        return lines
    omitted = len(lines) - MAX_STACK_HEAD - MAX_STACK_TAIL
    return [*lines[:MAX_STACK_HEAD], f"... {omitted} lines omitted ...", *lines[-MAX_STACK_TAIL:]]


def sanitize(value: object, depth: int = 0) -> Any:
    """A JSON-safe copy: other objects become their repr, cycles and deep nesting are cut, NaN a string, and
    so are integers past 64 bits (the server stores the context as JSON, which holds no bigger ones)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _UINT64_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_CONTEXT_DEPTH:
        return "<too deep>"
    if isinstance(value, dict):
        items = list(value.items())[:MAX_CONTEXT_ITEMS]
        return {_safe_str(k): sanitize(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        return [sanitize(v, depth + 1) for v in list(value)[:MAX_CONTEXT_ITEMS]]
    try:
        return _clip(repr(value), MAX_LINE_CHARS)
    except Exception:
        return f"<{type(value).__name__} repr() failed>"


def _report(options: Options, *, level: str, error: ErrorInfo, context: dict[str, Any] | None) -> Report:
    report: Report = {
        "project_id": options.project_id,
        "environment": options.environment,
        "level": level,
        "source": "runtime",
        "timestamp": now_iso(),
        "error": error,
        "context": sanitize(context) if isinstance(context, dict) else {},
    }
    # Optional fields are left out rather than sent as null, as the guide's examples do.
    if options.version:
        report["version"] = options.version
    if options.commit_hash:
        report["commit_hash"] = options.commit_hash
    if options.repo_url:
        report["repo_url"] = options.repo_url
    return report


def exception_report(
    exc: BaseException,
    options: Options,
    *,
    level: str,
    context: dict[str, Any] | None,
    at: FrameType | None = None,
) -> Report:
    """A report for an exception; one that was never raised points at `at`, else at the code that captured
    it."""
    location = _frames.raising_location(exc)
    if location is not None:
        # format_exception keeps the "During handling of the above exception" chain, like the guide's client.
        lines = "".join(traceback.format_exception(exc)).splitlines()
    else:
        # Never raised (capture_exception(ValueError("..."))): point at the code that captured it.
        frame = at or _frames.caller_frame()
        lines = "".join(traceback.format_stack(frame)).splitlines() if frame is not None else []
        lines += "".join(traceback.format_exception_only(exc)).splitlines()
        if frame is not None:
            location = _frames.Location(frame.f_code.co_filename, frame.f_lineno or 0)
    error: ErrorInfo = {
        "type": _type_name(type(exc).__name__),
        "message": _clip(_safe_str(exc), MAX_MESSAGE_CHARS),
        "file_path": _path(location.filename, options) if location else "unknown",
        "line_number": location.line_number if location else 0,
        "stack_trace": _clip_lines(lines),
    }
    return _report(options, level=level, error=error, context=context)


def message_report(
    message: str,
    options: Options,
    *,
    level: str,
    context: dict[str, Any] | None,
    filename: str,
    line_number: int,
    stack_trace: list[str],
    error_type: str = "Message",
) -> Report:
    """A report without an exception (capture_message, log records); grouped by the line that emitted it."""
    error: ErrorInfo = {
        "type": _type_name(error_type),
        "message": _clip(message, MAX_MESSAGE_CHARS),
        "file_path": _path(filename, options),
        "line_number": line_number,
        "stack_trace": _clip_lines(stack_trace),
    }
    return _report(options, level=level, error=error, context=context)


def encode(report: Report) -> bytes | None:
    """The JSON body; a context too large for the server is replaced by a note, None if still too large."""
    body = _dumps(report)
    if len(body) <= MAX_BODY_BYTES:
        return body
    trimmed: Report = {**report, "context": {"logcenter_sdk": "context dropped: report larger than 1 MB"}}
    body = _dumps(trimmed)
    return body if len(body) <= MAX_BODY_BYTES else None


def _dumps(report: Report) -> bytes:
    # "replace": lone surrogates (undecodable file names, surrogateescape'd input) are not valid UTF-8.
    return json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode("utf-8", errors="replace")
