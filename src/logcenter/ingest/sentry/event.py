"""A Sentry event (develop-docs `event-payloads/`) → the same internal `Report` the REST path produces.

Exception events group by the guide's runtime formula on the raising frame. Message-only events
(`capture_message`, the logging integration) group by logger and message template, with numbers and ids
masked so that `f"order {n} failed"` still lands on one bug. A `fingerprint` array from the SDK replaces
either, `{{ default }}` standing for the default parts. Values too long for their column are cut, not
rejected: the SDK, not the team, decides what an event holds.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from logcenter.bugs.models import Source
from logcenter.errors import BadRequest
from logcenter.ingest import fingerprint
from logcenter.ingest.limits import MAX_KEY, MAX_MESSAGE, MAX_STRING, MAX_TAGS, clip, fit_json
from logcenter.ingest.report import Report
from logcenter.ingest.schemas import clamp_timestamp
from logcenter.ingest.sentry.stacktrace import (
    format_exceptions,
    format_stack,
    frame_file,
    frame_line,
    frames_of,
    raising_frame,
)
from logcenter.scrub import DEFAULT as DEFAULT_SCRUBBER
from logcenter.scrub import Scrubber

LEVELS = {"fatal": "CRITICAL", "critical": "CRITICAL", "error": "ERROR", "warning": "WARNING",
          "warn": "WARNING", "info": "INFO", "log": "INFO", "debug": "DEBUG"}  # fmt: skip
DEFAULT_ENVIRONMENT = "production"
UNLABELED = "<unlabeled event>"  # Sentry's title for an event with neither exception nor message

# Column sizes in bugs/models.py.
_ERROR_TYPE_MAX = 300
_FILE_PATH_MAX = 1024
_ENVIRONMENT_MAX = 64
_VERSION_MAX = 200
_TAG_VALUE_MAX = 200  # Sentry's own limit for tag values
_GROUPING_MESSAGE_MAX = 1024
MAX_BREADCRUMBS = 100  # the SDKs' default max_breadcrumbs

# Event attributes kept as they are on the occurrence, for display; raw_stacktrace is the minified stack,
# when source maps resolved its frames (logcenter/sourcemaps).
_KEPT = ("platform", "logger", "transaction", "server_name", "dist", "user", "request", "contexts", "extra",
         "sdk", "raw_stacktrace")  # fmt: skip
_EVENT_ID = re.compile(r"[0-9a-f]{32}")
# What _data leaves out. Never mutated: `in` compares with ==, so any empty list or object matches.
_EMPTY: tuple[object, ...] = (None, "", [], {})
_DEFAULT_PART = re.compile(r"\{\{\s*default\s*\}\}")
# sentry-python's default release is the git revision, which the regression check can use as the commit.
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
# What varies between events of one message: ids, hex values, numbers (like Sentry's parameterisation).
_VARIABLE = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    r"|\b(?:0x)?(?=[0-9a-f]*[0-9])[0-9a-f]{8,}\b"
    r"|[0-9]+",
    re.IGNORECASE,
)


def event_id_of(value: object) -> str | None:
    """An event id as 32 lowercase hex; None when absent. Sentry sends UUIDs with or without dashes."""
    if value is None:
        return None
    if isinstance(value, str) and _EVENT_ID.fullmatch(value):  # what the SDKs send: uuid4().hex
        return value
    if isinstance(value, str) and len(value) in (32, 36):
        try:
            return uuid.UUID(value).hex
        except ValueError:
            pass
    raise BadRequest("Invalid event_id: expected a UUID (32 hex digits, dashes optional)")


def to_report(
    event: dict[str, Any],
    *,
    project_pk: int,
    project_slug: str,
    event_id: str,
    now: datetime,
    max_skew: timedelta,
    scrubber: Scrubber = DEFAULT_SCRUBBER,
) -> Report:
    """Map an event (payload.load_event or parse_event) onto a Report; check it with payload.storable.
    What it keeps is scrubbed (logcenter/scrub.py) after the fingerprint is made: grouping is unchanged."""
    exceptions = _values(event.get("exception"))  # {"values": [...]}, or in older payloads the list itself
    message = _message(event)
    if exceptions and message and _synthetic(exceptions[-1]):
        # The JS SDKs send captureMessage() with a type-less "synthetic" exception that only carries the
        # stack: it is a message event.
        frames = frames_of(exceptions[-1])
        exceptions = []
    else:
        frames = frames_of(exceptions[-1]) if exceptions else _thread_frames(event)
    if exceptions:
        raised = exceptions[-1]  # values are sorted oldest to newest: the last one was raised
        error_type = (_text(raised.get("type")) or "Error")[:_ERROR_TYPE_MAX]
        text = clip(_text(raised.get("value")) or "", MAX_MESSAGE)
        stack_trace = format_exceptions(exceptions)
    else:
        error_type = (_text(event.get("logger")) or "Message")[:_ERROR_TYPE_MAX]
        text = clip(message[0], MAX_MESSAGE) if message else UNLABELED
        stack_trace = format_stack(frames)

    # An exception the SDK made up from a thrown or rejected value that is not an Error has the stack of where
    # the SDK caught it (its own code, the runtime's: no in-app frame). It, and an exception whose frames
    # give no file or line (none at all: a browser's rejected string; only addresses: an obfuscated Flutter
    # build), says nothing of where the bug is. Like Sentry, it is grouped by its value.
    synthetic = bool(exceptions) and _synthetic(exceptions[-1]) and not _any_in_app(frames)
    frame = None if synthetic else raising_frame(frames)
    file_name = frame_file(frame) if frame else None
    file_path = file_name[:_FILE_PATH_MAX] if file_name else None
    line_number = frame_line(frame) if frame else None
    placeless = bool(exceptions) and file_path is None and line_number is None
    if placeless and text:
        default_parts = [error_type, _grouping_message(text)]
        default = fingerprint.custom(project_slug, default_parts)
    elif exceptions:
        default_parts = [error_type, file_path or "", str(line_number or 0)]
        default = fingerprint.runtime(project_slug, error_type, file_path or "", line_number or 0)
    else:
        default_parts = [error_type, _grouping_message(message[1] if message else UNLABELED)]
        default = fingerprint.custom(project_slug, default_parts)

    release = event.get("release")
    version = str(release)[:_VERSION_MAX] if isinstance(release, (str, int, float)) and release else None
    commit = version.rsplit("@", 1)[-1].lower() if version else ""
    return Report(
        project_slug=project_slug,
        source=Source.RUNTIME,
        environment=(_text(event.get("environment")) or DEFAULT_ENVIRONMENT)[:_ENVIRONMENT_MAX],
        level=LEVELS.get(str(event.get("level") or "error").lower(), "ERROR"),
        error_type=error_type,
        message=scrubber.text(text),
        stack_trace=scrubber.text(stack_trace),
        timestamp=clamp_timestamp(_timestamp(event.get("timestamp")), now=now, max_skew=max_skew),
        fingerprint=_fingerprint(event.get("fingerprint"), project_slug, default_parts, default),
        file_path=file_path,
        line_number=line_number,
        version=version,
        commit_hash=commit if _FULL_SHA.fullmatch(commit) else None,
        context=fit_json(scrubber.scrub(_context(event))),
        data=fit_json(
            scrubber.scrub(_data(event, exceptions, message[0] if exceptions and message else None))
        ),
        event_id=event_id,
        project_pk=project_pk,
    )


def _synthetic(value: dict[str, Any]) -> bool:
    mechanism = value.get("mechanism")
    return isinstance(mechanism, dict) and mechanism.get("synthetic") is True


def _any_in_app(frames: list[dict[str, Any]]) -> bool:
    return any(frame.get("in_app") is True for frame in frames)


def _thread_frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The stack attached to a message (attach_stacktrace): the event's own, else the current thread's."""
    frames = frames_of(event)
    if frames:
        return frames
    threads = _values(event.get("threads"))
    for thread in threads:
        if thread.get("crashed") is True or thread.get("current") is True:
            return frames_of(thread)
    return frames_of(threads[0]) if len(threads) == 1 else []


