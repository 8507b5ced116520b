"""A project's scrubbing rules on the projects page: admins edit them (CSRF, validation with the field named,
escaped), the card shows them, and the project's next report is scrubbed with them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from logcenter.main import create_app
from tests.factories import make_project, report_payload
from tests.web.test_access import log_in


def rules_of(client, admin_headers, slug="payroll"):
    return client.get(f"/api/v1/projects/{slug}", headers=admin_headers).json()["scrubbing"]


def options(page: str, name: str) -> list[str]:
    """The values a select of the editor offers."""
    select = re.search(rf'<select name="{name}">(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)


def form(csrf: str, **fields: str) -> dict[str, str]:
    base = {"scrub_sensitive_fields": "", "scrub_safe_fields": "", "scrub_ip_addresses": "", "scrub_data": ""}
    return {**base, **fields, "csrf_token": csrf}


def test_an_admin_sets_the_rules_and_the_next_report_uses_them(client, users, session, admin_headers):
    make_project(session, "payroll")
    session.commit()
    csrf = log_in(client, "ada")
    editor = client.get("/projects/payroll/edit").text
    assert 'name="scrub_sensitive_fields"' in editor and 'name="scrub_safe_fields"' in editor
    assert options(editor, "scrub_data") == ["", "on"]  # this server does not let a project turn it off
    assert options(editor, "scrub_ip_addresses") == ["", "on", "off"]
    assert "LOGCENTER_SCRUB_ALLOW_PROJECT_OFF" in editor

    fields = form(
        csrf,
        scrub_sensitive_fields="employee_id\nbadge-no, <script>x</script>",
        scrub_safe_fields="session_count",
        scrub_ip_addresses="on",
    )
    card = client.post("/projects/payroll", data=fields)
    assert card.status_code == 200 and "Saved." in card.text
    assert '<code class="scrub-field">employee_id</code>' in card.text
    assert "&lt;script&gt;x&lt;/script&gt;" in card.text and "<script>x</script>" not in card.text
    assert rules_of(client, admin_headers) == {
        "sensitive_fields": ["employee_id", "badge-no", "<script>x</script>"],
        "safe_fields": ["session_count"],
        "scrub_ip_addresses": True,
        "scrub_data": None,
        "effective": {
            "scrub_data": True,
            "sensitive_fields": ["employee_id", "badge-no", "<script>x</script>"],
            "safe_fields": ["session_count"],
            "scrub_ip_addresses": True,
        },
    }
    projects = client.get("/projects").text  # every project's card
    assert '<code class="scrub-field">employee_id</code>' in projects
    assert '<code class="safe-field">session_count</code>' in projects
    # The editor shows them back, one per line.
    assert (
        "employee_id\nbadge-no\n&lt;script&gt;x&lt;/script&gt;</textarea>"
        in client.get("/projects/payroll/edit").text
    )

    body = report_payload(
        project_id="payroll",
        context={"employee_id": "E-1", "badge_no": "B-2", "session_count": 3, "from": "10.1.2.3"},
    )
    report = client.post("/api/v1/logs/report", json=body)
    assert report.status_code == 200, report.text
    bug = client.get(f"/api/v1/bugs/{report.json()['id']}", headers=admin_headers).json()
    assert bug["occurrences"][0]["context"] == {
        "employee_id": "[Filtered]",
        "badge_no": "[Filtered]",
        "session_count": 3,
        "from": "[Filtered]",
    }

    # Saving the other fields leaves the rules as they are; emptying the boxes clears them.
    client.post("/projects/payroll", data={"name": "Payroll", "csrf_token": csrf})
    assert rules_of(client, admin_headers)["safe_fields"] == ["session_count"]
    client.post("/projects/payroll", data=form(csrf))
    assert rules_of(client, admin_headers)["sensitive_fields"] == []


def test_invalid_rules_are_shown_on_the_editor_and_nothing_is_stored(client, users, session, admin_headers):
    make_project(session, "payroll", scrubbing={"sensitive_fields": ["employee_id"]})
    session.commit()
    csrf = log_in(client, "ada")
    page = client.post("/projects/payroll", data=form(csrf, scrub_safe_fields="ok\n-_-", name="Renamed"))
    assert page.status_code == 422
    error = re.search(
        r'name="scrub_safe_fields".*?<span class="error" role="alert">(.*?)</span>', page.text, re.S
    )
    assert error and "only dashes and underscores" in error.group(1)
    assert "ok\n-_-</textarea>" in page.text  # what was typed stays in the box
    # Turning scrubbing off is refused here (a forged choice: the editor does not offer it).
    page = client.post("/projects/payroll", data=form(csrf, scrub_data="off"))
    assert page.status_code == 422 and "does not let a project turn scrubbing off" in page.text
    assert rules_of(client, admin_headers)["sensitive_fields"] == ["employee_id"]
    assert client.get("/api/v1/projects/payroll", headers=admin_headers).json()["name"] is None


def test_scrubbing_off_where_the_server_allows_it(settings, users, session, admin_headers):
    make_project(session, "payroll")
    session.commit()
    with TestClient(create_app(settings.model_copy(update={"scrub_allow_project_off": True}))) as client:
        csrf = log_in(client, "ada")
        assert options(client.get("/projects/payroll/edit").text, "scrub_data") == ["", "on", "off"]
        card = client.post("/projects/payroll", data=form(csrf, scrub_data="off")).text
        assert "off for this project" in card
        assert rules_of(client, admin_headers)["effective"]["scrub_data"] is False


def test_only_admins_edit_the_rules(client, users, session, admin_headers):
    make_project(session, "payroll")
    session.commit()
    csrf = log_in(client, "rita")
    assert client.get("/projects/payroll/edit").status_code == 403
    refused = client.post("/projects/payroll", data=form(csrf, scrub_sensitive_fields="employee_id"))
    assert refused.status_code == 403
    client.cookies.clear()
    log_in(client, "ada")
    assert (
        client.post("/projects/payroll", data=form("forged", scrub_sensitive_fields="x")).status_code == 403
    )
    assert rules_of(client, admin_headers)["sensitive_fields"] == []


def test_the_chinese_editor(client, users, session):
    make_project(session, "payroll")
    session.commit()
    client.cookies.set("lc_lang", "zh_CN")
    log_in(client, "ada")
    editor = client.get("/projects/payroll/edit").text
    assert "数据脱敏" in editor and "额外的敏感字段" in editor and "安全字段" in editor
    for english in ("Data scrubbing", "Additional sensitive fields", "Safe fields", "Scrub IP addresses"):
        assert english not in editor, english
