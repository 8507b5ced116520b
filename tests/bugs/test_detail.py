"""GET /api/v1/bugs/{id}: the bug with its history, recent occurrences, tag counts and repair reports."""

from __future__ import annotations

from logcenter.bugs.models import BugStatus
from tests.bugs.helpers import committed_bug, detail, ingest, parse_time


def report_five(client):
    """Five reports of one bug from three environments and two versions."""
    sent = [
        ("production", "1.0.0", "2024-05-01T10:00:00Z", "first"),
        ("production", "1.0.0", "2024-05-01T10:05:00Z", "second"),
        ("staging", "1.1.0", "2024-05-01T10:10:00Z", "third"),
        ("production", "1.1.0", "2024-05-01T10:15:00Z", "fourth"),
        ("dev", None, "2024-05-01T10:20:00Z", "fifth"),
    ]
    answers = []
    for environment, version, timestamp, message in sent:
        extra = {"version": version} if version else {}
        answers.append(
            ingest(
                client,
                environment=environment,
                timestamp=timestamp,
                error={"message": message},
                context={"n": message},
                **extra,
            )
        )
    return answers


def test_detail_after_ingest(client, admin_headers):
    answers = report_five(client)
    bug_id = answers[0]["id"]
    assert answers[0] == {"message": "Log reported", "id": bug_id}
    assert all(a == {"message": "Log deduplicated", "id": bug_id, "status": "NEW"} for a in answers[1:])

    body = detail(client, admin_headers, bug_id)
    assert body["id"] == bug_id
    assert body["project_id"] == "rtc_backend"
    assert body["status"] == "NEW"
    assert body["occurrence_count"] == 5
    assert body["error_type"] == "ValueError"
    assert body["file_path"] == "apps/users/views.py"
    assert body["line_number"] == 42
    # The bug shows the latest report's values.
    assert (body["message"], body["environment"], body["version"]) == ("fifth", "dev", None)
    assert parse_time(body["first_seen"]) == parse_time("2024-05-01T10:00:00Z")
    assert parse_time(body["last_seen"]) == parse_time("2024-05-01T10:20:00Z")

    [created] = body["history"]
    assert (created["kind"], created["from_status"], created["to_status"], created["actor"]) == (
        "created",
        None,
        "NEW",
        "ingest",
    )

    occurrences = body["occurrences"]
    assert [o["message"] for o in occurrences] == ["fifth", "fourth", "third", "second", "first"]
    assert [o["environment"] for o in occurrences] == [
        "dev",
        "production",
        "staging",
        "production",
        "production",
    ]
    assert [o["version"] for o in occurrences] == [None, "1.1.0", "1.1.0", "1.0.0", "1.0.0"]
    assert occurrences[0]["context"] == {"n": "fifth"}
    assert parse_time(occurrences[0]["timestamp"]) == parse_time("2024-05-01T10:20:00Z")

    environments = {t["value"]: t["count"] for t in body["environments"]}
    assert environments == {"production": 3, "staging": 1, "dev": 1}
    assert body["environments"][0]["value"] == "production"  # most frequent first
    prod = body["environments"][0]
    assert parse_time(prod["first_seen"]) == parse_time("2024-05-01T10:00:00Z")
    assert parse_time(prod["last_seen"]) == parse_time("2024-05-01T10:15:00Z")
    assert {t["value"]: t["count"] for t in body["versions"]} == {"1.0.0": 2, "1.1.0": 2}
    assert body["repair_reports"] == []


def test_detail_limits_recent_occurrences(client, admin_headers):
    bug_id = report_five(client)[0]["id"]
    assert [o["message"] for o in detail(client, admin_headers, bug_id, occurrences=2)["occurrences"]] == [
        "fifth",
        "fourth",
    ]
    assert detail(client, admin_headers, bug_id, occurrences=0)["occurrences"] == []
    too_many = client.get(f"/api/v1/bugs/{bug_id}", headers=admin_headers, params={"occurrences": 101})
    assert too_many.status_code == 422
    assert [e["field"] for e in too_many.json()["errors"]] == ["occurrences"]


def test_detail_shows_repair_reports_and_history_in_order(client, admin_headers, agent_headers):
    bug_id = ingest(client)["id"]
    claimed = client.post("/api/v1/agent/claim", headers=agent_headers, json={"agent": "agent-1"})
    assert [b["id"] for b in claimed.json()["bugs"]] == [bug_id]
    report = client.post(
        f"/api/v1/bugs/{bug_id}/repair-reports",
        headers=agent_headers,
        json={
            "agent": "agent-1",
            "analysis": "int() of user input",
            "test_passed": True,
            "pr_number": 7,
            "pr_url": "https://git.example.com/shop/pulls/7",
            "branch_name": "fix/auto-20240501-1000-1",
        },
    )
    assert report.status_code == 201, report.text

    body = detail(client, admin_headers, bug_id)
    assert body["status"] == "PENDING_REVIEW"
    assert [(e["kind"], e["from_status"], e["to_status"], e["actor"]) for e in body["history"]] == [
        ("created", None, "NEW", "ingest"),
        ("status", "NEW", "FIXING", "agent-1"),
        ("repair", "FIXING", "PENDING_REVIEW", "agent-1"),
    ]
    [stored] = body["repair_reports"]
    assert (stored["attempt"], stored["status"], stored["agent"], stored["pr_number"]) == (
        1,
        "PENDING_REVIEW",
        "agent-1",
        7,
    )
    assert stored["analysis"] == "int() of user input"


def test_unknown_bug_is_404(client, admin_headers):
    response = client.get("/api/v1/bugs/424242", headers=admin_headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Bug 424242 not found"}


def test_non_numeric_bug_id_is_422(client, admin_headers):
    response = client.get("/api/v1/bugs/abc", headers=admin_headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["bug_id"]


def test_detail_of_a_factory_bug_has_empty_collections(client, session, admin_headers):
    bug = committed_bug(session, BugStatus.FAILED, failure_reason="flaky")
    body = detail(client, admin_headers, bug.id)
    assert body["status"] == "FAILED"
    assert body["failure_reason"] == "flaky"
    assert (body["history"], body["occurrences"], body["environments"], body["versions"]) == ([], [], [], [])
