"""Manual actions: retry, mark failed, generic status change with its fields, PR info."""

from __future__ import annotations

import pytest

from logcenter.bugs.models import BugStatus
from logcenter.db import utcnow
from tests.bugs.helpers import committed_bug, detail, history, parse_time

S = BugStatus
SHA = "3F2A9C1D4E5B6A7980A1B2C3D4E5F60718293A4B"


# --- retry -------------------------------------------------------------------------------------------


def test_retry_moves_failed_to_new_with_history(client, session, admin_headers):
    bug = committed_bug(session, S.FAILED, failure_reason="tests failed")
    response = client.post(f"/api/v1/bugs/{bug.id}/retry", headers=admin_headers, json={"note": "try again"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["failure_reason"]) == ("NEW", None)
    [row] = history(client, admin_headers, bug.id)
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"], row["note"]) == (
        "status",
        "FAILED",
        "NEW",
        "alice",
        "try again",
    )


def test_retry_without_body_has_a_default_note(client, session, agent_headers):
    bug = committed_bug(session, S.FAILED)
    response = client.post(f"/api/v1/bugs/{bug.id}/retry", headers=agent_headers)
    assert response.status_code == 200, response.text
    [row] = history(client, agent_headers, bug.id)
    assert (row["actor"], row["note"]) == ("repair-bot", "Retry requested")


@pytest.mark.parametrize("current", [S.NEW, S.FIXING, S.PENDING_REVIEW, S.MERGED, S.DEPLOYED])
def test_retry_only_from_failed(client, session, admin_headers, current):
    bug = committed_bug(session, current)
    response = client.post(f"/api/v1/bugs/{bug.id}/retry", headers=admin_headers)
    assert response.status_code == 409
    assert (
        response.json()["detail"]
        == f"Bug {bug.id} cannot be retried: it is {current}, only a FAILED bug can be"
    )
    body = detail(client, admin_headers, bug.id)
    assert (body["status"], body["history"]) == (current, [])


def test_retry_unknown_bug_is_404(client, admin_headers):
    assert client.post("/api/v1/bugs/999999/retry", headers=admin_headers).status_code == 404


# --- fail --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("current", [S.FIXING, S.PENDING_REVIEW])
def test_fail_with_reason(client, session, admin_headers, current):
    bug = committed_bug(session, current, lease_owner="agent-1", lease_expires_at=utcnow())
    response = client.post(
        f"/api/v1/bugs/{bug.id}/fail", headers=admin_headers, json={"reason": "fix breaks the API"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["failure_reason"]) == ("FAILED", "fix breaks the API")
    [row] = history(client, admin_headers, bug.id)
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"], row["note"]) == (
        "status",
        current,
        "FAILED",
        "alice",
        "fix breaks the API",
    )
    if current == S.FIXING:
        assert (body["lease_owner"], body["lease_expires_at"]) == (None, None)


@pytest.mark.parametrize("current", [S.NEW, S.MERGED, S.DEPLOYED, S.FAILED])
def test_fail_from_other_states_is_409(client, session, admin_headers, current):
    bug = committed_bug(session, current)
    response = client.post(f"/api/v1/bugs/{bug.id}/fail", headers=admin_headers, json={"reason": "no"})
    assert response.status_code == 409
    assert response.json()["detail"] == f"Bug {bug.id} cannot move from {current} to FAILED"
    assert detail(client, admin_headers, bug.id)["status"] == current


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x", "extra": 1}])
def test_fail_needs_a_reason(client, session, admin_headers, body):
    bug = committed_bug(session, S.FIXING)
    response = client.post(f"/api/v1/bugs/{bug.id}/fail", headers=admin_headers, json=body)
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == (["extra"] if "extra" in body else ["reason"])
    assert detail(client, admin_headers, bug.id)["status"] == "FIXING"


# --- generic status change ---------------------------------------------------------------------------


def test_merged_stores_merge_commit_and_time(client, session, admin_headers):
    bug = committed_bug(session, S.PENDING_REVIEW)
    before = utcnow()
    response = client.put(
        f"/api/v1/bugs/{bug.id}/status",
        headers=admin_headers,
        json={"status": "MERGED", "merge_commit_sha": SHA, "note": "merged by hand"},
    )
    after = utcnow()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "MERGED"
    assert body["merge_commit_sha"] == SHA.lower()
    assert before <= parse_time(body["merged_at"]) <= after
    stored = detail(client, admin_headers, bug.id)
    assert (stored["merge_commit_sha"], stored["merged_at"]) == (body["merge_commit_sha"], body["merged_at"])
    assert stored["history"][-1]["note"] == "merged by hand"


def test_deployed_stores_version_commit_and_time(client, session, admin_headers):
    bug = committed_bug(session, S.MERGED, merge_commit_sha=SHA.lower(), merged_at=utcnow())
    before = utcnow()
    response = client.put(
        f"/api/v1/bugs/{bug.id}/status",
        headers=admin_headers,
        json={"status": "DEPLOYED", "deployed_version": "2.3.1", "deployed_commit": "ABCDEF1234567"},
    )
    after = utcnow()
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["deployed_version"]) == ("DEPLOYED", "2.3.1")
    assert before <= parse_time(body["deployed_at"]) <= after
    assert body["merge_commit_sha"] == SHA.lower()  # kept
    from logcenter.bugs.models import Bug

    session.expire_all()
    assert session.get(Bug, bug.id).deployed_commit == "abcdef1234567"


