"""The board's reads on both databases: keyset pages visit every match once, stat cards count right."""

from __future__ import annotations

import datetime as dt

from logcenter.bugs import board, listing
from logcenter.bugs.models import BugStatus
from logcenter.bugs.service import BugFilter
from tests.factories import make_bug, make_project


def test_keyset_pages_visit_every_bug_once_in_order(session):
    project = make_project(session, "p")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = []
    for i in range(23):
        # Pairs share a last_seen, so the id breaks ties across page boundaries.
        bug = make_bug(session, project, seen=start + dt.timedelta(minutes=i // 2), occurrence_count=i % 5)
        ids.append(bug.id)
    session.commit()
    for sort in ("-last_seen", "last_seen", "-occurrence_count", "-id", "id", "first_seen"):
        seen, cursor = [], None
        while True:
            page = listing.list_page(session, filters=BugFilter(), sort=sort, cursor=cursor, page_size=5)
            seen += [bug.id for bug, _ in page.rows]
            assert page.total == 23
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(ids), sort
        assert len(seen) == len(set(seen)), sort


def test_status_filter_and_capped_count(session, monkeypatch):
    project = make_project(session, "p")
    for status in [BugStatus.NEW] * 4 + [BugStatus.FAILED] * 3 + [BugStatus.MERGED] * 2:
        make_bug(session, project, status=status)
    session.commit()
    page = listing.list_page(
        session, filters=BugFilter(statuses=[BugStatus.NEW, BugStatus.FAILED]), page_size=50
    )
    assert sorted(bug.status for bug, _ in page.rows) == ["FAILED"] * 3 + ["NEW"] * 4
    monkeypatch.setattr(board, "COUNT_CAP", 5)
    assert board.count(session, filters=BugFilter()) == (5, True)
    assert board.count(session, filters=BugFilter(statuses=[BugStatus.FAILED])) == (3, False)


def test_stat_cards_count_today_and_the_queues(session, monkeypatch):
    project = make_project(session, "p")
    other = make_project(session, "q")
    now = dt.datetime(2026, 3, 1, 15, 0, tzinfo=dt.UTC)
    yesterday = now - dt.timedelta(days=1)
    make_bug(session, project, seen=now, created_at=now)
    make_bug(session, project, seen=yesterday, created_at=yesterday)
    make_bug(session, project, status=BugStatus.FIXING, seen=yesterday)
    make_bug(session, project, status=BugStatus.PENDING_REVIEW, seen=yesterday)
    make_bug(session, project, status=BugStatus.MERGED, seen=now, status_changed_at=now)
    make_bug(session, project, status=BugStatus.MERGED, seen=yesterday, status_changed_at=yesterday)
    make_bug(session, project, status=BugStatus.FAILED, seen=now, status_changed_at=now)
    make_bug(session, other, status=BugStatus.DEPLOYED, seen=now, status_changed_at=now)
    session.commit()
    cards = board.stat_cards(session, now=now)
    assert (cards.fixing, cards.pending_review) == (1, 1)
    assert (cards.merged_today, cards.deployed_today, cards.failed_today) == (1, 1, 1)
    assert cards.new_today == 4  # created today, whatever their status now
    assert cards.by_status["MERGED"] == 2
    monkeypatch.setattr(board, "CHIP_CAP", 1)
    assert board.stat_cards(session, now=now).by_status["MERGED"] == 2  # 1 + 1: "more than one"
    monkeypatch.undo()
    only_p = board.stat_cards(session, now=now, project_id=project.id)
    assert only_p.deployed_today == 0 and only_p.by_status["DEPLOYED"] == 0


def test_project_filter_pages_within_the_project(session):
    mine, other = make_project(session, "team/app"), make_project(session, "other")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = [make_bug(session, mine, seen=start + dt.timedelta(minutes=i)).id for i in range(7)]
    for i in range(5):
        make_bug(session, other, seen=start + dt.timedelta(minutes=i))
    session.commit()
    first = listing.list_page(session, filters=BugFilter(project="team/app"), page_size=4)
    second = listing.list_page(
        session, filters=BugFilter(project="team/app"), cursor=first.next_cursor, page_size=4
    )
    assert [b.id for b, _ in first.rows + second.rows] == ids[::-1]
    assert {slug for _, slug in first.rows + second.rows} == {"team/app"}
    assert (first.total, second.next_cursor) == (7, None)
    assert listing.list_page(session, filters=BugFilter(project="nobody")).rows == []


def test_keyset_pages_of_several_statuses_merge_in_order(session):
    project = make_project(session, "p")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    statuses = [BugStatus.NEW, BugStatus.FAILED, BugStatus.MERGED]
    bugs = [
        make_bug(session, project, status=statuses[i % 3], seen=start + dt.timedelta(minutes=(i * 7) % 11))
        for i in range(30)
    ]
    session.commit()
    wanted = sorted(
        (b for b in bugs if b.status in (BugStatus.NEW, BugStatus.FAILED)),
        key=lambda b: (b.last_seen, b.id),
        reverse=True,
    )
    for sort in ("-last_seen", "id"):
        seen, cursor = [], None
        while True:
            page = listing.list_page(
                session,
                filters=BugFilter(statuses=[BugStatus.NEW, BugStatus.FAILED]),
                sort=sort,
                cursor=cursor,
                page_size=4,
            )
            seen += [bug.id for bug, _ in page.rows]
            if (cursor := page.next_cursor) is None:
                break
        expected = [b.id for b in wanted] if sort == "-last_seen" else sorted(b.id for b in wanted)
        assert seen == expected, sort


def test_stat_cards_leave_out_ignored_and_merged_away_bugs_as_the_board_does(session):
    project = make_project(session, "p")
    now = dt.datetime(2026, 3, 1, 15, 0, tzinfo=dt.UTC)
    ignored = {"ignored_at": now, "ignored_by": "rev"}
    make_bug(session, project, seen=now)  # the one bug of each card the board lists
    make_bug(session, project, status=BugStatus.FIXING, seen=now)
    make_bug(session, project, status=BugStatus.PENDING_REVIEW, seen=now)
    make_bug(session, project, status=BugStatus.FAILED, seen=now)
    survivor = make_bug(session, project, status=BugStatus.MERGED, seen=now)
    for status in (BugStatus.NEW, BugStatus.FIXING, BugStatus.PENDING_REVIEW, BugStatus.FAILED):
        make_bug(session, project, status=status, seen=now, **ignored)
    make_bug(session, project, status=BugStatus.MERGED, seen=now, **ignored)
    make_bug(session, project, status=BugStatus.FAILED, seen=now, merged_into_id=survivor.id)
    session.commit()

    def cards(**kw):
        c = board.stat_cards(session, now=now, **kw)
        chip = c.by_status["FAILED"]
        return (c.new_today, c.fixing, c.pending_review, c.merged_today, c.failed_today, chip)

    # found today / fixing / pending review / merged today / failed today / the FAILED chip
    assert cards() == (5, 1, 1, 1, 1, 1)
    assert cards(project_id=project.id) == (5, 1, 1, 1, 1, 1)
    assert cards(ignored="only") == (5, 1, 1, 1, 1, 1)
    assert cards(ignored="include") == (10, 2, 2, 2, 2, 2)
    # What the board lists under the same filter, for comparison: the cards count those rows.
    listed = listing.list_page(session, filters=BugFilter(statuses=[BugStatus.FAILED]), page_size=50)
    assert listed.total == 1