def _message(event: dict[str, Any]) -> tuple[str, str] | None:
    """(message as shown, its template): `logentry`/`message` as an object, or `message` as a string.

    Params are never substituted here: a %-template from the client could ask for a gigabyte of padding.
    The SDKs send `formatted` themselves.
    """
    for key in ("logentry", "message"):
        value = event.get(key)
        if isinstance(value, str) and value.strip():
            return value, value
        if isinstance(value, dict):
            formatted, template = _text(value.get("formatted")), _text(value.get("message"))
            if formatted or template:
                return formatted or template or "", template or formatted or ""
    return None


def _grouping_message(template: str) -> str:
    first_line = template.strip().split("\n", 1)[0][:_GROUPING_MESSAGE_MAX]
    return _VARIABLE.sub("<*>", first_line)


def _fingerprint(value: object, project_slug: str, default_parts: list[str], default: str) -> str:
    if not isinstance(value, list) or not value:
        return default
    parts: list[str] = []
    for part in value:
        text = part if isinstance(part, str) else str(part)
        if _DEFAULT_PART.fullmatch(text.strip()):
            parts.extend(default_parts)
        else:
            parts.append(text)
    # ["{{ default }}"] alone must group exactly like no fingerprint at all.
    return default if parts == default_parts else fingerprint.custom(project_slug, parts)


