"""Small helpers for the bug, repair and project API tests: read what a user of the API would see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugStatus
from logcenter.projects.models import Project
from tests.factories import make_bug, make_project, report_payload


def parse_time(value: str) -> datetime:
    """An API timestamp as an aware datetime (the API always answers in UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, f"timestamp without a time zone: {value}"
    return parsed


def detail(client: TestClient, headers: dict[str, str], bug_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/bugs/{bug_id}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def history(client: TestClient, headers: dict[str, str], bug_id: int) -> list[dict[str, Any]]:
    return detail(client, headers, bug_id)["history"]  # type: ignore[no-any-return]


def status_changes(client: TestClient, headers: dict[str, str], bug_id: int) -> list[tuple[Any, ...]]:
    """(kind, from, to, actor, note) of every history row, oldest first."""
    return [
        (e["kind"], e["from_status"], e["to_status"], e["actor"], e["note"])
        for e in history(client, headers, bug_id)
    ]


def ingest(client: TestClient, **overrides: Any) -> dict[str, Any]:
    """Report an error through the public ingest endpoint; returns the JSON answer."""
    response = client.post("/api/v1/logs/report", json=report_payload(**overrides))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def committed_bug(
    session: Session, status: BugStatus = BugStatus.NEW, slug: str = "shop", **fields: Any
) -> Bug:
    """A bug (and its project, created on first use) committed so that the app's own connections see it."""
    project = session.scalar(select(Project).where(Project.slug == slug)) or make_project(session, slug)
    bug = make_bug(session, project, status=status, **fields)
    session.commit()
    return bug
