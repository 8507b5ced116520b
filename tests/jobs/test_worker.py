"""The worker as it runs: a thread that renews leases, a killed process whose job is reclaimed, the lease
sweeper as a periodic job, the app's own worker, `logcenter worker --once` and `serve`'s single worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

import logcenter
from logcenter.bugs.models import Bug, BugEvent, BugStatus
from logcenter.db import create_db_engine, create_session_factory, session_scope, utcnow
from logcenter.jobs import Worker, enqueue, run_pending
from logcenter.jobs.models import Job, JobState
from logcenter.jobs.registry import PERIODIC
from logcenter.main import create_app
from logcenter.repair.jobs import SWEEP_LEASES
from tests.bugs.helpers import committed_bug
from tests.conftest import free_port
from tests.jobs.conftest import RELEASE, STARTED, TEST_KINDS

SRC = Path(logcenter.__file__).resolve().parents[1]
ROOT = SRC.parent


def wait_for(check: Callable[[], object], what: str, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def job(db, job_id: int) -> Job:
    with db.factory() as s:
        found = s.get(Job, job_id)
        assert found is not None
        return found


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
    return {**clean, "PYTHONPATH": f"{SRC}{os.pathsep}{ROOT}", **extra}


def expired_bug(session) -> Bug:
    past = utcnow() - timedelta(minutes=1)
    return committed_bug(session, BugStatus.FIXING, lease_owner="agent-1", lease_expires_at=past)


def bug_state(db, bug_id: int) -> tuple[str, str | None]:
    with db.factory() as s:
        bug = s.get_one(Bug, bug_id)
        return bug.status, bug.lease_owner


def test_a_running_job_keeps_its_lease_while_its_worker_lives(db, settings, calls):
    settings = settings.model_copy(update={"job_lease_seconds": 5, "job_poll_seconds": 0.1})
    worker = Worker(db.factory, settings, name="alive", periodic=())
    worker.start()
    try:
        with session_scope(db.factory) as s:
            job_id = enqueue(s, "test.blocking", {})
        assert STARTED.wait(30)
        first_lease = job(db, job_id).locked_until
        assert first_lease is not None
        renewed = wait_for(lambda: job(db, job_id).locked_until > first_lease, "a renewed lease")  # type: ignore[operator]
        assert renewed
        running = job(db, job_id)
        assert (running.state, running.locked_by, running.attempts) == (JobState.RUNNING, "alive", 1)
        RELEASE.set()
        wait_for(lambda: job(db, job_id).state == JobState.DONE, "the job to finish")
    finally:
        RELEASE.set()
        worker.stop()
    assert [(i, a, w) for i, a, w, _ in calls.runs] == [(job_id, 1, "alive")]


DOOMED = textwrap.dedent(
    """
    import sys
    import tests.jobs.conftest  # the test handlers
    from logcenter.config import Settings
    from logcenter.db import create_db_engine, create_session_factory
    from logcenter.jobs import Worker

    settings = Settings(database_url=sys.argv[1], job_lease_seconds=5, job_poll_seconds=0.1)
    engine = create_db_engine(settings.database_url, pool_size=2)
    Worker(create_session_factory(engine), settings, name="doomed", periodic=()).run_forever()
    """
)


def test_a_killed_workers_job_is_run_again_after_its_lease(db, settings, calls):
    with session_scope(db.factory) as s:
        job_id = enqueue(s, "test.blocking", {"bug_id": 7})
    proc = subprocess.Popen([sys.executable, "-c", DOOMED, db.url], env=env(), cwd=ROOT)
    try:
        wait_for(
            lambda: job(db, job_id).locked_by == "doomed", "the doomed worker to claim the job", timeout=60
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    RELEASE.set()  # the test process's handler runs through
    held = job(db, job_id)
    assert (held.state, held.attempts) == (JobState.RUNNING, 1)
    assert held.locked_until is not None
    # Until its lease runs out nobody else runs it.
    assert (
        run_pending(db.factory, settings, kinds=TEST_KINDS, now=held.locked_until - timedelta(seconds=1)) == 0
    )
    after_lease = held.locked_until + timedelta(seconds=6)  # the heartbeat renews at most 5 s ahead
    assert run_pending(db.factory, settings, kinds=TEST_KINDS, now=after_lease) == 1
    done = job(db, job_id)
    assert (done.state, done.attempts, done.locked_by) == (JobState.DONE, 2, None)
    assert [(i, a, w, p) for i, a, w, p in calls.runs] == [(job_id, 2, "run-pending", {"bug_id": 7})]


def test_a_job_whose_worker_died_on_its_last_attempt_fails(db, settings, calls):
    from logcenter.jobs import service as jobs_service

    now = utcnow()
    with session_scope(db.factory) as s:
        job_id = enqueue(s, "test.record", {}, max_attempts=1, now=now)
        jobs_service.claim(s, worker="host:1:dead", kinds=TEST_KINDS, lease=timedelta(seconds=30), now=now)
    assert run_pending(db.factory, settings, kinds=TEST_KINDS, now=now + timedelta(seconds=31)) == 0
    failed = job(db, job_id)
    assert (failed.state, failed.attempts) == (JobState.FAILED, 1)
    assert failed.last_error == "host:1:dead stopped and its lease ran out on the last attempt"
    assert calls.runs == []


def test_the_lease_sweeper_is_a_periodic_job(db, session, settings):
    settings = settings.model_copy(update={"lease_sweep_seconds": 30})
    stale = expired_bug(session)
    held = committed_bug(
        session, BugStatus.FIXING, lease_owner="agent-2", lease_expires_at=utcnow() + timedelta(hours=1)
    )
    # The periodic kinds of this test (other features register theirs too).
    periodic = [PERIODIC["jobs.prune"], PERIODIC[SWEEP_LEASES]]
    worker = Worker(db.factory, settings, name="w", periodic=periodic)
    now = utcnow()
    assert worker.schedule(now=now) == ["jobs.prune", SWEEP_LEASES]
    assert worker.schedule(now=now) == []  # one queued per periodic kind, however often it is asked
    assert worker.run_pending(now=now + timedelta(seconds=29)) == 0
    assert bug_state(db, stale.id) == (BugStatus.FIXING, "agent-1")

    assert worker.run_pending(now=now + timedelta(seconds=30)) == 1
    assert bug_state(db, stale.id) == (BugStatus.NEW, None)
    assert bug_state(db, held.id) == (BugStatus.FIXING, "agent-2")
    with db.factory() as s:
        [event] = s.scalars(select(BugEvent).where(BugEvent.bug_id == stale.id))
        assert (event.kind, event.actor, event.note) == (
            "lease_expired",
            "system",
            "Lease of agent-1 expired",
        )
    # The next sweep is queued once the last one is done; the prune job is still waiting for its hour.
    assert worker.schedule(now=now + timedelta(seconds=30)) == [SWEEP_LEASES]
    with db.factory() as s:
        queued = s.execute(
            select(Job.kind, Job.run_after).where(Job.state == JobState.QUEUED).order_by(Job.kind)
        )
        assert [tuple(r) for r in queued] == [
            ("jobs.prune", now + timedelta(hours=1)),
            (SWEEP_LEASES, now + timedelta(seconds=60)),
        ]


def test_a_shorter_interval_applies_from_the_next_start(db, settings):
    # A server ran with a sweep every hour and queued the next one; the admin lowers it to 30 s and
    # restarts: the sweep runs within 30 s, not an hour after the last one.
    periodic = [PERIODIC[SWEEP_LEASES]]
    now = utcnow()
    hourly = settings.model_copy(update={"lease_sweep_seconds": 3600})
    assert Worker(db.factory, hourly, name="before", periodic=periodic).schedule(now=now) == [SWEEP_LEASES]
    often = settings.model_copy(update={"lease_sweep_seconds": 30})
    worker = Worker(db.factory, often, name="after", periodic=periodic)
    assert worker.schedule(now=now + timedelta(seconds=5)) == []  # still the one queued job
    assert worker.run_pending(now=now + timedelta(seconds=35)) == 1
    # A longer interval leaves the queued job as it was (it runs no later than it said).
    again = Worker(db.factory, hourly, name="again", periodic=periodic)
    assert again.schedule(now=now + timedelta(seconds=35)) == [SWEEP_LEASES]
    assert again.run_pending(now=now + timedelta(seconds=70)) == 0


def test_an_app_run_without_serve_runs_jobs_in_its_lifespan(db, settings, calls):
    settings = settings.model_copy(update={"job_worker": True, "job_poll_seconds": 0.1})
    app = create_app(settings)
    with TestClient(app):
        assert app.state.jobs is not None
        with session_scope(db.factory) as s:
            job_id = enqueue(s, "test.record", {"from": "request"})
        wait_for(lambda: job(db, job_id).state == JobState.DONE, "the app's worker to run the job")
    assert [p for *_, p in calls.runs] == [{"from": "request"}]


def test_no_worker_when_switched_off(db, settings):
    app = create_app(settings)  # the test settings: job_worker=False
    with TestClient(app):
        assert app.state.jobs is None


def test_logcenter_worker_once_runs_the_due_jobs(db, session, tmp_path):
    stale = expired_bug(session)
    with session_scope(db.factory) as s:
        enqueue(s, SWEEP_LEASES, {})
    done = subprocess.run(
        [sys.executable, "-m", "logcenter", "worker", "--once"],
        env=env(LOGCENTER_DATABASE_URL=db.url, LOGCENTER_DATA_DIR=str(tmp_path)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 1 job" in done.stderr
    assert bug_state(db, stale.id) == (BugStatus.NEW, None)


def test_serve_with_two_http_workers_runs_one_job_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "logcenter", "serve", "--workers", "2", "--port", str(port)],
        env=env(
            LOGCENTER_DATABASE_URL=url,
            LOGCENTER_DATA_DIR=str(tmp_path),
            LOGCENTER_JOB_POLL_SECONDS="0.2",
            LOGCENTER_ADMIN_TOKEN="lc_test_admin_token_0123456789",
        ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    engine = create_db_engine(url, pool_size=1)
    try:

        def healthy() -> bool:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, "serve to answer", timeout=60)
        # A bug whose agent vanished, and a sweep job due now: serve's worker runs it.
        from tests.factories import make_bug, make_project

        factory = create_session_factory(engine)
        with session_scope(factory) as s:
            project = make_project(s, "shop")
            bug = make_bug(
                s,
                project,
                status=BugStatus.FIXING,
                lease_owner="agent-1",
                lease_expires_at=utcnow() - timedelta(minutes=1),
            )
            enqueue(s, SWEEP_LEASES, {})

        def swept() -> bool:
            with factory() as s:
                return s.get_one(Bug, bug.id).status == BugStatus.NEW

        wait_for(swept, "serve's job worker to sweep the lease")
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
        engine.dispose()
    assert output.count("event='jobs.worker_started'") == 1, output


def logcenter(db, tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logcenter", *args],
        env=env(LOGCENTER_DATABASE_URL=db.url, LOGCENTER_DATA_DIR=str(tmp_path)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_operator_lists_failed_jobs_and_queues_one_again(db, settings, calls, tmp_path):
    with session_scope(db.factory) as s:
        failing = enqueue(s, "test.permanent", {})
        done = enqueue(s, "test.record", {})
    assert run_pending(db.factory, settings, kinds=TEST_KINDS) == 2

    listed = logcenter(db, tmp_path, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()  # the done job is not listed by default
    fields = line.split("\t")
    assert (fields[0], fields[1], fields[2], fields[3], fields[6]) == (
        str(failing),
        "test.permanent",
        "failed",
        "1/5",
        "PermanentFailure: bug 42 no longer exists",
    )
    assert [
        ln.split("\t")[0]
        for ln in logcenter(db, tmp_path, "jobs", "list", "--state", "done").stdout.splitlines()
    ] == [str(done)]

    retried = logcenter(db, tmp_path, "jobs", "retry", str(failing))
    assert (retried.returncode, retried.stderr.strip()) == (0, f"Queued job #{failing} again")
    again = job(db, failing)
    assert (again.state, again.attempts, again.finished_at) == (JobState.QUEUED, 0, None)
    assert run_pending(db.factory, settings, kinds=TEST_KINDS) == 1
    assert job(db, failing).state == JobState.FAILED  # it fails the same way: the operator sees it again

    not_failed = logcenter(db, tmp_path, "jobs", "retry", str(done))
    assert (not_failed.returncode, not_failed.stderr.strip()) == (1, f"No failed job #{done}")
