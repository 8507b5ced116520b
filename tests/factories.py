"""Plain factory functions for tests: rows as the application would have written them."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugStatus
from logcenter.db import utcnow
from logcenter.projects.models import Project

_seq = itertools.count(1)


def report_payload(**overrides: Any) -> dict[str, Any]:
    """A valid report in the integration guide's shape; `error` overrides merge into the error object."""
    error = {
        "type": "ValueError",
        "message": "invalid literal for int() with base 10: 'abc'",
        "file_path": "apps/users/views.py",
        "line_number": 42,
        "stack_trace": [
            "Traceback (most recent call last):",
            '  File "apps/users/views.py", line 42, in get_user',
            "    user_id = int(request.GET['id'])",
            "ValueError: invalid literal for int() with base 10: 'abc'",
        ],
    }
    error.update(overrides.pop("error", {}))
    payload: dict[str, Any] = {
        "project_id": "rtc_backend",
        "environment": "production",
        "level": "ERROR",
        "error": error,
        "context": {"url": "/api/users/123", "method": "GET"},
    }
    payload.update(overrides)
    return payload


def make_project(session: Session, slug: str | None = None, **fields: Any) -> Project:
    project = Project(slug=slug or f"project_{next(_seq)}", **fields)
    session.add(project)
    session.flush()
    return project


def make_bug(
    session: Session,
    project: Project,
    *,
    status: BugStatus = BugStatus.NEW,
    seen: datetime | None = None,
    **fields: Any,
) -> Bug:
    n = next(_seq)
    seen = seen or utcnow()
    values: dict[str, Any] = {
        "project_id": project.id,
        "fingerprint": f"{n:032x}",
        "source": "runtime",
        "error_type": "ValueError",
        "message": f"bug number {n}",
        "file_path": f"app/module_{n}.py",
        "line_number": n,
        "stack_trace": "Traceback...",
        "level": "ERROR",
        "environment": "production",
        "context": {},
        "status": status,
        "status_changed_at": seen,
        "occurrence_count": 1,
        "first_seen": seen,
        "last_seen": seen,
        "created_at": seen,
    }
    values.update(fields)
    bug = Bug(**values)
    session.add(bug)
    session.flush()
    return bug
