"""The writer process of `logcenter serve`: HTTP workers forward reports to it; 200 after its commit."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from logcenter.bugs.models import Bug
from logcenter.config import Settings
from logcenter.db import create_db_engine, create_session_factory
from logcenter.errors import Unavailable
from logcenter.ingest.channel import (
    FrameReader,
    decode_outcome,
    decode_report,
    encode_outcome,
    encode_report,
    frame,
)
from logcenter.ingest.quota import over_quota
from logcenter.ingest.report import IngestResult, Report, json_text
from logcenter.ingest.writer import BatchCommitter, WriterServer, batch_size
from logcenter.ingest.writer_process import WriterProcess, WriterThread
from logcenter.main import create_app
from tests.conftest import run_live_server
from tests.factories import make_project, report_payload
from tests.ingest.test_concurrency import _assert_one_bug, _post_many
from tests.sentry.helpers import auth, envelope, event

REPORT = "/api/v1/logs/report"


@pytest.fixture
def writer(settings: Settings) -> Iterator[WriterProcess]:
    process = WriterProcess(settings)
    process.start()
    yield process
    process.stop()


def _worker_url(settings: Settings, writer: WriterProcess) -> Iterator[str]:
    """An HTTP worker as `logcenter serve` builds it: the real app, reports forwarded to the writer."""
    app = create_app(settings.model_copy(update={"writer_socket": writer.path}))
    for url, _ in run_live_server(app):
        yield url


@pytest.fixture
def worker(settings: Settings, writer: WriterProcess) -> Iterator[str]:
    yield from _worker_url(settings, writer)


def _count(db) -> int:
    with db.factory() as session:
        return int(session.scalar(select(func.coalesce(func.sum(Bug.occurrence_count), 0))))


def test_a_report_is_committed_by_the_writer_process_before_the_answer(worker, writer, db):
    first = httpx.post(worker + REPORT, json=report_payload())
    again = httpx.post(worker + REPORT, json=report_payload())
    assert first.status_code == 200 and first.json()["message"] == "Log reported"
    assert again.json() == {"message": "Log deduplicated", "id": first.json()["id"], "status": "NEW"}
    assert writer.pid != os.getpid()
    with db.factory() as session:
        bug = session.get(Bug, first.json()["id"])
        assert bug is not None and bug.occurrence_count == 2
        assert bug.error_type == report_payload()["error"]["type"]


def test_sentry_events_go_through_the_writer_process_and_repeats_count_once(worker, db):
    with db.factory() as session:
        project = make_project(session, "shop")
        session.commit()
        pk, key = project.id, project.ingest_key
    sent = event()
    url = f"{worker}/api/{pk}/envelope/"
    answers = [httpx.post(url, content=envelope(sent), headers=auth(key)) for _ in range(2)]
    assert [a.json() for a in answers] == [{"id": sent["event_id"]}] * 2
    assert _count(db) == 1


def test_two_http_workers_share_one_writer_and_make_one_bug(settings, writer, worker, session):
    for other in _worker_url(settings, writer):
        responses = asyncio.run(_post_many([worker, other], 80))
    _assert_one_bug(session, responses, 80)


def test_without_the_writer_reports_get_503_and_nothing_is_stored_until_it_is_back(worker, writer, db):
    assert httpx.post(worker + REPORT, json=report_payload()).status_code == 200
    os.kill(writer.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    codes = []
    while True:  # the supervisor restarts the writer within about a second
        answer = httpx.post(worker + REPORT, json=report_payload(), timeout=10)
        codes.append(answer.status_code)
        if answer.status_code == 200:
            break
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "5"
        assert answer.json() == {"detail": "Ingest writer is not reachable, retry later"}
        assert time.monotonic() < deadline, "the writer process was not restarted"
        time.sleep(0.05)
    assert codes[0] == 503  # the dead writer is noticed on the next report
    assert _count(db) == 2  # the first report and the one answered 200 after the restart


def test_stop_commits_what_was_received_and_ends_the_process(settings, db):
    process = WriterProcess(settings)
    process.start()
    pid = process.pid
    try:
        for url in _worker_url(settings, process):
            responses = asyncio.run(_post_many([url], 30))
    finally:
        process.stop()
    assert [r.status_code for r in responses] == [200] * 30
    assert _count(db) == 30
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(process.path)


@pytest.fixture
def committer(settings: Settings) -> Iterator[BatchCommitter]:
    """The writer process's committer, driven in this process by a WriterServer of the test's own."""
    engine = create_db_engine(settings.database_url, pool_size=1)
    committer = BatchCommitter(create_session_factory(engine), retention=100)
    yield committer
    committer.close()
    engine.dispose()


def test_a_full_queue_answers_503_at_once_for_what_does_not_fit(committer, db):
    server = WriterServer(committer, max_batch=100, queue_size=2)

    class Connection:  # what the writer sends back to one HTTP worker
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def send(self, parts: list[bytes]) -> None:
            self.sent.append(frame(parts))

    async def offer() -> list:
        server._loop = asyncio.get_running_loop()
        connection = Connection()
        items = FrameReader().feed(frame([encode_report(seq, _report(seq)) for seq in range(5)]))[0]
        server.add(connection, items)  # type: ignore[arg-type]
        refused = [decode_outcome(x) for f in connection.sent for x in FrameReader().feed(f)[0]]
        await asyncio.sleep(0.05)  # the batch of the two that fit is committed
        stored = [decode_outcome(x) for f in connection.sent[1:] for x in FrameReader().feed(f)[0]]
        return [refused, stored]

    refused, stored = asyncio.run(offer())
    assert [type(o) for o in refused] == [Unavailable] * 3
    assert refused[0].message == "Ingest queue is full, retry later"
    assert refused[0].headers == {"Retry-After": "1"}
    assert [type(o) for o in stored] == [IngestResult] * 2
    assert _count(db) == 2


def test_many_waiting_reports_are_committed_in_halves_the_first_answered_before_the_second(committer, db):
    server = WriterServer(committer, max_batch=500, queue_size=1000)
    steps: list[tuple[str, int]] = []
    write = committer.write

    def recorded_write(reports: list[Report]) -> list:
        steps.append(("commit", len(reports)))
        return write(reports)

    committer.write = recorded_write  # type: ignore[method-assign]

    class Connection:
        def send(self, parts: list[bytes]) -> None:
            steps.append(("answer", len(parts)))

    async def offer() -> None:
        server._loop = asyncio.get_running_loop()
        items = FrameReader().feed(frame([encode_report(seq, _report(seq)) for seq in range(16)]))[0]
        server.add(Connection(), items)  # type: ignore[arg-type]
        await asyncio.sleep(0.1)

    asyncio.run(offer())
    # The HTTP workers get the first eight answers, and their clients can send again, while the rest commit.
    assert steps == [("commit", 8), ("answer", 8), ("commit", 8), ("answer", 8)]
    assert _count(db) == 16


@pytest.mark.parametrize(
    ("waiting", "max_batch", "taken"),
    [(1, 500, 1), (8, 500, 8), (9, 500, 8), (16, 500, 8), (17, 500, 9), (40, 500, 20), (3000, 500, 500),
     (16, 4, 4)],
)  # fmt: skip
def test_a_batch_takes_half_of_what_waits_but_at_least_eight(waiting, max_batch, taken):
    assert batch_size(waiting, max_batch) == taken


def _report(seq: int, *, project_pk: int | None = None, event_id: str | None = None) -> Report:
    return Report(
        project_slug="shop",
        source="runtime",
        environment="production",
        level="ERROR",
        error_type="KeyError",
        message=f"'é{seq}' \u2603",
        stack_trace="Traceback ...",
        timestamp=datetime(2026, 11, 22, 5, 40, 1, 123456, tzinfo=UTC),
        fingerprint=f"{seq:032x}",
        file_path="app/views.py",
        line_number=seq + 1,
        version="1.2.3",
        commit_hash=None,
        repo_url=None,
        context=json_text({"user": {"id": 7, "tags": ["a", None]}, "ratio": 0.5}),
        data=json_text({"tags": {"region": "eu"}}),
        event_id=event_id,
        project_pk=project_pk,
    )


def test_reports_and_outcomes_cross_the_socket_unchanged():
    report = _report(1, project_pk=3, event_id="ab" * 16)
    decoded = FrameReader().feed(frame([encode_report(9, report)]))[0]
    assert decoded[0][0] == 9 and decode_report(decoded[0][1]) == report
    result = IngestResult(5, created=False, status="MERGED", duplicate=True)
    failure = Unavailable("Could not store the report, retry later", headers={"Retry-After": "5"})
    limited = over_quota("shop", 42)
    wire = frame([encode_outcome(1, result), encode_outcome(2, failure), encode_outcome(3, limited)])
    reader = FrameReader()
    assert reader.feed(wire[:3]) == [] and reader.feed(wire[3:7]) == []  # frames may arrive in pieces
    back = reader.feed(wire[7:])[0]
    assert decode_outcome(back[0]) == result
    for sent, received in zip((failure, limited), map(decode_outcome, back[1:]), strict=True):
        assert type(received) is type(sent)
        assert (received.status_code, received.message, received.headers) == (
            sent.status_code,
            sent.message,
            sent.headers,
        )


def test_the_quota_is_shared_by_the_http_workers_of_one_writer(settings, db):
    """`serve --workers N` counts a project's events once, in its writer process, not once per worker."""
    with db.factory() as session:
        project = make_project(session, "shop")
        session.commit()
        pk, key = project.id, project.ingest_key
    limited = settings.model_copy(update={"project_quota_per_minute": 3})
    process = WriterProcess(limited)
    process.start()
    try:
        for first in _worker_url(limited, process):
            for second in _worker_url(limited, process):
                codes = [
                    httpx.post(f"{url}/api/{pk}/envelope/", content=envelope(event()), headers=auth(key))
                    for url in (first, second, first, second, first)
                ]
                again = httpx.post(
                    f"{second}/api/{pk}/envelope/", content=envelope(event()), headers=auth(key)
                )
    finally:
        process.stop()
    assert [c.status_code for c in codes] == [200, 200, 200, 429, 429]
    refused = codes[3]
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and refused.headers["X-Sentry-Rate-Limits"] == f"{retry_after}::project"
    assert refused.json() == {"detail": "Project 'shop' is over its quota of events per minute"}
    # Refused until the window ends (the second worker now refuses it without asking the writer).
    assert again.status_code == 429 and int(again.headers["Retry-After"]) <= retry_after
    assert _count(db) == 3


