"""Every field of a report is attacker-controlled: bad input gets a 4xx naming the problem, nothing stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from logcenter.bugs.models import Bug, Occurrence
from logcenter.models import Base
from tests.conftest import Database
from tests.factories import report_payload

REPORT = "/api/v1/logs/report"


def stored_rows(db: Database) -> int:
    """Rows the test stored: every table's rows, less those the migrations seeded (a notifications cursor)."""
    with db.factory() as session:
        count = sum(session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables)
    return count - sum(len(rows) for rows in db.seed.values())


def without(path: str) -> dict:
    payload = report_payload()
    parent = payload
    *parents, leaf = path.split(".")
    for key in parents:
        parent = parent[key]
    del parent[leaf]
    return payload


CASES = [
    # (payload, field the error must name)
    (without("project_id"), "project_id"),
    (without("environment"), "environment"),
    (without("level"), "level"),
    (without("error"), "error"),
    (without("error.type"), "error.type"),
    (without("error.message"), "error.message"),
    (without("error.stack_trace"), "error.stack_trace"),
    (without("error.file_path"), "error.file_path"),
    (without("error.line_number"), "error.line_number"),
    (report_payload(level="FATAL"), "level"),
    (report_payload(source="cron"), "source"),
    (report_payload(error={"line_number": "42"}), "error.line_number"),
    (report_payload(error={"line_number": True}), "error.line_number"),
    (report_payload(error={"line_number": -1}), "error.line_number"),
    (report_payload(error={"line_number": 10**12}), "error.line_number"),
    (report_payload(error={"type": 12}), "error.type"),
    (report_payload(error={"stack_trace": {"frames": []}}), "error.stack_trace"),
    (report_payload(error={"stack_trace": [1, 2]}), "error.stack_trace"),
    (report_payload(context=["not", "an", "object"]), "context"),
    (report_payload(context={"order_id": 2**70}), "context"),  # no JSON column holds it
    (report_payload(timestamp="yesterday"), "timestamp"),
    (report_payload(project_id="../../etc/passwd"), "project_id"),
    (report_payload(project_id="x" * 101), "project_id"),
    (report_payload(project_id=""), "project_id"),
    (report_payload(environment="prod\nuction"), "environment"),
    (report_payload(environment="e" * 65), "environment"),
    (report_payload(error={"type": "T" * 301}), "error.type"),
    (report_payload(error={"type": "Value\x00Error"}), "error.type"),
    (report_payload(error={"message": "m" * 40_000}), "error.message"),
    (report_payload(error={"file_path": "f" * 2000}), "error.file_path"),
    (report_payload(error={"stack_trace": ["l"] * 5001}), "error.stack_trace"),
    (report_payload(error={"stack_trace": ["x" * 9000]}), "error.stack_trace"),
    (report_payload(commit_hash="abc; rm -rf /"), "commit_hash"),
    (report_payload(version="v" * 201), "version"),
    (report_payload(fingerprint=[]), "fingerprint"),
    (report_payload(fingerprint=["x"] * 21), "fingerprint"),
]


@pytest.mark.parametrize(("payload", "field"), CASES, ids=[f"{i}-{c[1]}" for i, c in enumerate(CASES)])
def test_invalid_field_is_named_and_nothing_is_stored(client, db, payload, field):
    response = client.post(REPORT, json=payload)
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in [e["field"] for e in body["errors"]], body
    assert field in body["detail"]
    assert stored_rows(db) == 0


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b"[]", b'"a string"', b"null", b'{"project_id": "a",}', b"\xff\xfe\x00garbage"],
)
def test_malformed_json_is_a_422_naming_the_body(client, db, body):
    response = client.post(REPORT, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert stored_rows(db) == 0


def test_lone_surrogates_are_rejected_before_they_reach_the_database(client, db):
    # A lone UTF-16 surrogate cannot be encoded as UTF-8: PostgreSQL would fail on it mid-transaction.
    body = json.dumps(report_payload()).replace("invalid literal", "invalid \\ud800 literal")
    response = client.post(REPORT, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert stored_rows(db) == 0


def test_nul_in_free_text_is_stored_safely(client, session):
    payload = report_payload(
        error={"message": "bad\x00byte", "stack_trace": "a\x00b"}, context={"raw": "z\x00z"}
    )
    assert client.post(REPORT, json=payload).status_code == 200
    stored = session.scalars(select(Bug)).one()
    assert stored.message == "bad\ufffdbyte" and stored.stack_trace == "a\ufffdb"
    assert session.scalars(select(Occurrence)).one().context == {"raw": "z\x00z"}


def test_oversized_body_is_413_by_declared_length(client, db):
    big = report_payload(context={"blob": "x" * 1_100_000})
    response = client.post(REPORT, json=big)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert stored_rows(db) == 0


def test_oversized_body_is_413_when_streamed_without_length(client, db):
    chunk = b"x" * 65_536

    def stream():
        yield b'{"project_id": "rtc_backend", "context": {"blob": "'
        for _ in range(20):
            yield chunk
        yield b'"}}'

    response = client.post(REPORT, content=stream(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert stored_rows(db) == 0


def test_body_limit_is_configurable(db, settings):
    from fastapi.testclient import TestClient

    from logcenter.main import create_app

    with TestClient(create_app(settings.model_copy(update={"max_body_bytes": 2048}))) as client:
        assert client.post(REPORT, json=report_payload()).status_code == 200
        assert client.post(REPORT, json=report_payload(context={"b": "x" * 3000})).status_code == 413


def test_unknown_extra_fields_are_ignored(client):
    response = client.post(REPORT, json=report_payload(sdk={"name": "custom"}, error={"column": 7}))
    assert response.status_code == 200
