"""The write half of the ingest hot path, in two steps that each run in their own transactions.

- `store_batch` stores a batch of reports: select the batch's bugs, insert the new ones, insert the
  occurrences and put them on the backlog of uncounted occurrences, reopen regressions. When it has
  committed, every report is durable and has its bug; the request can be answered. A bug it creates is
  counted at once (rare, and a new bug should not show zero occurrences).
- `count_pending` takes the backlog and adds it to the bugs: occurrence count, first and last seen, the
  latest report's values, hourly counts and tag values; then prunes occurrences past the retention.

Called by the group-commit writer (ingest/writer.py), which owns the transactions and counts every
`count_interval` seconds (default 1; 0 counts each batch before answering it). Counting a second's reports
at once touches each bug, hour and tag value once per second rather than once per report, and deletes old
occurrences that lie together, where counting each batch rewrote ~10 database pages per report
(bench/README.md). The backlog is a table: what a crash leaves uncounted is counted when the writer starts.

Each step is a fixed number of statements whatever the batch size (ingest/sql.py). Only regressions, which
are rare, go through the ORM and the workflow.
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


def store_batch(
    session: Session,
    reports: list[Report],
    *,
    retention: int,
    ancestry: Ancestry | None = None,
    now: datetime | None = None,
    projects: dict[str, IngestProject] | None = None,
) -> list[IngestResult]:
    """Store and group `reports`; returns one result per report, in order. The caller commits, and counts
    them later (`count_pending`), except those of bugs this batch creates: a new bug is whole at once.

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
    _insert_occurrences(sql, reports, groups, project_ids, now)
    new_bugs = [g.bug_id for g in groups.values() if g.created]
    if new_bugs:
        _count(sql, sql.take_uncounted_of(new_bugs), retention=retention, now=now)
    _reopen_regressions(session, reports, groups, ancestry, now)

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
    for bug_id, project_id, fingerprint, status in sql.lock_bugs(set(groups)):
        group = groups.get((project_id, fingerprint))
        if group is not None:
            group.bug_id, group.status = bug_id, status


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
        stamps = [reports[i].timestamp for i in g.indexes]
        latest = reports[max(g.indexes, key=lambda i: reports[i].timestamp)]
        first = reports[g.indexes[0]]
        # Counted from zero by store_batch once its occurrences are in.
        rows.append((
            g.project_id, g.fingerprint, first.source, first.error_type, first.file_path, first.line_number,
            *_latest_values(latest), BugStatus.NEW.value, at, 0, sql.ts(min(stamps)), sql.ts(max(stamps)),
            at, at,
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


@dataclass(slots=True)
class _Tally:
    """One bug's share of the occurrences being counted."""

    first: datetime
    # (timestamp, id) of the latest occurrence, the later stored on a tie: the bug shows its values
    latest: tuple[datetime, int]
    n: int = 0


def count_pending(
    session: Session, *, retention: int, limit: int = 20_000, now: datetime | None = None
) -> int:
    """Add up to `limit` uncounted occurrences (the oldest) to their bugs, and prune those bugs' occurrences
    past the newest `retention`. Returns how many were counted; the caller commits."""
    sql = HotPath(session.connection())
    ids = sql.take_uncounted(limit)
    _count(sql, ids, retention=retention, now=now or utcnow())
    return len(ids)


def _count(sql: HotPath, ids: list[int], *, retention: int, now: datetime) -> None:
    """Add these occurrences, just taken off the backlog, to their bugs; prune those bugs."""
    if not ids:
        return
    tallies: dict[int, _Tally] = {}
    hourly: dict[tuple[int, datetime], int] = defaultdict(int)
    tags: dict[tuple[int, str, str], list[Any]] = {}
    for occurrence_id, bug_id, at, environment, version in sql.occurrence_facts(ids):
        tally = tallies.get(bug_id)
        if tally is None:
            tally = tallies[bug_id] = _Tally(at, (at, occurrence_id))
        tally.n += 1
        tally.first = min(tally.first, at)
        tally.latest = max(tally.latest, (at, occurrence_id))
        hourly[(bug_id, at.replace(minute=0, second=0, microsecond=0))] += 1
        for key, value in zip(TAGS_KEYS, (environment, version), strict=True):
            if value:
                entry = tags.setdefault((bug_id, key, value), [0, at, at])
                entry[0] += 1
                entry[1] = min(entry[1], at)
                entry[2] = max(entry[2], at)

    # A bug deleted since its occurrences were stored took them (and their backlog rows) with it.
    counts = sql.lock_counts(list(tallies))
    bugs = sorted(b for b in tallies if b in counts)
    latest = sql.latest_values([tallies[b].latest[1] for b in bugs])
    stamp = sql.ts(now)
    sql.update_bugs([
        (t.n, sql.ts(t.first), sql.ts(t.latest[0]), latest[t.latest[1]], stamp, b)
        for b in bugs
        for t in (tallies[b],)
    ])  # fmt: skip
    sql.upsert_hourly([(b, sql.ts(h), n) for (b, h), n in hourly.items() if b in counts])
    sql.upsert_tags([
        (b, k, v, n, sql.ts(fs), sql.ts(ls)) for (b, k, v), (n, fs, ls) in tags.items() if b in counts
    ])  # fmt: skip
    sql.prune([b for b in bugs if counts[b] + tallies[b].n > retention], keep=retention)
