"""The job queue on both databases: enqueue in a transaction, claim, retries with backoff, dedupe, races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from logcenter.db import session_scope, utcnow
from logcenter.jobs import Worker, enqueue, run_pending
from logcenter.jobs import service as jobs_service
from logcenter.jobs.models import Job, JobState
from tests.jobs.conftest import TEST_KINDS


@pytest.fixture
def jobs_settings(settings):
    return settings.model_copy(update={"job_retry_seconds": 10.0, "job_retry_max_seconds": 3600.0})


def job(db, job_id: int) -> Job:
    with db.factory() as s:
        found = s.get(Job, job_id)
        assert found is not None
        return found


def run(db, settings, **kwargs) -> int:
    return run_pending(db.factory, settings, kinds=TEST_KINDS, **kwargs)


def test_a_job_runs_only_if_its_transaction_commits(db, jobs_settings, calls):
    with db.factory() as s:
        enqueue(s, "test.record", {"bug_id": 1})
        s.rollback()
    with session_scope(db.factory) as s:
        job_id = enqueue(s, "test.record", {"bug_id": 2, "text": "naïve <b>"})
    assert run(db, jobs_settings) == 1
    assert [(i, a, p) for i, a, _, p in calls.runs] == [(job_id, 1, {"bug_id": 2, "text": "naïve <b>"})]
    done = job(db, job_id)
    assert (done.state, done.attempts, done.locked_by, done.locked_until, done.last_error) == (
        JobState.DONE,
        1,
        None,
        None,
        None,
    )
    assert done.finished_at is not None and done.started_at is not None
    # Done is done: nothing runs twice.
    assert run(db, jobs_settings, now=utcnow() + timedelta(days=1)) == 0


def test_a_delayed_job_waits(db, jobs_settings, calls):
    now = utcnow()
    with session_scope(db.factory) as s:
        enqueue(s, "test.record", {}, delay=timedelta(minutes=5), now=now)
    assert run(db, jobs_settings, now=now + timedelta(minutes=4)) == 0
    assert run(db, jobs_settings, now=now + timedelta(minutes=5)) == 1


def test_jobs_run_oldest_due_first(db, jobs_settings, calls):
    now = utcnow()
    with session_scope(db.factory) as s:
        late = enqueue(s, "test.record", {"n": "late"}, delay=60, now=now)
        first = enqueue(s, "test.record", {"n": "first"}, now=now)
        second = enqueue(s, "test.record", {"n": "second"}, now=now)
    assert run(db, jobs_settings, now=now + timedelta(minutes=2)) == 3
    assert [i for i, *_ in calls.runs] == [first, second, late]


def test_payload_must_be_json(db, jobs_settings):
    with db.factory() as s, pytest.raises(TypeError):
        enqueue(s, "test.record", {"when": object()})


def test_a_failing_job_is_retried_with_exponential_backoff_then_succeeds(db, jobs_settings, calls):
    now = utcnow()
    with session_scope(db.factory) as s:
        job_id = enqueue(s, "test.flaky", {"fail_times": 2}, now=now)

    assert run(db, jobs_settings, now=now) == 1
    first = job(db, job_id)
    assert (first.state, first.attempts, first.locked_by) == (JobState.QUEUED, 1, None)
    assert first.last_error == "ConnectionError: forge unreachable (attempt 1)"
    assert first.run_after == now + timedelta(seconds=10)
    assert run(db, jobs_settings, now=now + timedelta(seconds=9)) == 0

    t1 = now + timedelta(seconds=10)
    assert run(db, jobs_settings, now=t1) == 1
    second = job(db, job_id)
    assert (second.state, second.attempts, second.run_after) == (
        JobState.QUEUED,
        2,
        t1 + timedelta(seconds=20),
    )
    assert second.last_error == "ConnectionError: forge unreachable (attempt 2)"

    assert run(db, jobs_settings, now=t1 + timedelta(seconds=20)) == 1
    third = job(db, job_id)
    assert (third.state, third.attempts, third.last_error) == (JobState.DONE, 3, None)
    assert [a for _, a, _, _ in calls.runs] == [1, 2, 3]


def test_backoff_doubles_up_to_the_cap():
    waits = [jobs_service.backoff(n, base=10, cap=100) for n in range(1, 7)]
    assert waits == [10, 20, 40, 80, 100, 100]


def test_out_of_attempts_the_job_fails_with_its_error(db, jobs_settings, calls):
    now = utcnow()
    with session_scope(db.factory) as s:
        job_id = enqueue(s, "test.flaky", {"fail_times": 99}, max_attempts=2, now=now)
    assert run(db, jobs_settings, now=now) == 1
    assert run(db, jobs_settings, now=now + timedelta(seconds=10)) == 1
    failed = job(db, job_id)
    assert (failed.state, failed.attempts, failed.locked_by) == (JobState.FAILED, 2, None)
    assert failed.last_error == "ConnectionError: forge unreachable (attempt 2)"
    assert failed.finished_at == now + timedelta(seconds=10)
    assert run(db, jobs_settings, now=now + timedelta(days=1)) == 0
    assert len(calls.runs) == 2


def test_a_permanent_failure_is_not_retried(db, jobs_settings, calls):
    with session_scope(db.factory) as s:
        job_id = enqueue(s, "test.permanent", {})
    assert run(db, jobs_settings) == 1
    failed = job(db, job_id)
    assert (failed.state, failed.attempts, failed.last_error) == (
        JobState.FAILED,
        1,
        "PermanentFailure: bug 42 no longer exists",
    )


def test_retry_later_waits_as_long_as_asked(db, jobs_settings, calls):
    now = utcnow()
    with session_scope(db.factory) as s:
        job_id = enqueue(s, "test.later", {}, now=now)
    assert run(db, jobs_settings, now=now) == 1
    waiting = job(db, job_id)
    assert (waiting.state, waiting.run_after, waiting.last_error) == (
        JobState.QUEUED,
        now + timedelta(seconds=120),
        "RetryLater: forge said 429",
    )
    assert run(db, jobs_settings, now=now + timedelta(seconds=120)) == 1
    assert job(db, job_id).state == JobState.DONE


def test_dedupe_key_keeps_one_queued_job(db, jobs_settings, calls):
    now = utcnow()
    with session_scope(db.factory) as s:
        first = enqueue(s, "test.record", {"pr": 7}, dedupe_key="sync:pr:7", now=now)
        again = enqueue(s, "test.record", {"pr": 7}, dedupe_key="sync:pr:7", now=now)
        other = enqueue(s, "test.record", {"pr": 8}, dedupe_key="sync:pr:8", now=now)
    assert again == first != other
    with session_scope(db.factory) as s:
        assert enqueue(s, "test.record", {"pr": 7}, dedupe_key="sync:pr:7") == first
        claimed = jobs_service.claim(
            s, worker="w1", kinds=["test.record"], lease=timedelta(minutes=5), now=now
        )
    assert [c.id for c in claimed] == [first]
    # The first one is running: what changed since it read the PR needs a new job.
    with session_scope(db.factory) as s:
        newer = enqueue(s, "test.record", {"pr": 7}, dedupe_key="sync:pr:7", now=now)
    assert newer not in (first, other)
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.dedupe_key == "sync:pr:7")) == 2


def test_a_failed_attempt_is_not_retried_when_its_key_was_queued_again(db, jobs_settings, calls):
    now = utcnow()
    with session_scope(db.factory) as s:
        job_id = enqueue(s, "test.flaky", {"fail_times": 1}, dedupe_key="k", now=now)
    with session_scope(db.factory) as s:
        [claimed] = jobs_service.claim(
            s, worker="w1", kinds=["test.flaky"], lease=timedelta(minutes=5), now=now
        )
        newer = enqueue(s, "test.flaky", {"fail_times": 0}, dedupe_key="k", now=now)
    with session_scope(db.factory) as s:
        state = jobs_service.record_failure(s, claimed, worker="w1", error="boom", now=now, retry_in=10)
    assert state == JobState.DONE
    assert job(db, job_id).last_error == "boom (not retried: a job of the same key is queued)"
    assert job(db, newer).state == JobState.QUEUED


def test_workers_racing_never_run_the_same_job(db, jobs_settings, calls):
    with session_scope(db.factory) as s:
        ids = [enqueue(s, "test.record", {"n": n}) for n in range(60)]
    workers = [Worker(db.factory, jobs_settings, name=f"w{i}", periodic=()) for i in range(4)]
    start = threading.Barrier(len(workers))

    def drain(worker: Worker) -> None:
        start.wait()
        worker.run_pending()

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    ran = sorted(i for i, *_ in calls.runs)
    assert ran == ids  # each exactly once
    with db.factory() as s:
        states = s.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        assert [tuple(r) for r in states] == [(JobState.DONE, 60)]
        assert set(s.scalars(select(Job.attempts))) == {1}


def test_claims_in_parallel_transactions_take_different_jobs(db, jobs_settings):
    """Two claimers whose transactions overlap: the second passes over the first's row (PostgreSQL: SKIP
    LOCKED) or waits for its commit (SQLite: one writer); neither gets a job twice."""
    now = utcnow()
    with session_scope(db.factory) as s:
        ids = [enqueue(s, "test.record", {}, now=now) for _ in range(3)]
    lease = timedelta(minutes=5)
    first = db.factory()
    try:
        from logcenter.db import begin_write

        begin_write(first)
        mine = jobs_service.claim(first, worker="a", kinds=["test.record"], lease=lease, now=now, limit=2)
        if db.backend == "postgresql":
            with session_scope(db.factory) as second:
                theirs = jobs_service.claim(
                    second, worker="b", kinds=["test.record"], lease=lease, now=now, limit=3
                )
            first.commit()
        else:
            first.commit()
            with session_scope(db.factory) as second:
                theirs = jobs_service.claim(
                    second, worker="b", kinds=["test.record"], lease=lease, now=now, limit=3
                )
    finally:
        first.close()
    assert [j.id for j in mine] == ids[:2]
    assert [j.id for j in theirs] == ids[2:]


def test_prune_deletes_old_finished_jobs_only(db, jobs_settings, calls):
    now = utcnow()
    with session_scope(db.factory) as s:
        old_done = enqueue(s, "test.record", {}, now=now)
        old_failed = enqueue(s, "test.permanent", {}, now=now)
        recent = enqueue(s, "test.record", {}, now=now)
        waiting = enqueue(s, "test.record", {}, delay=timedelta(days=30), now=now)
    with session_scope(db.factory) as s:
        for job_id in (old_done, old_failed):
            [c] = jobs_service.claim(s, worker="w", kinds=TEST_KINDS, lease=timedelta(minutes=1), now=now)
            assert c.id == job_id
    with session_scope(db.factory) as s:
        jobs_service.complete(s, old_done, worker="w", now=now - timedelta(days=8))
        jobs_service.record_failure(
            s,
            jobs_service.ClaimedJob(old_failed, "test.permanent", {}, 1, 5),
            worker="w",
            error="x",
            now=now - timedelta(days=8),
            retry_in=None,
        )
    assert run(db, jobs_settings, now=now) == 1  # `recent`
    with session_scope(db.factory) as s:  # in parts, as the prune job deletes them: the oldest first
        assert jobs_service.prune(s, older_than=now - timedelta(days=7), limit=1) == 1
        assert s.get(Job, old_done) is None and s.get(Job, old_failed) is not None
        assert jobs_service.prune(s, older_than=now - timedelta(days=7), limit=1) == 1
        assert jobs_service.prune(s, older_than=now - timedelta(days=7)) == 0
    with db.factory() as s:
        assert sorted(s.scalars(select(Job.id))) == [recent, waiting]
