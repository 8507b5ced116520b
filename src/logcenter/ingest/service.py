"""Store a batch of reports in one transaction: the write half of the ingest hot path.

Called by the group-commit writer (ingest/writer.py), which owns the transaction. Per batch, a fixed number
of statements regardless of its size (ingest/sql.py): select the batch's bugs, insert the new ones, bump
counters, insert occurrences, upsert hourly counts and tag values, prune old occurrences. Only regressions,
which are rare, go through the ORM and the workflow.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from logcenter.bugs import workflow
from logcenter.bugs.models import Bug, BugStatus
from logcenter.bugs.regression import Ancestry, is_regression
from logcenter.db import utcnow
from logcenter.ingest.report import IngestResult, Report
from logcenter.ingest.sql import LATEST_FIELDS, HotPath, dumps
from logcenter.projects import service as projects_service
from logcenter.projects.service import IngestProject

ACTOR = "ingest"
TAGS_KEYS = ("environment", "version")
FIXED = (BugStatus.DEPLOYED, BugStatus.MERGED)


@dataclass(slots=True)
class _Group:
    """The reports of one batch that share a bug."""

    project_id: int
    fingerprint: str
    indexes: list[int] = field(default_factory=list)
    bug_id: int = 0
    created: bool = False
    status: str = BugStatus.NEW
    previous_count: int = 0


def store_batch(
    session: Session,
    reports: list[Report],
    *,
    retention: int,
    ancestry: Ancestry | None = None,
    now: datetime | None = None,
    projects: dict[str, IngestProject] | None = None,
) -> list[IngestResult]:
    """Count, store and group `reports`; returns one result per report, in order. The caller commits.

    `projects` is the writer's cache of resolved project slugs; it must be dropped when a batch fails.
    """
    now = now or utcnow()
    sql = HotPath(session.connection())
    project_ids = _project_ids(session, reports, projects if projects is not None else {})
    dup_in_db, dup_in_batch = _duplicate_events(sql, reports, project_ids)

    groups: dict[tuple[int, str], _Group] = {}
    for i, report in enumerate(reports):
        if i in dup_in_db or i in dup_in_batch:
            continue
        key = (project_ids[i], report.fingerprint)
        groups.setdefault(key, _Group(*key)).indexes.append(i)

    _load_bugs(sql, groups)
    _insert_new_bugs(sql, reports, groups, now)
    _update_existing_bugs(sql, reports, groups, now)
    _insert_occurrences(sql, reports, groups, project_ids, now)
    _upsert_counts(sql, reports, groups)
    _reopen_regressions(session, reports, groups, ancestry, now)
    sql.prune(
        [g.bug_id for g in groups.values() if g.previous_count + len(g.indexes) > retention], keep=retention
    )

    by_index: dict[int, _Group] = {i: g for g in groups.values() for i in g.indexes}
    stored_status = sql.statuses(set(dup_in_db.values())) if dup_in_db else {}
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


def _project_ids(session: Session, reports: list[Report], cache: dict[str, IngestProject]) -> list[int]:
    wanted: dict[str, str | None] = {}
    for r in reports:
        if r.project_pk is not None:
            continue
        known = cache.get(r.project_slug)
        # A cached project is enough unless this report could fill in its missing repo_url.
        stale = known is None or (r.repo_url and not known.has_repo_url)
        if stale and not wanted.get(r.project_slug):
            wanted[r.project_slug] = r.repo_url
    if wanted:
        cache.update(projects_service.resolve_for_ingest(session, wanted))
    return [r.project_pk if r.project_pk is not None else cache[r.project_slug].id for r in reports]


def _duplicate_events(
    sql: HotPath, reports: list[Report], project_ids: list[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """Reports whose (project, event_id) was seen before: index → stored bug id, and index → earlier index."""
    keyed = [(i, project_ids[i], r.event_id) for i, r in enumerate(reports) if r.event_id]
    if not keyed:
        return {}, {}
    stored = {(p, e): b for p, e, b in sql.duplicate_events({(p, e) for _, p, e in keyed if e})}
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


def _load_bugs(sql: HotPath, groups: dict[tuple[int, str], _Group]) -> None:
    """Fill in the groups whose bug exists already."""
    if not groups:
        return
    for bug_id, project_id, fingerprint, status, count in sql.lock_bugs(set(groups)):
        group = groups.get((project_id, fingerprint))
        if group is not None:
            group.bug_id, group.status, group.previous_count = bug_id, status, count


def _span(reports: list[Report], indexes: list[int]) -> tuple[datetime, datetime, Report]:
    stamps = [reports[i].timestamp for i in indexes]
    latest = max(indexes, key=lambda i: reports[i].timestamp)
    return min(stamps), max(stamps), reports[latest]


def _latest_values(report: Report) -> tuple[Any, ...]:
    values = {
        "message": report.message,
        "stack_trace": report.stack_trace,
        "level": report.level,
        "environment": report.environment,
        "version": report.version,
        "commit_hash": report.commit_hash,
        "context": dumps(report.context),
    }
    return tuple(values[f] for f in LATEST_FIELDS)


def _insert_new_bugs(
    sql: HotPath, reports: list[Report], groups: dict[tuple[int, str], _Group], now: datetime
) -> None:
    new = sorted((g for g in groups.values() if not g.bug_id), key=lambda g: (g.project_id, g.fingerprint))
    if not new:
        return
    at = sql.ts(now)
    rows = []
    for g in new:
        first_seen, last_seen, latest = _span(reports, g.indexes)
        first = reports[g.indexes[0]]
        rows.append((
            g.project_id, g.fingerprint, first.source, first.error_type, first.file_path, first.line_number,
            *_latest_values(latest), BugStatus.NEW.value, at, len(g.indexes), sql.ts(first_seen),
            sql.ts(last_seen), at, at,
        ))  # fmt: skip
    created_ids = []
    for bug_id, project_id, fingerprint in sql.insert_bugs(rows):
        group = groups[(project_id, fingerprint)]
        group.bug_id, group.created = bug_id, True
        created_ids.append(bug_id)
    sql.insert_events([workflow.created_event(i, actor=ACTOR, now=now) for i in created_ids])
    lost = {k: g for k, g in groups.items() if not g.bug_id}
    if lost:  # another writer (a PostgreSQL replica) created these bugs since we looked: join them instead
        _load_bugs(sql, lost)


def _update_existing_bugs(
    sql: HotPath, reports: list[Report], groups: dict[tuple[int, str], _Group], now: datetime
) -> None:
    at = sql.ts(now)
    rows = []
    for g in groups.values():
        if g.created:
            continue
        first_seen, last_seen, latest = _span(reports, g.indexes)
        rows.append((len(g.indexes), sql.ts(first_seen), sql.ts(last_seen), _latest_values(latest), at,
                     g.bug_id))  # fmt: skip
    sql.update_bugs(rows)


def _insert_occurrences(
    sql: HotPath,
    reports: list[Report],
    groups: dict[tuple[int, str], _Group],
    project_ids: list[int],
    now: datetime,
) -> None:
    at = sql.ts(now)
    sql.insert_occurrences([
        (g.bug_id, project_ids[i], r.event_id, sql.ts(r.timestamp), at, r.environment, r.level, r.version,
         r.commit_hash, r.message, r.stack_trace, dumps(r.context), dumps(r.data))
        for g in groups.values()
        for i in g.indexes
        for r in (reports[i],)
    ])  # fmt: skip


def _upsert_counts(sql: HotPath, reports: list[Report], groups: dict[tuple[int, str], _Group]) -> None:
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
    sql.upsert_hourly([(b, sql.ts(h), n) for (b, h), n in hourly.items()])
    sql.upsert_tags([(b, k, v, n, sql.ts(fs), sql.ts(ls)) for (b, k, v), (n, fs, ls) in tags.items()])


def _reopen_regressions(
    session: Session,
    reports: list[Report],
    groups: dict[tuple[int, str], _Group],
    ancestry: Ancestry | None,
    now: datetime,
) -> None:
    for g in groups.values():
        if g.created or g.status not in FIXED:
            continue
        bug = session.get_one(Bug, g.bug_id, populate_existing=True)
        trigger = next(
            (
                reports[i]
                for i in g.indexes
                if is_regression(
                    bug,
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
        where = ", ".join(
            f"{k} {v}" for k, v in (("version", trigger.version), ("commit", trigger.commit_hash)) if v
        )
        note = f"regression: seen again after the fix was {g.status.lower()}" + (
            f" ({where})" if where else ""
        )
        workflow.transition(session, bug, BugStatus.NEW, actor=ACTOR, note=note, kind="regression", now=now)
        g.status = BugStatus.NEW
    session.flush()
