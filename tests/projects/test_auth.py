"""API auth as callers see it: 401 without a valid bearer token, 403 with a token of the wrong scope."""

from __future__ import annotations

import pytest

from logcenter.auth import service as auth_service
from logcenter.auth.models import Scope
from tests.conftest import make_token as token
from tests.factories import make_project

# Every endpoint that needs a token, with a body that would be valid.
AGENT_ENDPOINTS = [
    ("GET", "/api/v1/bugs", None),
    ("GET", "/api/v1/bugs/1", None),
    ("PUT", "/api/v1/bugs/1/status", {"status": "FIXING"}),
    ("POST", "/api/v1/bugs/1/retry", None),
    ("POST", "/api/v1/bugs/1/fail", {"reason": "x"}),
    ("PUT", "/api/v1/bugs/1/pr-info", {"pr_number": 1, "pr_url": "https://forge/pr/1"}),
    ("GET", "/api/v1/bugs/1/repair-reports", None),
    ("POST", "/api/v1/bugs/1/repair-reports", {"failure_reason": "x"}),
    ("POST", "/api/v1/agent/claim", {"agent": "a"}),
    ("POST", "/api/v1/agent/heartbeat", {"agent": "a", "bug_ids": [1]}),
    ("POST", "/api/v1/agent/release", {"agent": "a", "bug_ids": [1]}),
    ("GET", "/api/v1/projects", None),
    ("GET", "/api/v1/projects/shop", None),
]
ADMIN_ENDPOINTS = [
    ("PUT", "/api/v1/projects/shop", {"name": "Shop"}),
    ("POST", "/api/v1/projects", {"project_id": "new"}),
    ("POST", "/api/v1/projects/shop/rotate-key", None),
]
ALL = AGENT_ENDPOINTS + ADMIN_ENDPOINTS


@pytest.fixture
def ingest_headers(db):
    return {"Authorization": f"Bearer {token(db, Scope.INGEST, 'sdk')}"}


@pytest.fixture
def shop(session):
    project = make_project(session, "shop", name="Old name")
    session.commit()
    return project


@pytest.mark.parametrize(("method", "path", "body"), ALL)
@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Missing bearer token (Authorization: Bearer <token>)"),
        ({"Authorization": "Bearer "}, "Missing bearer token (Authorization: Bearer <token>)"),
        ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "Missing bearer token (Authorization: Bearer <token>)"),
        ({"Authorization": "Bearer lc_not-a-real-token"}, "Invalid or revoked token"),
    ],
    ids=["none", "empty", "basic", "unknown"],
)
def test_missing_or_invalid_token_is_401(client, method, path, body, headers, detail):
    response = client.request(method, path, headers=headers, json=body)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_ingest_token_is_403(client, ingest_headers, method, path, body):
    response = client.request(method, path, headers=ingest_headers, json=body)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Token 'sdk' has scope 'ingest'")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
def test_agent_token_cannot_administer_projects(client, agent_headers, shop, method, path, body):
    response = client.request(method, path, headers=agent_headers, json=body)
    assert response.status_code == 403
    assert response.json() == {"detail": "Token 'repair-bot' has scope 'agent'; this endpoint needs admin"}
    project = client.get("/api/v1/projects/shop", headers=agent_headers).json()
    assert (project["name"], project["ingest_key"]) == ("Old name", shop.ingest_key)
    assert [
        p["project_id"] for p in client.get("/api/v1/projects", headers=agent_headers).json()["projects"]
    ] == ["shop"]


def test_admin_can_put_a_project(client, admin_headers, shop):
    response = client.put("/api/v1/projects/shop", headers=admin_headers, json={"name": "New name"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "New name"


def test_ingest_token_message_names_what_is_needed(client, ingest_headers):
    response = client.get("/api/v1/bugs", headers=ingest_headers)
    assert response.json() == {
        "detail": "Token 'sdk' has scope 'ingest'; this endpoint needs admin or agent or reviewer"
    }


def test_revoked_token_is_401(client, db):
    plaintext = token(db, Scope.ADMIN, "old-admin")
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/v1/bugs", headers=headers).status_code == 200
    with db.factory() as s:
        row = auth_service.authenticate(s, plaintext)
        assert auth_service.revoke(s, token_id=row.id)
        s.commit()
    response = client.get("/api/v1/bugs", headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid or revoked token"})


def test_bearer_scheme_is_case_insensitive(client, admin_token):
    assert client.get("/api/v1/bugs", headers={"Authorization": f"bearer {admin_token}"}).status_code == 200