def _timestamp(value: object) -> datetime | None:
    """RFC 3339 string or seconds since the epoch; None (server time) if unreadable."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            return datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        pass
    return None


def _context(event: dict[str, Any]) -> dict[str, Any]:
    """The guide's `context` keys (url, method, user_id) from the request and user interfaces."""
    request, user = _dict(event.get("request")), _dict(event.get("user"))
    context: dict[str, Any] = {}
    for key, value in (
        ("url", request.get("url")),
        ("method", request.get("method")),
        ("user_id", user.get("id")),
    ):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
            context[key] = clip(str(value), MAX_STRING)
    return context


def _data(event: dict[str, Any], exceptions: list[dict[str, Any]], log_message: str | None) -> dict[str, Any]:
    data = {key: event[key] for key in _KEPT if event.get(key) not in _EMPTY}
    tags = _tags(event.get("tags"))
    if tags:
        data["tags"] = tags
    breadcrumbs = _values(event.get("breadcrumbs"))[-MAX_BREADCRUMBS:]
    if breadcrumbs:
        data["breadcrumbs"] = breadcrumbs
    if exceptions and isinstance(exceptions[-1].get("mechanism"), dict):
        data["mechanism"] = exceptions[-1]["mechanism"]  # `handled: false` marks a crash
    if log_message:
        data["message"] = log_message  # logger.exception("...") sends both
    if isinstance(event.get("fingerprint"), list) and event["fingerprint"]:
        data["fingerprint"] = event["fingerprint"]
    return data


def _tags(value: object) -> dict[str, str]:
    # "A map or list of tags": {"k": "v"} or [["k", "v"], ...].
    if isinstance(value, dict):
        pairs = list(value.items())[:MAX_TAGS]
    elif isinstance(value, list):
        pairs = [tuple(pair) for pair in value[:MAX_TAGS] if isinstance(pair, list) and len(pair) == 2]
    else:
        return {}
    return {str(k)[:MAX_KEY]: (v if isinstance(v, str) else str(v))[:_TAG_VALUE_MAX] for k, v in pairs}


def _values(value: object) -> list[dict[str, Any]]:
    """An interface that is either {"values": [...]} or the list itself; non-objects dropped."""
    if isinstance(value, dict):
        value = value.get("values")
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
