"""The write half of the ingest hot path: `store_batch` stores a batch of reports in one transaction.

Once it has committed, every report is durable and has its bug, and the request can be answered. Counting
the reports into their bugs comes later (ingest/counting.py), except for the bugs the batch created: a new
bug should not show zero occurrences. Each step is a fixed number of statements whatever the batch size
(ingest/sql.py); only regressions, which are rare, go through the ORM and the workflow.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from logcenter.bugs import ancestry, history, regression, workflow
from logcenter.bugs.models import Bug, BugStatus, BugTagValue, Occurrence
from logcenter.bugs.regression import contains_fix
from logcenter.db import utcnow
from logcenter.errors import RateLimited
from logcenter.ingest import counting
from logcenter.ingest.counting import Tally, latest_values
from logcenter.ingest.events import DEDUP_WINDOW, RecentEvents
from logcenter.ingest.quota import ProjectQuota, over_quota
from logcenter.ingest.report import IngestResult, Outcome, Report
from logcenter.ingest.sql import BatchSQL
from logcenter.projects import service as projects_service
from logcenter.projects.service import IngestProject

ACTOR = "ingest"
FIXED = (BugStatus.DEPLOYED, BugStatus.MERGED)


@dataclass(slots=True)
class _Group:  # the reports of one batch that share a bug
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
    now: datetime | None = None,
    projects: dict[str, IngestProject] | None = None,
    tally: Tally | None = None,
    events: RecentEvents | None = None,
    quota: ProjectQuota | None = None,
) -> list[Outcome]:
    """Store and group `reports`; returns one outcome per report, in order. The caller commits.

    The writer passes its state, which it must drop (or roll back) if the transaction fails: its `tally` to
    count from memory (else counting reads the backlog), its cache of `projects` by slug, its memory of
    recent `events` ids (else read from the database), and the `quota`, which refuses Sentry events past it
    (429; a repeated event is never refused).
    """
    now = now or utcnow()
    sql = BatchSQL(session.connection())
    project_ids = _project_ids(session, reports, projects if projects is not None else {})
    if events is None:
        events = RecentEvents(DEDUP_WINDOW)
    sentry = [(i, project_ids[i], r.event_id) for i, r in enumerate(reports) if r.event_id]
    if sentry:
        events.load(sql)  # once per writer, and only if Sentry events come
    dup_in_db, dup_in_batch = events.repeats(sentry)
    refused: dict[int, RateLimited] = {}
    if quota is not None and quota.per_minute:
        for i, project_id, _ in sentry:
            if reports[i].project_pk is None or i in dup_in_db:  # REST (no quota), or a retry: never refused
                continue
            first = dup_in_batch.get(i)
            if first is not None:  # the same event earlier in the batch: counted there, answered as it is
                if first in refused:
                    refused[i] = refused[first]
            elif (retry_after := quota.hit(project_id)) is not None:
                refused[i] = over_quota(reports[i].project_slug, retry_after)

    groups: dict[tuple[int, str], _Group] = {}
    for i, report in enumerate(reports):
        if i in dup_in_db or i in dup_in_batch or i in refused:
            continue
        key = (project_ids[i], report.fingerprint)
        groups.setdefault(key, _Group(*key)).indexes.append(i)

    _load_bugs(sql, groups)
    _insert_new_bugs(sql, reports, groups, now)
    new = _insert_occurrences(sql, reports, groups, project_ids, now, tally)
    events.stage(sql, [(g.project_id, e, g.bug_id, g.created and i == g.indexes[0])
                       for g in groups.values() for i in g.indexes
                       if (e := reports[i].event_id)])  # fmt: skip
    if new:
        _, over = counting.apply(sql, new, retention=retention, now=now)
        sql.prune(list(over), keep=retention)
    _reopen_regressions(session, reports, groups, now)

    by_index: dict[int, _Group] = {i: g for g in groups.values() for i in g.indexes}
    stored_status = sql.statuses({bug for bug, _ in dup_in_db.values()}) if dup_in_db else {}
    results: list[Outcome] = []
    for i in range(len(reports)):
        if i in refused:
            results.append(refused[i])
        elif i in dup_in_db:
            bug_id, created = dup_in_db[i]
            # Its bug may have been deleted since (recent_event_ids has no foreign key): acknowledged anyway.
            status = stored_status.get(bug_id, BugStatus.NEW)
            results.append(IngestResult(bug_id, created=created, status=status, duplicate=True))
        else:  # a repeat of an event earlier in the batch is answered as that one, as a duplicate
            first = dup_in_batch.get(i, i)
            group = by_index[first]
            created = group.created and first == group.indexes[0]
            results.append(IngestResult(group.bug_id, created, group.status, duplicate=first != i))
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


def _load_bugs(sql: BatchSQL, groups: dict[tuple[int, str], _Group]) -> None:
    """Fill in the groups whose bug exists already."""
    if not groups:
        return
    redirected: list[tuple[_Group, int]] = []
    for bug_id, project_id, fingerprint, status, merged_into in sql.lock_bugs(set(groups)):
        group = groups.get((project_id, fingerprint))
        if group is not None:
            group.bug_id, group.status = bug_id, status
            if merged_into is not None:
                redirected.append((group, merged_into))
    if redirected:
        _redirect(sql, groups, redirected)


def _redirect(
    sql: BatchSQL, groups: dict[tuple[int, str], _Group], redirected: list[tuple[_Group, int]]
) -> None:
    """Reports of a duplicate merged into another bug (triage/service.py `absorb`) go to that bug: one more
    query, only for batches that have such reports. Groups that end up on one bug become one group."""
    survivors = sql.lock_survivors({to for _, to in redirected})
    by_bug = {g.bug_id: g for g in groups.values() if g.bug_id}
    for group, to in redirected:
        status = survivors.get(to)
        if status is None:  # not expected (bugs go only with their project): keep the bug itself
            continue
        group.bug_id, group.status = to, status
        into = by_bug.setdefault(to, group)
        if into is not group:
            into.indexes = sorted(into.indexes + group.indexes)
            del groups[(group.project_id, group.fingerprint)]


def _insert_new_bugs(
    sql: BatchSQL, reports: list[Report], groups: dict[tuple[int, str], _Group], now: datetime
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
            *latest_values(latest), BugStatus.NEW.value, at, 0, sql.ts(min(stamps)), sql.ts(max(stamps)),
            at, at,
        ))  # fmt: skip
    created_ids = []
    for bug_id, project_id, fingerprint in sql.insert_bugs(rows):
        group = groups[(project_id, fingerprint)]
        group.bug_id, group.created = bug_id, True
        created_ids.append(bug_id)
    sql.insert_events([history.created_event(i, actor=ACTOR, now=now) for i in created_ids])
    lost = {k: g for k, g in groups.items() if not g.bug_id}
    if lost:  # another writer (a PostgreSQL replica) created these bugs since we looked: join them instead
        _load_bugs(sql, lost)


def _insert_occurrences(
    sql: BatchSQL,
    reports: list[Report],
    groups: dict[tuple[int, str], _Group],
    project_ids: list[int],
    now: datetime,
    tally: Tally | None,
) -> Tally:
    """Insert the groups' occurrences and add those of existing bugs to `tally`; returns the tally of the
    new bugs' occurrences."""
    at = sql.ts(now)
    ids = sql.insert_occurrences([
        (g.bug_id, project_ids[i], r.event_id, sql.ts(r.timestamp), at, r.environment, r.level, r.version,
         r.commit_hash, r.message, r.stack_trace, r.context, r.data)
        for g in groups.values()
        for i in g.indexes
        for r in (reports[i],)
    ])  # fmt: skip
    by_bug: dict[int, list[int]] = defaultdict(list)
    for occurrence_id, bug_id in ids:
        by_bug[bug_id].append(occurrence_id)
    new = Tally()
    for g in groups.values():
        into = new if g.created else tally
        if into is None:
            continue
        for i in g.indexes:
            r = reports[i]
            into.add(g.bug_id, r.timestamp, r.environment, r.version, r)
        into.bugs[g.bug_id].ids += by_bug[g.bug_id]
    return new


