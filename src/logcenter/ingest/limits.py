"""Caps on everything an occurrence keeps of a report, as Relay's normalisation trims a Sentry event.

A report is attacker-controlled and is expanded on its way to the database: a stack frame of two bytes
(`{}`) becomes a line of text, a list of a few hundred thousand empty exceptions a stack trace of twenty
million characters. So what is derived from a report is capped, not the report alone: the number of exception
values and frames, each line and string, tags, the depth and size of the JSON kept. Over a cap, the value is
trimmed and says what was dropped; a report is never refused for it, and never grows.

Checking costs nothing on the hot path for the reports real SDKs send: lengths are compared, and the JSON is
walked and trimmed only when its encoded text is over its cap.
"""

from __future__ import annotations

from typing import Any

from logcenter.ingest.report import json_text

# The same caps as the REST schema (ingest/schemas.py) has on what a client sends.
MAX_MESSAGE = 32_768
MAX_STACK_LINE = 8_192
MAX_STACK_TEXT = 262_144
# Exception values of one event (the newest are kept: the last one was raised), frames of one stack (the
# first and last halves are kept: the entry point and where it failed), tags.
MAX_EXCEPTIONS = 50
MAX_FRAMES = 100
MAX_TAGS = 100
# The JSON kept per occurrence: `context` and `data` (Sentry's user, request, contexts, extra, breadcrumbs...)
MAX_JSON_TEXT = 128 * 1024
# Inside that JSON: nesting, items per object or array, characters per string or key.
MAX_DEPTH = 8
MAX_ITEMS = 200
MAX_STRING = 8_192
MAX_KEY = 200


def clip(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, saying how many were dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit} characters dropped]"


def clip_middle(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters from its middle: a stack trace's start and its end (the error)
    are what a reader needs."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n…[{len(text) - 2 * half} characters dropped]…\n{text[-half:]}"


def keep_ends(items: list[Any], limit: int) -> tuple[list[Any], list[Any], int]:
    """The first and last `limit // 2` items, and how many were left out between them."""
    if len(items) <= limit:
        return items, [], 0
    half = limit // 2
    return items[:half], items[-half:], len(items) - 2 * half


def fit_json(value: dict[str, Any]) -> str:
    """`value` as JSON text of at most about MAX_JSON_TEXT characters: trimmed (depth, items, strings) only
    when it is over, then its largest top-level entries replaced by a note until it fits."""
    text = json_text(value)
    if len(text) <= MAX_JSON_TEXT:
        return text
    trimmed: dict[str, Any] = trim(value)
    sizes = {key: len(json_text(item)) for key, item in trimmed.items()}
    total = len(json_text(trimmed))
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        if total <= MAX_JSON_TEXT:
            break
        trimmed[key] = f"[removed: {sizes[key]} bytes over the size limit]"
        total -= sizes[key]
    return json_text(trimmed)


def trim(value: Any, depth: int = 0) -> Any:
    """A JSON value within MAX_DEPTH, MAX_ITEMS, MAX_STRING and MAX_KEY, with notes where it was cut."""
    if isinstance(value, str):
        return clip(value, MAX_STRING)
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return "[nested too deep]"
        out = {clip(str(k), MAX_KEY): trim(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
        if len(value) > MAX_ITEMS:
            out["…"] = f"[{len(value) - MAX_ITEMS} more keys dropped]"
        return out
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            return "[nested too deep]"
        items = [trim(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"[{len(value) - MAX_ITEMS} more items dropped]")
        return items
    return value
