"""Store a batch of reports in one transaction: the write half of the ingest hot path.

Called by the group-commit writer (ingest/writer.py), which owns the transaction. Per batch, a fixed number of
statements regardless of its size: select the batch's bugs, insert the new ones, bump counters, insert
occurrences, upsert hourly counts and tag values, prune old occurrences; only regressions go through the ORM.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, select, text, update
from sqlalchemy.orm import Session

from logcenter.bugs import workflow
from logcenter.bugs.models import Bug, BugHourlyCount, BugStatus, BugTagValue, Occurrence
from logcenter.bugs.regression import Ancestry, is_regression
from logcenter.db import upsert_insert, utcnow
from logcenter.ingest.report import IngestResult, Report
from logcenter.projects import service as projects_service

ACTOR = "ingest"
BUGS = Bug.__table__
OCCURRENCES = Occurrence.__table__
TAGS_KEYS = ("environment", "version")

_PRUNE = text(
    "DELETE FROM occurrences WHERE bug_id = :bug_id AND id < ("
    " SELECT id FROM occurrences WHERE bug_id = :bug_id ORDER BY id DESC LIMIT 1 OFFSET :keep)"
)


@dataclass(slots=True)
class _Group:
    """The reports of one batch that share a bug."""

    project_id: int
    fingerprint: str
    indexes: list[int] = field(default_factory=list)
    bug: Any = None  # row of the existing bug, None when this batch creates it
    bug_id: int = 0
    created: bool = False
    status: str = BugStatus.NEW


def store_batch(
    session: Session,
    reports: list[Report],
    *,
    retention: int,
    ancestry: Ancestry | None = None,
    now: datetime | None = None,
) -> list[IngestResult]:
    """Count, store and group `reports`; returns one result per report, in order. The caller commits."""
    now = now or utcnow()
    project_ids = _project_ids(session, reports)
    dup_in_db, dup_in_batch = _duplicate_events(session, reports, project_ids)

    groups: dict[tuple[int, str], _Group] = {}
    for i, report in enumerate(reports):
        if i in dup_in_db or i in dup_in_batch:
            continue
        key = (project_ids[i], report.fingerprint)
        groups.setdefault(key, _Group(*key)).indexes.append(i)

    _load_bugs(session, groups)
    _insert_new_bugs(session, reports, groups, now)
    _update_existing_bugs(session, reports, groups, now)
    _insert_occurrences(session, reports, groups, project_ids, now)
    _upsert_counts(session, reports, groups)
    _reopen_regressions(session, reports, groups, ancestry, now)
    _prune(session, groups, retention)

    by_index: dict[int, _Group] = {i: g for g in groups.values() for i in g.indexes}
    stored_status = (
        dict(session.execute(select(Bug.id, Bug.status).where(Bug.id.in_(set(dup_in_db.values())))).all())
        if dup_in_db
        else {}
    )
    results: list[IngestResult] = []
    for i in range(len(reports)):
        if i in dup_in_db:
            bug_id = dup_in_db[i]
            results.append(IngestResult(bug_id, created=False, status=stored_status[bug_id], duplicate=True))
        elif i in dup_in_batch:
            group = by_index[dup_in_batch[i]]
            results.append(IngestResult(group.bug_id, created=False, status=group.status, duplicate=True))
        else:
            group = by_index[i]
            created = group.created and i == group.indexes[0]
            results.append(IngestResult(group.bug_id, created=created, status=group.status))
    return results


def _project_ids(session: Session, reports: list[Report]) -> list[int]:
    wanted: dict[str, str | None] = {}
    for r in reports:
        if r.project_pk is None and not wanted.get(r.project_slug):
            wanted[r.project_slug] = r.repo_url
    resolved = projects_service.resolve_for_ingest(session, wanted) if wanted else {}
    return [r.project_pk if r.project_pk is not None else resolved[r.project_slug].id for r in reports]


def _duplicate_events(
    session: Session, reports: list[Report], project_ids: list[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """Reports whose (project, event_id) was seen before: index → stored bug id, and index → earlier index."""
    keyed = [(i, project_ids[i], r.event_id) for i, r in enumerate(reports) if r.event_id]
    if not keyed:
        return {}, {}
    rows = session.execute(
        select(Occurrence.project_id, Occurrence.event_id, Occurrence.bug_id).where(
            Occurrence.event_id.in_({e for _, _, e in keyed})
        )
    )
    stored: dict[tuple[int, str | None], int] = {(p, e): b for p, e, b in rows}
    first: dict[tuple[int, str | None], int] = {}
    in_db: dict[int, int] = {}
    in_batch: dict[int, int] = {}
    for i, project_id, event_id in keyed:
        key = (project_id, event_id)
        if key in stored:
            in_db[i] = stored[key]
        elif key in first:
            in_batch[i] = first[key]
        else:
            first[key] = i
    return in_db, in_batch


def _load_bugs(session: Session, groups: dict[tuple[int, str], _Group]) -> None:
    if not groups:
        return
    # Row locks in id order (PostgreSQL; SQLite's writer already holds the database lock) keep concurrent
    # writers from changing a bug between this read and the regression check, without deadlocking.
    rows = session.execute(
        select(
            Bug.id,
            Bug.project_id,
            Bug.fingerprint,
            Bug.status,
            Bug.occurrence_count,
            Bug.first_seen,
            Bug.last_seen,
            Bug.merge_commit_sha,
            Bug.merged_at,
            Bug.deployed_commit,
            Bug.deployed_version,
        )
        .where(Bug.fingerprint.in_({fp for _, fp in groups}))
        .order_by(Bug.id)
        .with_for_update()
    )
    for row in rows:
        group = groups.get((row.project_id, row.fingerprint))
        if group is not None:
            group.bug, group.bug_id, group.status = row, row.id, row.status


def _span(reports: list[Report], indexes: list[int]) -> tuple[datetime, datetime, Report]:
    stamps = [reports[i].timestamp for i in indexes]
    latest = max(indexes, key=lambda i: reports[i].timestamp)
    return min(stamps), max(stamps), reports[latest]


def _latest_fields(report: Report) -> dict[str, Any]:
    return {
        "message": report.message,
        "stack_trace": report.stack_trace,
        "level": report.level,
        "environment": report.environment,
        "version": report.version,
        "commit_hash": report.commit_hash,
        "context": report.context,
    }


def _insert_new_bugs(
    session: Session, reports: list[Report], groups: dict[tuple[int, str], _Group], now: datetime
) -> None:
    new = sorted((g for g in groups.values() if g.bug is None), key=lambda g: (g.project_id, g.fingerprint))
    if not new:
        return
    rows = []
    for g in new:
        first_seen, last_seen, latest = _span(reports, g.indexes)
        first = reports[g.indexes[0]]
        rows.append(
            {
                "project_id": g.project_id,
                "fingerprint": g.fingerprint,
                "source": first.source,
                "error_type": first.error_type,
                "file_path": first.file_path,
                "line_number": first.line_number,
                **_latest_fields(latest),
                "status": BugStatus.NEW,
                "status_changed_at": now,
                "occurrence_count": len(g.indexes),
                "first_seen": first_seen,
                "last_seen": last_seen,
                "created_at": now,
                "updated_at": now,
            }
        )
    stmt = (
        upsert_insert(session, Bug)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["project_id", "fingerprint"])
        .returning(Bug.id, Bug.project_id, Bug.fingerprint)
    )
    created_ids = []
    for bug_id, project_id, fp in session.execute(stmt):
        group = groups[(project_id, fp)]
        group.bug_id, group.created = bug_id, True
        created_ids.append(bug_id)
    workflow.record_created(session, created_ids, actor=ACTOR, now=now)
    lost = {k: g for k, g in groups.items() if g.bug is None and not g.created}
    if lost:  # another writer (a PostgreSQL replica) created these bugs since we looked: join them instead
        _load_bugs(session, lost)


def _update_existing_bugs(
    session: Session, reports: list[Report], groups: dict[tuple[int, str], _Group], now: datetime
) -> None:
    newer, older = [], []
    for g in groups.values():
        if g.created:
            continue
        first_seen, last_seen, latest = _span(reports, g.indexes)
        params = {"b_id": g.bug_id, "n": len(g.indexes), "fs": first_seen, "ls": last_seen, "now": now}
        if last_seen >= g.bug.last_seen:
            newer.append({**params, **{f"v_{k}": v for k, v in _latest_fields(latest).items()}})
        else:
            older.append(params)
    counters = {
        "occurrence_count": BUGS.c.occurrence_count + bindparam("n"),
        "first_seen": case((BUGS.c.first_seen > bindparam("fs"), bindparam("fs")), else_=BUGS.c.first_seen),
        "last_seen": case((BUGS.c.last_seen < bindparam("ls"), bindparam("ls")), else_=BUGS.c.last_seen),
        "updated_at": bindparam("now"),
    }
    conn = session.connection()
    if newer:
        latest_values = {k: bindparam(f"v_{k}", type_=BUGS.c[k].type) for k in _latest_fields(reports[0])}
        conn.execute(
            update(BUGS).where(BUGS.c.id == bindparam("b_id")).values(**counters, **latest_values), newer
        )
    if older:
        conn.execute(update(BUGS).where(BUGS.c.id == bindparam("b_id")).values(**counters), older)


def _insert_occurrences(
    session: Session,
    reports: list[Report],
    groups: dict[tuple[int, str], _Group],
    project_ids: list[int],
    now: datetime,
) -> None:
    rows = [
        {
            "bug_id": g.bug_id,
            "project_id": project_ids[i],
            "event_id": r.event_id,
            "timestamp": r.timestamp,
            "received_at": now,
            "environment": r.environment,
            "level": r.level,
            "version": r.version,
            "commit_hash": r.commit_hash,
            "message": r.message,
            "stack_trace": r.stack_trace,
            "context": r.context,
            "data": r.data,
        }
        for g in groups.values()
        for i in g.indexes
        for r in (reports[i],)
    ]
    if rows:
        session.connection().execute(OCCURRENCES.insert(), rows)


def _upsert_counts(session: Session, reports: list[Report], groups: dict[tuple[int, str], _Group]) -> None:
    hourly: dict[tuple[int, datetime], int] = defaultdict(int)
    tags: dict[tuple[int, str, str], list[Any]] = {}
    for g in groups.values():
        for i in g.indexes:
            r = reports[i]
            hourly[(g.bug_id, r.timestamp.replace(minute=0, second=0, microsecond=0))] += 1
            for key in TAGS_KEYS:
                value = getattr(r, key)
                if value:
                    entry = tags.setdefault((g.bug_id, key, value), [0, r.timestamp, r.timestamp])
                    entry[0] += 1
                    entry[1] = min(entry[1], r.timestamp)
                    entry[2] = max(entry[2], r.timestamp)
    conn = session.connection()
    if hourly:
        stmt = upsert_insert(session, BugHourlyCount)
        stmt = stmt.on_conflict_do_update(
            index_elements=["bug_id", "hour"], set_={"count": BugHourlyCount.count + stmt.excluded.count}
        )
        conn.execute(stmt, [{"bug_id": b, "hour": h, "count": n} for (b, h), n in hourly.items()])
    if tags:
        stmt = upsert_insert(session, BugTagValue)
        table = BugTagValue.__table__
        stmt = stmt.on_conflict_do_update(
            index_elements=["bug_id", "key", "value"],
            set_={
                "count": table.c.count + stmt.excluded["count"],
                "first_seen": case(
                    (table.c.first_seen > stmt.excluded.first_seen, stmt.excluded.first_seen),
                    else_=table.c.first_seen,
                ),
                "last_seen": case(
                    (table.c.last_seen < stmt.excluded.last_seen, stmt.excluded.last_seen),
                    else_=table.c.last_seen,
                ),
            },
        )
        conn.execute(
            stmt,
            [
                {"bug_id": b, "key": k, "value": v, "count": n, "first_seen": fs, "last_seen": ls}
                for (b, k, v), (n, fs, ls) in tags.items()
            ],
        )


def _reopen_regressions(
    session: Session,
    reports: list[Report],
    groups: dict[tuple[int, str], _Group],
    ancestry: Ancestry | None,
    now: datetime,
) -> None:
    for g in groups.values():
        if g.bug is None or g.bug.status not in (BugStatus.DEPLOYED, BugStatus.MERGED):
            continue
        trigger = next(
            (
                reports[i]
                for i in g.indexes
                if is_regression(
                    g.bug,
                    commit_hash=reports[i].commit_hash,
                    version=reports[i].version,
                    timestamp=reports[i].timestamp,
                    ancestry=ancestry,
                )
            ),
            None,
        )
        if trigger is None:
            continue
        bug = session.get_one(Bug, g.bug_id, populate_existing=True)
        where = ", ".join(
            f"{k} {v}" for k, v in (("version", trigger.version), ("commit", trigger.commit_hash)) if v
        )
        note = f"regression: seen again after the fix was {g.bug.status.lower()}" + (
            f" ({where})" if where else ""
        )
        workflow.transition(session, bug, BugStatus.NEW, actor=ACTOR, note=note, kind="regression", now=now)
        g.status = BugStatus.NEW
    session.flush()


def _prune(session: Session, groups: dict[tuple[int, str], _Group], retention: int) -> None:
    over = [
        {"bug_id": g.bug_id, "keep": retention - 1}
        for g in groups.values()
        if (0 if g.created else g.bug.occurrence_count) + len(g.indexes) > retention
    ]
    if over:
        session.connection().execute(_PRUNE, over)