def test_garbage_on_the_socket_drops_that_connection_only(worker, writer, db):
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(writer.path)
        raw.sendall(frame([b'{"not": "a report"}']))
        raw.settimeout(10)
        assert raw.recv(100) == b""  # the writer closed it
    assert httpx.post(worker + REPORT, json=report_payload()).status_code == 200
    assert _count(db) == 1


def test_the_writer_process_and_its_checkpoint_thread_are_named_for_top_and_ps(writer, settings):
    threads = {
        Path(f"/proc/{writer.pid}/task/{tid}/comm").read_text().strip()
        for tid in os.listdir(f"/proc/{writer.pid}/task")
    }
    assert Path(f"/proc/{writer.pid}/comm").read_text().strip() == "lc-writer"
    # The WAL checkpoint thread runs on SQLite only.
    assert ("lc-checkpoint" in threads) == settings.database_url.startswith("sqlite")


def test_a_stopped_writer_thread_closes_the_workers_connections(settings, committer):
    """The writer of an app run alone (a thread) closes the connections of its HTTP workers when it stops, as
    it closes its listening socket: left open, a worker that still held one never saw the writer go, and
    the socket lived on in this process until a garbage collection (an unclosed-socket warning in a later
    test)."""
    thread = WriterThread(committer, settings)
    thread.start()
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(thread.path)
        raw.sendall(frame([encode_report(1, _report(1))]))
        raw.settimeout(10)
        reader = FrameReader()
        answers: list[list[object]] = []
        while not answers:
            answers = reader.feed(raw.recv(4096))
        assert isinstance(decode_outcome(answers[0][0]), IngestResult)
        thread.stop()
        assert raw.recv(100) == b""  # closed by the writer, not left open
