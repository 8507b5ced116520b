"""Notifications end to end through the job queue: reports and moves → dispatcher job → delivery jobs →
the channel's service (local receivers), with retries, the failing mark, and floods."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from logcenter.config import Settings
from logcenter.db import session_scope, utcnow
from logcenter.jobs import service as jobs
from logcenter.jobs.worker import run_pending
from logcenter.notify.jobs import DISPATCH
from tests.conftest import Database
from tests.notify.helpers import deliveries, make_channel, open_pr, report
from tests.notify.receivers import Mailbox, Receiver, authenticator, smtp_server


def run_jobs(db: Database, settings: Settings, *, later: timedelta = timedelta(0)) -> None:
    """What the worker does on its next rounds: the dispatcher, then every delivery job due by then."""
    with session_scope(db.factory) as session:
        jobs.enqueue(session, DISPATCH)
    while run_pending(db.factory, settings, now=utcnow() + later):
        pass


def channel_state(client: TestClient, headers: dict[str, str], channel_id: int) -> dict:
    return client.get(f"/api/v1/notification-channels/{channel_id}", headers=headers).json()


def test_a_flood_of_one_bug_is_one_message(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.default = (200, "ok")
    make_channel(client, admin_headers, kind="slack", url=f"{receiver.url}/services/T/B/X")
    bug = report(client)
    for _ in range(999):
        assert report(client) == bug
    run_jobs(db, settings)
    run_jobs(db, settings, later=timedelta(hours=2))
    (request,) = receiver.requests
    assert "New bug: ValueError in rtc_backend" in request.json()["text"]


def test_a_receiver_failing_three_times_then_succeeding_gets_one_message(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.script = [(500, "down"), (502, "bad gateway"), (503, "busy")]
    receiver.default = (200, '{"code": 0, "msg": "success"}')
    channel = make_channel(client, admin_headers, kind="feishu", url=f"{receiver.url}/hook/abc", secret="s")
    report(client)
    run_jobs(db, settings)
    (delivery,) = deliveries(db, channel["id"])
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("retrying", 1, "HTTP 500: down")
    for hours in (1, 2, 3, 4, 5):
        run_jobs(db, settings, later=timedelta(hours=hours))
    assert len(receiver.requests) == 4
    (delivery,) = deliveries(db, channel["id"])
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 4, None)
    state = channel_state(client, admin_headers, channel["id"])
    assert state["failing"] is False and state["consecutive_failures"] == 0
    log = client.get(
        f"/api/v1/notification-channels/{channel['id']}/deliveries", headers=admin_headers
    ).json()
    assert [(d["status"], d["attempts"]) for d in log["deliveries"]] == [("sent", 4)]


def test_a_channel_that_keeps_failing_is_marked(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings, receiver: Receiver
) -> None:
    receiver.default = (200, '{"errcode": 310000, "errmsg": "sign not match"}')
    url = f"{receiver.url}/robot/send?access_token=t"
    channel = make_channel(client, admin_headers, kind="dingtalk", url=url, secret="SECwrong")
    report(client)
    for hours in range(0, 12, 2):
        run_jobs(db, settings, later=timedelta(hours=hours))
    (delivery,) = deliveries(db, channel["id"])
    assert delivery.status == "failed" and delivery.attempts == settings.notify_max_attempts
    assert "310000" in (delivery.last_error or "")
    state = channel_state(client, admin_headers, channel["id"])
    assert state["failing"] is True and "sign not match" in state["last_error"]
    # Fixed and tested: green again.
    receiver.default = (200, '{"errcode": 0, "errmsg": "ok"}')
    assert (
        client.post(f"/api/v1/notification-channels/{channel['id']}/test", headers=admin_headers).status_code
        == 200
    )
    assert channel_state(client, admin_headers, channel["id"])["failing"] is False


def test_a_team_hears_about_a_new_bug_its_pr_and_its_deployment(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings, receiver: Receiver
) -> None:
    """The issue's "done means": a DingTalk robot and email for a project."""
    mailbox = Mailbox()
    smtp = smtp_server(mailbox, authenticator=authenticator("bot", "pw", mailbox), auth_require_tls=False)
    try:
        created = client.post("/api/v1/projects", json={"project_id": "shop"}, headers=admin_headers)
        assert created.status_code == 201, created.text
        robot = f"{receiver.url}/robot/send?access_token=t"
        make_channel(client, admin_headers, kind="dingtalk", url=robot, secret="SECx", project_id="shop")
        server = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "username": "bot"}
        mail = {"smtp": server, "secret": "pw", "recipients": ["team@example.org"]}
        make_channel(client, admin_headers, kind="email", project_id="shop", **mail)
        bug = report(client, project_id="shop")
        report(client, project_id="elsewhere", error={"type": "OSError"})  # another project: not theirs
        run_jobs(db, settings)
        open_pr(client, admin_headers, bug, number=31)
        run_jobs(db, settings)
        sha = "abcdef0123456789abcdef0123456789abcdef01"
        client.put(
            f"/api/v1/bugs/{bug}/status",
            json={"status": "MERGED", "merge_commit_sha": sha},
            headers=admin_headers,
        )
        deployed = {"status": "DEPLOYED", "deployed_version": "3.1.0"}
        client.put(f"/api/v1/bugs/{bug}/status", json=deployed, headers=admin_headers)
        run_jobs(db, settings)
    finally:
        smtp.stop()
    titles = [r.json()["markdown"]["title"] for r in receiver.requests]
    assert titles == [
        "New bug: ValueError in shop",
        "Fix ready for review: ValueError in shop",
        "Fix merged: ValueError in shop",
        "Fix deployed: ValueError in shop",
    ]
    assert "pulls/31" in receiver.requests[1].json()["markdown"]["text"]
    subjects = [mail["Subject"] for _, _, mail in mailbox.messages]
    assert subjects == [f"[Log Center] {title}" for title in titles]