def test_fixing_by_hand_is_leased_to_the_token(client, session, admin_headers, settings):
    bug = committed_bug(session, S.NEW)
    before = utcnow()
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json={"status": "FIXING"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lease_owner"] == "alice"
    lease = parse_time(body["lease_expires_at"]) - before
    assert settings.lease_seconds - 5 <= lease.total_seconds() <= settings.lease_seconds + 5


@pytest.mark.parametrize("headers", ["admin_headers", "agent_headers"])
def test_the_status_api_does_not_send_a_fix_back_it_names_the_revision_endpoint(
    client, session, headers, request
):
    # A revision has its own endpoint with its own rules (reviewer scope, a comment for the agent, the
    # project's designated reviewers and revision limit): the generic status change must not bypass them.
    headers = request.getfixturevalue(headers)
    bug = committed_bug(session, S.PENDING_REVIEW, pr_number=4, branch_name="fix/auto-1", revision=3)
    response = client.put(
        f"/api/v1/bugs/{bug.id}/status", headers=headers, json={"status": "FIXING", "note": "again"}
    )
    assert response.status_code == 409, response.text
    assert f"POST /api/v1/bugs/{bug.id}/revision" in response.json()["detail"]
    body = detail(client, headers, bug.id)
    assert (body["status"], body["revision"], body["lease_owner"]) == ("PENDING_REVIEW", 3, None)
    assert history(client, headers, bug.id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "MERGED", "merge_commit_sha": "not-a-sha"}, "merge_commit_sha"),
        ({"status": "DEPLOYED", "deployed_commit": "xyz"}, "deployed_commit"),
        ({"status": "NEW", "colour": "red"}, "colour"),
        ({"status": "N" * 41}, "status"),
        ({"status": 5}, "status"),
    ],
)
def test_status_change_validation(client, session, admin_headers, body, field):
    bug = committed_bug(session, S.PENDING_REVIEW)
    response = client.put(f"/api/v1/bugs/{bug.id}/status", headers=admin_headers, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert detail(client, admin_headers, bug.id)["status"] == "PENDING_REVIEW"


# --- PR info -----------------------------------------------------------------------------------------


def test_pr_info_is_stored_and_recorded(client, session, agent_headers):
    bug = committed_bug(session, S.PENDING_REVIEW)
    response = client.put(
        f"/api/v1/bugs/{bug.id}/pr-info",
        headers=agent_headers,
        json={"pr_number": 12, "pr_url": "https://git.example.com/o/r/pulls/12", "branch_name": "fix/a-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["pr_number"], body["pr_url"], body["branch_name"], body["status"]) == (
        12,
        "https://git.example.com/o/r/pulls/12",
        "fix/a-1",
        "PENDING_REVIEW",
    )
    [row] = history(client, agent_headers, bug.id)
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"], row["note"]) == (
        "pr",
        "PENDING_REVIEW",
        "PENDING_REVIEW",
        "repair-bot",
        "PR #12: https://git.example.com/o/r/pulls/12",
    )


def test_pr_info_without_branch_keeps_the_branch(client, session, admin_headers):
    bug = committed_bug(session, S.FIXING, branch_name="fix/old")
    response = client.put(
        f"/api/v1/bugs/{bug.id}/pr-info",
        headers=admin_headers,
        json={"pr_number": 3, "pr_url": "http://forge/pr/3"},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["pr_number"], response.json()["branch_name"]) == (3, "fix/old")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"pr_url": "https://x/1"}, ["pr_number"]),
        ({"pr_number": 1}, ["pr_url"]),
        ({"pr_number": 0, "pr_url": "https://x/1"}, ["pr_number"]),
        ({"pr_number": "seven", "pr_url": "https://x/1"}, ["pr_number"]),
        ({"pr_number": 1, "pr_url": "ftp://x/1"}, ["pr_url"]),
        ({"pr_number": 1, "pr_url": "https://x/1", "branch_name": "bad branch"}, ["branch_name"]),
        ({"pr_number": -1, "pr_url": "javascript:alert(1)"}, ["pr_number", "pr_url"]),
    ],
)
def test_pr_info_validation_names_fields(client, session, admin_headers, body, fields):
    bug = committed_bug(session, S.PENDING_REVIEW)
    response = client.put(f"/api/v1/bugs/{bug.id}/pr-info", headers=admin_headers, json=body)
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == fields
    stored = detail(client, admin_headers, bug.id)
    assert (stored["pr_number"], stored["history"]) == (None, [])


def test_pr_info_unknown_bug_is_404(client, admin_headers):
    response = client.put(
        "/api/v1/bugs/999999/pr-info", headers=admin_headers, json={"pr_number": 1, "pr_url": "https://x/1"}
    )
    assert response.status_code == 404
