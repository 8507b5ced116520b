"""The bug workflow as a user of the API sees it: allowed moves, 409s, history rows, legacy names."""

from __future__ import annotations

import itertools

import pytest

from logcenter.bugs import workflow
from logcenter.bugs.models import BugStatus
from logcenter.db import utcnow
from logcenter.errors import Conflict, ValidationFailed
from tests.bugs.helpers import committed_bug, detail, history, parse_time

S = BugStatus
ALLOWED = {
    (S.NEW, S.FIXING),
    (S.FIXING, S.PENDING_REVIEW),
    (S.FIXING, S.FAILED),
    (S.FIXING, S.NEW),
    (S.PENDING_REVIEW, S.MERGED),
    (S.PENDING_REVIEW, S.FAILED),
    (S.PENDING_REVIEW, S.FIXING),  # a reviewer asks the agent to revise its PR
    (S.MERGED, S.DEPLOYED),
    (S.MERGED, S.NEW),
    (S.DEPLOYED, S.NEW),
    (S.FAILED, S.NEW),
    (S.FAILED, S.PENDING_REVIEW),  # the PR closed without merging was reopened
}
# Sending a fix back is a revision request (POST /bugs/{id}/revision), not a status change by hand.
BY_HAND = ALLOWED - {(S.PENDING_REVIEW, S.FIXING)}
PAIRS = list(itertools.product(list(S), list(S)))


def test_transition_table_is_the_architecture_one():
    table = {(a, b) for a, targets in workflow.TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


@pytest.mark.parametrize(("current", "target"), sorted(BY_HAND), ids=lambda s: str(s))
def test_allowed_transition_changes_status_and_writes_history(
    client, session, admin_headers, current, target
):
    bug = committed_bug(session, current)
    before = utcnow()
    response = client.put(
        f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"status": target, "note": "by hand"}
    )
    after = utcnow()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == bug.id
    assert body["status"] == target
    assert before <= parse_time(body["status_changed_at"]) <= after

    rows = history(client, admin_headers, bug.id)
    assert len(rows) == 1
    row = rows[0]
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"], row["note"]) == (
        "status",
        current,
        target,
        "alice",
        "by hand",
    )
    assert before <= parse_time(row["created_at"]) <= after
    # Persisted, not only echoed: a fresh read says the same.
    assert detail(client, admin_headers, bug.id)["status"] == target


@pytest.mark.parametrize(("current", "target"), [p for p in PAIRS if p not in ALLOWED], ids=lambda s: str(s))
def test_impossible_transition_is_409_naming_both_states(client, session, admin_headers, current, target):
    bug = committed_bug(session, current)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"status": target})
    assert response.status_code == 409
    assert response.json() == {"detail": f"Bug {bug.id} cannot move from {current} to {target}"}
    after = detail(client, admin_headers, bug.id)
    assert after["status"] == current
    assert after["history"] == []


def test_new_to_merged_message(client, session, admin_headers):
    bug = committed_bug(session, S.NEW)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"status": "MERGED"})
    assert response.status_code == 409
    assert "NEW" in response.json()["detail"] and "MERGED" in response.json()["detail"]


@pytest.mark.parametrize(
    ("legacy", "current", "mapped"),
    [
        ("VERIFYING", S.FIXING, S.NEW),
        ("PENDING_FIX", S.FAILED, S.NEW),
        ("FIX_FAILED", S.FIXING, S.FAILED),
        ("CANNOT_REPRODUCE", S.PENDING_REVIEW, S.FAILED),
        ("FIXED", S.FIXING, S.PENDING_REVIEW),
        ("VERIFIED", S.PENDING_REVIEW, S.MERGED),
        ("fixed", S.FIXING, S.PENDING_REVIEW),
    ],
)
def test_legacy_status_accepted_on_put(client, session, admin_headers, legacy, current, mapped):
    bug = committed_bug(session, current)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"status": legacy})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == mapped
    [row] = history(client, admin_headers, bug.id)
    assert (row["from_status"], row["to_status"]) == (current, mapped)


