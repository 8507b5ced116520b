"""Triage: ignore a bug (forever, for a while, until it recurs N more times), assign it, merge duplicates.

The fields and history rows are set by triage/moves.py; this module finds the bugs, ends ignoring
whose condition was met (the `triage.unignore` job, so the ingest hot path never looks at ignoring), and
moves an absorbed bug's data to the bug that absorbs it: occurrences, counters, hourly counts and tag
values. The absorbed bug's row stays, so its fingerprint keeps its unique slot and the ingest writer routes
its reports to the survivor (ingest/service.py `_load_bugs`).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Integer, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from logcenter.bugs.models import Bug, BugHourlyCount, BugTagValue, Occurrence
from logcenter.bugs.service import BugFilter, _filtered, get_bug, searched
from logcenter.db import utcnow
from logcenter.errors import Conflict, NotFound, ValidationFailed
from logcenter.ingest import counting
from logcenter.ingest.models import RecentEventId, UncountedOccurrence
from logcenter.ingest.sql import LATEST_FIELDS, BatchSQL
from logcenter.triage import moves

SYSTEM = "system"
MAX_ABSORB = 100  # bugs merged into one at once (AbsorbIn.bug_ids)
MAX_COUNT = 2**31 - 1  # occurrence counts are 32-bit INTEGER columns


def ignore(
    session: Session,
    bug_id: int,
    *,
    actor: str,
    until: datetime | None = None,
    occurrences: int | None = None,
    note: str | None = None,
) -> Bug:
    """Ignore a bug; it comes back when `until` passes or after `occurrences` more reports."""
    if until is not None and until <= utcnow():
        raise ValidationFailed([{"field": "until", "message": "the end of ignoring must be in the future"}])
    bug = get_bug(session, bug_id, for_update=True)
    moves.ignore(session, bug, actor=actor, until=until, occurrences=occurrences, note=note)
    if bug.ignore_until_count is not None:
        bug.ignore_until_count = min(bug.ignore_until_count, MAX_COUNT)
    session.flush()
    return bug


def unignore(session: Session, bug_id: int, *, actor: str, note: str | None = None) -> Bug:
    """Stop ignoring a bug now."""
    bug = get_bug(session, bug_id, for_update=True)
    moves.unignore(session, bug, actor=actor, note=note)
    session.flush()
    return bug


def assign(session: Session, bug_id: int, *, actor: str, assignee: str | None) -> Bug:
    """Set (or clear, with None) who is responsible for a bug."""
    bug = get_bug(session, bug_id, for_update=True)
    moves.assign(session, bug, actor=actor, assignee=assignee)
    session.flush()
    return bug


def unignore_due(session: Session, *, now: datetime | None = None) -> int:
    """End ignoring of every bug whose period ended or that recurred its N times; returns how many."""
    now = now or utcnow()
    due = or_(Bug.ignore_until <= now, Bug.occurrence_count >= Bug.ignore_until_count)
    bugs = session.scalars(
        select(Bug).where(Bug.ignored_at.is_not(None), due).order_by(Bug.id).with_for_update(skip_locked=True)
    ).all()
    for bug in bugs:
        if bug.ignore_until_count is not None and bug.occurrence_count >= bug.ignore_until_count:
            times = bug.occurrence_count - (bug.ignore_start_count or 0)
            why = f"recurred {times} time{'s' if times != 1 else ''} since it was ignored"
        else:
            why = "ignore period ended"
        moves.unignore(session, bug, actor=SYSTEM, note=why, now=now)
    session.flush()
    return len(bugs)


def absorb(session: Session, survivor_id: int, bug_ids: list[int], *, actor: str, retention: int) -> Bug:
    """Merge the bugs `bug_ids` into `survivor_id`: their occurrences, counts, first/last seen, hourly
    counts and tag values move to it, and their fingerprints report to it from now on."""
    ids = sorted({survivor_id, *bug_ids})
    # Locked in id order, as the ingest writer locks bugs: a concurrent batch waits, then sees the redirect.
    locked = {
        b.id: b
        for b in session.scalars(select(Bug).where(Bug.id.in_(ids)).order_by(Bug.id).with_for_update())
    }
    missing = [i for i in ids if i not in locked]
    if missing:
        raise NotFound(f"Bug {missing[0]} not found")
    survivor = locked[survivor_id]
    others = [locked[i] for i in sorted(set(bug_ids))]  # the survivor among them: 422 from the workflow
    moves.absorb(session, survivor, others, actor=actor)
    before = survivor.occurrence_count
    _add_counters(survivor, others)
    session.flush()
    other_ids = [b.id for b in others]
    taken = _take_uncounted(session, other_ids)
    session.execute(update(Occurrence).where(Occurrence.bug_id.in_(other_ids)).values(bug_id=survivor.id))
    _move_hourly(session, survivor.id, other_ids)
    _move_tags(session, survivor.id, other_ids)
    # A repeated Sentry event of an absorbed bug is answered with the survivor (a writer's memory of recent
    # ids may still say the old bug until it restarts: it only echoes an id, the bug is still found).
    session.execute(
        update(RecentEventId).where(RecentEventId.bug_id.in_(other_ids)).values(bug_id=survivor.id)
    )
    # Bugs merged into the absorbed ones earlier now point at the survivor: routing stays one step.
    session.execute(update(Bug).where(Bug.merged_into_id.in_(other_ids)).values(merged_into_id=survivor.id))
    sql = BatchSQL(session.connection())
    if taken:
        counting.count_ids(sql, taken, retention=retention, now=utcnow())
    sql.prune([survivor.id], keep=retention)
    session.refresh(survivor)
    if survivor.ignore_until_count is not None:
        # The duplicates' reports are not recurrences since the survivor was ignored: its threshold moves.
        added = survivor.occurrence_count - before
        survivor.ignore_start_count = (survivor.ignore_start_count or 0) + added
        survivor.ignore_until_count = min(MAX_COUNT, survivor.ignore_until_count + added)
        session.flush()
    return survivor


def merge_candidates(session: Session, bug_id: int, *, text: str | None = None, limit: int = 10) -> list[Bug]:
    """Bugs `bug_id` could be merged into: of its project, not merged away, matching `text` (type, message
    or file, or an id: "42", "#42"), the one with that id first, then the most recently seen."""
    bug = get_bug(session, bug_id)
    text = (text or "").strip() or None
    found: list[Bug] = []
    if text and re.fullmatch(r"#?\d{1,10}", text):
        named = session.get(Bug, int(text.lstrip("#")))
        if named and named.id != bug.id and named.project_id == bug.project_id and not named.merged_into_id:
            found.append(named)
    query = _filtered(
        select(Bug).where(Bug.project_id == bug.project_id, Bug.id != bug.id),
        searched(session, BugFilter(text=text, ignored="include")),
    )
    for other in session.scalars(query.order_by(Bug.last_seen.desc(), Bug.id.desc()).limit(limit)):
        if other not in found:
            found.append(other)
    return found[:limit]


def merge_group(session: Session, bug_ids: list[int]) -> list[Bug]:
    """Bugs chosen to be merged into one of them (the board's selection), most occurrences first (the
    default survivor, as Sentry's merge keeps the issue seen most): all of one project, none merged away."""
    ids = sorted(set(bug_ids))
    if len(ids) < 2:
        raise ValidationFailed([{"field": "bug_ids", "message": "choose at least two bugs to merge"}])
    if len(ids) > MAX_ABSORB + 1:
        raise ValidationFailed([{"field": "bug_ids", "message": f"at most {MAX_ABSORB + 1} bugs at once"}])
    bugs = {b.id: b for b in session.scalars(select(Bug).where(Bug.id.in_(ids)))}
    missing = [i for i in ids if i not in bugs]
    if missing:
        raise NotFound(f"Bug {missing[0]} not found")
    first = bugs[ids[0]]
    others = [b for b in bugs.values() if b.project_id != first.project_id]
    if others:
        message = f"bug {others[0].id} belongs to another project than bug {first.id}"
        raise ValidationFailed([{"field": "bug_ids", "message": message}])
    for b in bugs.values():
        if b.merged_into_id is not None:
            raise Conflict(f"Bug {b.id} was merged into bug {b.merged_into_id} already")
    return sorted(bugs.values(), key=lambda b: (-b.occurrence_count, b.id))


def _add_counters(survivor: Bug, others: list[Bug]) -> None:
    """The absorbed bugs' counted occurrences, first and last seen, and the latest report's values."""
    for b in others:
        survivor.occurrence_count = min(MAX_COUNT, survivor.occurrence_count + b.occurrence_count)
        survivor.first_seen = min(survivor.first_seen, b.first_seen)
        if b.last_seen > survivor.last_seen:
            survivor.last_seen = b.last_seen
            for name in LATEST_FIELDS:
                setattr(survivor, name, getattr(b, name))


def _take_uncounted(session: Session, bug_ids: list[int]) -> list[int]:
    """Take the absorbed bugs' not yet counted occurrences off the backlog, to count them on the survivor.

    The writer that stored them would otherwise count them on the absorbed bug: it finds them gone and counts
    only what it could take (ingest/counting.py `apply`). SKIP LOCKED (PostgreSQL): rows a writer is counting
    right now are left to it, rather than waited for while holding the bugs it wants to lock next.
    """
    pick = select(UncountedOccurrence.occurrence_id).where(
        UncountedOccurrence.occurrence_id.in_(select(Occurrence.id).where(Occurrence.bug_id.in_(bug_ids)))
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        delete(UncountedOccurrence)
        .where(UncountedOccurrence.occurrence_id.in_(pick))
        .returning(UncountedOccurrence.occurrence_id)
    )
    return sorted(session.scalars(stmt))


def _insert(
    session: Session, table: type[BugHourlyCount] | type[BugTagValue]
) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _move_hourly(session: Session, survivor_id: int, bug_ids: list[int]) -> None:
    """Add the absorbed bugs' hourly counts to the survivor's (one row per hour, summed) and drop theirs."""
    h = BugHourlyCount
    rows = (
        select(literal(survivor_id, Integer), h.hour, func.sum(h.count))
        .where(h.bug_id.in_(bug_ids))
        .group_by(h.hour)
    )
    stmt = _insert(session, BugHourlyCount).from_select(["bug_id", "hour", "count"], rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["bug_id", "hour"], set_={"count": h.count + stmt.excluded.count}
        )
    )
    session.execute(delete(h).where(h.bug_id.in_(bug_ids)))


def _move_tags(session: Session, survivor_id: int, bug_ids: list[int]) -> None:
    """Add the absorbed bugs' tag value counts to the survivor's, with the earliest first and latest last
    seen, and drop theirs."""
    t = BugTagValue
    rows = (
        select(
            literal(survivor_id, Integer),
            t.key,
            t.value,
            func.sum(t.count),
            func.min(t.first_seen),
            func.max(t.last_seen),
        )
        .where(t.bug_id.in_(bug_ids))
        .group_by(t.key, t.value)
    )
    columns = ["bug_id", "key", "value", "count", "first_seen", "last_seen"]
    stmt = _insert(session, BugTagValue).from_select(columns, rows)
    ex = stmt.excluded
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["bug_id", "key", "value"],
            set_={
                "count": t.count + ex.count,
                "first_seen": case((t.first_seen > ex.first_seen, ex.first_seen), else_=t.first_seen),
                "last_seen": case((t.last_seen < ex.last_seen, ex.last_seen), else_=t.last_seen),
            },
        )
    )
    session.execute(delete(t).where(t.bug_id.in_(bug_ids)))
