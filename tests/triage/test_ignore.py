"""Ignoring a bug: for a while, until it recurs N more times, forever; unignore; the job that ends it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from logcenter.bugs.models import BugStatus
from logcenter.db import utcnow
from logcenter.triage import service
from tests.bugs.helpers import committed_bug, detail, ingest, parse_time
from tests.triage.helpers import act, listed, run_unignore_job

S = BugStatus
WEEK = 7 * 24 * 60


def kinds(client, headers, bug_id):
    return [(e["kind"], e["actor"], e["note"]) for e in detail(client, headers, bug_id)["history"]]


def test_a_noisy_bug_muted_for_a_week_comes_back_when_it_recurs_past_the_threshold(
    client, admin_headers, db, settings
):
    bug_id = ingest(client)["id"]
    before = utcnow()
    body = act(
        client, admin_headers, "POST", f"{bug_id}/ignore", for_minutes=WEEK, until_occurrences=5, note="noise"
    )
    until = parse_time(body["ignore_until"])
    assert before + timedelta(days=7) <= until <= utcnow() + timedelta(days=7)
    assert (body["ignored_by"], body["ignore_start_count"], body["ignore_until_count"]) == ("alice", 1, 6)
    assert body["status"] == "NEW"  # ignoring is not a state
    assert bug_id not in listed(client, admin_headers)
    assert listed(client, admin_headers, ignored="only") == [bug_id]
    assert listed(client, admin_headers, ignored="include") == [bug_id]

    for _ in range(4):  # it recurs, but not as often as the threshold yet
        assert ingest(client)["id"] == bug_id
    run_unignore_job(db, settings)
    assert detail(client, admin_headers, bug_id)["ignored_at"] is not None

    for _ in range(2):  # the 5th and 6th since it was muted
        assert ingest(client)["id"] == bug_id
    assert detail(client, admin_headers, bug_id)["ignored_at"] is not None  # until the job runs
    assert run_unignore_job(db, settings) == 1
    back = detail(client, admin_headers, bug_id)
    assert (back["ignored_at"], back["ignore_until"], back["ignore_until_count"]) == (None, None, None)
    assert back["occurrence_count"] == 7
    assert bug_id in listed(client, admin_headers)
    assert kinds(client, admin_headers, bug_id)[-2:] == [
        (
            "ignored",
            "alice",
            "Ignored until " + f"{until:%Y-%m-%d %H:%M} UTC or until it recurs 5 more times: noise",
        ),
        ("unignored", "system", "recurred 6 times since it was ignored"),
    ]


def test_the_ignore_period_ends(client, session, admin_headers):
    bug = committed_bug(session)
    act(client, admin_headers, "POST", f"{bug.id}/ignore", for_minutes=WEEK)
    assert service.unignore_due(session, now=utcnow() + timedelta(days=6)) == 0
    session.commit()
    assert detail(client, admin_headers, bug.id)["ignored_at"] is not None
    assert service.unignore_due(session, now=utcnow() + timedelta(days=7, minutes=1)) == 1
    session.commit()
    assert detail(client, admin_headers, bug.id)["ignored_at"] is None
    assert kinds(client, admin_headers, bug.id)[-1] == ("unignored", "system", "ignore period ended")


def test_the_job_ends_a_period_that_passed(client, session, admin_headers, db, settings):
    bug = committed_bug(session)
    until = utcnow() + timedelta(seconds=1)
    body = act(client, admin_headers, "POST", f"{bug.id}/ignore", until=until.isoformat())
    assert parse_time(body["ignore_until"]) == until
    run_unignore_job(db, settings)
    assert detail(client, admin_headers, bug.id)["ignored_at"] is not None
    time.sleep(max(0.0, (until - utcnow()).total_seconds()) + 0.05)
    run_unignore_job(db, settings)
    assert detail(client, admin_headers, bug.id)["ignored_at"] is None
    assert kinds(client, admin_headers, bug.id)[-1] == ("unignored", "system", "ignore period ended")


def test_ignored_forever_stays_ignored(client, session, admin_headers, db, settings):
    bug = committed_bug(session)
    body = act(client, admin_headers, "POST", f"{bug.id}/ignore")
    assert body["ignored_at"] is not None
    assert (body["ignore_until"], body["ignore_until_count"]) == (None, None)
    assert service.unignore_due(session, now=utcnow() + timedelta(days=3650)) == 0
    session.rollback()
    run_unignore_job(db, settings)
    assert detail(client, admin_headers, bug.id)["ignored_at"] is not None
    assert kinds(client, admin_headers, bug.id) == [("ignored", "alice", "Ignored forever")]


def test_unignore_by_hand(client, session, admin_headers, agent_headers):
    bug = committed_bug(session)
    act(client, agent_headers, "POST", f"{bug.id}/ignore", until_occurrences=100)
    body = act(client, admin_headers, "POST", f"{bug.id}/unignore", note="customers complain")
    assert (body["ignored_at"], body["ignored_by"], body["ignore_until_count"]) == (None, None, None)
    assert kinds(client, admin_headers, bug.id) == [
        ("ignored", "repair-bot", "Ignored until it recurs 100 more times"),
        ("unignored", "alice", "customers complain"),
    ]
    assert bug.id in listed(client, admin_headers)
    conflict = act(client, admin_headers, "POST", f"{bug.id}/unignore", expect=409)
    assert conflict == {"detail": f"Bug {bug.id} is not ignored"}


def test_ignoring_again_replaces_the_conditions(client, session, admin_headers):
    bug = committed_bug(session, occurrence_count=10)
    act(client, admin_headers, "POST", f"{bug.id}/ignore", until_occurrences=3)
    body = act(client, admin_headers, "POST", f"{bug.id}/ignore", for_minutes=60)
    assert (body["ignore_until_count"], body["ignore_start_count"]) == (None, None)
    assert body["ignore_until"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"for_minutes": 0}, "for_minutes"),
        ({"until_occurrences": 0}, "until_occurrences"),
        ({"for_minutes": 5, "until": "2099-01-01T00:00:00Z"}, "body"),
        ({"until": "2001-01-01T00:00:00Z"}, "until"),
        ({"until": "next week"}, "until"),
        ({"forever": True}, "forever"),
    ],
)
def test_bad_ignore_requests_are_422_naming_the_field(client, session, admin_headers, body, field):
    bug = committed_bug(session)
    response = client.post(f"/api/v1/bugs/{bug.id}/ignore", headers=admin_headers, json=body)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert detail(client, admin_headers, bug.id)["ignored_at"] is None


def test_ignore_needs_a_token_and_an_existing_bug(client, session, admin_headers):
    bug = committed_bug(session)
    assert client.post(f"/api/v1/bugs/{bug.id}/ignore").status_code == 401
    assert client.post("/api/v1/bugs/999999/ignore", headers=admin_headers).status_code == 404


def test_the_agent_never_claims_an_ignored_bug(client, session, admin_headers, agent_headers):
    ignored = committed_bug(session)
    waiting = committed_bug(session)
    act(client, admin_headers, "POST", f"{ignored.id}/ignore", for_minutes=60)
    response = client.post("/api/v1/agent/claim", headers=agent_headers, json={"agent": "a1", "limit": 10})
    assert [b["id"] for b in response.json()["bugs"]] == [waiting.id]
    act(client, admin_headers, "POST", f"{ignored.id}/unignore")
    response = client.post("/api/v1/agent/claim", headers=agent_headers, json={"agent": "a1", "limit": 10})
    assert [b["id"] for b in response.json()["bugs"]] == [ignored.id]
    assert detail(client, admin_headers, waiting.id)["status"] == S.FIXING
