"""`GET /api/v1/stats` through the real app: auth, validation, and numbers after real reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from logcenter.auth import service as auth_service
from logcenter.auth.models import Scope
from logcenter.bugs import workflow
from logcenter.bugs.models import Bug, BugStatus, ProjectDailyCount
from logcenter.stats.jobs import COMPACT_DAILY
from tests.factories import report_payload
from tests.jobs.helpers import run_periodic_job

URL = "/api/v1/stats"


def test_reports_show_up_in_todays_numbers(client: TestClient, admin_headers, db) -> None:  # type: ignore[no-untyped-def]
    for line in (10, 10, 11):
        reply = client.post("/api/v1/logs/report", json=report_payload(error={"line_number": line}))
        assert reply.status_code == 200, reply.text
    client.post("/api/v1/logs/report", json=report_payload(project_id="rtc_web"))
    with db.factory() as s:  # the agent fixes one of rtc_backend's bugs
        bug = s.scalars(select(Bug).where(Bug.line_number == 11)).one()
        workflow.transition(s, bug, BugStatus.FIXING, actor="repair-bot")
        workflow.transition(s, bug, BugStatus.PENDING_REVIEW, actor="repair-bot")
        s.commit()

    reply = client.get(URL, headers=admin_headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    today = datetime.now(UTC).date().isoformat()
    assert body["days"] == 7 and body["project_id"] is None
    assert len(body["daily"]) == 7 and body["daily"][-1]["date"] == today
    assert body["daily"][-1] == {"date": today, "new": 3, "fixed": 1, "failed": 0, "occurrences": 4}
    assert all(d["new"] == d["occurrences"] == 0 for d in body["daily"][:-1])
    assert body["status_counts"] == {
        "total": 3,
        "new": 2,
        "fixing": 0,
        "pending_review": 1,
        "merged": 0,
        "deployed": 0,
        "failed": 0,
    }
    assert body["today"] == body["status_counts"]
    totals = body["totals"]
    assert (totals["found"], totals["auto_fixed"], totals["failed"], totals["fix_attempts"]) == (3, 1, 0, 1)
    assert totals["fix_success_rate"] == 1.0 and totals["avg_seconds_to_review"] >= 0
    assert [(p["project_id"], p["total"], p["new"], p["pending_review"]) for p in body["projects"]] == [
        ("rtc_backend", 2, 1, 1),
        ("rtc_web", 1, 1, 0),
    ]

    only_web = client.get(URL, params={"project_id": "rtc_web", "days": 30}, headers=admin_headers).json()
    assert len(only_web["daily"]) == 30 and only_web["status_counts"]["total"] == 1
    assert only_web["daily"][-1]["occurrences"] == 1
    assert [p["project_id"] for p in only_web["projects"]] == ["rtc_web"]
    assert datetime.fromisoformat(only_web["end"]) - datetime.fromisoformat(only_web["start"]) == timedelta(
        30
    )


def test_agent_tokens_may_read_stats_and_others_may_not(client: TestClient, agent_headers, db) -> None:  # type: ignore[no-untyped-def]
    assert client.get(URL, headers=agent_headers).status_code == 200
    assert client.get(URL).status_code == 401
    with db.factory() as s:
        _, token = auth_service.create_token(s, name="app", scope=Scope.INGEST)
        s.commit()
    assert client.get(URL, headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_bad_days_and_unknown_project(client: TestClient, admin_headers) -> None:  # type: ignore[no-untyped-def]
    for days in ("0", "366", "-1", "week"):
        reply = client.get(URL, params={"days": days}, headers=admin_headers)
        assert reply.status_code == 422, (days, reply.text)
        assert [e["field"] for e in reply.json()["errors"]] == ["days"]
    assert client.get(URL, params={"days": 365}, headers=admin_headers).status_code == 200

    reply = client.get(URL, params={"project_id": "nope"}, headers=admin_headers)
    assert reply.status_code == 404
    assert "nope" in reply.json()["detail"]
    # An empty filter is what a form's "all projects" choice sends.
    assert client.get(URL, params={"project_id": ""}, headers=admin_headers).json()["project_id"] is None


def test_the_daily_counts_job_keeps_the_numbers_a_user_sees(
    client: TestClient, admin_headers, db, settings
) -> None:  # type: ignore[no-untyped-def]
    for line in (1, 2, 3, 1):  # one counting transaction per report (count_interval=0): four rows of today
        reply = client.post("/api/v1/logs/report", json=report_payload(error={"line_number": line}))
        assert reply.status_code == 200, reply.text
    before = client.get(URL, headers=admin_headers).json()["daily"]
    assert before[-1]["occurrences"] == 4

    assert run_periodic_job(db, settings, COMPACT_DAILY, due_after=61) == 1
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(ProjectDailyCount)) == 1
    assert client.get(URL, headers=admin_headers).json()["daily"] == before
