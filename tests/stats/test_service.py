"""Stats service: the numbers the dashboard shows, from bugs and history written by the real workflow."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from logcenter.bugs import history, workflow
from logcenter.bugs.models import Bug, BugHourlyCount, ProjectDailyCount
from logcenter.bugs.models import BugStatus as S
from logcenter.errors import NotFound, ValidationFailed
from logcenter.ingest import counting
from logcenter.ingest.schemas import ReportIn, to_report
from logcenter.ingest.service import store_batch
from logcenter.projects.models import Project
from logcenter.stats.service import compact_daily_counts, get_stats
from tests.factories import make_bug, make_project, report_payload

# Noon of the "current" day; the default 7-day range is then 2026-03-04 .. 2026-03-10.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def at(days_ago: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment `days_ago` UTC days before today, at hour:minute."""
    day = TODAY - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def found(session: Session, project: Project, when: datetime) -> Bug:
    """A bug first seen at `when`, with the history row ingest writes for it."""
    bug = make_bug(session, project, seen=when)
    history.record_created(session, [bug.id], actor="ingest", now=when)
    return bug


def move(session: Session, bug: Bug, *steps: tuple[S, datetime]) -> None:
    for target, when in steps:
        workflow.transition(session, bug, target, actor="repair-bot", now=when)


def stats(session: Session, **kwargs):  # type: ignore[no-untyped-def]
    session.flush()  # the session does not autoflush; the request edge would have committed
    return get_stats(session, now=NOW, **kwargs)


