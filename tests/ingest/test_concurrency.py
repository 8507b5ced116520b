"""N concurrent first reports of one fingerprint make exactly one bug with count N."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from logcenter.bugs.models import Bug, BugEvent, Occurrence
from logcenter.main import create_app
from tests.conftest import run_live_server
from tests.factories import report_payload

REPORT = "/api/v1/logs/report"


async def _post_many(urls: list[str], n: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        payload = report_payload(error={"type": "RaceError"})
        return await asyncio.gather(
            *(client.post(urls[i % len(urls)] + REPORT, json=payload) for i in range(n))
        )


def _assert_one_bug(session, responses, n):
    assert [r.status_code for r in responses] == [200] * n
    bodies = [r.json() for r in responses]
    assert sum(b["message"] == "Log reported" for b in bodies) == 1
    assert len({b["id"] for b in bodies}) == 1
    bug = session.scalars(select(Bug)).one()
    assert bug.occurrence_count == n
    assert session.scalar(select(func.count()).select_from(Occurrence)) == n
    assert session.scalar(select(func.count()).select_from(BugEvent)) == 1


def test_concurrent_first_reports_make_one_bug(live_server, session):
    responses = asyncio.run(_post_many([live_server.url], 60))
    _assert_one_bug(session, responses, 60)


def test_two_server_processes_on_one_database_make_one_bug(live_server, settings, session):
    # A second app has its own engine and its own group-commit writer, as a second `serve` replica would.
    other = create_app(settings)
    for url, _ in run_live_server(other):
        responses = asyncio.run(_post_many([live_server.url, url], 80))
    _assert_one_bug(session, responses, 80)
