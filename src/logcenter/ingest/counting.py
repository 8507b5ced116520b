"""Counting: adding stored occurrences to their bugs' counters, and pruning occurrences past the retention.

`store_batch` (ingest/service.py) stores each report as an occurrence and puts it on a backlog table, so that
the request can be answered at once. Counting then adds the backlog to the bugs: occurrence count, first and
last seen, the latest report's values, hourly counts and tag values, and deletes each counted bug's
occurrences past the newest `retention`. It works on a `Tally` (per bug: how many, when, which values), built
one of two ways:

- in memory: the writer adds each batch it committed to its tally (`Tally.add`, from the reports it has in
  hand) and applies the tally every `count_interval` seconds. A bug, an hour or a tag value is then written
  once per interval however many reports it got, and nothing is read back (a burst of one bug is one UPDATE
  a second, as Sentry's buffered counters do).
- from the database (`count_pending`): the oldest rows of the backlog, read back. This counts what a writer
  that stopped or failed left behind: the backlog is a table, so a crash loses no count.

Either way `apply` takes the tally's rows off the backlog, in the same transaction as the counters, so each
report is counted exactly once, whichever writer (PostgreSQL may have several) gets to it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from logcenter.db import utcnow
from logcenter.ingest.report import Report
from logcenter.ingest.sql import LATEST_FIELDS, HotPath

TAGS_KEYS = ("environment", "version")

# Orders reports tallied in memory with the same timestamp: the later stored wins, as a higher id does.
_stored_order = itertools.count()


@dataclass(slots=True)
class BugTally:
    """One bug's share of the occurrences being counted."""

    n: int
    first: datetime
    latest_at: datetime
    latest_order: int  # the tie-break between occurrences of the same time: the later stored
    latest: Report | int  # the latest occurrence: its report (in memory), or its id (read back)
    hours: dict[datetime, int] = field(default_factory=dict)
    tags: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (key, value) -> [n, first, last]
    ids: list[int] = field(default_factory=list)  # its rows on the backlog


class Tally:
    """Stored occurrences not yet added to their bugs, per bug, in the order the bugs first came."""

    def __init__(self) -> None:
        self.bugs: dict[int, BugTally] = {}
        self.reports = 0

    def __len__(self) -> int:
        return self.reports

    def add(
        self,
        bug_id: int,
        at: datetime,
        environment: str | None,
        version: str | None,
        latest: Report | int,
        order: int | None = None,
    ) -> None:
        """One occurrence; `latest` is its report, or its id when `order` (the id again) says where it was
        stored."""
        if order is None:
            order = next(_stored_order)
        bug = self.bugs.get(bug_id)
        if bug is None:
            bug = self.bugs[bug_id] = BugTally(0, at, at, order, latest)
        elif (at, order) > (bug.latest_at, bug.latest_order):
            bug.latest_at, bug.latest_order, bug.latest = at, order, latest
        bug.n += 1
        if at < bug.first:
            bug.first = at
        hour = at.replace(minute=0, second=0, microsecond=0)
        bug.hours[hour] = bug.hours.get(hour, 0) + 1
        for key, value in zip(TAGS_KEYS, (environment, version), strict=True):
            if value:
                entry = bug.tags.get((key, value))
                if entry is None:
                    bug.tags[(key, value)] = [1, at, at]
                else:
                    entry[0] += 1
                    entry[1] = min(entry[1], at)
                    entry[2] = max(entry[2], at)
        self.reports += 1

    def add_ids(self, bug_id: int, ids: list[int]) -> None:
        """The backlog rows of this bug's occurrences added since the last call."""
        self.bugs[bug_id].ids += ids

    def take(self, limit: int) -> Tally:
        """Whole bugs, the longest waiting first, until at least one and then up to about `limit` reports."""
        part = Tally()
        for bug_id, bug in self.bugs.items():
            if part.reports and part.reports + bug.n > limit:
                break
            part.bugs[bug_id] = bug
            part.reports += bug.n
        for bug_id in part.bugs:
            del self.bugs[bug_id]
        self.reports -= part.reports
        return part


