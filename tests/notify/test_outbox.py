"""The dispatcher: which history rows become which messages for which channels, once each.

Bugs are created and moved through the public API (ingest, status changes), as reports, the agent and
reviewers do; the dispatcher then runs as its periodic job would.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from logcenter.config import Settings
from logcenter.db import session_scope, utcnow
from logcenter.notify import outbox
from logcenter.notify.models import NotificationDelivery
from logcenter.notify.settings import base_url
from tests.conftest import Database
from tests.notify.conftest import PUBLIC_URL
from tests.notify.helpers import deliveries, facts, make_channel, move, report

SHA = "0123456789abcdef0123456789abcdef01234567"


def dispatch(db: Database, settings: Settings, **kwargs: Any) -> list[int]:
    """One run of the dispatcher; returns the ids of the deliveries it handed to the job queue."""
    queued: list[int] = []
    with session_scope(db.factory) as session:
        outbox.dispatch(
            session,
            base_url=base_url(settings),
            enqueue=lambda _, ids: queued.extend(ids),
            **kwargs,
        )
    return queued


def kinds(db: Database, channel_id: int) -> list[tuple[str, int | None]]:
    return [(d.event_kind, d.bug_id) for d in deliveries(db, channel_id)]


def test_a_bugs_life_in_messages(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    channel = make_channel(client, admin_headers, kind="webhook", url="https://hooks.example.org/x")
    bug = report(client, project_id="shop")
    report(client, project_id="shop")  # the same bug again: no new message
    queued = dispatch(db, settings)
    assert kinds(db, channel["id"]) == [("new_bug", bug)]
    assert queued == [d.id for d in deliveries(db)]
    first = deliveries(db)[0]
    assert first.title == "New bug: ValueError in shop"
    assert facts(first)["Project"] == "shop" and facts(first)["Environment"] == "production"
    assert first.message["links"] == [{"label": "Open in Log Center", "url": f"{PUBLIC_URL}/bugs/{bug}"}]
    assert "invalid literal for int()" in first.message["text"]

    move(client, admin_headers, bug, "FIXING")  # claimed: nothing to say yet
    assert dispatch(db, settings) == []
    client.put(
        f"/api/v1/bugs/{bug}/pr-info",
        json={"pr_number": 7, "pr_url": "https://git.example.com/team/shop/pulls/7"},
        headers=admin_headers,
    )
    move(client, admin_headers, bug, "PENDING_REVIEW")
    move(client, admin_headers, bug, "MERGED", merge_commit_sha=SHA)
    move(client, admin_headers, bug, "DEPLOYED", deployed_version="2.0.0", deployed_commit=SHA)
    report(client, project_id="shop", version="2.1.0")  # seen again after the fix was deployed
    dispatch(db, settings)
    assert [k for k, _ in kinds(db, channel["id"])] == [
        "new_bug",
        "pr_opened",
        "merged",
        "deployed",
        "regression",
    ]
    by_kind = {d.event_kind: d for d in deliveries(db)}
    pr_links = by_kind["pr_opened"].message["links"]
    assert pr_links[1] == {"label": "Pull request #7", "url": "https://git.example.com/team/shop/pulls/7"}
    assert by_kind["pr_opened"].title == "Fix ready for review: ValueError in shop"
    assert facts(by_kind["merged"])["Merge commit"] == SHA[:12]
    assert facts(by_kind["deployed"])["Release"] == "2.0.0"
    assert "regression" in facts(by_kind["regression"])["Why"]
    assert dispatch(db, settings) == []  # the cursor moved past everything


def test_fix_failed_carries_the_reason(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    channel = make_channel(
        client, admin_headers, kind="slack", url="https://hooks.slack.com/services/x", events=["fix_failed"]
    )
    bug = report(client)
    move(client, admin_headers, bug, "FIXING")
    response = client.post(
        f"/api/v1/bugs/{bug}/fail",
        json={"reason": "tests still fail on the fix branch"},
        headers=admin_headers,
    )
    assert response.status_code == 200
    dispatch(db, settings)
    (delivery,) = deliveries(db, channel["id"])
    assert delivery.event_kind == "fix_failed"
    assert facts(delivery)["Reason"] == "tests still fail on the fix branch"


def test_rules_project_level_environment_and_events(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    shop_bug = report(client, project_id="shop", level="ERROR", environment="production")
    billing_bug = report(client, project_id="billing", level="CRITICAL", environment="staging",
                         error={"type": "KeyError", "file_path": "billing.py"})  # fmt: skip
    warning_bug = report(client, project_id="shop", level="WARNING", environment="production",
                         error={"type": "UserWarning", "file_path": "w.py"})  # fmt: skip
    # Channels made after the reports still see them: the cursor, not the channel, decides what is new.
    everything = make_channel(client, admin_headers, kind="webhook", url="https://x.example/1")
    shop_only = make_channel(
        client, admin_headers, kind="webhook", url="https://x.example/2", project_id="shop"
    )
    critical = make_channel(
        client, admin_headers, kind="webhook", url="https://x.example/3", min_level="CRITICAL"
    )
    staging = make_channel(
        client, admin_headers, kind="webhook", url="https://x.example/4", environments=["staging"]
    )
    merged_only = make_channel(
        client, admin_headers, kind="webhook", url="https://x.example/5", events=["merged"]
    )
    disabled = make_channel(client, admin_headers, kind="webhook", url="https://x.example/6", enabled=False)
    errors_up = make_channel(
        client, admin_headers, kind="webhook", url="https://x.example/7", min_level="ERROR"
    )
    dispatch(db, settings)
    assert {b for _, b in kinds(db, everything["id"])} == {shop_bug, billing_bug, warning_bug}
    assert {b for _, b in kinds(db, shop_only["id"])} == {shop_bug, warning_bug}
    assert {b for _, b in kinds(db, critical["id"])} == {billing_bug}
    assert {b for _, b in kinds(db, staging["id"])} == {billing_bug}
    assert {b for _, b in kinds(db, errors_up["id"])} == {shop_bug, billing_bug}
    assert kinds(db, merged_only["id"]) == [] and kinds(db, disabled["id"]) == []


def test_throttle_one_message_per_bug_and_kind_per_interval(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    hourly = make_channel(
        client, admin_headers, kind="webhook", url="https://x.example/1", events=["regression"]
    )
    every_time = make_channel(
        client,
        admin_headers,
        kind="webhook",
        url="https://x.example/2",
        events=["regression"],
        throttle_seconds=0,
    )
    bug = report(client)
    for round_ in range(3):  # fixed, deployed, and seen again: three regressions within minutes
        move(client, admin_headers, bug, "FIXING")
        move(client, admin_headers, bug, "PENDING_REVIEW")
        move(client, admin_headers, bug, "MERGED", merge_commit_sha=SHA)
        move(client, admin_headers, bug, "DEPLOYED", deployed_version=f"1.{round_}", deployed_commit=SHA)
        report(client, version=f"1.{round_}")
        if round_ == 1:
            dispatch(db, settings)  # the throttle holds across dispatcher runs, not only within one
    dispatch(db, settings)
    assert kinds(db, hourly["id"]) == [("regression", bug)]
    assert kinds(db, every_time["id"]) == [("regression", bug)] * 3


def test_throttle_interval_passes(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    channel = make_channel(
        client,
        admin_headers,
        kind="webhook",
        url="https://x.example/1",
        events=["regression"],
        throttle_seconds=60,
    )
    bug = report(client)
    for round_ in range(2):
        move(client, admin_headers, bug, "FIXING")
        move(client, admin_headers, bug, "PENDING_REVIEW")
        move(client, admin_headers, bug, "MERGED", merge_commit_sha=SHA)
        move(client, admin_headers, bug, "DEPLOYED", deployed_version=f"1.{round_}", deployed_commit=SHA)
        report(client, version=f"1.{round_}")
        dispatch(db, settings)
        if round_ == 0:  # the first message went out two minutes ago
            with session_scope(db.factory) as session:
                for delivery in session.query(NotificationDelivery):
                    delivery.event_at = utcnow() - timedelta(minutes=2)
    assert kinds(db, channel["id"]) == [("regression", bug)] * 2


def test_settle_leaves_young_events_for_the_next_run(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    make_channel(client, admin_headers, kind="webhook", url="https://x.example/1")
    report(client)
    assert dispatch(db, settings, settle=timedelta(seconds=30)) == []
    assert (
        len(dispatch(db, settings, settle=timedelta(seconds=30), now=utcnow() + timedelta(seconds=31))) == 1
    )
    assert dispatch(db, settings) == []


def test_many_bugs_at_once_past_the_burst_limit_become_one_summary(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    channel = make_channel(client, admin_headers, kind="webhook", url="https://x.example/1")
    bugs = [report(client, error={"type": f"Error{i}", "file_path": f"m{i}.py"}) for i in range(15)]
    dispatch(db, settings, burst=10)
    sent = deliveries(db, channel["id"])
    assert [d.event_kind for d in sent] == ["new_bug"] * 10 + ["summary"]
    assert [d.bug_id for d in sent[:10]] == bugs[:10]
    summary = sent[-1]
    assert summary.bug_id is None
    assert summary.title == "5 more notifications: 5 × new bug"
    assert [item["url"] for item in summary.message["items"]] == [f"{PUBLIC_URL}/bugs/{b}" for b in bugs[10:]]
    assert summary.message["items"][0]["text"] == "New bug: Error10 in rtc_backend"

    # Within the same minute, the channel is still at its limit: three more bugs are one more summary.
    more = [report(client, error={"type": f"Late{i}", "file_path": f"l{i}.py"}) for i in range(3)]
    dispatch(db, settings, burst=10)
    assert [(d.event_kind, d.message["data"].get("bugs")) for d in deliveries(db, channel["id"])[11:]] == [
        ("summary", more)
    ]
    # A quiet minute later, messages go out one by one again.
    last = report(client, error={"type": "Later", "file_path": "z.py"})
    dispatch(db, settings, burst=10, now=utcnow() + timedelta(minutes=2))
    assert [(d.event_kind, d.bug_id) for d in deliveries(db, channel["id"])[12:]] == [("new_bug", last)]


def test_an_ignored_bug_notifies_nobody(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    channel = make_channel(
        client, admin_headers, kind="slack", url="https://hooks.slack.com/services/x", events=["fix_failed"]
    )
    bug = report(client)
    dispatch(db, settings)  # its creation, before it was ignored
    assert client.post(f"/api/v1/bugs/{bug}/ignore", json={}, headers=admin_headers).status_code == 200
    move(client, admin_headers, bug, "FIXING")
    failed = client.post(f"/api/v1/bugs/{bug}/fail", json={"reason": "no"}, headers=admin_headers)
    assert failed.status_code == 200
    dispatch(db, settings)
    assert deliveries(db, channel["id"]) == []
    assert client.post(f"/api/v1/bugs/{bug}/unignore", json={}, headers=admin_headers).status_code == 200
    move(client, admin_headers, bug, "NEW")
    move(client, admin_headers, bug, "FIXING")
    assert client.post(f"/api/v1/bugs/{bug}/fail", json={"reason": "again"}, headers=admin_headers).is_success
    dispatch(db, settings)
    assert [d.event_kind for d in deliveries(db, channel["id"])] == ["fix_failed"]


def test_a_revision_is_announced_when_asked_for_and_when_made(
    client: TestClient, admin_headers: dict[str, str], agent_headers: dict[str, str], db: Database,
    settings: Settings,
) -> None:  # fmt: skip
    from tests.notify.helpers import open_pr

    hourly = make_channel(client, admin_headers, kind="webhook", url="https://hooks.example.org/x")
    assert {"revision_requested", "revised"} <= set(hourly["events"])  # on by default
    channel = make_channel(
        client, admin_headers, kind="webhook", url="https://hooks.example.org/y", throttle_seconds=0
    )
    bug = report(client, project_id="shop")
    open_pr(client, admin_headers, bug)
    dispatch(db, settings)
    comment = {"comment": "Return None for an empty list"}
    assert client.post(f"/api/v1/bugs/{bug}/revision", json=comment, headers=admin_headers).status_code == 200
    claimed = client.post("/api/v1/agent/claim", json={"agent": "a1"}, headers=agent_headers).json()["bugs"]
    assert claimed[0]["revision_request"]["number"] == 1
    body = {"agent": "a1", "status": "PENDING_REVIEW", "head_sha": SHA, "test_passed": True}
    assert (
        client.post(f"/api/v1/bugs/{bug}/repair-reports", json=body, headers=agent_headers).status_code == 201
    )
    # Asked again, and this time the agent fails: the message says so (the PR stays as it was).
    client.post(f"/api/v1/bugs/{bug}/revision", json=comment, headers=admin_headers)
    client.post("/api/v1/agent/claim", json={"agent": "a1"}, headers=agent_headers)
    failed = {"agent": "a1", "status": "FAILED", "failure_reason": "tests_failed: the suite fails"}
    client.post(f"/api/v1/bugs/{bug}/repair-reports", json=failed, headers=agent_headers)
    dispatch(db, settings)
    sent = [d for d in deliveries(db, channel["id"]) if d.event_kind in ("revision_requested", "revised")]
    assert [(d.event_kind, d.title) for d in sent] == [
        ("revision_requested", "Changes requested: ValueError in shop"),
        ("revised", "Fix revised: ValueError in shop"),
        ("revision_requested", "Changes requested: ValueError in shop"),
        ("revised", "Revision failed: ValueError in shop"),
    ]
    # Kinds of their own: the PR's "fix ready for review" just before does not hold them back; the same
    # kind again within the channel's throttle interval is held back, as for any event.
    hourly_kinds = [d.event_kind for d in deliveries(db, hourly["id"])]
    assert hourly_kinds == ["new_bug", "pr_opened", "revision_requested", "revised"]
    assert facts(sent[0])["Comment"] == "Return None for an empty list" and facts(sent[0])["By"] == "alice"
    assert facts(sent[1])["Revision"].startswith("Revision 1: PR #12 updated at")
    assert facts(sent[3])["Revision"].startswith("Revision 2 failed: tests_failed: the suite fails")
