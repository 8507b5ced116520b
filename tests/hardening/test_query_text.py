"""Text in a URL (query and path parameters) is the caller's: a NUL in it is a 422 naming the parameter.

PostgreSQL text cannot hold NUL and SQLite's full-text MATCH reads it as the end of the string: both were
500s on the bug list, the board's search and every other filter.
"""

from __future__ import annotations

import pytest

from tests.factories import report_payload


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/bugs?q=a%00b", "q"),
        ("/api/v1/bugs?environment=prod%00", "environment"),
        ("/api/v1/bugs?project_id=rtc_backend&assignee=%00", "assignee"),
        ("/api/v1/projects/rtc%00backend", "project_id"),
        ("/api/v1/stats?project_id=rtc%00", "project_id"),
    ],
)
def test_a_nul_in_an_api_url_is_a_422_naming_the_parameter(client, admin_headers, url, field):
    assert client.post("/api/v1/logs/report", json=report_payload()).status_code == 200
    response = client.get(url, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": field, "message": "must not contain a NUL character"}]
    found = client.get("/api/v1/bugs?q=invalid%20literal", headers=admin_headers).json()
    assert found["total"] == 1  # the same search without the NUL still works


def test_a_nul_in_a_json_body_is_a_422_naming_the_field_and_nothing_changes(
    client, admin_headers, agent_headers
):
    assert client.post("/api/v1/logs/report", json=report_payload()).status_code == 200
    calls = [
        ("PUT", "/api/v1/projects/rtc_backend", {"description": "a\x00b"}, admin_headers, "description"),
        ("PUT", "/api/v1/projects/rtc_backend", {"scrubbing": {"sensitive_fields": ["ok", "x\x00"]}},
         admin_headers, "scrubbing.sensitive_fields[1]"),
        ("POST", "/api/v1/bugs/1/ignore", {"note": "\x00"}, admin_headers, "note"),
        ("PUT", "/api/v1/bugs/1/assignee", {"assignee": "al\x00ice"}, admin_headers, "assignee"),
        ("PUT", "/api/v1/bugs/1/status", {"status": "FIXING", "note": "\x00"}, agent_headers, "note"),
    ]  # fmt: skip
    before = client.get("/api/v1/bugs/1", headers=admin_headers).json()
    for method, url, body, headers, field in calls:
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["errors"] == [{"field": field, "message": "must not contain a NUL character"}]
    after = client.get("/api/v1/bugs/1", headers=admin_headers).json()
    assert (after["status"], after["assignee"], after["ignored_at"]) == ("NEW", None, None)
    assert after["history"] == before["history"]
    assert client.get("/api/v1/projects/rtc_backend", headers=admin_headers).json()["description"] is None
    # The text "\u0000" (a backslash, then u0000) is no NUL.
    text = client.put("/api/v1/projects/rtc_backend", json={"description": "\\u0000"}, headers=admin_headers)
    assert text.status_code == 200 and text.json()["description"] == "\\u0000"
