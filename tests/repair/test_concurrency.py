"""Concurrent claimers never get the same bug, and together get all of them: over HTTP and in the service."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.db import session_scope
from logcenter.repair import service as repair_service
from tests.bugs.helpers import committed_bug

CLAIMERS = 8
BUGS = 60


def check_claims(db, claims: dict[str, list[int]], expected: set[int]) -> None:
    everything = [bug_id for got in claims.values() for bug_id in got]
    duplicates = [bug_id for bug_id, n in Counter(everything).items() if n > 1]
    assert duplicates == []
    assert set(everything) == expected
    with db.factory() as s:
        owners = dict(s.execute(select(Bug.id, Bug.lease_owner).where(Bug.status == BugStatus.FIXING)).all())
        assert owners == {bug_id: agent for agent, got in claims.items() for bug_id in got}
        claims_written = s.scalar(
            select(func.count()).select_from(BugEvent).where(BugEvent.to_status == BugStatus.FIXING)
        )
        assert claims_written == len(expected)


def test_concurrent_http_claimers(live_server, session, db, agent_headers):
    expected = {committed_bug(session, BugStatus.NEW).id for _ in range(BUGS)}
    start = threading.Barrier(CLAIMERS)

    def claimer(n: int) -> tuple[str, list[int]]:
        agent = f"agent-{n}"
        got: list[int] = []
        with httpx.Client(base_url=live_server.url, headers=agent_headers, timeout=60) as http:
            start.wait()
            while True:
                response = http.post("/api/v1/agent/claim", json={"agent": agent, "limit": 3})
                assert response.status_code == 200, response.text
                bugs = response.json()["bugs"]
                if not bugs:
                    return agent, got
                assert {b["lease_owner"] for b in bugs} == {agent}
                got.extend(b["id"] for b in bugs)

    with ThreadPoolExecutor(CLAIMERS) as pool:
        claims = dict(pool.map(claimer, range(CLAIMERS)))
    check_claims(db, claims, expected)
    # The work was shared, not taken by one claimer while the others waited.
    assert sum(1 for got in claims.values() if got) > 1


def test_concurrent_service_claimers(session, db):
    expected = {committed_bug(session, BugStatus.NEW).id for _ in range(BUGS)}
    start = threading.Barrier(CLAIMERS)

    def claimer(n: int) -> tuple[str, list[int]]:
        agent = f"agent-{n}"
        got: list[int] = []
        start.wait()
        while True:
            # Each claim in its own transaction, as the request edge runs it.
            with session_scope(db.factory) as s:
                bugs = repair_service.claim(s, agent=agent, limit=2, lease=timedelta(minutes=5))
                ids = [b.id for b in bugs]
            if not ids:
                return agent, got
            got.extend(ids)

    with ThreadPoolExecutor(CLAIMERS) as pool:
        claims = dict(pool.map(claimer, range(CLAIMERS)))
    check_claims(db, claims, expected)


def test_concurrent_claims_by_project(live_server, session, db, agent_headers):
    shop = {committed_bug(session, BugStatus.NEW, slug="shop").id for _ in range(20)}
    billing = {committed_bug(session, BugStatus.NEW, slug="billing").id for _ in range(20)}
    start = threading.Barrier(CLAIMERS)

    def claimer(n: int) -> tuple[str, list[int]]:
        agent, project = f"agent-{n}", ("shop", "billing")[n % 2]
        got: list[int] = []
        with httpx.Client(base_url=live_server.url, headers=agent_headers, timeout=60) as http:
            start.wait()
            while True:
                response = http.post(
                    "/api/v1/agent/claim", json={"agent": agent, "limit": 2, "project_id": project}
                )
                assert response.status_code == 200, response.text
                bugs = response.json()["bugs"]
                if not bugs:
                    return agent, got
                assert {b["project_id"] for b in bugs} == {project}
                got.extend(b["id"] for b in bugs)

    with ThreadPoolExecutor(CLAIMERS) as pool:
        claims = dict(pool.map(claimer, range(CLAIMERS)))
    check_claims(db, claims, shop | billing)
    for agent, got in claims.items():
        assert set(got) <= (shop if int(agent.removeprefix("agent-")) % 2 == 0 else billing)
