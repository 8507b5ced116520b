"""POST /api/v1/agent/claim: leased claims of NEW bugs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from logcenter.bugs.models import BugStatus
from logcenter.db import utcnow
from tests.bugs.helpers import committed_bug, detail, parse_time

S = BugStatus
T0 = datetime(2024, 6, 1, tzinfo=UTC)


def claim(client, headers, **body):
    response = client.post("/api/v1/agent/claim", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()["bugs"]


@pytest.fixture
def queue(session):
    """Five NEW bugs (oldest status change first) in two projects, and one bug in every other state."""
    new = [
        committed_bug(
            session, S.NEW, slug="shop" if i % 2 == 0 else "billing", seen=T0 + timedelta(minutes=i)
        )
        for i in range(5)
    ]
    for status in (S.FIXING, S.PENDING_REVIEW, S.MERGED, S.DEPLOYED, S.FAILED):
        committed_bug(session, status, seen=T0 - timedelta(days=1))
    return [b.id for b in new]


def test_claim_takes_the_oldest_new_bugs_with_a_lease(client, agent_headers, queue):
    before = utcnow()
    bugs = claim(client, agent_headers, agent="agent-1", limit=3, lease_seconds=600)
    after = utcnow()
    assert [b["id"] for b in bugs] == queue[:3]
    for bug in bugs:
        assert (bug["status"], bug["lease_owner"]) == ("FIXING", "agent-1")
        expires = parse_time(bug["lease_expires_at"])
        assert before + timedelta(seconds=600) <= expires <= after + timedelta(seconds=600)
    assert [b["project_id"] for b in bugs] == ["shop", "billing", "shop"]

    stored = detail(client, agent_headers, queue[0])
    assert (stored["status"], stored["lease_owner"]) == ("FIXING", "agent-1")
    [row] = stored["history"]
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"], row["note"]) == (
        "status",
        "NEW",
        "FIXING",
        "agent-1",
        "Claimed by repair agent",
    )
    assert before <= parse_time(row["created_at"]) <= after
    # The rest is still waiting.
    assert [b["id"] for b in claim(client, agent_headers, agent="agent-2", limit=10)] == queue[3:]
    assert claim(client, agent_headers, agent="agent-3", limit=10) == []


def test_claim_defaults_to_one_bug_and_the_configured_lease(client, agent_headers, queue, settings):
    before = utcnow()
    [bug] = claim(client, agent_headers, agent="agent-1")
    assert bug["id"] == queue[0]
    lease = parse_time(bug["lease_expires_at"]) - before
    assert abs(lease.total_seconds() - settings.lease_seconds) < 5


def test_claim_for_one_project(client, agent_headers, queue):
    bugs = claim(client, agent_headers, agent="agent-1", limit=10, project_id="billing")
    assert [b["id"] for b in bugs] == [queue[1], queue[3]]
    assert {b["project_id"] for b in bugs} == {"billing"}
    assert claim(client, agent_headers, agent="agent-1", limit=10, project_id="billing") == []


def test_claim_for_unknown_project_is_404(client, agent_headers, queue):
    response = client.post(
        "/api/v1/agent/claim", headers=agent_headers, json={"agent": "agent-1", "project_id": "nope"}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Project 'nope' not found"}
    assert detail(client, agent_headers, queue[0])["status"] == "NEW"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "agent"),
        ({"agent": ""}, "agent"),
        ({"agent": "has space"}, "agent"),
        ({"agent": "a", "limit": 0}, "limit"),
        ({"agent": "a", "limit": 51}, "limit"),
        ({"agent": "a", "lease_seconds": 9}, "lease_seconds"),
        ({"agent": "a", "lease_seconds": 86_401}, "lease_seconds"),
        ({"agent": "a", "projects": ["x"]}, "projects"),
    ],
)
def test_claim_validation(client, agent_headers, queue, body, field):
    response = client.post("/api/v1/agent/claim", headers=agent_headers, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert detail(client, agent_headers, queue[0])["status"] == "NEW"


def test_admin_may_claim_too(client, admin_headers, queue):
    assert [b["id"] for b in claim(client, admin_headers, agent="human", limit=1)] == queue[:1]
