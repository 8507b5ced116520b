"""POST/GET /api/v1/bugs/{id}/repair-reports: what a repair run did, and the status it leads to."""

from __future__ import annotations

import pytest

from logcenter.bugs.models import BugStatus
from logcenter.db import utcnow
from tests.bugs.helpers import committed_bug, detail, parse_time

S = BugStatus

FULL_REPORT = {
    "agent": "agent-1",
    "fixer": "claude-code",
    "analysis": "int() is called on unvalidated input",
    "modified_files": ["apps/users/views.py", "tests/test_users.py"],
    "diff": "--- a/apps/users/views.py\n+++ b/apps/users/views.py\n@@ -1 +1 @@\n-x\n+y\n",
    "test_passed": True,
    "test_output": "2 passed in 0.1s",
    "verification": {
        "command": "pytest -q",
        "fail_to_pass": ["tests/test_users.py"],
        "before": "failed",
        "after": "passed",
        "suite": "passed",
    },
    "pr_number": 17,
    "pr_url": "https://git.example.com/shop/pulls/17",
    "branch_name": "fix/auto-20240601-1200-1",
    "duration_seconds": 93.5,
    "durations": {"fixer": 80.0, "tests": 12.5},
}


def fixing_bug(client, session, headers, agent="agent-1"):
    bug = committed_bug(session, S.NEW)
    response = client.post("/api/v1/agent/claim", headers=headers, json={"agent": agent})
    assert [b["id"] for b in response.json()["bugs"]] == [bug.id]
    return bug.id


def post_report(client, headers, bug_id, body, status=201):
    response = client.post(f"/api/v1/bugs/{bug_id}/repair-reports", headers=headers, json=body)
    assert response.status_code == status, response.text
    return response.json()


def test_successful_report_moves_to_pending_review_and_stores_every_field(client, session, agent_headers):
    bug_id = fixing_bug(client, session, agent_headers)
    before = utcnow()
    stored = post_report(client, agent_headers, bug_id, FULL_REPORT)
    after = utcnow()

    expected = {k: v for k, v in FULL_REPORT.items()} | {
        "attempt": 1,
        "status": "PENDING_REVIEW",
        "failure_reason": None,
    }
    assert {k: stored[k] for k in expected} == expected
    assert before <= parse_time(stored["created_at"]) <= after
    listed = client.get(f"/api/v1/bugs/{bug_id}/repair-reports", headers=agent_headers)
    assert listed.status_code == 200
    assert listed.json() == [stored]

    bug = detail(client, agent_headers, bug_id)
    assert (bug["status"], bug["pr_number"], bug["pr_url"], bug["branch_name"]) == (
        "PENDING_REVIEW",
        17,
        "https://git.example.com/shop/pulls/17",
        "fix/auto-20240601-1200-1",
    )
    assert (bug["lease_owner"], bug["lease_expires_at"], bug["failure_reason"]) == (None, None, None)
    assert bug["repair_reports"] == [stored]
    row = bug["history"][-1]
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"], row["note"]) == (
        "repair",
        "FIXING",
        "PENDING_REVIEW",
        "agent-1",
        "PR #17: https://git.example.com/shop/pulls/17",
    )


def test_a_report_without_verification_is_accepted_as_before(client, session, agent_headers):
    bug_id = fixing_bug(client, session, agent_headers)
    body = {k: v for k, v in FULL_REPORT.items() if k != "verification"}
    assert post_report(client, agent_headers, bug_id, body)["verification"] is None


@pytest.mark.parametrize(
    ("verification", "field"),
    [
        ({"before": "flaky"}, "verification.before"),
        ({"fail_to_pass": [""]}, "verification.fail_to_pass[0]"),
        ({"fail_to_pass": ["t"] * 201}, "verification.fail_to_pass"),
        ({"suite": "passed", "extra": 1}, "verification.extra"),
    ],
)
def test_a_malformed_verification_is_a_422_naming_the_field(
    client, session, agent_headers, verification, field
):
    bug_id = fixing_bug(client, session, agent_headers)
    response = client.post(
        f"/api/v1/bugs/{bug_id}/repair-reports",
        headers=agent_headers,
        json={**FULL_REPORT, "verification": verification},
    )
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert detail(client, agent_headers, bug_id)["status"] == "FIXING"


