"""Assigning a bug, and finding bugs by assignee and by whether they are ignored."""

from __future__ import annotations

import pytest

from tests.bugs.helpers import committed_bug, detail
from tests.triage.helpers import act, listed


def test_assign_reassign_and_unassign_with_history(client, session, admin_headers):
    bug = committed_bug(session)
    body = act(client, admin_headers, "PUT", f"{bug.id}/assignee", assignee="  bob ")
    assert (body["assignee"], body["status"]) == ("bob", "NEW")
    act(client, admin_headers, "PUT", f"{bug.id}/assignee", assignee="bob")  # no change, no history row
    act(client, admin_headers, "PUT", f"{bug.id}/assignee", assignee="carol")
    response = client.put(f"/api/v1/bugs/{bug.id}/assignee", headers=admin_headers, json={"assignee": None})
    assert response.status_code == 200 and response.json()["assignee"] is None
    assert [(e["kind"], e["actor"], e["note"]) for e in detail(client, admin_headers, bug.id)["history"]] == [
        ("assigned", "alice", "Assigned to bob"),
        ("assigned", "alice", "Assigned to carol"),
        ("assigned", "alice", "Unassigned (was carol)"),
    ]


@pytest.mark.parametrize(
    "body", [{}, {"assignee": ""}, {"assignee": "x" * 201}, {"assignee": 5}, {"who": "bob"}]
)
def test_bad_assignee_is_422(client, session, admin_headers, body):
    bug = committed_bug(session)
    response = client.put(f"/api/v1/bugs/{bug.id}/assignee", headers=admin_headers, json=body)
    assert response.status_code == 422, response.text
    assert detail(client, admin_headers, bug.id)["assignee"] is None


def test_assign_needs_a_token_and_an_existing_bug(client, session, admin_headers):
    bug = committed_bug(session)
    assert client.put(f"/api/v1/bugs/{bug.id}/assignee", json={"assignee": "bob"}).status_code == 401
    missing = client.put("/api/v1/bugs/999999/assignee", headers=admin_headers, json={"assignee": "bob"})
    assert missing.status_code == 404


def test_list_by_assignee_and_ignored(client, session, admin_headers):
    mine = committed_bug(session)
    theirs = committed_bug(session)
    muted_mine = committed_bug(session)
    act(client, admin_headers, "PUT", f"{mine.id}/assignee", assignee="bob")
    act(client, admin_headers, "PUT", f"{muted_mine.id}/assignee", assignee="bob")
    act(client, admin_headers, "PUT", f"{theirs.id}/assignee", assignee="carol")
    act(client, admin_headers, "POST", f"{muted_mine.id}/ignore")
    assert listed(client, admin_headers, assignee="bob") == [mine.id]
    assert sorted(listed(client, admin_headers, assignee="bob", ignored="include")) == [
        mine.id,
        muted_mine.id,
    ]
    assert listed(client, admin_headers, ignored="only") == [muted_mine.id]
    assert sorted(listed(client, admin_headers)) == [mine.id, theirs.id]
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"ignored": "maybe"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "ignored", "message": "expected one of exclude, include, only"}
    ]
