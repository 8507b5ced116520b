"""Hostile requests of at most 1 MB on the wire against a real `logcenter serve` (HTTP worker + writer
process): each is answered in a second or two, and while it is being read other requests are answered at
once. Before, 97 KB of gzipped newlines held the event loop, and every other request, for about a minute."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator

import brotli
import httpx
import orjson
import pytest
from sqlalchemy import select

from logcenter.projects.models import Project
from tests.conftest import Database, free_port
from tests.sentry.helpers import auth, event

# Not speed targets (bench/hostile.py measures those) but the line between a loop that is given back and one
# that is held: held, it was 48-63 s for the newlines and about a second for the 349,000 exceptions. Typical
# here: health 10-110 ms meanwhile, answers under 2 s; the bounds leave room for a busy CI machine.
HEALTH_BOUND = 0.5  # seconds: any other request while a hostile one is read
ANSWER_BOUND = 5.0  # seconds: the hostile request itself


@pytest.fixture(scope="module")
def served(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`logcenter serve` in its own process on this backend's test database, shared by the module's tests:
    starting one took 5-15 s on the CI machine (under pytest-xdist the module runs on one worker:
    ONE_WORKER_MODULES in tests/conftest.py). The tests only send requests and read the answers; what they
    stored is deleted when the module is done with the server."""
    port = free_port()
    env = {**os.environ, "LOGCENTER_DATABASE_URL": database.url, "LOGCENTER_LEASE_SWEEP_SECONDS": "3600"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "logcenter", "serve", "--port", str(port)],
        cwd=tmp_path_factory.mktemp("served"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # the start is not what is measured (20 s beside a busy neighbour)
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("logcenter serve did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            database.reset()


@pytest.fixture(scope="module")
def project(served: str, database: Database) -> Project:
    """A project created by its first report, as users create theirs."""
    report = {
        "project_id": "hostile",
        "environment": "production",
        "level": "ERROR",
        "error": {
            "type": "ValueError",
            "message": "first",
            "file_path": "a.py",
            "line_number": 1,
            "stack_trace": [],
        },
    }
    assert httpx.post(f"{served}/api/v1/logs/report", json=report).status_code == 200
    with database.factory() as session:
        return session.scalars(select(Project).where(Project.slug == "hostile")).one()


def while_measuring_health(
    base: str, send: Callable[[], httpx.Response]
) -> tuple[httpx.Response, float, float]:
    """`send()` while another client asks /api/health every 20 ms: (response, its seconds, slowest health)."""
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                started = time.perf_counter()
                client.get(f"{base}/api/health").raise_for_status()
                latencies.append(time.perf_counter() - started)
                stop.wait(0.02)

    thread = threading.Thread(target=probe)
    thread.start()
    time.sleep(0.1)
    started = time.perf_counter()
    try:
        response = send()
    finally:
        elapsed = time.perf_counter() - started
        # A request answered at once leaves few probes: take at least five (a busy machine is slow to probe).
        deadline = time.monotonic() + 10
        while len(latencies) < 5 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.02)
        stop.set()
        thread.join()
    assert len(latencies) >= 5
    return response, elapsed, max(latencies)


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=6)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "br":
        return bytes(brotli.compress(body, quality=4))
    return body


BLANK_LINES = {"gzip": 95, "deflate": 95, "br": 95, "identity": 19}  # MiB; identity is capped at 20 MiB


@pytest.mark.parametrize("encoding", list(BLANK_LINES))
def test_an_envelope_of_blank_lines_is_answered_fast_and_others_are_not_held_up(served, project, encoding):
    sent = event()
    body = orjson.dumps({"event_id": sent["event_id"]}) + b"\n" * (BLANK_LINES[encoding] * 1024 * 1024)
    payload = orjson.dumps(sent)
    body += orjson.dumps({"type": "event", "length": len(payload)}) + b"\n" + payload + b"\n"
    wire = compress(body, encoding)
    assert len(wire) <= 20 * 1024 * 1024
    headers = {**auth(project.ingest_key), "Content-Encoding": encoding}

    response, elapsed, slowest = while_measuring_health(
        served,
        lambda: httpx.post(f"{served}/api/{project.id}/envelope/", content=wire, headers=headers, timeout=60),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": sent["event_id"]}
    assert elapsed < ANSWER_BOUND, f"answered after {elapsed:.2f} s"
    assert slowest < HEALTH_BOUND, f"/api/health took {slowest * 1000:.0f} ms meanwhile"


def _items(n: int, item: bytes) -> bytes:
    return orjson.dumps({"event_id": "0" * 32}) + b"\n" + item * n


PATHOLOGICAL = {
    # 100,000 tiny items with and without a length: refused once past the item cap.
    "100k tiny sized items": (_items(100_000, b'{"type":"attachment","length":1}\nx\n'), 413),
    "100k tiny line items": (_items(100_000, b'{"type":"client_report"}\n{}\n'), 413),
    # Item headers and nothing else.
    "header-only items": (_items(200_000, b'{"type":"session"}\n'), 413),
    # A length that claims more than the body holds, for a skipped and for a kept item.
    "lying length, skipped item": (
        _items(1, b'{"type":"attachment","length":90000000}\n' + b"a" * 50_000_000),
        400,
    ),
    "lying length, event": (_items(1, b'{"type":"event","length":900000}\n{"message":"short"}\n'), 400),
    "event over the item cap": (_items(1, b'{"type":"event","length":2000000}\n'), 413),
    # Blank lines with carriage returns and spaces, then a header line split across chunks.
    "whitespace runs": (_items(1, (b" \r\n\t" * 20_000_000) + b'{"type":"session"}\n{}\n'), 200),
    "only the envelope header, then newlines": (_items(1, b"\n" * 60_000_000), 200),
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_envelopes_are_answered_fast_and_others_are_not_held_up(served, project, name):
    body, status = PATHOLOGICAL[name]
    wire = gzip.compress(body, compresslevel=6)
    assert len(wire) <= 1024 * 1024, f"{name}: {len(wire)} bytes on the wire"
    headers = {**auth(project.ingest_key), "Content-Encoding": "gzip"}

    response, elapsed, slowest = while_measuring_health(
        served,
        lambda: httpx.post(f"{served}/api/{project.id}/envelope/", content=wire, headers=headers, timeout=60),
    )
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["detail"]
    assert elapsed < ANSWER_BOUND, f"{name}: answered after {elapsed:.2f} s"
    assert slowest < HEALTH_BOUND, f"{name}: /api/health took {slowest * 1000:.0f} ms meanwhile"


def test_a_megabyte_event_of_empty_exceptions_does_not_hold_up_others(served, project):
    payload = orjson.dumps({"event_id": "1" * 32, "exception": {"values": [{}] * 349_000}})
    assert len(payload) < 1024 * 1024
    headers = {**auth(project.ingest_key), "Content-Type": "application/json"}

    response, elapsed, slowest = while_measuring_health(
        served,
        lambda: httpx.post(f"{served}/api/{project.id}/store/", content=payload, headers=headers, timeout=60),
    )
    assert response.status_code == 200, response.text
    assert elapsed < ANSWER_BOUND
    assert slowest < HEALTH_BOUND, f"/api/health took {slowest * 1000:.0f} ms meanwhile"