def test_report_with_failure_reason_moves_to_failed(client, session, agent_headers):
    bug_id = fixing_bug(client, session, agent_headers)
    stored = post_report(
        client,
        agent_headers,
        bug_id,
        {"agent": "agent-1", "analysis": "flaky network", "failure_reason": "cannot reproduce"},
    )
    assert (stored["status"], stored["failure_reason"], stored["attempt"]) == (
        "FAILED",
        "cannot reproduce",
        1,
    )
    bug = detail(client, agent_headers, bug_id)
    assert (bug["status"], bug["failure_reason"], bug["pr_url"]) == ("FAILED", "cannot reproduce", None)
    row = bug["history"][-1]
    assert (row["kind"], row["from_status"], row["to_status"], row["actor"], row["note"]) == (
        "repair",
        "FIXING",
        "FAILED",
        "agent-1",
        "cannot reproduce",
    )


def test_report_with_failing_tests_moves_to_failed(client, session, agent_headers):
    bug_id = fixing_bug(client, session, agent_headers)
    stored = post_report(
        client, agent_headers, bug_id, {"test_passed": False, "test_output": "1 failed", "diff": "x"}
    )
    assert (stored["status"], stored["test_passed"], stored["test_output"]) == ("FAILED", False, "1 failed")
    bug = detail(client, agent_headers, bug_id)
    assert (bug["status"], bug["failure_reason"]) == ("FAILED", "Tests failed")
    # Without an agent in the report, the lease holder is recorded.
    assert (stored["agent"], bug["history"][-1]["actor"]) == ("agent-1", "agent-1")


@pytest.mark.parametrize(
    ("status", "extra", "outcome"),
    [
        ("FAILED", {}, "FAILED"),
        ("FIX_FAILED", {}, "FAILED"),
        ("cannot_reproduce", {}, "FAILED"),
        ("FIXED", {"pr_url": "https://forge/pr/1", "pr_number": 1}, "PENDING_REVIEW"),
        ("PENDING_REVIEW", {"pr_url": "https://forge/pr/1", "pr_number": 1}, "PENDING_REVIEW"),
    ],
)
def test_explicit_outcome_including_legacy_names(client, session, agent_headers, status, extra, outcome):
    bug_id = fixing_bug(client, session, agent_headers)
    stored = post_report(client, agent_headers, bug_id, {"status": status, **extra})
    assert stored["status"] == outcome
    assert detail(client, agent_headers, bug_id)["status"] == outcome