def series(result, field: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [getattr(d, field) for d in result.daily]


def test_empty_database_gives_zeros_for_every_day(session: Session) -> None:
    result = stats(session, days=7)
    assert [d.date for d in result.daily] == [date(2026, 3, d) for d in range(4, 11)]
    assert series(result, "new") == series(result, "occurrences") == [0] * 7
    assert result.status_counts.total == 0 and result.today.total == 0
    assert (result.totals.found, result.totals.auto_fixed, result.totals.failed) == (0, 0, 0)
    assert result.totals.fix_attempts == 0
    assert result.totals.fix_success_rate is None and result.totals.avg_seconds_to_review is None
    assert result.projects == []
    assert result.start == datetime(2026, 3, 4, tzinfo=UTC) and result.end == datetime(
        2026, 3, 11, tzinfo=UTC
    )


def test_status_counts_all_time_and_today(session: Session) -> None:
    web = make_project(session, slug="rtc_web")
    old_new = found(session, web, at(30))
    fresh = found(session, web, at(0, 8))
    fixing_since_yesterday = found(session, web, at(5))
    move(session, fixing_since_yesterday, (S.FIXING, at(1, 23, 59)))
    reviewed_today = found(session, web, at(3))
    move(session, reviewed_today, (S.FIXING, at(0, 0)), (S.PENDING_REVIEW, at(0, 1)))
    failed_today = found(session, web, at(0, 2))
    move(session, failed_today, (S.FIXING, at(0, 3)), (S.FAILED, at(0, 4)))
    assert old_new.status == fresh.status == S.NEW

    result = stats(session)
    counts, today = result.status_counts, result.today
    assert (counts.total, counts.new, counts.fixing, counts.pending_review, counts.failed) == (5, 2, 1, 1, 1)
    assert counts.merged == counts.deployed == 0
    # Today: the status a bug is in now, if it entered it today (UTC).
    assert (today.total, today.new, today.fixing, today.pending_review, today.failed) == (3, 1, 0, 1, 1)


def test_range_totals_rate_average_and_daily_series(session: Session) -> None:
    web = make_project(session, slug="rtc_web")
    # Fixed in 2 h, five days ago.
    quick = found(session, web, at(5, 10))
    move(session, quick, (S.FIXING, at(5, 11)), (S.PENDING_REVIEW, at(5, 12)))
    # Failed yesterday, retried today: the wait restarts at the retry (NEW at 09:00, review at 10:00).
    retried = found(session, web, at(3, 9))
    move(session, retried, (S.FIXING, at(3, 10)), (S.FAILED, at(1, 6)))
    move(session, retried, (S.NEW, at(0, 9)), (S.FIXING, at(0, 9, 30)), (S.PENDING_REVIEW, at(0, 10)))
    history.record_note(session, retried, kind="pr", actor="repair-bot", note="PR #4 opened")
    # An agent released this one: not an attempt that ended.
    released = found(session, web, at(2))
    move(session, released, (S.FIXING, at(2, 13)), (S.NEW, at(2, 14)))
    # A human closed the PR unmerged: a failed bug, but the repair attempt itself had succeeded.
    rejected = found(session, web, at(4, 8))
    move(session, rejected, (S.FIXING, at(4, 8, 30)), (S.PENDING_REVIEW, at(4, 9)), (S.FAILED, at(2, 9)))

    result = stats(session, days=7)
    totals = result.totals
    assert totals.found == 4
    assert totals.auto_fixed == 3  # quick, retried, rejected
    assert totals.failed == 2  # retried (yesterday), rejected
    # Out of FIXING: quick, rejected and retried (twice: once failed, once fixed).
    assert totals.fix_attempts == 4
    assert totals.fix_success_rate == pytest.approx(3 / 4)
    # quick 2 h, retried 1 h (since its retry), rejected 1 h.
    assert totals.avg_seconds_to_review == pytest.approx((7200 + 3600 + 3600) / 3)

    #                               03-04 03-05 03-06 03-07 03-08 03-09 03-10
    assert series(result, "new") == [0, 1, 1, 1, 1, 0, 0]
    assert series(result, "fixed") == [0, 1, 1, 0, 0, 0, 1]
    assert series(result, "failed") == [0, 0, 0, 0, 1, 1, 0]


def test_a_revision_is_not_another_fix(session: Session) -> None:
    web = make_project(session, slug="rtc_web")
    bug = found(session, web, at(2, 9))
    move(session, bug, (S.FIXING, at(2, 10)), (S.PENDING_REVIEW, at(2, 11)))
    for day in (1, 0):  # a reviewer asks twice: one revision pushed, one failed (back to review as it was)
        workflow.request_revision(session, bug, actor="alice", note="use None", now=at(day, 9))
        workflow.submit_for_review(session, bug, actor="repair-bot", kind=history.HistoryKind.REVISED,
                                   now=at(day, 10))  # fmt: skip
    totals = stats(session, days=7).totals
    assert (totals.auto_fixed, totals.fix_attempts, totals.failed) == (1, 1, 0)
    assert totals.fix_success_rate == 1 and totals.avg_seconds_to_review == pytest.approx(7200)


def test_range_edges_are_utc_midnights(session: Session) -> None:
    web = make_project(session, slug="rtc_web")
    before = found(session, web, at(3, 23, 59))
    move(session, before, (S.FIXING, at(3, 23, 59)), (S.PENDING_REVIEW, at(3, 23, 59)))
    first = found(session, web, at(2, 0, 0))
    move(session, first, (S.FIXING, at(2, 0, 0)), (S.FAILED, at(2, 0, 0)))

    result = stats(session, days=3)
    assert [d.date for d in result.daily] == [date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)]
    assert series(result, "new") == [1, 0, 0]
    assert series(result, "fixed") == [0, 0, 0]
    assert series(result, "failed") == [1, 0, 0]
    assert (result.totals.found, result.totals.auto_fixed, result.totals.failed) == (1, 0, 1)
    assert result.totals.fix_success_rate == 0.0
    assert result.totals.avg_seconds_to_review is None

    wider = stats(session, days=4)
    assert wider.totals.auto_fixed == 1 and wider.totals.fix_success_rate == pytest.approx(0.5)
    assert wider.totals.avg_seconds_to_review == 0.0


def report(session: Session, slug: str, when: datetime, n: int = 1, line: int = 1) -> None:
    """`n` reports of one bug of `slug` at `when`, stored and counted by the ingest writer's code."""
    payload = ReportIn.model_validate(
        report_payload(project_id=slug, timestamp=when.isoformat(), error={"line_number": line})
    )
    batch = [to_report(payload, now=NOW, max_skew=timedelta(minutes=1)) for _ in range(n)]
    store_batch(session, batch, retention=100, now=NOW)
    counting.count_pending(session, retention=100, now=NOW)


def test_occurrences_per_day_as_the_ingest_counter_counts_them(session: Session) -> None:
    report(session, "rtc_web", at(7, 23), n=5)  # outside the 7-day range
    report(session, "rtc_web", at(6, 0), n=3)
    report(session, "rtc_web", at(6, 23), n=4)
    report(session, "rtc_backend", at(6, 5), n=10)
    report(session, "rtc_backend", at(0, 11), n=2, line=2)
    report(session, "rtc_backend", at(0, 23, 59), n=1, line=3)

    assert series(stats(session), "occurrences") == [17, 0, 0, 0, 0, 0, 3]
    assert series(stats(session, project_slug="rtc_web"), "occurrences") == [7, 0, 0, 0, 0, 0, 0]
    assert series(stats(session, days=8), "occurrences")[0] == 5
    # The same numbers as the bugs' own hourly counts (the bug page's chart), summed per day.
    hourly = session.execute(select(func.sum(BugHourlyCount.count))).scalar()
    assert hourly == sum(series(stats(session, days=8), "occurrences")) == 25


