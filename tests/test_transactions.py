"""The request owns its transaction: a response is sent only after its changes are committed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event

from logcenter.projects.models import Project


def test_a_failed_commit_is_an_error_response_not_a_200(app, admin_headers, session):
    def fail_commit(conn):
        raise RuntimeError("disk full")

    event.listen(app.state.engine, "commit", fail_commit)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.post("/api/v1/projects", json={"project_id": "lost"}, headers=admin_headers)
    finally:
        event.remove(app.state.engine, "commit", fail_commit)
    assert response.status_code == 500
    assert session.query(Project).filter_by(slug="lost").count() == 0


def test_a_write_is_visible_as_soon_as_its_response_arrives(client, admin_headers, session):
    response = client.post(
        "/api/v1/projects", json={"project_id": "seen", "name": "Seen"}, headers=admin_headers
    )
    assert response.status_code == 201
    assert session.query(Project).filter_by(slug="seen").one().name == "Seen"


def test_first_use_of_a_token_on_a_write_does_not_wait_for_its_own_lock(client, admin_headers):
    # Recording last_used_at must join the request's write transaction, not queue behind it.
    import time

    started = time.monotonic()
    response = client.post("/api/v1/projects", json={"project_id": "quick"}, headers=admin_headers)
    assert response.status_code == 201
    assert time.monotonic() - started < 5