@pytest.mark.parametrize("status", ["MERGED", "NEW", "FIXING", "VERIFIED", "nonsense"])
def test_report_outcome_must_be_pending_review_or_failed(client, session, agent_headers, status):
    bug_id = fixing_bug(client, session, agent_headers)
    response = client.post(
        f"/api/v1/bugs/{bug_id}/repair-reports",
        headers=agent_headers,
        json={"status": status, "pr_url": "https://forge/pr/1"},
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["status"]
    assert detail(client, agent_headers, bug_id)["status"] == "FIXING"


def test_pending_review_needs_a_pull_request(client, session, agent_headers):
    bug_id = fixing_bug(client, session, agent_headers)
    response = client.post(
        f"/api/v1/bugs/{bug_id}/repair-reports", headers=agent_headers, json={"test_passed": True}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["pr_url"]
    body = detail(client, agent_headers, bug_id)
    assert (body["status"], body["repair_reports"]) == ("FIXING", [])


def test_pull_request_linked_earlier_is_enough(client, session, agent_headers):
    bug_id = fixing_bug(client, session, agent_headers)
    client.put(
        f"/api/v1/bugs/{bug_id}/pr-info",
        headers=agent_headers,
        json={"pr_number": 5, "pr_url": "https://forge/pr/5"},
    ).raise_for_status()
    stored = post_report(client, agent_headers, bug_id, {"test_passed": True})
    assert (stored["status"], stored["pr_url"]) == ("PENDING_REVIEW", None)
    assert detail(client, agent_headers, bug_id)["pr_url"] == "https://forge/pr/5"


def test_attempt_numbers_increment_across_retries(client, session, agent_headers, admin_headers):
    bug_id = fixing_bug(client, session, agent_headers)
    first = post_report(client, agent_headers, bug_id, {"failure_reason": "timeout"})
    client.post(f"/api/v1/bugs/{bug_id}/retry", headers=admin_headers).raise_for_status()
    assert [
        b["id"]
        for b in client.post("/api/v1/agent/claim", headers=agent_headers, json={"agent": "agent-2"}).json()[
            "bugs"
        ]
    ] == [bug_id]
    second = post_report(client, agent_headers, bug_id, {"failure_reason": "tests still red"})
    client.post(f"/api/v1/bugs/{bug_id}/retry", headers=admin_headers).raise_for_status()
    client.post("/api/v1/agent/claim", headers=agent_headers, json={"agent": "agent-3"}).raise_for_status()
    third = post_report(client, agent_headers, bug_id, {"pr_url": "https://forge/pr/9", "pr_number": 9})

    assert [(r["attempt"], r["agent"], r["status"]) for r in (first, second, third)] == [
        (1, "agent-1", "FAILED"),
        (2, "agent-2", "FAILED"),
        (3, "agent-3", "PENDING_REVIEW"),
    ]
    listed = client.get(f"/api/v1/bugs/{bug_id}/repair-reports", headers=agent_headers).json()
    assert [r["attempt"] for r in listed] == [1, 2, 3]
    bug = detail(client, agent_headers, bug_id)
    assert (bug["status"], bug["failure_reason"]) == ("PENDING_REVIEW", None)


@pytest.mark.parametrize("current", [S.NEW, S.PENDING_REVIEW, S.MERGED, S.DEPLOYED, S.FAILED])
@pytest.mark.parametrize(
    "body",
    [
        {"pr_url": "https://forge/pr/2", "pr_number": 2},
        {"failure_reason": "gave up"},
        {"status": "FAILED"},
    ],
    ids=["success", "failure", "explicit-failed"],
)
def test_report_on_a_bug_not_being_fixed_is_409(client, session, agent_headers, current, body):
    bug = committed_bug(session, current, pr_url=None)
    response = client.post(f"/api/v1/bugs/{bug.id}/repair-reports", headers=agent_headers, json=body)
    assert response.status_code == 409, response.text
    assert current in response.json()["detail"]
    after = detail(client, agent_headers, bug.id)
    assert (after["status"], after["history"], after["repair_reports"]) == (current, [], [])


def test_report_from_an_agent_that_lost_the_lease_is_409(client, session, agent_headers):
    bug_id = fixing_bug(client, session, agent_headers, agent="agent-2")
    response = client.post(
        f"/api/v1/bugs/{bug_id}/repair-reports",
        headers=agent_headers,
        json={"agent": "agent-1", "failure_reason": "late report"},
    )
    assert response.status_code == 409
    assert response.json()["detail"] == f"Bug {bug_id} is leased to 'agent-2', not 'agent-1'"
    body = detail(client, agent_headers, bug_id)
    assert (body["status"], body["lease_owner"], body["repair_reports"]) == ("FIXING", "agent-2", [])


def test_report_on_unknown_bug_is_404(client, agent_headers):
    response = client.post(
        "/api/v1/bugs/999999/repair-reports", headers=agent_headers, json={"failure_reason": "x"}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Bug 999999 not found"}
    assert client.get("/api/v1/bugs/999999/repair-reports", headers=agent_headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pr_url": "not a url"}, "pr_url"),
        ({"modified_files": "a.py"}, "modified_files"),
        ({"test_passed": "maybe"}, "test_passed"),
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"attempt": 0}, "attempt"),
        ({"branch_name": "has space"}, "branch_name"),
        ({"agent": "bad agent"}, "agent"),
        ({"confidence": 0.9}, "confidence"),
    ],
)
def test_report_validation_names_the_field(client, session, agent_headers, body, field):
    bug_id = fixing_bug(client, session, agent_headers)
    response = client.post(f"/api/v1/bugs/{bug_id}/repair-reports", headers=agent_headers, json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert detail(client, agent_headers, bug_id)["status"] == "FIXING"


def test_a_failed_test_run_records_its_reason_on_the_report_too(client, agent_headers, session):
    from tests.factories import make_bug, make_project

    project = make_project(session, "reasons")
    bug = make_bug(
        session, project, status="FIXING", lease_owner="bot-1", pr_number=7, pr_url="https://f/pr/7"
    )
    session.commit()
    body = {"agent": "bot-1", "test_passed": False, "test_output": "1 failed"}
    report = client.post(f"/api/v1/bugs/{bug.id}/repair-reports", json=body, headers=agent_headers)
    assert report.status_code == 201, report.text
    assert report.json()["failure_reason"] == "Tests failed"
    detail = client.get(f"/api/v1/bugs/{bug.id}", headers=agent_headers).json()
    assert detail["failure_reason"] == "Tests failed" and detail["status"] == "FAILED"
    assert detail["pr_number"] == 7  # a report without pr_number keeps the bug's
