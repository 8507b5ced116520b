"""The job table's operations: enqueue (in the caller's transaction), claim by lease, and the outcomes.

Claiming marks jobs `running` for one worker until `locked_until`, in one statement: on PostgreSQL an
UPDATE of rows picked with `FOR UPDATE SKIP LOCKED` (concurrent claimers pass over each other's rows instead
of waiting), on SQLite one atomic `UPDATE ... RETURNING` (SQLite lets one transaction write at a time). A job
whose worker died stays `running` until its lease runs out; then any worker claims it again, as another
attempt. Outcomes are written only by the worker that still holds the job: one whose lease was lost and
reclaimed meanwhile changes nothing.

Every time comes from the caller (`now`), so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, delete, event, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from logcenter.db import upsert_insert, utcnow
from logcenter.jobs.models import QUEUED_ONLY, Job, JobState
from logcenter.jobs.registry import HANDLERS

DEFAULT_MAX_ATTEMPTS = 5
MAX_ERROR_CHARS = 4000

# Set after a transaction that enqueued a job commits: a worker in this process wakes at once rather than at
# its next poll. Workers in other processes find the job by polling.
wakeup = threading.Event()


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # including this one
    max_attempts: int


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    delay: float | timedelta = 0,
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
    now: datetime | None = None,
) -> int:
    """Queue a job in the session's transaction (it runs only if that commits); returns its id.

    With `dedupe_key`, at most one job of that key is queued: while one waits, enqueueing another returns
    the waiting one's id. (A job of the key that is already running does not count: it may have read the
    state the new job must see.)
    """
    now = now or utcnow()
    if isinstance(delay, timedelta):
        delay = delay.total_seconds()
    payload = payload or {}
    if max_attempts is None:
        registered = HANDLERS.get(kind)
        max_attempts = registered.max_attempts if registered is not None else None
    orjson.dumps(payload)  # not JSON: fail here, at the caller, not in the worker
    values = {
        "kind": kind,
        "payload": payload,
        "state": JobState.QUEUED,
        "attempts": 0,
        "max_attempts": max_attempts or DEFAULT_MAX_ATTEMPTS,
        "run_after": run_after or now + timedelta(seconds=delay),
        "dedupe_key": dedupe_key,
        "created_at": now,
    }
    _wake_after_commit(session)
    if dedupe_key is None:
        return int(session.execute(insert(Job).values(**values).returning(Job.id)).scalar_one())
    statement = (
        upsert_insert(session, Job)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=QUEUED_ONLY)
        .returning(Job.id)
    )
    job_id = session.execute(statement).scalar()
    if job_id is None:  # one is queued already
        job_id = session.execute(
            select(Job.id).where(Job.dedupe_key == dedupe_key, Job.state == JobState.QUEUED)
        ).scalar_one()
    return int(job_id)


def enqueue_many(
    session: Session,
    kind: str,
    payloads: list[dict[str, Any]],
    *,
    max_attempts: int | None = None,
    now: datetime | None = None,
) -> int:
    """Queue one job per payload in one statement (no dedupe key): for callers that queue hundreds at once,
    such as the notification dispatcher (one job per message). Returns how many."""
    if not payloads:
        return 0
    now = now or utcnow()
    if max_attempts is None:
        registered = HANDLERS.get(kind)
        max_attempts = registered.max_attempts if registered is not None else None
    for payload in payloads:
        orjson.dumps(payload)
    common = {
        "kind": kind,
        "state": JobState.QUEUED,
        "attempts": 0,
        "max_attempts": max_attempts or DEFAULT_MAX_ATTEMPTS,
        "run_after": now,
        "created_at": now,
    }
    _wake_after_commit(session)
    session.execute(insert(Job), [{**common, "payload": payload} for payload in payloads])
    return len(payloads)


def _wake_after_commit(session: Session) -> None:
    if not event.contains(session, "after_commit", _wake):
        event.listen(session, "after_commit", _wake)


def _wake(_session: Session) -> None:
    wakeup.set()


def _due(now: datetime) -> Any:
    return or_(
        and_(Job.state == JobState.QUEUED, Job.run_after <= now),
        and_(Job.state == JobState.RUNNING, Job.locked_until < now),
    )


def any_due(session: Session, *, kinds: Collection[str], now: datetime) -> bool:
    """A read-only look: is there a job to claim? (An idle worker's poll takes no write lock.)"""
    return session.scalar(select(Job.id).where(_due(now), Job.kind.in_(kinds)).limit(1)) is not None


def claim(
    session: Session,
    *,
    worker: str,
    kinds: Collection[str],
    lease: timedelta,
    now: datetime,
    limit: int = 1,
) -> list[ClaimedJob]:
    """Take up to `limit` due jobs of `kinds` (queued and due, or running with an expired lease) for
    `worker` until now + lease. Concurrent claimers never get the same job."""
    _fail_abandoned(session, kinds=kinds, now=now)
    picked = select(Job.id).where(_due(now), Job.kind.in_(kinds)).order_by(Job.run_after, Job.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    rows = session.execute(
        update(Job)
        .where(Job.id.in_(picked.scalar_subquery()))
        .values(
            state=JobState.RUNNING,
            locked_by=worker,
            locked_until=now + lease,
            attempts=Job.attempts + 1,
            started_at=now,
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((ClaimedJob(*row) for row in rows), key=lambda j: j.id)


def _fail_abandoned(session: Session, *, kinds: Collection[str], now: datetime) -> None:
    """A job whose lease ran out on its last attempt: its worker died running it (each time). Running it
    again could kill the next worker too."""
    session.execute(
        update(Job)
        .where(
            Job.state == JobState.RUNNING,
            Job.locked_until < now,
            Job.attempts >= Job.max_attempts,
            Job.kind.in_(kinds),
        )
        .values(
            state=JobState.FAILED,
            last_error=Job.locked_by.concat(" stopped and its lease ran out on the last attempt"),
            locked_by=None,
            locked_until=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _held(job_id: int, worker: str) -> Any:
    return and_(Job.id == job_id, Job.state == JobState.RUNNING, Job.locked_by == worker)


def extend_lease(session: Session, job_id: int, *, worker: str, until: datetime) -> bool:
    """A long job's heartbeat; False when the worker no longer holds the job."""
    result = session.execute(update(Job).where(_held(job_id, worker)).values(locked_until=until))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def complete(session: Session, job_id: int, *, worker: str, now: datetime) -> bool:
    """The handler returned: done. False when the lease was lost meanwhile (another worker has the job)."""
    result = session.execute(
        update(Job)
        .where(_held(job_id, worker))
        .values(state=JobState.DONE, locked_by=None, locked_until=None, last_error=None, finished_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before the next attempt after `attempts` failed ones: base, 2·base, 4·base, ... up to cap."""
    return float(min(cap, base * 2 ** max(attempts - 1, 0)))


def record_failure(
    session: Session,
    job: ClaimedJob,
    *,
    worker: str,
    error: str,
    now: datetime,
    retry_in: float | None,
) -> JobState | None:
    """The handler raised: queue the next attempt after `retry_in` seconds, or fail the job for good when
    `retry_in` is None or no attempt is left. Returns the new state (None: the lease was lost).

    A job whose dedupe key has been queued again meanwhile is not retried: the queued one does its work."""
    error = error[:MAX_ERROR_CHARS]
    finished = {"state": JobState.FAILED, "finished_at": now, "locked_by": None, "locked_until": None}
    if retry_in is not None and job.attempts < job.max_attempts:
        retried = {
            "state": JobState.QUEUED,
            "run_after": now + timedelta(seconds=retry_in),
            "locked_by": None,
            "locked_until": None,
        }
        try:
            with session.begin_nested():
                held = update(Job).where(_held(job.id, worker))
                result = session.execute(held.values(**retried, last_error=error))
            return JobState.QUEUED if result.rowcount else None  # type: ignore[attr-defined]
        except IntegrityError:  # another job of the same dedupe key is queued
            finished = {**finished, "state": JobState.DONE}
            error = f"{error} (not retried: a job of the same key is queued)"
    result = session.execute(update(Job).where(_held(job.id, worker)).values(**finished, last_error=error))
    return finished["state"] if result.rowcount else None  # type: ignore[attr-defined, return-value]


def periodic_missing(session: Session, keys: Collection[str]) -> set[str]:
    """Which of these dedupe keys has no job queued or running (a read: no write lock when all are)."""
    present = session.scalars(
        select(Job.dedupe_key).where(
            Job.dedupe_key.in_(keys), Job.state.in_((JobState.QUEUED, JobState.RUNNING))
        )
    )
    return set(keys) - set(present)


def bring_forward(session: Session, dedupe_key: str, latest: datetime) -> None:
    """The queued job of this key runs at `latest` at the latest."""
    session.execute(
        update(Job)
        .where(Job.dedupe_key == dedupe_key, Job.state == JobState.QUEUED, Job.run_after > latest)
        .values(run_after=latest)
    )


def prune(session: Session, *, older_than: datetime, limit: int | None = None) -> int:
    """Delete finished jobs (done or failed) that finished before `older_than`, at most `limit` of them (the
    oldest); returns how many."""
    finished = select(Job.id).where(
        Job.state.in_((JobState.DONE, JobState.FAILED)), Job.finished_at < older_than
    )
    if limit is not None:
        finished = finished.order_by(Job.id).limit(limit)
    result = session.execute(delete(Job).where(Job.id.in_(finished.scalar_subquery())))
    return int(result.rowcount)  # type: ignore[attr-defined]


def get(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id, populate_existing=True)


def list_jobs(session: Session, *, states: Collection[str], limit: int = 50) -> list[Job]:
    """The newest jobs in these states, newest first (for `logcenter jobs list`)."""
    return list(
        session.scalars(select(Job).where(Job.state.in_(states)).order_by(Job.id.desc()).limit(limit))
    )


def requeue(session: Session, job_id: int, *, now: datetime | None = None) -> bool:
    """A failed job queued again with all its attempts (an operator fixed the cause); False if it is not a
    failed job. Its last error stays until the next attempt."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.FAILED)
        .values(state=JobState.QUEUED, attempts=0, run_after=now or utcnow(), finished_at=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