def test_project_table_and_filter(session: Session) -> None:
    web = make_project(session, slug="rtc_web", name="Web app")
    api = make_project(session, slug="rtc_backend", name="Backend")
    make_project(session, slug="airhub_app")  # no bugs yet: still listed, with zeros
    for _ in range(2):
        found(session, web, at(1))
    merged = found(session, web, at(2))
    move(session, merged, (S.FIXING, at(2, 13)), (S.PENDING_REVIEW, at(2, 14)), (S.MERGED, at(1)))
    api_bug = found(session, api, at(0, 1))
    move(session, api_bug, (S.FIXING, at(0, 2)), (S.FAILED, at(0, 3)))

    table = {p.project_id: p for p in stats(session).projects}
    assert list(table) == ["airhub_app", "rtc_backend", "rtc_web"]
    assert table["airhub_app"].total == 0 and table["airhub_app"].name is None
    assert (table["rtc_web"].name, table["rtc_web"].total, table["rtc_web"].new, table["rtc_web"].merged) == (
        "Web app",
        3,
        2,
        1,
    )
    assert (table["rtc_backend"].total, table["rtc_backend"].failed) == (1, 1)

    only_web = stats(session, project_slug="rtc_web")
    assert only_web.project_id == "rtc_web"
    assert [p.project_id for p in only_web.projects] == ["rtc_web"]
    assert (only_web.status_counts.total, only_web.status_counts.new, only_web.status_counts.merged) == (
        3,
        2,
        1,
    )
    assert only_web.today.total == 0
    assert (only_web.totals.found, only_web.totals.auto_fixed, only_web.totals.failed) == (3, 1, 0)
    assert only_web.totals.fix_success_rate == 1.0
    assert series(only_web, "new") == [0, 0, 0, 0, 1, 2, 0]


def test_unknown_project_and_bad_days(session: Session) -> None:
    with pytest.raises(NotFound):
        stats(session, project_slug="nope")
    for days in (0, 366):
        with pytest.raises(ValidationFailed):
            stats(session, days=days)


def test_query_count_does_not_grow_with_data(session: Session) -> None:
    web, api = make_project(session, slug="rtc_web"), make_project(session, slug="rtc_backend")

    def add_bugs(n: int) -> None:
        for i in range(n):
            bug = found(session, web if i % 2 else api, at(i % 7, 1))
            move(
                session,
                bug,
                (S.FIXING, at(i % 7, 2)),
                (S.PENDING_REVIEW if i % 3 else S.FAILED, at(i % 7, 3)),
            )
            session.add(BugHourlyCount(bug_id=bug.id, hour=at(i % 7, 1), count=i + 1))
        session.flush()

    statements: list[str] = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        counts = []
        for n in (2, 40):
            add_bugs(n)
            statements.clear()
            result = stats(session, days=30, project_slug="rtc_web")
            counts.append(len(statements))
        assert counts[0] == counts[1] <= 6
        assert result.totals.found == 21
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_compacting_the_daily_counts_keeps_every_day_s_sum(session: Session) -> None:
    report(session, "rtc_web", at(1, 3), n=2)
    report(session, "rtc_web", at(1, 4), n=3)
    report(session, "rtc_web", at(0, 9), n=1)
    report(session, "rtc_backend", at(1, 3), n=4)
    report(session, "rtc_backend", at(1, 5), n=5)
    before = [series(stats(session, project_slug=p), "occurrences") for p in ("rtc_web", "rtc_backend")]
    assert before == [[0] * 5 + [5, 1], [0] * 5 + [9, 0]]
    rows = session.scalar(select(func.count()).select_from(ProjectDailyCount))
    assert rows == 5  # one per counting transaction and project-day

    assert compact_daily_counts(session) == 4  # rtc_web's and rtc_backend's two rows of yesterday
    assert session.scalar(select(func.count()).select_from(ProjectDailyCount)) == 3
    after = [series(stats(session, project_slug=p), "occurrences") for p in ("rtc_web", "rtc_backend")]
    assert after == before
    assert compact_daily_counts(session) == 0  # nothing left to merge
    report(session, "rtc_web", at(1, 6), n=7)  # more for a compacted day: a new row, summed on reading
    assert series(stats(session), "occurrences")[-2:] == [21, 1]
