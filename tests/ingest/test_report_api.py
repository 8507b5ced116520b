"""POST /api/v1/logs/report: the integration guide's contract."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from logcenter.bugs.models import Bug, BugEvent, BugHourlyCount, BugTagValue, Occurrence
from logcenter.projects.models import Project
from tests.factories import make_project, report_payload

REPORT = "/api/v1/logs/report"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_first_report_creates_a_bug_and_repeats_are_deduplicated(client, session):
    first = client.post(REPORT, json=report_payload())
    assert first.status_code == 200
    bug_id = first.json()["id"]
    assert first.json() == {"message": "Log reported", "id": bug_id}

    for _ in range(2):
        again = client.post(REPORT, json=report_payload(environment="staging", version="1.2.3"))
        assert again.json() == {"message": "Log deduplicated", "id": bug_id, "status": "NEW"}

    bug = session.get(Bug, bug_id)
    assert bug.occurrence_count == 3
    assert bug.environment == "staging" and bug.version == "1.2.3"  # the latest report's values
    assert session.scalar(select(func.count()).select_from(Occurrence)) == 3
    tags = {(t.key, t.value): t.count for t in session.scalars(select(BugTagValue))}
    assert tags == {("environment", "production"): 1, ("environment", "staging"): 2, ("version", "1.2.3"): 2}
    history = session.scalars(select(BugEvent).where(BugEvent.bug_id == bug_id)).all()
    assert [(e.kind, e.from_status, e.to_status, e.actor) for e in history] == [
        ("created", None, "NEW", "ingest")
    ]


def test_runtime_fingerprint_is_the_guides_formula(client, session):
    bug_id = client.post(REPORT, json=report_payload()).json()["id"]
    assert session.get(Bug, bug_id).fingerprint == md5("rtc_backend|ValueError|apps/users/views.py|42")


def test_another_line_is_another_bug(client):
    a = client.post(REPORT, json=report_payload()).json()["id"]
    b = client.post(REPORT, json=report_payload(error={"line_number": 43})).json()["id"]
    assert a != b


def test_cicd_and_deployment_fingerprints_use_context_names(client, session):
    cicd = report_payload(
        source="cicd",
        context={"job_name": "build", "step_name": "pytest"},
        error={"type": "TestFailure", "file_path": None, "line_number": None},
    )
    del cicd["error"]["file_path"], cicd["error"]["line_number"]
    deploy = report_payload(
        source="deployment",
        context={"namespace": "prod", "deployment_name": "api"},
        error={"type": "CrashLoopBackOff", "stack_trace": "Back-off restarting failed container"},
    )
    cicd_id = client.post(REPORT, json=cicd).json()["id"]
    deploy_id = client.post(REPORT, json=deploy).json()["id"]
    assert session.get(Bug, cicd_id).fingerprint == md5("rtc_backend|cicd|TestFailure|build|pytest")
    deployed = session.get(Bug, deploy_id)
    assert deployed.fingerprint == md5("rtc_backend|deployment|CrashLoopBackOff|prod|api")
    assert deployed.source == "deployment"
    assert deployed.stack_trace == "Back-off restarting failed container"


def test_client_fingerprint_groups_different_locations(client, session):
    a = client.post(REPORT, json=report_payload(fingerprint=["db-timeout"])).json()["id"]
    b = client.post(REPORT, json=report_payload(fingerprint=["db-timeout"], error={"line_number": 7})).json()
    assert b == {"message": "Log deduplicated", "id": a, "status": "NEW"}
    assert session.get(Bug, a).occurrence_count == 2


def test_timestamp_defaults_to_server_time_and_is_kept_when_sent(client, session):
    before = datetime.now(UTC)
    client.post(REPORT, json=report_payload())
    sent = "2026-01-30T10:30:00Z"
    client.post(REPORT, json=report_payload(timestamp=sent))
    stamps = sorted(o.timestamp for o in session.scalars(select(Occurrence)))
    assert stamps[0] == datetime(2026, 1, 30, 10, 30, tzinfo=UTC)
    assert before - timedelta(seconds=1) <= stamps[1] <= datetime.now(UTC)
    bug = session.scalars(select(Bug)).one()
    assert bug.first_seen == stamps[0]


def test_timestamp_from_the_future_is_clamped(client, session):
    client.post(REPORT, json=report_payload(timestamp="2099-01-01T00:00:00Z"))
    assert session.scalars(select(Bug)).one().last_seen < datetime.now(UTC) + timedelta(seconds=5)


@pytest.mark.parametrize("sent", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_outside_the_range_of_utc_times_is_server_time(client, session, sent):
    before = datetime.now(UTC)
    response = client.post(REPORT, json=report_payload(timestamp=sent))  # was a 500 (OverflowError)
    assert response.status_code == 200, response.text
    assert (
        before - timedelta(seconds=1)
        <= session.scalars(select(Occurrence)).one().timestamp
        <= datetime.now(UTC)
    )


def test_report_fields_are_stored_on_the_occurrence(client, session):
    client.post(
        REPORT,
        json=report_payload(
            version="2.0.1",
            commit_hash="abc1234",
            context={"url": "/x", "user_id": "u_1", "nested": {"a": [1, 2]}},
            error={"stack_trace": "Traceback...\nValueError: boom"},
        ),
    )
    occ = session.scalars(select(Occurrence)).one()
    assert (occ.version, occ.commit_hash, occ.level, occ.environment) == (
        "2.0.1",
        "abc1234",
        "ERROR",
        "production",
    )
    assert occ.context == {"url": "/x", "user_id": "u_1", "nested": {"a": [1, 2]}}
    assert occ.stack_trace == "Traceback...\nValueError: boom"
    hourly = session.scalars(select(BugHourlyCount)).one()
    assert hourly.count == 1 and hourly.hour.minute == 0


def test_project_is_created_on_first_report_with_its_repo_url(client, session):
    client.post(
        REPORT, json=report_payload(project_id="rtc_web", repo_url="https://gitea.example.com/t/rtc_web.git")
    )
    project = session.scalars(select(Project).where(Project.slug == "rtc_web")).one()
    assert project.repo_url == "https://gitea.example.com/t/rtc_web.git"
    assert len(project.ingest_key) == 32


def test_configured_repo_url_is_never_overwritten(client, session):
    make_project(session, "rtc_backend", repo_url="https://gitea.example.com/team/configured.git")
    session.commit()
    client.post(REPORT, json=report_payload(repo_url="https://evil.example.com/other.git"))
    session.expire_all()
    project = session.scalars(select(Project)).one()
    assert project.repo_url == "https://gitea.example.com/team/configured.git"


def test_old_occurrences_are_pruned_but_stay_counted(db, settings):
    from fastapi.testclient import TestClient

    from logcenter.main import create_app

    app = create_app(settings.model_copy(update={"occurrence_retention": 5}))
    with TestClient(app) as client:
        for i in range(12):
            client.post(REPORT, json=report_payload(context={"n": i}))
    with db.factory() as session:
        bug = session.scalars(select(Bug)).one()
        kept = session.scalars(select(Occurrence).order_by(Occurrence.id)).all()
        assert bug.occurrence_count == 12
        assert [o.context["n"] for o in kept] == [7, 8, 9, 10, 11]
        assert session.scalar(select(func.sum(BugHourlyCount.count))) == 12


def test_stack_trace_lines_are_joined(client, session):
    client.post(REPORT, json=report_payload(error={"stack_trace": ["line one\n", "line two"]}))
    assert session.scalars(select(Bug)).one().stack_trace == "line one\nline two"


def test_level_and_source_are_case_insensitive(client, session):
    response = client.post(REPORT, json=report_payload(level="warning", source="Runtime"))
    assert response.status_code == 200
    bug = session.scalars(select(Bug)).one()
    assert (bug.level, bug.source) == ("WARNING", "runtime")


def test_browser_preflight_and_text_plain_beacons(client):
    preflight = client.options(REPORT, headers={"Origin": "https://app.example.com"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    # navigator.sendBeacon sends the JSON as text/plain.
    import json

    beacon = client.post(REPORT, content=json.dumps(report_payload()), headers={"Content-Type": "text/plain"})
    assert beacon.status_code == 200 and beacon.headers["access-control-allow-origin"] == "*"


def test_empty_optional_strings_mean_absent(client, session):
    # The integration guide's Python client sends "repo_url": os.getenv("REPO_URL", "").
    response = client.post(REPORT, json=report_payload(repo_url="", version="", commit_hash=""))
    assert response.status_code == 200
    occ = session.scalars(select(Occurrence)).one()
    assert (occ.version, occ.commit_hash) == (None, None)
    assert session.scalars(select(Project)).one().repo_url is None
