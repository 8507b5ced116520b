"""Turn pydantic's errors into the API's error shape: every problem named by its dotted field path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from logcenter.errors import ValidationFailed

# Request-level locations FastAPI prepends, which are not part of the client's field names.
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def field_name(loc: Iterable[Any]) -> str:
    """('error', 'stack_trace', 'list[constrained-str]', 3) -> 'error.stack_trace' (union tags dropped)."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif i == 0 and item in _LOCATIONS:
            continue
        elif item.isidentifier():
            parts.append(f".{item}")
        else:
            break
    return "".join(parts).lstrip(".") or "body"


def to_failure(errors: Iterable[Mapping[str, Any]]) -> ValidationFailed:
    seen: dict[str, str] = {}
    for error in errors:
        name = field_name(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            message = "body is not valid JSON: " + str(error.get("ctx", {}).get("error", message))
        elif error.get("type") == "missing":
            message = "field required"
        elif error.get("type") == "value_error":
            message = str(error.get("ctx", {}).get("error", message))
        seen.setdefault(name, message)
    return ValidationFailed([{"field": f, "message": m} for f, m in seen.items()])


def from_pydantic(exc: ValidationError) -> ValidationFailed:
    return to_failure(exc.errors(include_url=False, include_input=False))
