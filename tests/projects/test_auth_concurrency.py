"""Token checks under load: concurrent callers with a token that was never used before all get through."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from logcenter.auth.models import ApiToken

CALLERS = 8


def test_concurrent_reads_with_a_fresh_token(live_server, db, admin_headers):
    start = threading.Barrier(CALLERS)

    def reader(_: int) -> list[int]:
        codes = []
        with httpx.Client(base_url=live_server.url, headers=admin_headers, timeout=60) as http:
            start.wait()
            for _ in range(5):
                codes.append(http.get("/api/v1/bugs").status_code)
                codes.append(http.post("/api/v1/agent/claim", json={"agent": "a"}).status_code)
        return codes

    with ThreadPoolExecutor(CALLERS) as pool:
        codes = [c for got in pool.map(reader, range(CALLERS)) for c in got]
    assert codes == [200] * CALLERS * 10


def test_reads_while_reports_are_written(live_server, db, admin_headers):
    """Readers whose token needs its last-used time recorded, while the ingest writer commits batches."""
    start = threading.Barrier(CALLERS + 1)

    def reporter() -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            start.wait()
            for i in range(60):
                payload = {
                    "project_id": "shop",
                    "environment": "production",
                    "level": "ERROR",
                    "error": {
                        "type": "E",
                        "message": str(i),
                        "file_path": "a.py",
                        "line_number": i,
                        "stack_trace": [],
                    },
                }
                assert http.post("/api/v1/logs/report", json=payload).status_code == 200

    def reader(_: int) -> list[int]:
        codes = []
        with httpx.Client(base_url=live_server.url, headers=admin_headers, timeout=60) as http:
            start.wait()
            for _ in range(10):
                codes.append(http.get("/api/v1/bugs", params={"page_size": 1}).status_code)
        return codes

    writer = threading.Thread(target=reporter)
    writer.start()
    with ThreadPoolExecutor(CALLERS) as pool:
        codes = [c for got in pool.map(reader, range(CALLERS)) for c in got]
    writer.join()
    assert codes == [200] * CALLERS * 10


def test_first_use_is_recorded_on_reads_and_writes(client, db, admin_headers, agent_headers):
    assert client.get("/api/v1/bugs", headers=admin_headers).status_code == 200
    assert client.post("/api/v1/agent/claim", headers=agent_headers, json={"agent": "a"}).status_code == 200
    with db.factory() as s:
        used = dict(s.execute(select(ApiToken.name, ApiToken.last_used_at)).all())
    assert set(used) == {"alice", "repair-bot"}
    assert all(v is not None for v in used.values()), used
