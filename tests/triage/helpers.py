"""Triage test helpers: the actions through the API, and the unignore job as a worker runs it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from logcenter.triage.jobs import UNIGNORE
from tests.conftest import Database
from tests.jobs.helpers import run_periodic_job

REPORT = "/api/v1/logs/report"


def act(
    client: TestClient, headers: dict[str, str], method: str, path: str, expect: int = 200, **body: Any
) -> dict[str, Any]:
    response = client.request(method, f"/api/v1/bugs/{path}", headers=headers, json=body or None)
    assert response.status_code == expect, response.text
    return response.json()  # type: ignore[no-any-return]


def listed(client: TestClient, headers: dict[str, str], **params: Any) -> list[int]:
    response = client.get("/api/v1/bugs", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [b["id"] for b in response.json()["bugs"]]


def run_unignore_job(db: Database, settings: Any) -> int:
    """Schedule the periodic triage.unignore job and run it as a worker would once it is due."""
    return run_periodic_job(db, settings, UNIGNORE, due_after=61)