def _reopen_regressions(
    session: Session,
    reports: list[Report],
    groups: dict[tuple[int, str], _Group],
    now: datetime,
) -> None:
    for g in groups.values():
        if g.created or g.status not in FIXED:
            continue
        bug = session.get_one(Bug, g.bug_id, populate_existing=True)
        labelled = any(reports[i].version or reports[i].commit_hash for i in g.indexes)
        before_fix = _labels_before_fix(session, bug) if labelled else set()
        checks = ancestry.Checks(session, bug)
        trigger: tuple[str | None, str | None] | None = None  # the version and commit of the report
        for i in g.indexes:
            r = reports[i]
            known = contains_fix(
                bug,
                commit_hash=r.commit_hash,
                version=r.version,
                timestamp=r.timestamp,
                before_fix=before_fix,
            )
            # A commit that equality cannot place: the forge can (a job asks it, bugs/ancestry.py).
            commit = regression.commit_of(r.commit_hash, r.version) if known is None else None
            if commit is not None and checks.can_ask():
                if not checks.predates(commit):
                    checks.want(commit, version=r.version, commit_hash=r.commit_hash)
                    continue
                known = False
            if regression.reopens(bug.status, known):
                trigger = (r.version, r.commit_hash)
                break
        # Too many checks pending for this bug: decided as without a forge.
        if trigger is None and checks.wanted and not checks.enqueue() and bug.status == BugStatus.DEPLOYED:
            trigger = next(iter(checks.wanted.values()))
        if trigger is None:
            continue
        note = regression.note(g.status, version=trigger[0], commit=trigger[1])
        workflow.reopen(session, bug, actor=ACTOR, note=note, now=now)
        g.status = BugStatus.NEW
    session.flush()


def _labels_before_fix(session: Session, bug: Bug) -> set[str]:
    """The versions and commits this fixed bug was reported from before its fix was merged (its version
    counts, and the commits of the occurrences kept): only for reports of fixed bugs, which are rare."""
    if bug.merged_at is None:
        return set()
    versions = select(BugTagValue.value).where(
        BugTagValue.bug_id == bug.id, BugTagValue.key == "version", BugTagValue.first_seen < bug.merged_at
    )
    commits = select(Occurrence.commit_hash).where(
        Occurrence.bug_id == bug.id, Occurrence.commit_hash.is_not(None), Occurrence.timestamp < bug.merged_at
    )
    return {*session.scalars(versions), *session.scalars(commits.distinct())}
