"""Merging duplicate bugs into one ("absorb"): data moved, counters summed, the fingerprint routed on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from logcenter.bugs.models import Bug, BugHourlyCount, BugStatus, BugTagValue, Occurrence
from logcenter.db import begin_write
from logcenter.ingest import counting, service
from logcenter.ingest.schemas import ReportIn, to_report
from logcenter.ingest.sql import BatchSQL
from tests.bugs.helpers import committed_bug, detail, ingest
from tests.factories import report_payload
from tests.triage.helpers import act, listed, run_unignore_job

S = BugStatus
DAY1 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
DAY2 = datetime(2026, 11, 2, 14, 5, tzinfo=UTC)


def at(client, when: datetime, line: int, **overrides):
    """Report the bug raised at `line`, as happened at `when`."""
    return ingest(client, timestamp=when.isoformat(), error={"line_number": line}, **overrides)


@pytest.fixture
def reported(client):
    """Three bugs of one project from real reports: A (3 times, production), B (2, staging 2.0, a day
    later), C (once, a day earlier)."""
    a = [at(client, DAY1 + timedelta(minutes=i), 42)["id"] for i in range(3)][0]
    b = [at(client, DAY2, 43, environment="staging", version="2.0")["id"] for _ in range(2)][0]
    c = at(client, DAY1 - timedelta(days=1), 44)["id"]
    return a, b, c


def hourly(session, bug_id):
    rows = session.execute(
        select(BugHourlyCount.hour, BugHourlyCount.count).where(BugHourlyCount.bug_id == bug_id)
    )
    return {hour.astimezone(UTC): n for hour, n in rows}


def test_absorb_moves_everything_to_the_survivor(client, session, admin_headers, reported):
    a, b, c = reported
    body = act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b, c])
    assert body["id"] == a
    assert body["occurrence_count"] == 6
    assert body["first_seen"].startswith("2026-10-31T09:30")  # C's
    assert body["last_seen"].startswith("2026-11-02T14:05")  # B's, whose latest values the bug shows now
    assert (body["environment"], body["version"]) == ("staging", "2.0")
    assert body["status"] == "NEW" and body["merged_into_id"] is None

    shown = detail(client, admin_headers, a, occurrences=100)
    assert len(shown["occurrences"]) == 6
    assert {(e["value"], e["count"]) for e in shown["environments"]} == {("production", 4), ("staging", 2)}
    assert [(v["value"], v["count"]) for v in shown["versions"]] == [("2.0", 2)]
    assert [(e["kind"], e["note"]) for e in shown["history"][-2:]] == [
        ("absorbed", f"Absorbed bug {b} (2 occurrences)"),
        ("absorbed", f"Absorbed bug {c} (1 occurrences)"),
    ]
    assert hourly(session, a) == {
        datetime(2026, 10, 31, 9, tzinfo=UTC): 1,
        datetime(2026, 11, 1, 9, tzinfo=UTC): 3,
        datetime(2026, 11, 2, 14, tzinfo=UTC): 2,
    }
    assert hourly(session, b) == {} and hourly(session, c) == {}
    assert session.scalar(select(func.count()).select_from(BugTagValue).where(BugTagValue.bug_id == b)) == 0

    gone = detail(client, admin_headers, b)
    assert gone["merged_into_id"] == a
    assert gone["occurrences"] == []
    assert (gone["history"][-1]["kind"], gone["history"][-1]["note"]) == ("absorbed", f"Merged into bug {a}")
    assert listed(client, admin_headers) == [a]
    assert listed(client, admin_headers, ignored="include") == [a]


def test_a_new_report_of_an_absorbed_fingerprint_lands_on_the_survivor(client, admin_headers, reported):
    a, b, c = reported
    act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b])
    answer = ingest(client, error={"line_number": 43})
    assert answer == {"message": "Log deduplicated", "id": a, "status": "NEW"}
    assert detail(client, admin_headers, a)["occurrence_count"] == 6
    assert detail(client, admin_headers, b)["occurrence_count"] == 2  # as it was when merged


def test_one_batch_with_the_survivors_and_absorbed_fingerprints(client, db, admin_headers, reported):
    a, b, c = reported
    act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b, c])
    now = datetime.now(UTC)
    batch = [
        to_report(ReportIn.model_validate(report_payload(error={"line_number": line})), now=now,
                  max_skew=timedelta(minutes=1))
        for line in (43, 42, 44, 43)
    ]  # fmt: skip
    with db.factory() as s:
        begin_write(s)
        results = service.store_batch(s, batch, retention=100, now=now)
        s.commit()
    assert [r.bug_id for r in results] == [a, a, a, a]
    with db.factory() as s:
        begin_write(s)
        assert counting.count_pending(s, retention=100) == 4
        s.commit()
    assert detail(client, admin_headers, a)["occurrence_count"] == 10


def test_a_redirect_costs_one_statement_more(client, db, admin_headers, reported, monkeypatch):
    a, b, c = reported
    act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b])
    now = datetime.now(UTC)
    run = BatchSQL._run
    seen: list[str] = []

    def counted(self, sql, params):
        seen.append(sql)
        return run(self, sql, params)

    monkeypatch.setattr(BatchSQL, "_run", counted)

    def statements(line: int) -> int:
        seen.clear()
        payload = ReportIn.model_validate(report_payload(error={"line_number": line}))
        with db.factory() as s:
            begin_write(s)
            service.store_batch(
                s, [to_report(payload, now=now, max_skew=timedelta(minutes=1))], retention=100, now=now
            )
            s.commit()
        return len(seen)

    assert statements(43) == statements(44) + 1


def test_uncounted_reports_of_the_absorbed_bug_are_counted_on_the_survivor(
    client, db, admin_headers, reported
):
    a, b, c = reported
    now = datetime.now(UTC)
    batch = [
        to_report(ReportIn.model_validate(report_payload(error={"line_number": 43}, environment="qa")),
                  now=now, max_skew=timedelta(minutes=1))
        for _ in range(3)
    ]  # fmt: skip
    with db.factory() as s:  # stored, answered, not yet counted (a writer counts them a second later)
        begin_write(s)
        service.store_batch(s, batch, retention=100, now=now)
        s.commit()
    assert detail(client, admin_headers, b)["occurrence_count"] == 2

    body = act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b])
    assert body["occurrence_count"] == 3 + 2 + 3
    assert body["environment"] == "qa"
    shown = detail(client, admin_headers, a)
    assert ("qa", 3) in {(e["value"], e["count"]) for e in shown["environments"]}
    with db.factory() as s:  # nothing left for a writer to count again on either bug
        begin_write(s)
        assert counting.count_pending(s, retention=100) == 0
        s.commit()
    assert detail(client, admin_headers, b)["occurrence_count"] == 2


def test_absorbing_keeps_the_retention(client, db, admin_headers, app, reported):
    a, b, c = reported
    app.state.settings.occurrence_retention = 4
    act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b, c])
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(Occurrence).where(Occurrence.bug_id == a)) == 4
    assert detail(client, admin_headers, a)["occurrence_count"] == 6


def test_chains_stay_one_level(client, admin_headers, reported):
    a, b, c = reported
    act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b])
    act(client, admin_headers, "POST", f"{c}/absorb", bug_ids=[a])
    assert detail(client, admin_headers, b)["merged_into_id"] == c
    assert detail(client, admin_headers, a)["merged_into_id"] == c
    assert ingest(client, error={"line_number": 43})["id"] == c
    assert ingest(client, error={"line_number": 42})["id"] == c
    assert detail(client, admin_headers, c)["occurrence_count"] == 8
    assert listed(client, admin_headers) == [c]


@pytest.mark.parametrize("status", [S.FIXING, S.PENDING_REVIEW])
def test_a_bug_whose_fix_is_in_progress_cannot_be_absorbed(client, session, admin_headers, status):
    survivor = committed_bug(session)
    busy = committed_bug(session, status)
    response = client.post(
        f"/api/v1/bugs/{survivor.id}/absorb", headers=admin_headers, json={"bug_ids": [busy.id]}
    )
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Bug {busy.id} is {status}: a fix is in progress, it cannot be merged into another"
    )
    assert detail(client, admin_headers, busy.id)["merged_into_id"] is None
    assert detail(client, admin_headers, survivor.id)["history"] == []


def test_a_survivor_whose_fix_is_in_progress_may_absorb(client, session, admin_headers):
    survivor = committed_bug(session, S.FIXING, occurrence_count=2)
    other = committed_bug(session, S.FAILED, occurrence_count=5)
    body = act(client, admin_headers, "POST", f"{survivor.id}/absorb", bug_ids=[other.id])
    assert (body["status"], body["occurrence_count"]) == ("FIXING", 7)


def test_refused_merges(client, session, admin_headers):
    a = committed_bug(session)
    b = committed_bug(session)
    elsewhere = committed_bug(session, slug="billing")

    def absorb(into, ids, expect):
        return act(client, admin_headers, "POST", f"{into}/absorb", expect=expect, bug_ids=ids)

    assert absorb(a.id, [elsewhere.id], 422)["errors"] == [
        {"field": "bug_ids", "message": f"bug {elsewhere.id} belongs to another project than bug {a.id}"}
    ]
    assert absorb(a.id, [a.id], 422)["errors"] == [
        {"field": "bug_ids", "message": f"bug {a.id} cannot absorb itself"}
    ]
    assert absorb(a.id, [], 422)["detail"]
    assert absorb(a.id, [999_999], 404) == {"detail": "Bug 999999 not found"}
    assert absorb(999_999, [a.id], 404) == {"detail": "Bug 999999 not found"}
    assert client.post(f"/api/v1/bugs/{a.id}/absorb", json={"bug_ids": [b.id]}).status_code == 401

    absorb(a.id, [b.id], 200)
    assert absorb(a.id, [b.id], 409) == {
        "detail": f"Bug {b.id} was merged into bug {a.id}: triage that bug instead"
    }
    c = committed_bug(session)
    assert absorb(b.id, [c.id], 409)["detail"] == (
        f"Bug {b.id} was merged into bug {a.id}: triage that bug instead"
    )


def test_the_agent_never_claims_a_merged_away_bug(client, session, admin_headers, agent_headers):
    survivor = committed_bug(session, occurrence_count=1)
    duplicate = committed_bug(session, occurrence_count=1)
    act(client, admin_headers, "POST", f"{survivor.id}/absorb", bug_ids=[duplicate.id])
    response = client.post("/api/v1/agent/claim", headers=agent_headers, json={"agent": "a1", "limit": 10})
    assert [b["id"] for b in response.json()["bugs"]] == [survivor.id]


def test_stats_count_a_merged_bug_once(client, admin_headers):
    for line in (42, 42, 43):
        ingest(client, error={"line_number": line})
    a, b = listed(client, admin_headers)[::-1]
    act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b])
    body = client.get("/api/v1/stats", headers=admin_headers).json()
    assert (body["status_counts"]["total"], body["status_counts"]["new"]) == (1, 1)
    assert body["daily"][-1]["occurrences"] == 3
    assert [(p["project_id"], p["total"]) for p in body["projects"]] == [("rtc_backend", 1)]


def test_the_writers_tally_does_not_count_absorbed_reports_twice(client, db, admin_headers, reported):
    """The writer counts from memory a second after it stored (ingest/counting.py): a merge in between
    takes those reports, and the writer's count must leave them to it."""
    a, b, c = reported
    now = datetime.now(UTC)
    payload = ReportIn.model_validate(report_payload(error={"line_number": 43}))
    tally = counting.Tally()
    with db.factory() as s:
        begin_write(s)
        report = to_report(payload, now=now, max_skew=timedelta(minutes=1))
        service.store_batch(s, [report, report], retention=100, now=now, tally=tally)
        s.commit()
    act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b])
    with db.factory() as s:
        begin_write(s)
        counted, _ = counting.apply(BatchSQL(s.connection()), tally, retention=100, now=now)
        s.commit()
    assert counted == 0
    assert detail(client, admin_headers, a)["occurrence_count"] == 3 + 2 + 2
    assert detail(client, admin_headers, b)["occurrence_count"] == 2


