"""POST /api/v1/agent/progress: the steps of a repair run in the bug's history, from the lease holder only."""

from __future__ import annotations

from logcenter.bugs.models import BugStatus
from tests.bugs.helpers import committed_bug, detail


def test_only_the_lease_holder_records_steps(client, agent_headers, session):
    bug = committed_bug(session, BugStatus.NEW)
    claimed = client.post("/api/v1/agent/claim", headers=agent_headers, json={"agent": "agent-1"})
    assert [b["id"] for b in claimed.json()["bugs"]] == [bug.id]

    body = {"agent": "agent-1", "bug_id": bug.id, "step": "fixing", "note": "claude on fix/auto-1"}
    response = client.post("/api/v1/agent/progress", headers=agent_headers, json=body)
    assert response.status_code == 201, response.text
    assert (response.json()["kind"], response.json()["note"]) == ("agent", "fixing: claude on fix/auto-1")
    row = detail(client, agent_headers, bug.id)["history"][-1]
    assert (row["kind"], row["actor"], row["from_status"], row["to_status"]) == (
        "agent",
        "agent-1",
        "FIXING",
        "FIXING",
    )

    other = client.post("/api/v1/agent/progress", headers=agent_headers, json={**body, "agent": "agent-2"})
    assert other.status_code == 409 and "not being fixed by 'agent-2'" in other.json()["detail"]
    bad = client.post("/api/v1/agent/progress", headers=agent_headers, json={**body, "step": "Fixing now!"})
    assert bad.status_code == 422
    anonymous = client.post("/api/v1/agent/progress", json=body)
    assert anonymous.status_code == 401
