"""A project's own scrubbing rules applied to what the real sentry-sdk sends: its extra sensitive field never
reaches the database, its safe field is kept, another project is unaffected, and new rules apply to the next
event."""

from __future__ import annotations

from typing import Any

import sentry_sdk

from logcenter.scrub import FILTERED
from tests.factories import make_project
from tests.sentry.test_scrubbing import everything_stored
from tests.sentry.test_sentry_sdk import app, dsn, live_server, sentry  # noqa: F401  (fixtures)

RULES = {"sensitive_fields": ["employee_id"], "safe_fields": ["session_count"]}


def send(dsn_: str, employee: str, **more: Any) -> None:
    """What an HR application's error handler sends: the employee's id in extra, a context, a tag and the
    message, and a session counter (a number, but "session" is a built-in sensitive word)."""
    sentry_sdk.init(dsn=dsn_, default_integrations=False, auto_enabling_integrations=False)
    with sentry_sdk.isolation_scope():
        sentry_sdk.set_extra("employee_id", employee)
        sentry_sdk.set_extra("session_count", 42)
        sentry_sdk.set_tag("employee_id", employee)
        sentry_sdk.set_context("payroll", {"employeeId": employee, "month": "2026-11", **more})
        try:
            raise RuntimeError(f"payroll export failed: employee_id={employee} has no bank account")
        except RuntimeError:
            sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=10)


def latest(api, project: str) -> tuple[dict[str, Any], dict[str, Any]]:
    [bug] = api.get("/api/v1/bugs", params={"project_id": project}).json()["bugs"]
    occurrence = api.get(f"/api/v1/bugs/{bug['id']}").json()["occurrences"][0]
    return bug, occurrence["data"]


def test_a_projects_rules_apply_to_its_sentry_events(api, dsn, sentry, session):  # noqa: F811
    make_project(session, "hr-other")
    session.commit()
    other_dsn = api.get("/api/v1/projects/hr-other").json()["dsn"]
    response = api.put("/api/v1/projects/shop", json={"scrubbing": RULES})
    assert response.status_code == 200, response.text

    send(dsn, "E-90210")
    send(other_dsn, "E-55555")

    stored = everything_stored(session)
    assert "E-90210" not in stored
    bug, data = latest(api, "shop")
    assert bug["message"] == "payroll export failed: employee_id=[Filtered] has no bank account"
    assert data["extra"] == {"employee_id": FILTERED, "session_count": 42}
    assert data["tags"]["employee_id"] == FILTERED
    assert data["contexts"]["payroll"] == {"employeeId": FILTERED, "month": "2026-11"}

    # The other project keeps the server's rules: its employee id is stored, its session_count is not.
    assert "E-55555" in stored
    _, other = latest(api, "hr-other")
    assert other["extra"] == {"employee_id": "E-55555", "session_count": FILTERED}


def test_changed_rules_apply_to_the_next_event(api, dsn, sentry, session):  # noqa: F811
    send(dsn, "E-10001")
    _, data = latest(api, "shop")
    assert data["extra"]["employee_id"] == "E-10001"

    assert api.put("/api/v1/projects/shop", json={"scrubbing": RULES}).status_code == 200
    send(dsn, "E-10002")
    _, data = latest(api, "shop")
    assert data["extra"] == {"employee_id": FILTERED, "session_count": 42}
    assert "E-10002" not in everything_stored(session)

    rules = {"sensitive_fields": ["iban"], "scrub_ip_addresses": True}
    assert api.put("/api/v1/projects/shop", json={"scrubbing": rules}).status_code == 200
    send(dsn, "E-10003", iban="DE89370400440532013000", client="203.0.113.9")
    _, data = latest(api, "shop")
    assert data["extra"] == {"employee_id": "E-10003", "session_count": FILTERED}
    assert data["contexts"]["payroll"]["iban"] == FILTERED
    assert data["contexts"]["payroll"]["client"] == FILTERED
    stored = everything_stored(session)
    assert "DE89370400440532013000" not in stored and "203.0.113.9" not in stored
