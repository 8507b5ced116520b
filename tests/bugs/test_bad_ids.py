"""Ids and page numbers no database can hold are a 422 naming the parameter, never a 500."""

from __future__ import annotations

import pytest

HUGE = "99999999999999999999"
BIGGEST = str(2**31 - 1)

ROUTES = [
    ("GET", "/api/v1/bugs/{id}", None),
    ("PUT", "/api/v1/bugs/{id}/status", {"status": "FIXING"}),
    ("POST", "/api/v1/bugs/{id}/retry", None),
    ("POST", "/api/v1/bugs/{id}/fail", {"reason": "x"}),
    ("PUT", "/api/v1/bugs/{id}/pr-info", {"pr_number": 1, "pr_url": "https://forge/pr/1"}),
    ("GET", "/api/v1/bugs/{id}/repair-reports", None),
    ("POST", "/api/v1/bugs/{id}/repair-reports", {"failure_reason": "x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("bug_id", [HUGE, str(2**63), str(2**31), "0", "-1"])
def test_impossible_bug_id_is_422(client, admin_headers, method, path, body, bug_id):
    response = client.request(method, path.format(id=bug_id), headers=admin_headers, json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["bug_id"]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_biggest_id_is_just_unknown(client, admin_headers, method, path, body):
    response = client.request(method, path.format(id=BIGGEST), headers=admin_headers, json=body)
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": f"Bug {BIGGEST} not found"}


@pytest.mark.parametrize("page", [HUGE, "1000001"])
def test_impossible_page_is_422(client, admin_headers, page):
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"page": page, "page_size": 200})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["page"]


def test_last_allowed_page_is_empty(client, admin_headers):
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"page": 1_000_000, "page_size": 200})
    assert response.status_code == 200
    assert response.json() == {
        "bugs": [],
        "total": 0,
        "total_capped": False,
        "page": 1_000_000,
        "page_size": 200,
        "next_cursor": None,
    }


@pytest.mark.parametrize("path", ["heartbeat", "release"])
@pytest.mark.parametrize("bug_id", [2**31, 2**63, 10**20, 0])
def test_impossible_bug_ids_in_lease_calls_are_422(client, agent_headers, path, bug_id):
    response = client.post(
        f"/api/v1/agent/{path}", headers=agent_headers, json={"agent": "a", "bug_ids": [1, bug_id]}
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["bug_ids[1]"]


def test_biggest_bug_id_in_lease_calls_is_lost(client, agent_headers):
    response = client.post(
        "/api/v1/agent/heartbeat", headers=agent_headers, json={"agent": "a", "bug_ids": [2**31 - 1]}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"held": [], "lost": [2**31 - 1]}
