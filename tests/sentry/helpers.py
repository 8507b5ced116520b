"""Building Sentry requests the way the SDKs do, and reading back what was stored."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import select

from logcenter.bugs.models import Bug, Occurrence
from tests.conftest import Database


def envelope(
    event: dict[str, Any] | None, *, headers: dict[str, Any] | None = None, sized: bool = True
) -> bytes:
    """An envelope as sentry-python writes it (`sized`), or as the JS SDKs do (no `length`)."""
    lines = [orjson.dumps(headers if headers is not None else {"event_id": (event or {}).get("event_id")})]
    if event is not None:
        payload = orjson.dumps(event)
        lines += [
            orjson.dumps({"type": "event", "length": len(payload)} if sized else {"type": "event"}),
            payload,
        ]
    return b"\n".join(lines) + (b"\n" if sized else b"")


def event(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": "ZeroDivisionError",
                    "value": "division by zero",
                    "stacktrace": {
                        "frames": [
                            {"filename": "app/views.py", "lineno": 12, "function": "total", "in_app": True}
                        ]
                    },
                }
            ]
        },
        **fields,
    }


def auth(key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0"}


def stored(db: Database) -> tuple[list[Bug], list[Occurrence]]:
    with db.factory() as session:
        bugs = list(session.scalars(select(Bug).order_by(Bug.id)))
        occurrences = list(session.scalars(select(Occurrence).order_by(Occurrence.id)))
    return bugs, occurrences
