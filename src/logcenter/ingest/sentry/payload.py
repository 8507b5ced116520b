"""An event item's bytes → a JSON object that every later step can store without failing.

SDK payloads are repaired rather than rejected: NUL and lone surrogates become U+FFFD (PostgreSQL text and
UTF-8 cannot hold them), NaN becomes null, integers too big for the JSON column become strings, and nesting is
cut at `MAX_DEPTH` (orjson refuses to serialise past 254 levels).

Real events need none of that, and proving it costs more than decoding them. So the hot path reads an event
with `load_event` (msgspec builds only what `event.to_report` reads, stepping over `modules` and each frame's
`vars` and context lines, over half of a sentry-python event), maps it, and checks only the Report
(`storable`); only a Report that fails is made again from `parse_event`'s repaired event.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
import orjson

from logcenter.errors import BadRequest
from logcenter.ingest.report import Report
from logcenter.ingest.sentry.event import event_id_of, to_report
from logcenter.scrub import DEFAULT as DEFAULT_SCRUBBER
from logcenter.scrub import Scrubber
from logcenter.sourcemaps.resolve import Resolver

MAX_DEPTH = 20
_TOO_DEEP = "[nested too deep]"
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1


def parse_event(payload: bytes) -> dict[str, Any]:
    """Decode and repair an event; BadRequest if it is not a JSON object."""
    try:
        value = orjson.loads(payload)
        # orjson yields no NaN, surrogates or big ints; a NUL can only come from a \u0000 escape.
        needs_repair = b"\\u0000" in payload
    except orjson.JSONDecodeError as exc:
        # sentry-python writes with the stdlib's json (allow_nan=True, ensure_ascii=True): NaN from
        # set_extra() or a lone surrogate escape are valid there and rejected by orjson.
        try:
            value = json.loads(payload, parse_constant=lambda _name: None)
        except (ValueError, RecursionError):
            raise BadRequest(f"Invalid event JSON: {exc}") from None
        needs_repair = True
    if not isinstance(value, dict):
        raise BadRequest("Invalid event JSON: expected a JSON object")
    if not needs_repair:
        # The walk below costs more than the rest of the ingest path; serialising is a much cheaper proof
        # that the nesting is within orjson's limit (what a Report keeps of the event nests no deeper).
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            needs_repair = True
    if not needs_repair:
        return value
    cleaned: dict[str, Any] = _clean(value, 0)
    return cleaned


class _Frame(msgspec.Struct, omit_defaults=True):
    filename: Any = None
    abs_path: Any = None
    module: Any = None
    function: Any = None
    lineno: Any = None
    colno: Any = None
    context_line: Any = None
    in_app: Any = None


class _Stacktrace(msgspec.Struct, omit_defaults=True):
    frames: list[_Frame] | None = None


class _Exception(msgspec.Struct, omit_defaults=True):
    type: Any = None
    value: Any = None
    module: Any = None
    mechanism: Any = None
    stacktrace: _Stacktrace | None = None


class _Exceptions(msgspec.Struct, omit_defaults=True):
    values: list[_Exception] | None = None


class _Event(msgspec.Struct, omit_defaults=True):
    """The attributes of an event that `to_report` reads; the loosely typed ones are checked there."""

    event_id: Any = None
    timestamp: Any = None
    level: Any = None
    logger: Any = None
    platform: Any = None
    release: Any = None
    dist: Any = None
    environment: Any = None
    server_name: Any = None
    transaction: Any = None
    fingerprint: Any = None
    message: Any = None
    logentry: Any = None
    exception: _Exceptions | list[_Exception] | None = None
    stacktrace: _Stacktrace | None = None
    threads: Any = None
    tags: Any = None
    user: Any = None
    request: Any = None
    contexts: Any = None
    extra: Any = None
    sdk: Any = None
    breadcrumbs: Any = None
    debug_meta: Any = None  # the debug ids of JavaScript files, for source maps (logcenter/sourcemaps)


_EVENT = msgspec.json.Decoder(_Event)


def load_event(payload: bytes) -> dict[str, Any]:
    """What `to_report` reads of the event, not checked; BadRequest if it is not a JSON object. A Report made
    from it must pass `storable`, else be made from parse_event.

    An event whose structure (exception values, frames) does not have the usual types, or that msgspec cannot
    read, is read whole by orjson (by parse_event if orjson cannot either): to_report copes with any shape."""
    try:
        read: dict[str, Any] = msgspec.to_builtins(_EVENT.decode(payload))
        return read
    except (msgspec.MsgspecError, RecursionError):  # msgspec stops ~1,000 levels deep, orjson at 1,024
        pass
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return parse_event(payload)
    if not isinstance(value, dict):
        raise BadRequest("Invalid event JSON: expected a JSON object")
    return value


def report_from(
    payload: bytes,
    *,
    project_pk: int,
    project_slug: str,
    header_event_id: str | None,
    now: datetime,
    max_skew: timedelta,
    scrubber: Scrubber = DEFAULT_SCRUBBER,
    resolver: Resolver | None = None,
) -> Report:
    """The event's Report: `to_report` of `load_event(payload)` if the writer can store it as it is, else of
    the repaired event (`parse_event`), so that only the events that need the repair pay for it. `resolver`
    maps minified JavaScript frames through their source maps first."""
    event = load_event(payload)
    # "If the identifier mismatches between the Envelope and payload, the Envelope header takes precedence."
    event_id = header_event_id or event_id_of(event.get("event_id")) or uuid.uuid4().hex

    def make(event: dict[str, Any]) -> Report:
        if resolver is not None:
            event = resolver.resolve(event, project_pk)
        return to_report(
            event,
            project_pk=project_pk,
            project_slug=project_slug,
            event_id=event_id,
            now=now,
            max_skew=max_skew,
            scrubber=scrubber,
        )

    try:
        report: Report | None = make(event)
    except (RecursionError, orjson.JSONEncodeError):  # str() of a value nested ~1,000 levels deep, which
        report = None  # orjson reads; data nested past what orjson writes; an integer past 64 bits
    if report is None or not storable(report):
        report = make(parse_event(payload))
    return report


def storable(report: Report) -> bool:
    """Whether the writer can store this Report: no NUL in its text or JSON (PostgreSQL text cannot hold
    one). Its JSON was encoded when it was made (orjson reads no lone surrogates and no NaN, and refused what
    nests too deep)."""
    texts = (report.environment, report.error_type, report.message, report.stack_trace, report.file_path,
             report.version)  # fmt: skip
    if any("\x00" in text for text in texts if text):
        return False
    return "\\u0000" not in report.context and "\\u0000" not in report.data


def clean_text(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not value.isascii():
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _clean(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return _TOO_DEEP
        return {clean_text(k): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value] if depth < MAX_DEPTH else _TOO_DEEP
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _UINT64_MAX:
        return str(value)
    return value
