"""The daily digest: due once a day after its hour, counts of the day from the history, top new bugs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from logcenter.config import Settings
from logcenter.db import session_scope
from logcenter.notify import digest
from logcenter.notify.models import NotificationChannel
from logcenter.notify.settings import base_url
from tests.conftest import Database
from tests.notify.conftest import PUBLIC_URL
from tests.notify.helpers import deliveries, facts, make_channel, move, report


def run(db: Database, settings: Settings, now: datetime) -> list[int]:
    queued: list[int] = []
    with session_scope(db.factory) as session:
        digest.send_due(
            session,
            base_url=base_url(settings),
            hour=9,
            now=now,
            enqueue=lambda _, ids: queued.extend(ids),
        )
    return queued


def test_digest_once_a_day_with_the_days_counts(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    loud = report(client, project_id="shop")
    for _ in range(4):
        report(client, project_id="shop")
    quiet = report(client, project_id="shop", error={"type": "KeyError", "file_path": "k.py"})
    other = report(client, project_id="billing", error={"type": "TypeError", "file_path": "t.py"})
    move(client, admin_headers, quiet, "FIXING")
    move(client, admin_headers, quiet, "PENDING_REVIEW")
    everything = make_channel(
        client, admin_headers, kind="webhook", url="https://x.example/1", events=["digest"]
    )
    mail = {"smtp": {"host": "smtp.example.org"}, "recipients": ["dev@example.org"]}
    shop = make_channel(
        client, admin_headers, kind="email", events=["digest", "new_bug"], project_id="shop", **mail
    )
    no_digest = make_channel(client, admin_headers, kind="webhook", url="https://x.example/2")
    now = datetime.now(UTC)
    # The channels were made yesterday; today's digest hour (09:00 UTC) is the last one that passed.
    with session_scope(db.factory) as session:
        session.execute(update(NotificationChannel).values(created_at=now - timedelta(days=1, hours=3)))
    next_slot = now.replace(hour=9, minute=0, second=0, microsecond=0)
    if next_slot <= now:
        next_slot += timedelta(days=1)
    assert len(run(db, settings, now)) == 2
    assert run(db, settings, min(now + timedelta(hours=1), next_slot - timedelta(seconds=1))) == []

    (all_projects,) = deliveries(db, everything["id"])
    assert all_projects.event_kind == "digest" and all_projects.bug_id is None
    counts = facts(all_projects)
    assert counts["New bugs"] == "3" and counts["Fixes opened for review"] == "1"
    assert counts["Waiting for review now"] == "1" and counts["Regressions"] == "0"
    items = all_projects.message["items"]
    assert items[0]["url"] == f"{PUBLIC_URL}/bugs/{loud}"  # most occurrences first
    assert "(5×, NEW)" in items[0]["text"]
    assert {i["url"].rsplit("/", 1)[1] for i in items} == {str(loud), str(quiet), str(other)}
    assert all_projects.title.startswith("Daily digest for all projects: 3 new")

    (shop_only,) = deliveries(db, shop["id"])
    assert facts(shop_only)["New bugs"] == "2"
    assert shop_only.title.startswith("Daily digest for shop:")
    assert deliveries(db, no_digest["id"]) == []

    # The next day's digest covers what happened since this one: nothing.
    assert len(run(db, settings, next_slot + timedelta(minutes=1))) == 2
    assert facts(deliveries(db, everything["id"])[-1])["New bugs"] == "0"


def test_new_channel_waits_for_the_next_digest_hour(
    client: TestClient, admin_headers: dict[str, str], db: Database, settings: Settings
) -> None:
    make_channel(client, admin_headers, kind="webhook", url="https://x.example/1", events=["digest"])
    now = datetime.now(UTC)
    assert run(db, settings, now) == []
    next_slot = now.replace(hour=9, minute=0, second=0, microsecond=0)
    if next_slot <= now:
        next_slot += timedelta(days=1)
    assert run(db, settings, next_slot - timedelta(minutes=1)) == []
    assert len(run(db, settings, next_slot + timedelta(minutes=1))) == 1
