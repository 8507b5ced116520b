"""`Idempotency-Key` on POST /api/v1/logs/report: a client's retry of a report already stored is answered as
the first was, with `Idempotent-Replayed: true`, and counts nothing (Stripe's header, the IETF draft's
name)."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from logcenter.bugs.models import Bug, Occurrence
from logcenter.db import utcnow
from logcenter.ingest.events import idempotency_event_id
from logcenter.ingest.report import IngestResult, Report
from logcenter.ingest.schemas import ReportIn, to_report
from logcenter.ingest.writer import BatchCommitter
from tests.factories import report_payload

REPORT = "/api/v1/logs/report"


def occurrences(db) -> int:
    with db.factory() as s:
        return int(s.scalar(select(func.count()).select_from(Occurrence)) or 0)


def test_a_retry_with_the_same_key_is_answered_as_the_first_and_counted_once(client, db):
    key = {"Idempotency-Key": "4f1c7a0e-report-1"}
    first = client.post(REPORT, json=report_payload(), headers=key)
    assert first.json() == {"message": "Log reported", "id": first.json()["id"]}
    assert "idempotent-replayed" not in first.headers

    again = client.post(REPORT, json=report_payload(), headers=key)
    assert again.status_code == 200
    assert again.json() == first.json()  # "Log reported", as the first answer was
    assert again.headers["idempotent-replayed"] == "true"
    with db.factory() as s:
        bug = s.get(Bug, first.json()["id"])
        assert bug is not None and bug.occurrence_count == 1
    assert occurrences(db) == 1


def test_a_replay_of_a_report_that_joined_a_bug_says_deduplicated(client, db):
    bug_id = client.post(REPORT, json=report_payload()).json()["id"]
    key = {"Idempotency-Key": '"quoted-key-2"'}  # the draft's structured-field string form
    first = client.post(REPORT, json=report_payload(), headers=key)
    again = client.post(REPORT, json=report_payload(), headers={"Idempotency-Key": "quoted-key-2"})
    assert first.json() == again.json() == {"message": "Log deduplicated", "id": bug_id, "status": "NEW"}
    assert occurrences(db) == 2


def test_other_keys_and_no_key_are_counted_each_time(client, db):
    for headers in ({"Idempotency-Key": "a"}, {"Idempotency-Key": "b"}, {}, {}):
        assert client.post(REPORT, json=report_payload(), headers=headers).status_code == 200
    assert occurrences(db) == 4


def test_a_key_is_scoped_to_its_project(client, db):
    key = {"Idempotency-Key": "same-key"}
    one = client.post(REPORT, json=report_payload(project_id="one"), headers=key).json()
    two = client.post(REPORT, json=report_payload(project_id="two"), headers=key).json()
    assert one["message"] == two["message"] == "Log reported" and one["id"] != two["id"]
    assert occurrences(db) == 2


@pytest.mark.parametrize("value", ["", "x" * 256, "has space", "tab\tkey", "é"])
def test_an_invalid_key_is_a_400_naming_the_header_and_nothing_is_stored(client, db, value):
    response = client.post(REPORT, json=report_payload(), headers={"Idempotency-Key": value.encode()})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert occurrences(db) == 0


def test_a_writer_that_starts_again_still_answers_the_first_answer(db):
    """The key is remembered in recent_event_ids with whether the report created its bug."""

    def report() -> Report:
        r = to_report(ReportIn.model_validate(report_payload()), now=utcnow(), max_skew=timedelta(60))
        r.event_id = idempotency_event_id("restart-key")
        return r

    first = BatchCommitter(db.factory, retention=100).write([report()])[0]
    # A new writer knows the key from the table, and that its report created the bug.
    again = BatchCommitter(db.factory, retention=100).write([report()])[0]
    assert isinstance(first, IngestResult) and isinstance(again, IngestResult)
    assert (first.created, first.duplicate) == (True, False)
    assert (again.bug_id, again.created, again.duplicate) == (first.bug_id, True, True)
    assert occurrences(db) == 1


def test_a_retry_after_the_connection_was_reset_is_counted_once(live_server, db):
    """The client sends the report and its connection drops before the answer (the commit happened): its
    retry with the same key is recognised."""
    body = orjson.dumps(report_payload())
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    request = (
        f"POST {REPORT} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Idempotency-Key: reset-then-retry\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, port)) as sock:
        sock.sendall(request)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    # closed with a reset before reading the answer
    deadline = time.monotonic() + 10
    while occurrences(db) == 0:
        assert time.monotonic() < deadline, "the first attempt was never stored"
        time.sleep(0.05)

    retry = httpx.post(
        live_server.url + REPORT,
        content=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": "reset-then-retry"},
    )
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["message"] == "Log reported"
    assert occurrences(db) == 1
