"""Ingest POSTs are served ahead of FastAPI's middleware stack (main.LogCenterApp): the same answers as
through it, errors included, and every other request still goes through FastAPI."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import make_project, report_payload


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _envelope(event_id: str = "a" * 32) -> bytes:
    return gzip.compress(
        b'{"event_id":"' + event_id.encode() + b'"}\n{"type":"event"}\n'
        b'{"exception":{"values":[{"type":"KeyError","value":"x"}]}}\n'
    )


def _sentry_headers(key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7", "Content-Encoding": "gzip"}


def test_an_unexpected_error_is_a_json_500_and_nothing_else_leaks(client, session, monkeypatch) -> None:
    project = make_project(session, "shop")
    session.commit()

    async def broken(report: object) -> None:
        raise RuntimeError("disk on fire: /var/secret/path")

    monkeypatch.setattr(client.app.state.writer, "submit", broken)
    rest = client.post("/api/v1/logs/report", json=report_payload(project_id="shop"))
    sentry = client.post(
        f"/api/{project.id}/envelope/", content=_envelope(), headers=_sentry_headers(project.ingest_key)
    )

    for response in (rest, sentry):
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal server error"}
        assert "secret" not in response.text


def test_domain_errors_keep_their_status_headers_and_message(client, session) -> None:
    project = make_project(session, "shop")
    session.commit()

    no_key = client.post(
        f"/api/{project.id}/envelope/", content=_envelope(), headers={"Content-Encoding": "gzip"}
    )
    assert no_key.status_code == 401
    assert no_key.json()["detail"].startswith("Missing sentry_key")
    assert no_key.headers["access-control-allow-origin"] == "*"  # a browser SDK can read it

    invalid = client.post("/api/v1/logs/report", json={"project_id": "shop"})
    assert invalid.status_code == 422
    assert {e["field"] for e in invalid.json()["errors"]} >= {"error"}

    accepted = client.post(
        f"/api/{project.id}/envelope/", content=_envelope(), headers=_sentry_headers(project.ingest_key)
    )
    assert accepted.status_code == 200
    assert accepted.json() == {"id": "a" * 32}


def test_other_methods_and_paths_still_go_through_fastapi(client, session) -> None:
    project = make_project(session, "shop")
    session.commit()

    preflight = client.options(
        f"/api/{project.id}/envelope/",
        headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "X-Sentry-Auth" in preflight.headers["access-control-allow-headers"]
    assert client.get("/api/v1/logs/report").status_code == 405
    assert client.post("/api/v1/logs/reports", json={}).status_code == 404
    assert client.get("/api/health").json()["status"] == "ok"