def test_legacy_status_that_maps_to_an_impossible_move_is_409(client, session, admin_headers):
    bug = committed_bug(session, S.NEW)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"status": "VERIFIED"})
    assert response.status_code == 409
    assert response.json()["detail"] == f"Bug {bug.id} cannot move from NEW to MERGED"


@pytest.mark.parametrize(
    ("legacy", "mapped"),
    [
        ("VERIFYING", S.NEW),
        ("PENDING_FIX", S.NEW),
        ("FIX_FAILED", S.FAILED),
        ("CANNOT_REPRODUCE", S.FAILED),
        ("FIXED", S.PENDING_REVIEW),
        ("VERIFIED", S.MERGED),
    ],
)
def test_legacy_status_accepted_in_filter(client, session, admin_headers, legacy, mapped):
    ids = {s: committed_bug(session, s).id for s in S}
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"status": legacy})
    assert response.status_code == 200, response.text
    assert [b["id"] for b in response.json()["bugs"]] == [ids[mapped]]
    assert response.json()["total"] == 1


def test_failure_reason_kept_on_failed_and_cleared_on_retry(client, session, admin_headers):
    bug = committed_bug(session, S.FIXING)
    failed = client.put(
        f"/api/v1/bugs/{bug.id}/status",
        headers=admin_headers,
        json={"status": "FAILED", "failure_reason": "cannot reproduce locally"},
    )
    assert failed.status_code == 200, failed.text
    assert failed.json()["failure_reason"] == "cannot reproduce locally"
    assert detail(client, admin_headers, bug.id)["failure_reason"] == "cannot reproduce locally"
    assert history(client, admin_headers, bug.id)[-1]["note"] == "cannot reproduce locally"

    retried = client.post(f"/api/v1/bugs/{bug.id}/retry", headers=admin_headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "NEW"
    assert retried.json()["failure_reason"] is None
    assert detail(client, admin_headers, bug.id)["failure_reason"] is None


def test_failed_without_reason_says_so(client, session, admin_headers):
    bug = committed_bug(session, S.PENDING_REVIEW)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"status": "FAILED"})
    assert response.status_code == 200, response.text
    assert response.json()["failure_reason"] == "No reason given"


def test_unknown_status_on_put_is_422_naming_the_field(client, session, admin_headers):
    bug = committed_bug(session, S.NEW)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"status": "DONE"})
    assert response.status_code == 422
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["status"]
    assert "'DONE'" in body["errors"][0]["message"]
    assert detail(client, admin_headers, bug.id)["status"] == "NEW"


def test_unknown_status_in_filter_is_422_naming_the_field(client, admin_headers):
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"status": "NEW,DONE"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["status"]


def test_missing_status_is_422(client, session, admin_headers):
    bug = committed_bug(session, S.NEW)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"note": "x"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "status", "message": "field required"}]


def test_status_change_on_unknown_bug_is_404(client, admin_headers):
    response = client.put("/api/v1/bugs/999999/status", headers=admin_headers, json={"status": "FIXING"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Bug 999999 not found"}


def test_agent_token_name_is_the_actor(client, session, agent_headers):
    bug = committed_bug(session, S.FIXING)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=agent_headers, json={"status": "NEW"})
    assert response.status_code == 200, response.text
    [row] = history(client, agent_headers, bug.id)
    assert row["actor"] == "repair-bot"


def test_parse_status_unit():
    assert workflow.parse_status(" new ") is S.NEW
    assert workflow.parse_status("Verified") is S.MERGED
    with pytest.raises(ValidationFailed) as exc:
        workflow.parse_status("nope", field="status[1]")
    assert exc.value.errors[0]["field"] == "status[1]"


def test_transition_unit_leaves_bug_alone_on_conflict(session):
    bug = committed_bug(session, S.NEW)
    with pytest.raises(Conflict) as exc:
        workflow.transition(session, bug, S.DEPLOYED, actor="x")
    assert exc.value.message == f"Bug {bug.id} cannot move from NEW to DEPLOYED"
    assert bug.status == S.NEW
    assert not session.new
