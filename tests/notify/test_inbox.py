"""The message centre: every user gets the events in an inbox, reads them, marks them read; their own only."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from logcenter.config import Settings
from logcenter.users import service as users_service
from logcenter.users.models import Role
from tests.conftest import Database
from tests.notify.helpers import move, report
from tests.notify.test_delivery import run_jobs
from tests.web.conftest import make_user
from tests.web.test_access import log_in


def test_each_user_reads_and_marks_their_own_inbox(
    app: FastAPI, client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    make_user(db, "victor", Role.VIEWER)
    make_user(db, "gone", Role.VIEWER)
    with db.factory() as session:  # a disabled user gets nothing
        users_service.set_disabled(session, username="gone", disabled=True)
        session.commit()
    assert client.get("/api/v1/inbox").status_code == 401  # logged out: no inbox (JSON, not a redirect)

    bug = report(client, project_id="shop")
    other = report(client, project_id="shop", error={"type": "KeyError", "file_path": "k.py"})
    move(client, admin_headers, bug, "FIXING")
    move(client, admin_headers, bug, "PENDING_REVIEW")
    run_jobs(db, settings)

    csrf = log_in(client, "rita")
    page = client.get("/api/v1/inbox").json()
    assert page["unread"] == 3
    assert [(i["event_kind"], i["bug_id"], i["read"]) for i in page["items"]] == [
        ("pr_opened", bug, False),
        ("new_bug", other, False),
        ("new_bug", bug, False),
    ]
    newest = page["items"][0]
    assert newest["title"] == "Fix ready for review: ValueError in shop"
    assert dict(newest["facts"])["Status"] == "PENDING_REVIEW"
    assert newest["links"][0]["url"].endswith(f"/bugs/{bug}")

    # A POST without the CSRF header is refused; with it, the item is read.
    assert client.post("/api/v1/inbox/read", json={"ids": [newest["id"]]}).status_code == 403
    marked = client.post("/api/v1/inbox/read", json={"ids": [newest["id"]]}, headers={"X-CSRF-Token": csrf})
    assert marked.json() == {"marked": 1, "unread": 2}
    unread = client.get("/api/v1/inbox", params={"unread": "true"}).json()
    assert [i["event_kind"] for i in unread["items"]] == ["new_bug", "new_bug"]

    # Victor's inbox is his own: Rita's read mark does not touch it, and he cannot mark hers.
    client.cookies.clear()
    victor_csrf = log_in(client, "victor")
    assert client.get("/api/v1/inbox").json()["unread"] == 3
    refused = client.post(
        "/api/v1/inbox/read", json={"ids": [newest["id"]]}, headers={"X-CSRF-Token": victor_csrf}
    )
    assert refused.json()["marked"] == 0
    everything = client.post("/api/v1/inbox/read", json={"all": True}, headers={"X-CSRF-Token": victor_csrf})
    assert everything.json() == {"marked": 3, "unread": 0}
    bad = client.post("/api/v1/inbox/read", json={}, headers={"X-CSRF-Token": victor_csrf})
    assert bad.status_code == 422


def test_a_bug_that_keeps_regressing_is_one_unread_item(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    bug = report(client)
    sha = "0123456789abcdef0123456789abcdef01234567"
    for round_ in range(3):
        move(client, admin_headers, bug, "FIXING")
        move(client, admin_headers, bug, "PENDING_REVIEW")
        move(client, admin_headers, bug, "MERGED", merge_commit_sha=sha)
        move(client, admin_headers, bug, "DEPLOYED", deployed_version=f"1.{round_}", deployed_commit=sha)
        report(client, version=f"1.{round_}")
        run_jobs(db, settings)
    log_in(client, "rita")
    kinds = [i["event_kind"] for i in client.get("/api/v1/inbox").json()["items"]]
    assert kinds.count("regression") == 1 and kinds.count("deployed") == 1 and kinds.count("new_bug") == 1