def latest_values(report: Report) -> tuple[Any, ...]:
    """A report's values of LATEST_FIELDS, as the bug keeps them."""
    values = {
        "message": report.message,
        "stack_trace": report.stack_trace,
        "level": report.level,
        "environment": report.environment,
        "version": report.version,
        "commit_hash": report.commit_hash,
        "context": report.context,
    }
    return tuple(values[f] for f in LATEST_FIELDS)


def count_pending(
    session: Session, *, retention: int, limit: int = 20_000, now: datetime | None = None
) -> int:
    """Add up to `limit` uncounted occurrences (the oldest) to their bugs, read back from the database, and
    prune those bugs past the newest `retention`. Returns how many were counted; the caller commits."""
    sql = HotPath(session.connection())
    ids = sql.take_uncounted(limit)
    _, over = apply(sql, _read_back(sql, ids), retention=retention, now=now or utcnow(), taken=True)
    sql.prune(list(over), keep=retention)
    return len(ids)


def count_ids(sql: HotPath, ids: list[int], *, retention: int, now: datetime) -> int:
    """Add these occurrences, already taken off the backlog, to the bugs they belong to now (a merge of
    duplicates moved them: triage/service.py), and prune those bugs; returns how many were counted."""
    counted, over = apply(sql, _read_back(sql, ids), retention=retention, now=now, taken=True)
    sql.prune(list(over), keep=retention)
    return counted


def apply(
    sql: HotPath, tally: Tally, *, retention: int, now: datetime, taken: bool = False
) -> tuple[int, dict[int, int]]:
    """Add `tally` to its bugs. Returns how many reports it counted, and the bugs it took past the
    `retention` with about how many occurrences each should lose (`HotPath.prune`: the caller prunes them,
    at once or in parts).

    Unless `taken` (read back from the backlog, which took them off), the tally's rows are taken off the
    backlog here. One another writer took first (PostgreSQL: one counting what a stopped writer left) is
    counted there, not here: the tally is then read back from the rows this call did take.
    """
    if not tally.bugs:
        return 0, {}
    if not taken:
        ids = [i for bug in tally.bugs.values() for i in bug.ids]
        got = sql.take_uncounted_ids(ids)
        if len(got) != len(ids):
            tally = _read_back(sql, got)
    # A bug deleted since its occurrences were stored took them (and their backlog rows) with it.
    counts, merged = sql.lock_counts(list(tally.bugs))
    if merged:
        # A merge of duplicates (triage/service.py) moved some of these occurrences to the bug that absorbed
        # theirs since they were tallied (a PostgreSQL writer counting them while the merge ran): count them
        # where they are now.
        tally = _read_back(sql, [i for t in tally.bugs.values() for i in t.ids])
        counts, _ = sql.lock_counts(list(tally.bugs))
    bugs = sorted(b for b in tally.bugs if b in counts)
    stored = sql.latest_values([t.latest for t in tally.bugs.values() if isinstance(t.latest, int)])
    stamp = sql.ts(now)
    update, hourly, tags = [], [], []
    for b in bugs:
        t = tally.bugs[b]
        latest = stored[t.latest] if isinstance(t.latest, int) else latest_values(t.latest)
        update.append((t.n, sql.ts(t.first), sql.ts(t.latest_at), latest, stamp, b))
        hourly += [(b, sql.ts(hour), n) for hour, n in t.hours.items()]
        tags += [(b, k, v, n, sql.ts(fs), sql.ts(ls)) for (k, v), (n, fs, ls) in t.tags.items()]
    sql.update_bugs(update)
    sql.upsert_hourly(hourly)
    sql.upsert_tags(tags)
    over = {
        b: min(n, counts[b] + n - retention) for b in bugs if counts[b] + (n := tally.bugs[b].n) > retention
    }
    return tally.reports, over


def _read_back(sql: HotPath, ids: list[int]) -> Tally:
    """The tally of these occurrences, from their stored rows."""
    tally = Tally()
    for occurrence_id, bug_id, at, environment, version in sql.occurrence_facts(ids):
        tally.add(bug_id, at, environment, version, occurrence_id, order=occurrence_id)
        tally.bugs[bug_id].ids.append(occurrence_id)
    return tally