def test_a_count_that_meets_a_merge_counts_on_the_survivor(client, db, admin_headers, reported):
    """A writer that took reports off the backlog and counts them while a merge moves them (PostgreSQL:
    the merge passes over backlog rows being counted) finds their bug merged and counts them where they
    are now."""
    a, b, c = reported
    now = datetime.now(UTC)
    payload = ReportIn.model_validate(report_payload(error={"line_number": 43}))
    tally = counting.Tally()
    with db.factory() as s:
        begin_write(s)
        report = to_report(payload, now=now, max_skew=timedelta(minutes=1))
        service.store_batch(s, [report, report, report], retention=100, now=now, tally=tally)
        s.commit()
    with db.factory() as s:  # the writer's count has taken the rows off the backlog...
        begin_write(s)
        sql = BatchSQL(s.connection())
        ids = [i for t in tally.bugs.values() for i in t.ids]
        assert sorted(sql.take_uncounted_ids(ids)) == sorted(ids)
        # ... when the merge moves them (as it does after passing over rows locked by that count)
        s.execute(update(Bug).where(Bug.id == b).values(merged_into_id=a))
        s.execute(update(Occurrence).where(Occurrence.bug_id == b).values(bug_id=a))
        counted, _ = counting.apply(sql, tally, retention=100, now=now, taken=True)
        s.commit()
    assert counted == 3
    assert detail(client, admin_headers, a)["occurrence_count"] == 3 + 3
    assert detail(client, admin_headers, b)["occurrence_count"] == 2


def test_an_ignored_survivor_is_not_woken_by_the_duplicates_it_absorbs(
    client, admin_headers, db, settings, reported
):
    a, b, c = reported
    ignored = act(client, admin_headers, "POST", f"{a}/ignore", until_occurrences=2)
    assert (ignored["ignore_start_count"], ignored["ignore_until_count"]) == (3, 5)
    body = act(client, admin_headers, "POST", f"{a}/absorb", bug_ids=[b, c])
    assert (body["occurrence_count"], body["ignore_start_count"], body["ignore_until_count"]) == (6, 6, 8)
    run_unignore_job(db, settings)
    assert detail(client, admin_headers, a)["ignored_at"] is not None
    for _ in range(2):  # recurrences of either fingerprint count
        ingest(client, error={"line_number": 43})
    run_unignore_job(db, settings)
    assert detail(client, admin_headers, a)["ignored_at"] is None
    assert detail(client, admin_headers, a)["history"][-1]["note"] == "recurred 2 times since it was ignored"
