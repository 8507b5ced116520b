"""Heartbeat, release and expiry of repair-agent leases."""

from __future__ import annotations

from datetime import timedelta

from logcenter.bugs.models import Bug, BugStatus
from logcenter.db import session_scope, utcnow
from logcenter.repair import service as repair_service
from tests.bugs.helpers import committed_bug, detail, parse_time

S = BugStatus


def post(client, headers, path, **body):
    response = client.post(f"/api/v1/agent/{path}", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def claimed(client, headers, agent, n, **extra):
    return [b["id"] for b in post(client, headers, "claim", agent=agent, limit=n, **extra)["bugs"]]


def test_heartbeat_extends_the_lease_and_reports_lost_bugs(client, session, agent_headers):
    for _ in range(4):
        committed_bug(session, S.NEW)
    mine = claimed(client, agent_headers, "agent-1", 2, lease_seconds=60)
    theirs = claimed(client, agent_headers, "agent-2", 1)
    waiting = committed_bug(session, S.NEW).id
    first_expiry = parse_time(detail(client, agent_headers, mine[0])["lease_expires_at"])

    before = utcnow()
    result = post(
        client,
        agent_headers,
        "heartbeat",
        agent="agent-1",
        bug_ids=[*mine, *theirs, waiting, 999999],
        lease_seconds=3600,
    )
    after = utcnow()
    assert result == {"held": mine, "lost": [*theirs, waiting, 999999]}
    for bug_id in mine:
        expires = parse_time(detail(client, agent_headers, bug_id)["lease_expires_at"])
        assert before + timedelta(seconds=3600) <= expires <= after + timedelta(seconds=3600)
        assert expires > first_expiry + timedelta(seconds=3000)
    # Nobody else's lease moved, and heartbeats write no history.
    other = detail(client, agent_headers, theirs[0])
    assert other["lease_owner"] == "agent-2"
    assert [e["kind"] for e in detail(client, agent_headers, mine[0])["history"]] == ["status"]


def test_heartbeat_after_the_lease_was_swept_says_lost(client, session, agent_headers, db):
    bug = committed_bug(session, S.NEW)
    claimed(client, agent_headers, "agent-1", 1)
    expire(session, bug.id)
    with session_scope(db.factory) as s:
        assert repair_service.sweep_expired(s) == 1
    assert post(client, agent_headers, "heartbeat", agent="agent-1", bug_ids=[bug.id]) == {
        "held": [],
        "lost": [bug.id],
    }


def test_release_returns_bugs_to_new(client, session, agent_headers):
    ids = [committed_bug(session, S.NEW).id for _ in range(3)]
    mine = claimed(client, agent_headers, "agent-1", 2)
    result = post(
        client, agent_headers, "release", agent="agent-1", bug_ids=[*mine, ids[2]], note="repo unreachable"
    )
    assert result == {"held": mine, "lost": [ids[2]]}
    for bug_id in mine:
        body = detail(client, agent_headers, bug_id)
        assert (body["status"], body["lease_owner"], body["lease_expires_at"]) == ("NEW", None, None)
        assert [
            (e["kind"], e["from_status"], e["to_status"], e["actor"], e["note"]) for e in body["history"]
        ][-1] == ("status", "FIXING", "NEW", "agent-1", "repo unreachable")
    # Released bugs can be claimed again.
    assert sorted(claimed(client, agent_headers, "agent-2", 5)) == sorted([*mine, ids[2]])


def test_release_without_note_and_by_another_agent(client, session, agent_headers):
    bug = committed_bug(session, S.NEW)
    claimed(client, agent_headers, "agent-1", 1)
    assert post(client, agent_headers, "release", agent="agent-2", bug_ids=[bug.id]) == {
        "held": [],
        "lost": [bug.id],
    }
    assert detail(client, agent_headers, bug.id)["status"] == "FIXING"
    assert post(client, agent_headers, "release", agent="agent-1", bug_ids=[bug.id])["held"] == [bug.id]
    assert detail(client, agent_headers, bug.id)["history"][-1]["note"] == "Released by repair agent"


def test_lease_bodies_are_validated(client, agent_headers):
    for path, body, field in [
        ("heartbeat", {"agent": "a", "bug_ids": []}, "bug_ids"),
        ("heartbeat", {"agent": "a"}, "bug_ids"),
        ("heartbeat", {"bug_ids": [1]}, "agent"),
        ("release", {"agent": "a", "bug_ids": ["x"]}, "bug_ids[0]"),
        ("release", {"agent": "a", "bug_ids": list(range(101))}, "bug_ids"),
    ]:
        response = client.post(f"/api/v1/agent/{path}", headers=agent_headers, json=body)
        assert response.status_code == 422, (path, body)
        assert [e["field"] for e in response.json()["errors"]] == [field], (path, body)


def expire(session, bug_id: int) -> None:
    session.expire_all()
    bug = session.get(Bug, bug_id)
    bug.lease_expires_at = utcnow() - timedelta(seconds=1)
    session.commit()


def test_sweep_returns_expired_leases_to_new_with_history(client, session, agent_headers, db):
    for _ in range(3):
        committed_bug(session, S.NEW)
    stale, fresh = claimed(client, agent_headers, "agent-1", 1), claimed(client, agent_headers, "agent-2", 1)
    expire(session, stale[0])

    before = utcnow()
    with session_scope(db.factory) as s:
        assert repair_service.sweep_expired(s) == 1
    after = utcnow()

    body = detail(client, agent_headers, stale[0])
    assert (body["status"], body["lease_owner"], body["lease_expires_at"]) == ("NEW", None, None)
    row = body["history"][-1]
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"], row["note"]) == (
        "lease_expired",
        "FIXING",
        "NEW",
        "system",
        "Lease of agent-1 expired",
    )
    assert before <= parse_time(row["created_at"]) <= after
    assert detail(client, agent_headers, fresh[0])["status"] == "FIXING"
    with session_scope(db.factory) as s:
        assert repair_service.sweep_expired(s) == 0


def test_claim_sweeps_first_so_an_expired_bug_is_claimed_again(client, session, agent_headers):
    bug = committed_bug(session, S.NEW)
    claimed(client, agent_headers, "agent-1", 1)
    expire(session, bug.id)
    assert claimed(client, agent_headers, "agent-2", 1) == [bug.id]
    body = detail(client, agent_headers, bug.id)
    assert (body["status"], body["lease_owner"]) == ("FIXING", "agent-2")
    assert [(e["kind"], e["to_status"], e["actor"]) for e in body["history"]] == [
        ("status", "FIXING", "agent-1"),
        ("lease_expired", "NEW", "system"),
        ("status", "FIXING", "agent-2"),
    ]
    # The first agent has lost it.
    assert post(client, agent_headers, "heartbeat", agent="agent-1", bug_ids=[bug.id])["lost"] == [bug.id]
