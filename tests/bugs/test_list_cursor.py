"""GET /api/v1/bugs by cursor: every matching bug once, in the list's order, under every sort; a cursor that
is not one of this list's is a 422 naming it; the total is exact up to a cap and says when it is capped."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from logcenter.bugs import board
from logcenter.bugs.models import Bug, BugStatus
from tests.factories import make_bug, make_project

S = BugStatus
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SORTS = ["last_seen", "first_seen", "occurrence_count", "id", "status", "status_changed_at"]
STATUSES = [S.NEW, S.FAILED, S.MERGED, S.NEW, S.DEPLOYED, S.FAILED, S.NEW]


@pytest.fixture
def many(session) -> list[Bug]:
    """23 listed bugs whose sort columns tie in pairs or threes (ties cross page boundaries), and two that
    are never listed: one merged into another, one ignored."""
    shop, blog = make_project(session, "shop"), make_project(session, "blog")
    bugs = [
        make_bug(
            session,
            (shop, blog)[i % 2],
            status=STATUSES[i % len(STATUSES)],
            seen=T0 + dt.timedelta(minutes=i // 2),
            first_seen=T0 - dt.timedelta(hours=i // 3),
            status_changed_at=T0 + dt.timedelta(seconds=(i * 7) % 5),
            occurrence_count=i % 4,
        )
        for i in range(23)
    ]
    make_bug(session, shop, seen=T0, merged_into_id=bugs[0].id)
    make_bug(session, shop, seen=T0, ignored_at=T0, ignored_by="admin")
    session.commit()
    return bugs


def expected(bugs: list[Bug], sort: str, statuses: list[str] | None = None) -> list[int]:
    """The list's order: the sort column, then the newest bug first in both directions (id: by id alone)."""
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    chosen = [b for b in bugs if not statuses or b.status in statuses]
    if key == "id":
        return sorted((b.id for b in chosen), reverse=descending)
    by_id = sorted(chosen, key=lambda b: b.id, reverse=True)
    return [b.id for b in sorted(by_id, key=lambda b: getattr(b, key), reverse=descending)]


def walk(client, headers, **params: Any) -> tuple[list[int], int]:
    """Every page by next_cursor; also checks each page's Link header against its next_cursor."""
    seen, cursor, pages = [], None, 0
    while True:
        response = client.get("/api/v1/bugs", headers=headers, params={**params, "cursor": cursor})
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [b["id"] for b in body["bugs"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in response.headers
            return seen, pages
        assert response.headers["link"].endswith(f'cursor={cursor}>; rel="next"')
        assert len(body["bugs"]) == params["page_size"]


@pytest.mark.parametrize("sort", SORTS + [f"-{s}" for s in SORTS])
def test_cursor_pages_walk_every_bug_once_in_order(client, admin_headers, many, sort):
    seen, pages = walk(client, admin_headers, sort=sort, page_size=4)
    assert seen == expected(many, sort)
    assert pages == 6  # 23 bugs by 4
    # Several statuses (read per status and merged where an index orders them), and one.
    for statuses in (["NEW", "FAILED"], ["MERGED"]):
        seen, _ = walk(client, admin_headers, sort=sort, page_size=3, status=",".join(statuses))
        assert seen == expected(many, sort, statuses), statuses
    # The offset pages list the same order.
    offset = [
        b["id"]
        for page in (1, 2, 3)
        for b in client.get(
            "/api/v1/bugs", headers=admin_headers, params={"sort": sort, "page_size": 10, "page": page}
        ).json()["bugs"]
    ]
    assert offset == expected(many, sort)


def test_the_link_header_asks_for_the_next_page_with_the_same_filters(client, admin_headers, many):
    first = client.get(
        "/api/v1/bugs",
        headers=admin_headers,
        params=[("status", "NEW"), ("status", "FAILED"), ("project_id", "shop"), ("page_size", "2")],
    )
    link = first.headers["link"]
    assert link.startswith("<http://testserver/api/v1/bugs?") and link.endswith('>; rel="next"')
    following = client.get(link[1 : link.index(">")], headers=admin_headers).json()
    wanted = [b.id for b in many if b.status in ("NEW", "FAILED") and b.project_id == many[0].project_id]
    assert [b["id"] for b in first.json()["bugs"] + following["bugs"]] == sorted(
        wanted, key=lambda i: next(b.last_seen for b in many if b.id == i), reverse=True
    )[:4]


def test_an_offset_page_gives_a_cursor_that_continues_it(client, admin_headers, many):
    second = client.get("/api/v1/bugs", headers=admin_headers, params={"page": 2, "page_size": 5}).json()
    third = client.get(
        "/api/v1/bugs", headers=admin_headers, params={"cursor": second["next_cursor"], "page_size": 5}
    ).json()
    assert [b["id"] for b in second["bugs"] + third["bugs"]] == expected(many, "-last_seen")[5:15]
    assert third["page"] == 1


def _errors(response) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    return response.json()["errors"]


def encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        encoded([]),
        encoded({"a": 1}),
        encoded(["-last_seen", 1, 2]),  # not a date
        encoded(["-last_seen", "2026-01-01T00:00:00", 1]),  # a date without a time zone
        encoded(["-last_seen", "2026-01-01T00:00:00+00:00", True]),
        encoded(["-last_seen", "2026-01-01T00:00:00+00:00", 10**21]),
        encoded(["-last_seen", "2026-01-01T00:00:00+00:00", "1"]),
        encoded(["-last_seen", "0001-01-01T00:00:00+14:00", 1]),  # before year 1 in UTC
        encoded(["-last_seen", "9999-12-31T23:59:59-14:00", 1]),
    ],
)
def test_a_garbage_cursor_is_a_422_naming_it(client, admin_headers, many, cursor):
    response = client.get("/api/v1/bugs", headers=admin_headers, params={"cursor": cursor})
    [error] = _errors(response)
    assert error["field"] == "cursor" and "next_cursor" in error["message"]


