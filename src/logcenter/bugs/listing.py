"""Bug lists (`GET /api/v1/bugs`, the web board's list): keyset pages by an opaque cursor, a capped total.

Offset paging and an exact total cost a read of every match (271-387 ms on SQLite at 100,000 bugs,
bench/web.py). As Sentry and GitHub do, a page instead ends with a cursor on (sort column, id) of its last
bug, and the next page starts right after it: one index range, however deep. The total is exact up to
`board.COUNT_CAP` (1,000 with a text search), above which it says so (`total_capped`). Offset pages (`page`)
still work as before, with the same capped total.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Select, and_, or_, select, union_all
from sqlalchemy.orm import Session

from logcenter.bugs import board
from logcenter.bugs.models import Bug, BugStatus
from logcenter.bugs.service import IGNORED, SORTS, BugFilter, searched
from logcenter.errors import ValidationFailed
from logcenter.projects.models import Project

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
_DATES = ("last_seen", "first_seen", "status_changed_at")
# Sorts an index orders within one status ((status, last_seen, id, ...), (status, status_changed_at),
# (status, first_seen, id), (status, occurrence_count, id); and the status itself, whose ties go by id):
# several statuses are read as one ordered range each, merged, rather than every match sorted.
_PER_STATUS = ("last_seen", "status_changed_at", "status", "first_seen", "occurrence_count")
# Of those, the sorts with no index of their own without the status: a list of every status is read as the
# six statuses' ranges, merged (last_seen has (last_seen, id); the status index is in status order).
_EVERY_STATUS = ("status_changed_at", "first_seen", "occurrence_count")
# Sorts with an index of their own (with status, or alone): the page reads it rather than merged_into_id's,
# whose equality SQLite's planner prefers (`_filtered`'s `ordered`). The others: `merged_into_id IS NULL` on
# its index lists bugs in id order, which `id` and `status` (ties by id) want.
_INDEXED = ("last_seen", "status_changed_at", "first_seen", "occurrence_count")
_BIGGEST = 2**63 - 1


def encode_cursor(bug: Bug, sort: str) -> str:
    """The opaque cursor after `bug` in a list sorted by `sort`: the sort, its column's value and the id."""
    value = getattr(bug, sort.removeprefix("-"))
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([sort, value, bug.id])).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """The (value, id) a cursor of this sort holds; 422 naming `cursor` for anything else."""
    try:
        made_for, value, bug_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise _bad_cursor("not a cursor of this list: use the next_cursor of a page as it is") from exc
    if made_for != sort:
        made = str(made_for)[:40]
        raise _bad_cursor(f"made for sort={made}, not sort={sort}: start again without a cursor")
    key = sort.removeprefix("-")
    try:
        if not _an_int(bug_id):
            raise ValueError(bug_id)
        if key in _DATES:
            value = dt.datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError(value)
            value = value.astimezone(dt.UTC)  # OverflowError past year 1 or 9999 in UTC
        elif key == "status":
            if not isinstance(value, str) or len(value) > 40:
                raise ValueError(value)
        elif not _an_int(value):
            raise ValueError(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _bad_cursor("not a cursor of this list: use the next_cursor of a page as it is") from exc
    return value, bug_id


def _an_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -_BIGGEST <= value <= _BIGGEST


def _bad_cursor(message: str) -> ValidationFailed:
    return ValidationFailed([{"field": "cursor", "message": message}])


def list_page(
    session: Session,
    *,
    filters: BugFilter,
    sort: str = "-last_seen",
    cursor: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> board.Page:
    """One page of the bugs matching `filters`: after `cursor` (keyset), or the `page`-th (offset); the order
    is the sort column, then the newest bug first (in both directions, as this list always had it)."""
    if filters.ignored not in IGNORED:
        raise ValidationFailed([{"field": "ignored", "message": f"expected one of {', '.join(IGNORED)}"}])
    key = sort.removeprefix("-")
    if key not in SORTS:
        raise ValidationFailed(
            [{"field": "sort", "message": f"expected one of {', '.join(SORTS)} (prefix - for descending)"}]
        )
    if cursor and page > 1:
        raise _bad_cursor("give either a cursor or a page, not both")
    column, descending = SORTS[key], sort.startswith("-")
    if key == "id":
        order: list[Any] = [Bug.id.desc() if descending else Bug.id.asc()]
    else:
        order = [column.desc() if descending else column.asc(), Bug.id.desc()]
    after = _after(decode_cursor(cursor, sort), column, key, descending) if cursor else None
    filters = searched(session, filters)
    offset = (page - 1) * page_size

    def ordered(query: Q, one: BugFilter) -> Q:
        query = board._where(session, query, one, ordered=key in _INDEXED)
        return query.where(after) if after is not None else query

    query = select(Bug, Project.slug).join(Project, Project.id == Bug.project_id)
    statuses = filters.statuses or (list(BugStatus) if key in _EVERY_STATUS else [])
    if len(statuses) > 1 and key in _PER_STATUS:
        # The first rows of each status, from its own ordered index range, then merged: for `status IN
        # (...) ORDER BY last_seen` no single range exists, and the databases would sort every match.
        firsts = [
            select(sub.c.id).select_from(sub)
            for sub in (
                ordered(select(Bug.id), board._one_status(filters, status))
                .order_by(*order)
                .limit(offset + page_size + 1)
                .subquery()
                for status in dict.fromkeys(statuses)
            )
        ]
        query = query.where(Bug.id.in_(union_all(*firsts)))
    else:
        query = ordered(query, filters)
    found = session.execute(query.order_by(*order).limit(page_size + 1).offset(offset))
    rows = [(bug, slug) for bug, slug in found]
    more = len(rows) > page_size
    rows = rows[:page_size]
    total, capped = board.count(session, filters=filters)
    return board.Page(
        rows=rows,
        next_cursor=encode_cursor(rows[-1][0], sort) if more else None,
        total=total,
        total_capped=capped,
    )


def _after(position: tuple[Any, int], column: Any, key: str, descending: bool) -> ColumnElement[bool]:
    """The bugs that come after `position` (value, id) in the order: a range of the sort column's index
    (`>=` / `<=`), and within its first value the older bugs (ties go newest first in both directions)."""
    value, bug_id = position
    if key == "id":
        return Bug.id < bug_id if descending else Bug.id > bug_id
    if descending:
        return and_(column <= value, or_(column < value, Bug.id < bug_id))
    return and_(column >= value, or_(column > value, Bug.id < bug_id))
