"""The channels API as an admin uses it: secrets go in and never come out; rules are validated."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from logcenter.config import Settings
from logcenter.notify.models import NotificationChannel
from tests.conftest import Database
from tests.notify.receivers import Receiver
from tests.webhooks.test_secrets import logcenter


def create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/notification-channels", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_secrets_are_write_only(client: TestClient, admin_headers: dict[str, str]) -> None:
    url = "https://oapi.dingtalk.com/robot/send?access_token=tok-abcdef123456"
    created = create(
        client, admin_headers, name="team", kind="dingtalk", url=url, secret="SEC-signing-secret"
    )
    assert created["url_preview"] == "https://oapi.dingtalk.com/…"
    assert created["url_set"] is True and created["secret_set"] is True
    assert created["events"] == [
        "new_bug", "regression", "pr_opened", "fix_failed", "merged", "deployed",
        "revision_requested", "revised",
    ]  # fmt: skip
    assert created["throttle_seconds"] == 3600 and created["failing"] is False
    listed = client.get("/api/v1/notification-channels", headers=admin_headers)
    single = client.get(f"/api/v1/notification-channels/{created['id']}", headers=admin_headers)
    for response in (listed, single):
        assert response.status_code == 200
        assert "tok-abcdef123456" not in response.text and "SEC-signing-secret" not in response.text
    # A PUT without the secret keeps it; "" removes it.
    changed = client.put(
        f"/api/v1/notification-channels/{created['id']}", json={"name": "team 2"}, headers=admin_headers
    ).json()
    assert changed["name"] == "team 2" and changed["secret_set"] is True and changed["url_set"] is True
    cleared = client.put(
        f"/api/v1/notification-channels/{created['id']}", json={"secret": ""}, headers=admin_headers
    ).json()
    assert cleared["secret_set"] is False


def test_email_channel_password_is_write_only(client: TestClient, admin_headers: dict[str, str]) -> None:
    created = create(
        client,
        admin_headers,
        name="mail",
        kind="email",
        smtp={"host": "smtp.example.org", "port": 587, "security": "starttls", "username": "bot"},
        secret="smtp-password-1",
        recipients=["dev@example.org"],
        events=["new_bug", "digest"],
        min_level="ERROR",
        environments=["production"],
    )
    assert created["smtp"] == {
        "host": "smtp.example.org",
        "port": 587,
        "security": "starttls",
        "username": "bot",
        "from_address": None,
    }
    assert created["url_preview"] is None and created["secret_set"] is True
    assert created["events"] == ["new_bug", "digest"]
    text = client.get(f"/api/v1/notification-channels/{created['id']}", headers=admin_headers).text
    assert "smtp-password-1" not in text


def test_invalid_channels_are_refused_naming_the_field(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    cases = [
        ({"name": "x", "kind": "slack"}, "url"),
        ({"name": "x", "kind": "slack", "url": "javascript:alert(1)"}, "url"),
        ({"name": "x", "kind": "carrier-pigeon", "url": "https://x"}, "kind"),
        ({"name": "x", "kind": "email", "recipients": ["a@example.org"]}, "smtp.host"),
        (
            {"name": "x", "kind": "email", "smtp": {"host": "h"}, "recipients": ["not an address"]},
            "recipients",
        ),
        ({"name": "x", "kind": "webhook", "url": "https://x", "events": ["new_bug", "nonsense"]}, "events"),
        ({"name": "x", "kind": "webhook", "url": "https://x", "project_id": "nope"}, "project_id"),
        ({"name": "x", "kind": "webhook", "url": "https://x", "min_level": "LOUD"}, "min_level"),
        ({"name": "x", "kind": "webhook", "url": "https://x", "throttle_seconds": -1}, "throttle_seconds"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/notification-channels", json=body, headers=admin_headers)
        assert response.status_code == 422, (body, response.text)
        assert field in response.text, (body, response.text)


def test_admin_only(client: TestClient, agent_headers: dict[str, str]) -> None:
    assert client.get("/api/v1/notification-channels").status_code == 401
    assert client.get("/api/v1/notification-channels", headers=agent_headers).status_code == 403
    response = client.post("/api/v1/notification-channels/1/test", headers=agent_headers)
    assert response.status_code == 403


def test_delete_and_unknown_channel(client: TestClient, admin_headers: dict[str, str]) -> None:
    created = create(client, admin_headers, name="hook", kind="webhook", url="https://example.org/hook")
    path = f"/api/v1/notification-channels/{created['id']}"
    assert client.delete(path, headers=admin_headers).status_code == 204
    for method in ("get", "delete"):
        response = getattr(client, method)(path, headers=admin_headers)
        assert response.status_code == 404 and "not found" in response.json()["detail"]


def test_send_test_message(client: TestClient, admin_headers: dict[str, str], receiver: Receiver) -> None:
    receiver.default = (200, "ok")
    created = create(client, admin_headers, name="slack", kind="slack", url=f"{receiver.url}/services/T/B/X")
    response = client.post(f"/api/v1/notification-channels/{created['id']}/test", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["delivered"] is True
    (request,) = receiver.requests
    assert "Test message from Log Center: slack" in request.json()["text"]
    log = client.get(
        f"/api/v1/notification-channels/{created['id']}/deliveries", headers=admin_headers
    ).json()
    (entry,) = log["deliveries"]
    assert (entry["event_kind"], entry["status"], entry["attempts"]) == ("test", "sent", 1)


def test_failed_test_message_is_a_502_with_the_reason(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    receiver.default = (200, '{"errcode": 300001, "errmsg": "token is not exist"}')
    url = f"{receiver.url}/robot/send?access_token=secret-token-9"
    created = create(client, admin_headers, name="ding", kind="dingtalk", url=url)
    response = client.post(f"/api/v1/notification-channels/{created['id']}/test", headers=admin_headers)
    assert response.status_code == 502
    body = response.json()
    assert body["delivered"] is False and "token is not exist" in body["detail"]
    assert "secret-token-9" not in response.text
    channel = client.get(f"/api/v1/notification-channels/{created['id']}", headers=admin_headers).json()
    assert channel["consecutive_failures"] == 1 and "300001" in channel["last_error"]
    failed = client.get(
        f"/api/v1/notification-channels/{created['id']}/deliveries",
        params={"status": "failed"},
        headers=admin_headers,
    ).json()["deliveries"]
    assert [(d["status"], d["attempts"]) for d in failed] == [("failed", 1)]


def test_urls_and_secrets_are_encrypted_at_rest_and_survive_a_key_rotation(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.default = (200, '{"errcode": 0, "errmsg": "ok"}')
    url = f"{receiver.url}/robot/send?access_token=plain-token-123"
    channel = create(client, admin_headers, name="ding", kind="dingtalk", url=url, secret="SEC-plain-secret")

    def stored() -> tuple[str, str]:
        with db.factory() as session:
            row = session.get_one(NotificationChannel, channel["id"])
            return row.url_sealed or "", row.secret_sealed or ""

    before = stored()
    assert "plain-token-123" not in before[0] and "SEC-plain-secret" not in before[1]
    rotated = logcenter(settings, "secrets", "rotate", "--drop-old")
    assert rotated.returncode == 0, rotated.stderr
    assert stored()[0] != before[0] and stored()[1] != before[1]
    # The running server reads the new key file; the robot still gets a correctly signed message.
    response = client.post(f"/api/v1/notification-channels/{channel['id']}/test", headers=admin_headers)
    assert response.status_code == 200, response.text
    (request,) = receiver.requests
    assert request.query["access_token"] == "plain-token-123" and "sign" in request.query