def test_a_cursor_of_another_sort_or_with_a_page_is_a_422(client, admin_headers, many):
    cursor = client.get("/api/v1/bugs", headers=admin_headers, params={"page_size": 2}).json()["next_cursor"]
    assert _errors(
        client.get("/api/v1/bugs", headers=admin_headers, params={"cursor": cursor, "sort": "last_seen"})
    ) == [
        {
            "field": "cursor",
            "message": "made for sort=-last_seen, not sort=last_seen: start again without a cursor",
        }
    ]
    assert _errors(
        client.get("/api/v1/bugs", headers=admin_headers, params={"cursor": cursor, "page": 2})
    ) == [{"field": "cursor", "message": "give either a cursor or a page, not both"}]
    fraction = client.get(
        "/api/v1/bugs",
        headers=admin_headers,
        params={"cursor": encoded(["-occurrence_count", 1.5, 1]), "sort": "-occurrence_count"},
    )
    assert [e["field"] for e in _errors(fraction)] == ["cursor"]
    too_long = client.get("/api/v1/bugs", headers=admin_headers, params={"cursor": "a" * 501})
    assert [e["field"] for e in _errors(too_long)] == ["cursor"]


def test_a_cursor_outlives_a_change_of_its_bug(client, session, admin_headers, many):
    """A cursor holds its position, not the bug: the bug seen again (moved to the top) loses nothing."""
    first = client.get("/api/v1/bugs", headers=admin_headers, params={"page_size": 5}).json()
    moved = session.get(Bug, first["bugs"][-1]["id"])
    moved.last_seen = T0 + dt.timedelta(days=1)
    session.commit()
    cursor, rest = first["next_cursor"], []
    while cursor:
        body = client.get(
            "/api/v1/bugs", headers=admin_headers, params={"page_size": 5, "cursor": cursor}
        ).json()
        rest += [b["id"] for b in body["bugs"]]
        cursor = body["next_cursor"]
    assert rest == expected(many, "-last_seen")[5:]


def test_the_total_is_exact_up_to_the_cap_and_says_when_capped(client, admin_headers, many, monkeypatch):
    body = client.get("/api/v1/bugs", headers=admin_headers, params={"page_size": 2}).json()
    assert (body["total"], body["total_capped"]) == (23, False)
    monkeypatch.setattr(board, "COUNT_CAP", 10)
    for params in (
        {},
        {"status": "NEW,FAILED"},
        {"page": 2, "page_size": 5},
        {"cursor": body["next_cursor"]},
    ):
        body_capped = client.get("/api/v1/bugs", headers=admin_headers, params=params).json()
        assert (body_capped["total"], body_capped["total_capped"]) == (10, True), params
    merged = client.get("/api/v1/bugs", headers=admin_headers, params={"status": "MERGED"}).json()
    assert (merged["total"], merged["total_capped"]) == (3, False)
    # With a text search the cap is SEARCH_COUNT_CAP.
    monkeypatch.setattr(board, "SEARCH_COUNT_CAP", 4)
    searched = client.get("/api/v1/bugs", headers=admin_headers, params={"q": "bug number"}).json()
    assert (searched["total"], searched["total_capped"]) == (4, True)
    assert len(searched["bugs"]) == 23
