"""A merge of duplicates while their reports keep arriving: no report is lost or counted twice."""

from __future__ import annotations

import threading
import time

import httpx
from sqlalchemy import func, select

from logcenter.bugs.models import Bug, BugHourlyCount, Occurrence
from logcenter.db import begin_write
from logcenter.ingest import counting
from tests.factories import report_payload

REPORT = "/api/v1/logs/report"
PER_THREAD = 30


def test_merge_while_both_fingerprints_are_reported(live_server, api, db):
    a = api.post(REPORT, json=report_payload(error={"line_number": 42})).json()["id"]
    b = api.post(REPORT, json=report_payload(error={"line_number": 43})).json()["id"]
    merged = threading.Event()
    answers: list[tuple[bool, int, int]] = []  # (sent after the merge answered, line, bug id)
    lock = threading.Lock()
    started = threading.Barrier(5)

    def report(line: int) -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            started.wait()
            for _ in range(PER_THREAD):
                after = merged.is_set()
                reply = client.post(REPORT, json=report_payload(error={"line_number": line}))
                assert reply.status_code == 200, reply.text
                with lock:
                    answers.append((after, line, reply.json()["id"]))

    threads = [threading.Thread(target=report, args=(line,)) for line in (42, 43, 43, 42)]
    for t in threads:
        t.start()
    started.wait()
    while True:  # merge once the reports are flowing
        with lock:
            if len(answers) >= PER_THREAD:
                break
        time.sleep(0.005)
    response = api.post(f"/api/v1/bugs/{a}/absorb", json={"bug_ids": [b]})
    merged.set()
    for t in threads:
        t.join()
    assert response.status_code == 200, response.text

    assert len(answers) == 4 * PER_THREAD
    assert {bug for after, _, bug in answers if after} == {a}  # reports sent after the merge: the survivor's
    with db.factory() as s:  # whatever a writer had not counted yet
        begin_write(s)
        counting.count_pending(s, retention=1000)
        s.commit()
    total = 2 + 4 * PER_THREAD
    with db.factory() as s:
        survivor, absorbed = s.get_one(Bug, a), s.get_one(Bug, b)
        on = {k: n for k, n in s.execute(select(Occurrence.bug_id, func.count()).group_by(Occurrence.bug_id))}
        per_hour = select(BugHourlyCount.bug_id, func.sum(BugHourlyCount.count)).group_by(
            BugHourlyCount.bug_id
        )
        hourly = {k: n for k, n in s.execute(per_hour)}
    assert on == {a: min(total, live_server.settings.occurrence_retention)}
    assert survivor.occurrence_count == total
    assert hourly == {a: total}
    assert absorbed.merged_into_id == a
