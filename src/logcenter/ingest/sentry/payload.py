"""An event item's bytes → a JSON object that every later step can store without failing.

Sentry SDK payloads are not under the reporting team's control, so oddities are repaired rather than
rejected: NUL and lone surrogates become U+FFFD (PostgreSQL text and UTF-8 cannot hold them), NaN becomes
null, integers too big for the JSON column become strings, and nesting is cut at `MAX_DEPTH` (orjson refuses
to serialise past 254 levels, and the Report's JSON text could not be made).

The events SDKs send need none of that, and proving it for the whole event costs more than decoding it. So
the hot path reads an event with `load_event`, maps it, and checks only what will be stored, the Report,
with `storable`; only a Report that fails that check is made again from `parse_event`'s repaired event.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from logcenter.errors import BadRequest
from logcenter.ingest.report import Report

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


def load_event(payload: bytes) -> dict[str, Any]:
    """The event as orjson reads it, not checked (parse_event's when orjson cannot read it); BadRequest if
    it is not a JSON object. A Report made from it must pass `storable`, else be made from parse_event."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return parse_event(payload)
    if not isinstance(value, dict):
        raise BadRequest("Invalid event JSON: expected a JSON object")
    return value


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
