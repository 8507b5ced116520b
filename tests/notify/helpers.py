"""Helpers of the notification tests: channels and bug moves through the public API, and reading the log."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from logcenter.notify.models import NotificationDelivery
from tests.conftest import Database
from tests.factories import report_payload


def make_channel(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    body.setdefault("name", body.get("kind", "channel"))
    response = client.post("/api/v1/notification-channels", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def report(client: TestClient, **overrides: Any) -> int:
    response = client.post("/api/v1/logs/report", json=report_payload(**overrides))
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def move(client: TestClient, headers: dict[str, str], bug_id: int, status: str, **fields: Any) -> None:
    response = client.put(f"/api/v1/bugs/{bug_id}/status", json={"status": status, **fields}, headers=headers)
    assert response.status_code == 200, response.text


def open_pr(client: TestClient, headers: dict[str, str], bug_id: int, number: int = 12) -> None:
    """What the repair agent does: take the bug, link its PR, hand it over for review."""
    move(client, headers, bug_id, "FIXING")
    url = f"https://git.example.com/team/shop/pulls/{number}"
    response = client.put(
        f"/api/v1/bugs/{bug_id}/pr-info",
        json={"pr_number": number, "pr_url": url, "branch_name": f"fix/auto-{bug_id}"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    move(client, headers, bug_id, "PENDING_REVIEW")


def deliveries(db: Database, channel_id: int | None = None) -> list[NotificationDelivery]:
    with db.factory() as session:
        query = select(NotificationDelivery).order_by(NotificationDelivery.id)
        if channel_id is not None:
            query = query.where(NotificationDelivery.channel_id == channel_id)
        return list(session.scalars(query))


def facts(delivery: NotificationDelivery) -> dict[str, str]:
    return {label: value for label, value in delivery.message["facts"]}
